"""§6.3, Table 3's "co. specific" row: converting the specific neurons alone (raising their inactive part to just
above the threshold) raises accuracy in most languages.

Table 3's row is weak: accuracy rises in 5 of 9 languages, by 0.04 points on average; the paper reads the table as
a whole ("improves the accuracy ... in most cases"). The claim takes the row at its word: not worse in at least half
of the languages (not the two thirds of ``convert-improves``, which the paper's own row would fail), the mean change
above 0, and as many non-activated neurons raised the same way (``convert_random_specific``) recovering under half
of the gain. The alternative is a generic perturbation: in ``planted-perturbed`` raising almost any inactive neuron
restores the gapped answers, so the control recovers as much (refuted); in ``planted-gaps`` only the specific
carriers' own conversion does (supported).
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.type_rows import (
    conversion_conditions,
    conversion_paper_numbers,
    conversion_verdict,
)

TYPE = "specific"
MIN_LANGUAGE_SHARE = 0.5  # "in most cases": Table 3's row is not worse in 5 of 9 languages

CLAIM = Claim(
    id="convert-specific",
    title="Converting specific neurons alone to all-shared raises accuracy",
    paper_ref="§6.3, Table 3 (co. specific)",
    paper_text="increasing the number of all-shared neurons improves the accuracy of an LLM in most cases. BLOOMZ "
               "XNLI co. specific: de 41.8 -> 42.7, fr 49.0 -> 50.1, en 53.8 -> 53.0 (down), ru 47.6 -> 46.9 (down): "
               "up in 5 of 9 languages, +0.04 points on average",
    tasks=("xnli",), per_language=False,
    conditions=conversion_conditions(TYPE),
    planted=(Planted("planted-gaps", "supported"), Planted("planted-perturbed", "refuted")),
    paper_numbers=conversion_paper_numbers(TYPE))


def test_convert_specific(case: ClaimCase, claims, judge) -> None:
    judge(conversion_verdict(claims.measurement(case), TYPE, claims.option("seed"),
                             min_language_share=MIN_LANGUAGE_SHARE))
