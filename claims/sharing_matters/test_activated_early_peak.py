"""§5.1.2, Figs 2-4 (right): in every language the activated count per layer rises to a peak early (near layer 6 of
30), falls, and rises again at the top (from layer 28 of 30 to the last).

The alternative is a model whose activated count simply rises with depth (``planted-specific``: its forced-active
share rises to the top); the template control reads the same curves at the last token of the translated content.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.shares_rules import activated_early_peak_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions
from harness.papers.sharing_matters.views import activated_plot

CLAIM = Claim(
    id="activated-early-peak",
    title="The activated count per language peaks early, falls, and rises again at the top",
    paper_ref="§5.1.2, Figs 2-4 right",
    paper_text="the number of activated neurons increases significantly and reaches the peak at around the 6-th layer "
               "and then declining. It is not until at an upper layer (i.e., 28-th layer), the number of active "
               "neurons commences to pick up its early increasing trend",
    tasks=("xnli", "facts", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-early", "supported", controls=((CONTENT_END, "supported"),)),
             Planted("planted-specific", "refuted")),
    paper_numbers=lambda *_: {"peak layer (of 30)": 6, "rise from layer (of 30)": 28})


def test_activated_early_peak(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: activated_early_peak_rule(x.example_activated.numpy(), seed=seed), m,
                                claim=CLAIM.id, instance=case.id)
    verdict.plots.append(activated_plot(m))
    judge(verdict)
