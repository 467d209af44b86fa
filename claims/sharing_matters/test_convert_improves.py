"""§6.3, Table 3: converting specific and partial-shared neurons to all-shared raises accuracy in most languages,
more than raising as many random non-activated neurons the same way (our control)."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.accuracy_rules import conversion_rule
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.paper_tables import TABLE3_BLOOMZ_XNLI
from harness.papers.sharing_matters.views import accuracy_table, edits_table

CLAIM = Claim(
    id="convert-improves",
    title="Converting specific and partial-shared neurons to all-shared raises accuracy",
    paper_ref="§6.3, Table 3",
    paper_text="BLOOMZ XNLI: accuracy up in 8 of 9 languages (en 53.8 -> 52.6 down; tr 34.9 -> 36.4)",
    tasks=("xnli",), per_language=False,
    conditions=("convert", "convert_random"),
    planted=(Planted("planted-gaps", "supported"), Planted("planted-gaps-weak", "refuted"),
             Planted("planted-perturbed", "refuted"), Planted("planted-crowded", "inconclusive")),
    paper_numbers=lambda *_: {"languages not worse": 8 / 9, "mean change (points)": 0.53})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    verdict = conversion_rule(m.correct["baseline"].numpy(), m.correct["convert"].numpy(),
                              m.outcome("convert_random").numpy(), chance=float(m.chance.mean()),
                              control_reach=m.reached_share("convert_random"), seed=seed)
    verdict.params |= {"epsilon": m.config["epsilon"], "scoring": m.scoring["kind"]}
    return verdict


def test_convert_improves(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, claims.option("seed"))
    verdict.tables += [accuracy_table(m, "conversion", "Accuracy after conversion (Table 3 layout)",
                                      {"baseline": "baseline", "convert": "co. specific and partial-shared",
                                       "convert_random": "co. random non-activated (control)"}, TABLE3_BLOOMZ_XNLI),
                       edits_table(m, "conversion-edits", ["convert", "convert_random"])]
    judge(verdict)
