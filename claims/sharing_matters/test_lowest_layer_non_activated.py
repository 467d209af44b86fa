"""§5.1.1, Figs 2 and 4 (left): the lowest layer is almost entirely non-activated on XNLI and KE (the paper: nearly
99%, which it ties to the prompts' last token being punctuation, the template's "?").

Since the paper itself points at the template's last token, the template control matters most here: the rule is
applied again at the last token of the translated content, and the reason says whether the finding survives there.
The alternative is a model whose neurons are mostly active (``planted-lively``, biased on, none dead).
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.neurons import NON
from harness.papers.sharing_matters.shares_rules import lowest_layer_non_activated_rule
from harness.papers.sharing_matters.template_control import at_both_positions
from harness.papers.sharing_matters.views import type_shares_plot

CLAIM = Claim(
    id="lowest-layer-non-activated",
    title="The lowest layer is almost entirely non-activated on XNLI and KE",
    paper_ref="§5.1.1, Figs 2 and 4 left",
    paper_text="nearly 99% of the neurons are non-activated in the first layer for XNLI and KE tasks, which may be "
               "associated with the prompts, where the last token is punctuation",
    tasks=("xnli", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-varied", "supported"), Planted("planted-lively", "refuted")),
    paper_numbers=lambda *_: {"non-activated % (lowest layer)": 99.0})


def test_lowest_layer_non_activated(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(
        lambda x: lowest_layer_non_activated_rule(x.example_shares[:, NON].numpy(), seed=seed), m,
        claim=CLAIM.id, instance=case.id)
    verdict.plots.append(type_shares_plot(m, note="Figs 2 and 4 left: the non-activated line at layer 0 (the paper: "
                                                  "nearly 99%)"))
    judge(verdict)
