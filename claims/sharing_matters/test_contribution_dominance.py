"""§6.1, Figs 8-9: all-shared neurons are the top contributors (eq. 3) to the FFN output at every layer, beyond
their share of the active neurons (our base-rate null).

Contributions are read from each neuron's deviation from its mean over the task's inputs (the paper's reading of A
as it is beside it): a neuron whose output is the same for every input contributes nothing the input decides.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.attribution_rules import contribution_rule
from harness.papers.sharing_matters.claim_helpers import unavailable
from harness.papers.sharing_matters.measurement import CENTRED, Measurement
from harness.papers.sharing_matters.readings import centred, with_paper_reading
from harness.papers.sharing_matters.views import contribution_plot

CLAIM = Claim(
    id="contribution-dominance",
    title="All-shared neurons are the top contributors at every layer",
    paper_ref="§6.1, Figs 8, 23-26",
    paper_text="KE and XNLI: all-shared neurons are the largest group among the top-5% contributors at every "
               "layer (the contribution to the correct output is the claim correct-output-share)",
    tasks=("editing", "editing-all-en", "xnli"), per_language=False, conditions=(CENTRED,),
    planted=(Planted("planted-contributing", "supported"), Planted("planted-contributing-free", "refuted"),
             Planted("planted-crowded", "refuted")),
    paper_numbers=lambda *_: {"layers led by all-shared": 1.0})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    """The rule on the centred contributions (the verdict), the paper's beside it."""
    if missing := unavailable(m, "enrichment over base rate"):
        return missing
    ours, paper = (contribution_rule(r.top_contribution.numpy(), r.base_rate.numpy(), seed=seed)
                   for r in (centred(m), m))
    return with_paper_reading(ours, paper, claim=CLAIM.id, instance=m.label)


def test_contribution_dominance(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, claims.option("seed"))
    if m.attribution:
        verdict.plots.append(contribution_plot(m))
    judge(verdict)
