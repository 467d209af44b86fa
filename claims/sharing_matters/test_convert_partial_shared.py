"""§6.3, Table 3's "co. partial-shared" row: converting the partial-shared neurons alone (raising their inactive part
to just above the threshold) raises accuracy in most languages.

Table 3's row: not worse in 8 of 9 languages (en 53.8 -> 53.2 the exception), +0.56 points on average. The claim
reads it as ``convert-improves`` reads the whole table: not worse in two thirds of the languages, the mean change
above 0, and as many non-activated neurons raised the same way (``convert_random_partial_shared``) recovering under
half of the gain. The alternative is a generic perturbation: in ``planted-perturbed`` raising almost any inactive
neuron restores the gapped answers, so the control recovers as much (refuted); in ``planted-gaps`` only the
partial-shared carriers' own conversion does (supported).
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.type_rows import (
    conversion_conditions,
    conversion_paper_numbers,
    conversion_verdict,
)

TYPE = "partial_shared"

CLAIM = Claim(
    id="convert-partial-shared",
    title="Converting partial-shared neurons alone to all-shared raises accuracy",
    paper_ref="§6.3, Table 3 (co. partial-shared)",
    paper_text="increasing the number of all-shared neurons improves the accuracy of an LLM in most cases. BLOOMZ "
               "XNLI co. partial-shared: ru 47.6 -> 49.4, tr 34.9 -> 36.8, de 41.8 -> 41.8, en 53.8 -> 53.2 (down): "
               "not worse in 8 of 9 languages, +0.56 points on average",
    tasks=("xnli",), per_language=False,
    conditions=conversion_conditions(TYPE),
    planted=(Planted("planted-gaps", "supported"), Planted("planted-perturbed", "refuted")),
    paper_numbers=conversion_paper_numbers(TYPE))


def test_convert_partial_shared(case: ClaimCase, claims, judge) -> None:
    judge(conversion_verdict(claims.measurement(case), TYPE, claims.option("seed")))
