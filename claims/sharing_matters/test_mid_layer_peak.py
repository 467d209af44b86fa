"""§5.1.1-5.1.2, Figs 2-3: in XNLI and KE the all-shared share peaks in the middle layers and falls after the peak
(the paper reports no such peak for fact probing, Fig. 4).

A layer where more neurons fire has more all-shared neurons at any fixed threshold, so a peak can be the layer's
density alone (``planted-dense-middle``: one middle layer's input-dependent neurons shifted up alike). The rule is
applied again with every layer at one activation density (the density control); supported needs both readings.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.claim_helpers import at_matched_density
from harness.papers.sharing_matters.density_rules import MATCHED_DENSITY, density_controlled
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.rules import mid_layer_peak_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions
from harness.papers.sharing_matters.views import activated_plot, matched_density_plot, type_shares_plot

CLAIM = Claim(
    id="mid-layer-peak",
    title="All-shared neurons peak in the middle layers",
    paper_ref="§5.1.1-5.1.2, Figs 2-3, 11",
    paper_text="all-shared and partial-shared shares peak in layers 5-10 of 30 and decrease after; activated counts "
               "per language peak near layer 6, fall, and rise again from layer 28",
    tasks=("xnli", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-shared", "supported",
                     controls=((CONTENT_END, "supported"), (MATCHED_DENSITY, "supported"))),
             Planted("planted-specific", "refuted"),
             Planted("planted-shared-gated", "supported"), Planted("planted-specific-gated", "refuted"),
             Planted("planted-tail", "inconclusive", controls=((CONTENT_END, "refuted"),)),
             Planted("planted-dense-middle", "refuted", controls=((MATCHED_DENSITY, "refuted"),))),
    paper_numbers=lambda *_: {"peak layer (of 30)": 7.5})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    """The rule on the all-shared share at the run's threshold (the paper's reading) and at matched density."""
    matched = at_matched_density(m)
    verdict = density_controlled(mid_layer_peak_rule(m.example_shares[:, ALL].numpy(), seed=seed),
                                 mid_layer_peak_rule(matched.shares[:, ALL], seed=seed))
    verdict.measured |= matched.measured()
    return verdict


def test_mid_layer_peak(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: verdict_for(x, seed), m, claim=CLAIM.id, instance=case.id)
    matched = at_matched_density(m)
    verdict.plots += [type_shares_plot(m, note="Figs 2-4 left: all-shared peaks in the middle layers"),
                      matched_density_plot(m, matched.shares, matched.density), activated_plot(m)]
    judge(verdict)
