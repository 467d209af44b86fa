"""The template control: supported needs the finding at the last prompt token and at the end of the translated
content; otherwise the claim keeps the last token's verdict, and the reason says what the content end gives."""

from __future__ import annotations

import pytest

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.template_control import CONTENT_END, with_content_control


def _verdict(verdict: str, effect: float) -> Verdict:
    return Verdict(verdict, f"effect {effect}", "share difference", effect, (effect - 0.01, effect + 0.01))


@pytest.mark.parametrize(("last", "content", "verdict", "says"), [
    ("supported", "supported", "supported", "survives at the end of the translated content"),
    ("supported", "refuted", "inconclusive", "holds only at the shared English tail"),
    ("supported", "inconclusive", "inconclusive", "holds only at the shared English tail"),
    ("refuted", "refuted", "refuted", "survives at the end of the translated content"),
    ("refuted", "supported", "refuted", "at the end of the translated content it is supported"),
    ("inconclusive", "supported", "inconclusive", "at the end of the translated content it is supported"),
])
def test_supported_needs_both_readings_and_the_reason_says_what_the_content_end_gives(
        last: str, content: str, verdict: str, says: str) -> None:
    judged = with_content_control(_verdict(last, 0.2), _verdict(content, -0.1), claim="c", instance="m-xnli")
    assert judged.verdict == verdict and judged.effect == 0.2 and judged.ci == pytest.approx((0.19, 0.21))
    assert says in judged.reason and "effect 0.2" in judged.reason and "effect -0.1" in judged.reason
    assert judged.controls[CONTENT_END]["verdict"] == content
    assert judged.controls[CONTENT_END]["effect"] == -0.1
    assert judged.measured["share difference at the content end"] == -0.1
    (table,) = judged.tables
    assert table["id"] == "template-control-c"
    assert table["rows"] == [{"label": "m-xnli", "source": "ours", "values": [last, content, 0.2, -0.1]}]


def test_a_finding_on_the_tail_alone_says_supported_needs_both() -> None:
    judged = with_content_control(_verdict("supported", 0.2), _verdict("refuted", -0.1), claim="c", instance="m")
    assert judged.reason.startswith("holds only at the shared English tail: supported at the prompt's last token, "
                                    "refuted at the end of the translated content, and supported needs both")
