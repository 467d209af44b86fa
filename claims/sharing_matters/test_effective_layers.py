"""§6.2, Fig. 10: the largest effective scores of all-shared neurons sit in the first and the upper layers.

The alternative is counting: the maximum over more neurons is larger by extreme values alone, so maxima follow
where all-shared neurons are most numerous. ``planted-alike`` has most of its all-shared neurons in the first and
the top layers, with value norms from one distribution everywhere: its maxima are largest there (the paper's
reading), the expected maximum of a fixed number of them per layer is not.

In ``planted-cancelling`` always-on neurons of the first and the top layers write far toward every answer in pairs
that cancel: the largest effective scores sit there and change nothing. The verdict reads the effective scores of
each neuron's deviation from its mean over the task's inputs (the paper's, of A as it is, beside it).
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.claim_helpers import unavailable
from harness.papers.sharing_matters.contribution_rules import effective_layers_rule
from harness.papers.sharing_matters.measurement import CENTRED, Measurement
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.readings import PAPER, centred, with_paper_reading
from harness.papers.sharing_matters.views import effective_maxima_plot

CLAIM = Claim(
    id="effective-score-layers",
    title="All-shared neurons' largest effective scores sit in the first and the upper layers",
    paper_ref="§6.2, Fig. 10 (KE EN->ALL)",
    paper_text="BLOOMZ KE (EN->ALL): all-shared neurons' maximum effective score aggregates at the first layer and "
               "upper layers",
    tasks=("editing",), per_language=False, conditions=(CENTRED,),
    planted=(Planted("planted-edges", "supported"), Planted("planted-alike", "refuted"),
             Planted("planted-cancelling", "refuted", controls=((PAPER, "supported"),))),
    paper_numbers=lambda *_: {})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    """The rule on the centred effective scores (the verdict), the paper's beside it."""
    if missing := unavailable(m, "ends over middle layers, sampled all-shared maxima"):
        return missing
    ours, paper = (effective_layers_rule(r.layer_effective_max[:, ALL].numpy(), r.layer_sample_max.numpy(), seed=seed)
                   for r in (centred(m), m))
    return with_paper_reading(ours, paper, claim=CLAIM.id, instance=m.label)


def test_effective_score_layers(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, claims.option("seed"))
    if m.attribution:
        verdict.params |= {"reference token": m.scoring["effective_score_token"],
                           "sample per layer and row": m.config["span_sample"]}
        verdict.plots.append(effective_maxima_plot(m))
    judge(verdict)
