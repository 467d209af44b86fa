"""§6.1, Fig. 9 (left): all-shared neurons have the highest average contribution score (eq. 3) per neuron.

The alternative is activity: all-shared neurons are active in every row, partial-shared and specific ones in some,
so averages over all of a type's neurons favour the always-active type whatever it does. ``planted-alike`` embodies
it: its all-shared neurons fire and write as its other active neurons do; the activity-matched control (averages
over the neurons active in the row) refutes it where the paper's average alone is fooled. Contributions are read
from each neuron's deviation from its mean over the task's inputs (the paper's reading of A as it is beside it).
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.claim_helpers import unavailable
from harness.papers.sharing_matters.contribution_rules import average_contribution_rule
from harness.papers.sharing_matters.measurement import CENTRED, Measurement
from harness.papers.sharing_matters.readings import centred, with_paper_reading
from harness.papers.sharing_matters.views import contribution_by_type_plot

CLAIM = Claim(
    id="average-contribution",
    title="All-shared neurons have the highest average contribution per neuron",
    paper_ref="§6.1, Fig. 9 (left)",
    paper_text="XNLI and fact probing: the average contribution of all-shared neurons significantly exceeds that of "
               "the other three types (the fact-probing difference the paper notes is in the sum, by counts)",
    tasks=("xnli", "facts"), per_language=False, conditions=(CENTRED,),
    planted=(Planted("planted-contributing", "supported"), Planted("planted-contributing-free", "refuted"),
             Planted("planted-alike", "refuted")),
    paper_numbers=lambda *_: {"layers led (paper's average)": 1.0})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    """The rule on the centred contributions (the verdict), the paper's beside it."""
    if missing := unavailable(m, "share of layers led by all-shared (both readings)"):
        return missing
    ours, paper = (average_contribution_rule(r.type_rows.double().numpy(), seed=seed) for r in (centred(m), m))
    return with_paper_reading(ours, paper, claim=CLAIM.id, instance=m.label)


def test_average_contribution(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, claims.option("seed"))
    if m.attribution:
        verdict.plots += [contribution_by_type_plot(m, "average"), contribution_by_type_plot(m, "sum")]
    judge(verdict)
