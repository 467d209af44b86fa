"""§5.1.4, Figs 2-4 (left): over half of the neurons are non-activated, in every task.

The alternative is a model whose neurons are mostly active (a dense model, or one measured at a low threshold):
``planted-lively`` biases its input-dependent neurons on and has no dead ones. The template control reads the same
share at the last token of the translated content.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.neurons import NON
from harness.papers.sharing_matters.shares_rules import non_activated_majority_rule
from harness.papers.sharing_matters.template_control import at_both_positions
from harness.papers.sharing_matters.views import type_shares_plot

CLAIM = Claim(
    id="non-activated-majority",
    title="Over half of the neurons are non-activated",
    paper_ref="§5.1.4, Figs 2-4 left",
    paper_text="non-activated neurons comprise a significant portion, with more than 50% of neurons having a zero or "
               "negative activation value across layers for multilingual inputs",
    tasks=("xnli", "facts", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-varied", "supported"), Planted("planted-lively", "refuted")),
    paper_numbers=lambda *_: {"non-activated % (mean over layers)": 50.0})


def test_non_activated_majority(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: non_activated_majority_rule(x.example_shares[:, NON].numpy(), seed=seed), m,
                                claim=CLAIM.id, instance=case.id)
    verdict.plots.append(type_shares_plot(m, note="Figs 2-4 left: the non-activated line lies above 50% (the paper: "
                                                  "more than 50% across layers)"))
    judge(verdict)
