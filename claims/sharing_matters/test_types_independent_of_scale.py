"""App. A.3.5, Fig. 20: the four types' curves over depth look alike at 0.56b, 1b, 3b and 7.1b parameters (BLOOMZ,
XNLI): "no identifiable pattern difference can be observed to indicate a scale law effect".

Two sizes differ in depth, so the curves are compared over relative depth (the deeper model read at the shallower
one's layers) and each is centred on its mean, so that a larger model that is only sparser keeps its pattern. The
alternative is a pattern that moves with size while the network's totals stay put: ``planted-scale-moved``'s
all-shared curve is ``planted-scale-small``'s reversed in depth with the same mean, so a comparison of means over
layers is fooled; and a comparison by layer index is fooled the other way, refuting ``planted-scale-large``, whose
curve is the small model's stretched over 10 layers (tests/test_rules_scale.py).
"""

from __future__ import annotations

import pytest

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.claim_helpers import by_size
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.scale_rules import scale_pattern_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_content_end, with_content_control
from harness.papers.sharing_matters.views import shares_by_depth_plot

CLAIM = Claim(
    id="types-independent-of-scale",
    title="The neuron types' pattern over depth does not depend on model size",
    paper_ref="App. A.3.5, Fig. 20",
    paper_text="We investigate neuron behaviors across the BLOOMZ series with 0.56b, 1b, 3b, 7.1b parameters in a "
               "XNLI task. No identifiable pattern difference can be observed to indicate a scale law effect",
    tasks=("xnli",), per_language=False, needs_scale=True,
    planted=(Planted("planted-scale-large", "supported", scale_model="planted-scale-small",
                     controls=((CONTENT_END, "supported"),)),
             Planted("planted-scale-moved", "refuted", scale_model="planted-scale-small",
                     controls=((CONTENT_END, "refuted"),))))


def verdict_for(larger: Measurement, smaller: Measurement, seed: int = 0) -> Verdict:
    return scale_pattern_rule(larger.example_shares.numpy(), smaller.example_shares.numpy(), seed=seed)


def test_types_independent_of_scale(case: ClaimCase, claims, judge) -> None:
    if case.scale_model is None:
        pytest.skip(f"no model of another size is registered for {case.model}; pass --scale-model")
    larger, smaller = by_size(claims.measurement(case), claims.measurement(case, model=case.scale_model))
    seed = claims.option("seed")
    verdict = with_content_control(verdict_for(larger, smaller, seed),
                                   verdict_for(at_content_end(larger), at_content_end(smaller), seed),
                                   claim=CLAIM.id, instance=case.id)
    verdict.plots.append(shares_by_depth_plot(larger, smaller, note="Fig. 20: BLOOMZ at 0.56b, 1b, 3b and 7.1b "
                                                                    "parameters, one pattern"))
    judge(verdict)
