"""App. A.3.5, Fig. 20: the larger model has more non-activated neurons in its upper layers ("More non-activated
neurons in the upper layers of BLOOMZ-7.1b may reflect on a higher level of sparsity for a larger LLM").

Read as shares of a layer's neurons in the upper third of each model's depth. The alternatives it rules out: a
larger model has more neurons, so more non-activated ones at any share (``planted-scale-moved`` has 10 layers to
``planted-scale-small``'s 6 and so more non-activated neurons in its upper third, at the same 3% share); and a model
sparser as a whole but not in its upper layers (``planted-scale-moved`` again: 10% of its lower layers dead). Both
readings are fooled by it (tests/test_rules_scale.py); ``planted-scale-large`` has 15% of its upper layers dead to
the small model's 3%.
"""

from __future__ import annotations

import pytest

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.claim_helpers import by_size
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import NON
from harness.papers.sharing_matters.scale_rules import relative_depths, upper_sparser_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_content_end, with_content_control
from harness.papers.sharing_matters.views import shares_by_depth_plot

CLAIM = Claim(
    id="larger-model-sparser-upper",
    title="A larger model has more non-activated neurons in its upper layers",
    paper_ref="App. A.3.5, Fig. 20",
    paper_text="More non-activated neurons in the upper layers of BLOOMZ-7.1b may reflect on a higher level of "
               "sparsity for a larger LLM",
    tasks=("xnli",), per_language=False, needs_scale=True,
    planted=(Planted("planted-scale-large", "supported", scale_model="planted-scale-small",
                     controls=((CONTENT_END, "supported"),)),
             Planted("planted-scale-moved", "refuted", scale_model="planted-scale-small",
                     controls=((CONTENT_END, "refuted"),))))


def upper_non_activated_neurons(m: Measurement, upper_from: float) -> float:
    """The mean number of non-activated neurons in the upper layers (the count a share-blind reading compares)."""
    upper = relative_depths(m.model["n_layers"]) >= upper_from
    return float(m.example_shares[:, NON][:, upper].sum(dim=-1).mean()) * int(m.model["d_ff"])


def verdict_for(larger: Measurement, smaller: Measurement, seed: int = 0) -> Verdict:
    verdict = upper_sparser_rule(larger.example_shares[:, NON].numpy(), smaller.example_shares[:, NON].numpy(),
                                 seed=seed)
    upper_from = verdict.params["upper_from"]
    verdict.measured |= {"upper non-activated neurons (larger)": upper_non_activated_neurons(larger, upper_from),
                         "upper non-activated neurons (smaller)": upper_non_activated_neurons(smaller, upper_from)}
    return verdict


def test_larger_model_sparser_upper(case: ClaimCase, claims, judge) -> None:
    if case.scale_model is None:
        pytest.skip(f"no model of another size is registered for {case.model}; pass --scale-model")
    larger, smaller = by_size(claims.measurement(case), claims.measurement(case, model=case.scale_model))
    seed = claims.option("seed")
    verdict = with_content_control(verdict_for(larger, smaller, seed),
                                   verdict_for(at_content_end(larger), at_content_end(smaller), seed),
                                   claim=CLAIM.id, instance=case.id)
    verdict.plots.append(shares_by_depth_plot(larger, smaller, note="Fig. 20: more non-activated neurons in the "
                                                                    "upper layers of BLOOMZ-7.1b"))
    judge(verdict)
