"""§5.1.1-5.1.2, Figs 2-3: in XNLI and KE the all-shared share peaks in the middle layers and falls after the peak
(the paper reports no such peak for fact probing, Fig. 4)."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.rules import mid_layer_peak_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions
from harness.papers.sharing_matters.views import activated_plot, type_shares_plot

CLAIM = Claim(
    id="mid-layer-peak",
    title="All-shared neurons peak in the middle layers",
    paper_ref="§5.1.1-5.1.2, Figs 2-3, 11",
    paper_text="all-shared and partial-shared shares peak in layers 5-10 of 30 and decrease after; activated counts "
               "per language peak near layer 6, fall, and rise again from layer 28",
    tasks=("xnli", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-shared", "supported", controls=((CONTENT_END, "supported"),)),
             Planted("planted-specific", "refuted"),
             Planted("planted-shared-gated", "supported"), Planted("planted-specific-gated", "refuted"),
             Planted("planted-tail", "supported", controls=((CONTENT_END, "refuted"),))),
    paper_numbers=lambda *_: {"peak layer (of 30)": 7.5})


def test_mid_layer_peak(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: mid_layer_peak_rule(x.example_shares[:, ALL].numpy(), seed=seed), m,
                                claim=CLAIM.id, instance=case.id)
    verdict.plots += [type_shares_plot(m, note="Figs 2-4 left: all-shared peaks in the middle layers"),
                      activated_plot(m)]
    judge(verdict)
