"""§6.3, Table 3: converting specific and partial-shared neurons to all-shared raises accuracy in most languages."""

from __future__ import annotations

from claims.paper_tables import TABLE3_BLOOMZ_XNLI
from harness.claim import Claim, ClaimCase, Planted
from harness.rules import conversion_rule
from harness.views import accuracy_table

CLAIM = Claim(
    id="convert-improves",
    title="Converting specific and partial-shared neurons to all-shared raises accuracy",
    paper_ref="§6.3, Table 3",
    paper_text="BLOOMZ XNLI: accuracy up in 8 of 9 languages (en 53.8 -> 52.6 down; tr 34.9 -> 36.4)",
    tasks=("xnli",), per_language=False,
    conditions=("convert",),
    planted=(Planted("planted-gaps", "supported"), Planted("planted-gaps-weak", "refuted")),
    paper_numbers=lambda *_: {"languages not worse": 8 / 9, "mean change (points)": 0.53})


def test_convert_improves(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = conversion_rule(m.correct["baseline"].numpy(), m.correct["convert"].numpy(), seed=claims.option("seed"))
    verdict.params["epsilon"] = m.config["epsilon"]
    verdict.tables.append(accuracy_table(m, "conversion", "Accuracy after conversion (Table 3 layout)",
                                         {"baseline": "baseline", "convert": "co. specific and partial-shared"},
                                         TABLE3_BLOOMZ_XNLI))
    judge(verdict)
