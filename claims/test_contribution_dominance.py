"""§6.1, Figs 8-9: all-shared neurons are the top contributors (eq. 3) to the FFN output at every layer."""

from __future__ import annotations

from harness.claim import Claim, ClaimCase, Planted
from harness.rules import contribution_rule
from harness.views import contribution_plot

CLAIM = Claim(
    id="contribution-dominance",
    title="All-shared neurons are the top contributors at every layer",
    paper_ref="§6.1, Figs 8-9, 23-26",
    paper_text="KE and XNLI: all-shared neurons are the largest group among the top-5% contributors at every "
               "layer; German XNLI: under 30% of neurons, 91.6% of the contribution to the correct output",
    tasks=("editing", "xnli"), per_language=False,
    planted=(Planted("planted-contributing", "supported"), Planted("planted-contributing-free", "refuted")),
    paper_numbers=lambda *_: {"layers led by all-shared": 1.0})


def test_contribution_dominance(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = contribution_rule(m.top_contribution.numpy())
    verdict.plots.append(contribution_plot(m))
    judge(verdict)
