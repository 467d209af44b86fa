"""The template control's report: the claim keeps the last token's verdict and says whether it survives at the end
of the translated content."""

from __future__ import annotations

import pytest

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.template_control import CONTENT_END, with_content_control


def _verdict(verdict: str, effect: float) -> Verdict:
    return Verdict(verdict, f"effect {effect}", "share difference", effect, (effect - 0.01, effect + 0.01))


@pytest.mark.parametrize(("last", "content", "says"), [
    ("supported", "supported", "survives at the end of the translated content"),
    ("supported", "refuted", "holds only at the shared English tail"),
    ("supported", "inconclusive", "holds only at the shared English tail"),
    ("refuted", "refuted", "survives at the end of the translated content"),
    ("refuted", "supported", "at the end of the translated content it is supported"),
])
def test_the_verdict_stays_the_last_tokens_and_the_reason_says_what_the_content_end_gives(
        last: str, content: str, says: str) -> None:
    verdict = with_content_control(_verdict(last, 0.2), _verdict(content, -0.1), claim="c", instance="m-xnli")
    assert verdict.verdict == last and verdict.effect == 0.2
    assert verdict.reason.startswith("effect 0.2; ") and says in verdict.reason and "effect -0.1" in verdict.reason
    assert verdict.controls[CONTENT_END]["verdict"] == content
    assert verdict.controls[CONTENT_END]["effect"] == -0.1
    assert verdict.measured["share difference at the content end"] == -0.1
    (table,) = verdict.tables
    assert table["id"] == "template-control-c"
    assert table["rows"] == [{"label": "m-xnli", "source": "ours", "values": [last, content, 0.2, -0.1]}]
