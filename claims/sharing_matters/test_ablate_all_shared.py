"""§6.3, Tables 2, 5, 6: deactivating the active all-shared neurons collapses accuracy, far more than other types,
than a random same-size set of active neurons and than a set of the same summed contribution."""

from __future__ import annotations

import numpy as np

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.stats import holm
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.accuracy_rules import ABLATION_LABELS, ablation_rule, ablation_tests
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.paper_tables import ablation_table
from harness.papers.sharing_matters.views import accuracy_table, edits_table


def paper_numbers(model_id: str, task: str, language: str | None) -> dict[str, float]:
    return {row: values[language] for row, values in ablation_table(model_id, task).items() if language in values}


CLAIM = Claim(
    id="ablate-all-shared",
    title="Deactivating all-shared neurons collapses accuracy, more than specific, partial-shared or random",
    paper_ref="§6.3, Table 2 (BLOOMZ XNLI), Table 5 (KE ALL->EN), Table 6 (Llama-2 XNLI)",
    paper_text="BLOOMZ XNLI en 53.8 -> 16.7, de 41.8 -> 3.5, tr 34.9 -> 1.4 (below chance: generated answers); "
               "deactivating specific or partial-shared neurons costs far less; KE ALL->EN en 96.23 -> 15.21",
    tasks=("xnli", "editing", "editing-all-en"), per_language=True,
    conditions=("all_shared", "specific", "partial_shared", "random", "matched"),
    planted=(Planted("planted-shared", "supported"), Planted("planted-specific", "refuted"),
             Planted("planted-shared-gated", "supported"), Planted("planted-specific-gated", "refuted"),
             Planted("planted-spread", "refuted"), Planted("planted-crowded", "inconclusive")),
    paper_numbers=paper_numbers)

CONDITIONS = {"baseline": "baseline", **ABLATION_LABELS}


def _outcomes(m: Measurement, lang: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Baseline and each condition's per-item outcome in one language (a seeded control: its seeds' mean)."""
    families = [c for c in ABLATION_LABELS if m.seeds(c)]
    return m.correct["baseline"][:, lang].numpy(), {c: m.outcome(c)[:, lang].numpy() for c in families}


def verdict_for(m: Measurement, language: str, seed: int = 0) -> Verdict:
    """The rule on one language, its p-values Holm-adjusted across every language of the measurement."""
    tests = [ablation_tests(*_outcomes(m, i)) for i in range(len(m.languages))]  # every language: one family
    adjusted = {name: holm(np.array([t[name] for t in tests])) for name in tests[0]}
    lang = m.languages.index(language)
    floor = float(m.chance[lang]) if m.scoring["kind"] == "choice" else 0.0
    verdict = ablation_rule(*_outcomes(m, lang), floor=floor, chance=float(m.chance[lang]),
                            adjusted={name: float(p[lang]) for name, p in adjusted.items()}, seed=seed)
    verdict.params["scoring"] = m.scoring["kind"]
    return verdict


def test_ablate_all_shared(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, case.language, claims.option("seed"))
    verdict.tables += [accuracy_table(m, "ablation", "Accuracy under deactivation (Tables 2, 5, 6 layout)",
                                      CONDITIONS, ablation_table(str(m.model["model_id"]), case.task)),
                       edits_table(m, "ablation-edits", list(ABLATION_LABELS))]
    judge(verdict)
