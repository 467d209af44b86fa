"""§6.1, Figs 8-9: all-shared neurons are the top contributors (eq. 3) to the FFN output at every layer, beyond
their share of the active neurons (our base-rate null)."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.attribution_rules import contribution_rule
from harness.papers.sharing_matters.claim_helpers import unavailable
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.views import contribution_plot

CLAIM = Claim(
    id="contribution-dominance",
    title="All-shared neurons are the top contributors at every layer",
    paper_ref="§6.1, Figs 8, 23-26",
    paper_text="KE and XNLI: all-shared neurons are the largest group among the top-5% contributors at every "
               "layer (the contribution to the correct output is the claim correct-output-share)",
    tasks=("editing", "editing-all-en", "xnli"), per_language=False,
    planted=(Planted("planted-contributing", "supported"), Planted("planted-contributing-free", "refuted"),
             Planted("planted-crowded", "refuted")),
    paper_numbers=lambda *_: {"layers led by all-shared": 1.0})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    return unavailable(m, "enrichment over base rate") or contribution_rule(m.top_contribution.numpy(),
                                                                             m.base_rate.numpy(), seed=seed)


def test_contribution_dominance(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, claims.option("seed"))
    if m.attribution:
        verdict.plots.append(contribution_plot(m))
    judge(verdict)
