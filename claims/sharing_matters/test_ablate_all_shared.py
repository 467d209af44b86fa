"""§6.3, Tables 2, 5, 6: deactivating the active all-shared neurons collapses accuracy, far more than other types,
than a random same-size set of active neurons and than a set of the same summed contribution.

Zeroing can move a neuron far from any value it takes on the task: in ``planted-offset`` one always-on neuron's
output is cancelled by a bias, so zeroing it breaks every answer whatever the answers are carried by, and the drawn
controls fall short of that set (the matched control cannot reach its contribution). A control that falls short
cannot pass the comparison (inconclusive), and the same rule under mean-ablation (each neuron set to its mean over
the task's inputs), recorded beside zeroing, says the collapse vanishes.
"""

from __future__ import annotations

import numpy as np

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.stats import holm
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.accuracy_rules import ABLATION_LABELS, ablation_rule, ablation_tests
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.paper_tables import ablation_table
from harness.papers.sharing_matters.readings import MEAN_ABLATION, with_mean_ablation
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
    conditions=("all_shared", "specific", "partial_shared", "random", "matched", "all_shared_mean", "specific_mean",
                "partial_shared_mean"),
    planted=(Planted("planted-shared", "supported", controls=((MEAN_ABLATION, "supported"),)),
             Planted("planted-specific", "refuted"),
             Planted("planted-shared-gated", "supported", controls=((MEAN_ABLATION, "supported"),)),
             Planted("planted-specific-gated", "refuted"), Planted("planted-spread", "refuted"),
             Planted("planted-crowded", "inconclusive"),
             Planted("planted-offset", "inconclusive", controls=((MEAN_ABLATION, "refuted"),))),
    paper_numbers=paper_numbers)

MEAN_ABLATED = {"all_shared": "all_shared_mean", "specific": "specific_mean", "partial_shared": "partial_shared_mean"}
CONDITIONS = {"baseline": "baseline", **ABLATION_LABELS,
              **{mean: f"{ABLATION_LABELS[c]} (mean-ablated)" for c, mean in MEAN_ABLATED.items()}}
DRAWN = ("random", "matched")  # the controls drawn to a target, zeroed only


def _outcomes(m: Measurement, lang: int, mean: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Baseline and each condition's per-item outcome in one language (a seeded control: its seeds' mean); with
    ``mean``, the types mean-ablated under their zeroing names, without the drawn controls."""
    names = {c: MEAN_ABLATED[c] for c in MEAN_ABLATED} if mean else {c: c for c in ABLATION_LABELS}
    return m.correct["baseline"][:, lang].numpy(), {c: m.outcome(run)[:, lang].numpy() for c, run in names.items()
                                                    if m.seeds(run)}


def _reading(m: Measurement, language: str, seed: int, mean: bool) -> Verdict:
    """The rule on one language, its p-values Holm-adjusted across every language of the measurement."""
    tests = [ablation_tests(*_outcomes(m, i, mean)) for i in range(len(m.languages))]  # every language: one family
    adjusted = {name: holm(np.array([t[name] for t in tests])) for name in tests[0]}
    lang = m.languages.index(language)
    floor = float(m.chance[lang]) if m.scoring["kind"] == "choice" else 0.0
    reach = {c: m.reached_share(c, language) for c in DRAWN if m.seeds(c) and not mean}
    verdict = ablation_rule(*_outcomes(m, lang, mean), floor=floor, chance=float(m.chance[lang]),
                            adjusted={name: float(p[lang]) for name, p in adjusted.items()}, reach=reach, seed=seed)
    verdict.params["scoring"] = m.scoring["kind"]
    return verdict


def verdict_for(m: Measurement, language: str, seed: int = 0) -> Verdict:
    """The rule on one language with zeroing (the paper's: the verdict), and with mean-ablation beside it where the
    measurement has it (its drawn controls are zeroed only, so that reading compares the types alone)."""
    verdict = _reading(m, language, seed, mean=False)
    if not m.seeds("all_shared_mean"):
        return verdict
    return with_mean_ablation(verdict, _reading(m, language, seed, mean=True), claim=CLAIM.id,
                              instance=f"{m.label} {language}")


def test_ablate_all_shared(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, case.language, claims.option("seed"))
    verdict.tables += [accuracy_table(m, "ablation", "Accuracy under deactivation (Tables 2, 5, 6 layout)",
                                      CONDITIONS, ablation_table(str(m.model["model_id"]), case.task)),
                       edits_table(m, "ablation-edits", list(ABLATION_LABELS) + list(MEAN_ABLATED.values()))]
    judge(verdict)
