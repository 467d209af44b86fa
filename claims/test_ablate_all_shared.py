"""§6.3, Tables 2, 5, 6: deactivating all-shared neurons collapses accuracy, far more than other types."""

from __future__ import annotations

from claims.paper_tables import ablation_table
from harness.claim import Claim, ClaimCase, Planted
from harness.rules import ablation_rule
from harness.views import accuracy_table


def paper_numbers(model_id: str, task: str, language: str | None) -> dict[str, float]:
    return {row: values[language] for row, values in ablation_table(model_id, task).items() if language in values}


CLAIM = Claim(
    id="ablate-all-shared",
    title="Deactivating all-shared neurons collapses accuracy, more than specific, partial-shared or random",
    paper_ref="§6.3, Table 2 (BLOOMZ XNLI), Table 5 (KE), Table 6 (Llama-2 XNLI)",
    paper_text="BLOOMZ XNLI en 53.8 -> 16.7, de 41.8 -> 3.5, tr 34.9 -> 1.4; all-shared are 8.71% of neurons and "
               "their deactivation costs 87.39% of accuracy",
    tasks=("xnli", "editing"), per_language=True,
    conditions=("all_shared", "specific", "partial_shared", "random"),
    planted=(Planted("planted-shared", "supported"), Planted("planted-specific", "refuted"),
             Planted("planted-shared-gated", "supported"), Planted("planted-specific-gated", "refuted")),
    paper_numbers=paper_numbers)

CONDITIONS = {"baseline": "baseline", "all_shared": "w/o all-shared", "specific": "w/o specific",
              "partial_shared": "w/o partial-shared", "random": "w/o random (same size)"}


def test_ablate_all_shared(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    lang = m.languages.index(case.language)
    verdict = ablation_rule(m.correct["baseline"][:, lang].numpy(),
                            {c: m.correct[c][:, lang].numpy() for c in ("all_shared", "specific", "partial_shared",
                                                                        "random")}, seed=claims.option("seed"))
    verdict.measured["share of neurons deactivated (all-shared) %"] = 100 * m.masked_share["all_shared"]
    verdict.tables.append(accuracy_table(m, "ablation", "Accuracy under deactivation (Tables 2, 5, 6 layout)",
                                         CONDITIONS, ablation_table(str(m.model["model_id"]), case.task)))
    judge(verdict)
