"""The full tier on the subject pair trained here from real data (harness.subjects): every claim runs without an
error, and metamorphic relations that need no ground truth hold: batch size, the order the languages are listed
in, the caches and a permutation of the FFN neurons inside every layer change nothing they should not.

Verdicts themselves are not asserted: they are what the claims say about this model.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest
import torch
from subject_runs import CLAIM_FILES, LIMIT, REPO, ClaimsRun, SubjectRuns

from harness.core.models import load_model
from harness.papers.sharing_matters.measurement import MeasureConfig, measure
from harness.subjects import BASE, IFT
from harness.subjects.build import state_digest
from harness.subjects.corpus import TASKS, task_folders
from harness.subjects.evaluation import evaluate
from harness.tasks import ParallelExample, load_task, task_spec

pytestmark = pytest.mark.slow
#: Conditions drawn at random per neuron index: a permutation of the neurons changes which ones they hit.
RANDOM_DRAWS = {"random", "tampering"}
PAIR_INSTANCE = f"{IFT.name}-vs-{BASE.name}-xnli"


def _claims() -> dict[str, object]:
    """Claim id -> CLAIM of every claim module (imported the way pytest imports them: from the repo root)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    modules = [importlib.import_module(".".join(path.relative_to(REPO).with_suffix("").parts)) for path in CLAIM_FILES]
    return {m.CLAIM.id: m.CLAIM for m in modules}


def _outcome(record: dict) -> tuple[str, float | None, list[float | None]]:
    effect = record["effect"] or {}
    return record["verdict"], effect.get("value"), effect.get("ci", [])


def _assert_same_outcomes(first: ClaimsRun, second: ClaimsRun, keys: set[tuple[str, str]], *,
                          verdicts: bool = True, rel_tol: float = 1e-6) -> None:
    """Same verdict (unless ``verdicts`` is False) and, to ``rel_tol``, the same effect and interval for every
    instance in ``keys``."""
    a, b = first.by_instance(), second.by_instance()
    assert keys and keys <= a.keys() and keys <= b.keys()
    for key in sorted(keys):
        (verdict_a, effect_a, ci_a), (verdict_b, effect_b, ci_b) = _outcome(a[key]), _outcome(b[key])
        assert verdict_a == verdict_b or not verdicts, f"{key}: {a[key]['reason']} | {b[key]['reason']}"
        for x, y in zip([effect_a, *ci_a], [effect_b, *ci_b], strict=True):
            assert (x is None and y is None) or math.isclose(x, y, rel_tol=rel_tol, abs_tol=1e-9), f"{key}: {x} != {y}"


def test_every_claim_runs_on_the_pair_without_errors(subject_run: ClaimsRun, subject_pair: dict[str, Path]) -> None:
    assert subject_run.returncode in (0, 1), subject_run.output[-6000:]  # 1: some claim was refuted
    assert [r["instance"] for r in subject_run.records if r["verdict"] == "error"] == []
    assert "Traceback" not in subject_run.output and "INTERNALERROR" not in subject_run.output
    # every claim but the encoder-decoder comparison, skipped on a decoder-only model, and the two scale claims,
    # skipped without a model of another size (none is trained here); a skip writes no record
    assert {r["claim"] for r in subject_run.records} == set(_claims()) - {
        "encoder-more-shared", "types-independent-of-scale", "larger-model-sparser-upper"}
    pair = [r for r in subject_run.records if r["instance"] == PAIR_INSTANCE]
    assert pair and all(r["base_model"] == BASE.name for r in pair)  # the registered pair, no --base-model
    key = subject_pair[IFT.name].name.rsplit("-", 1)[-1]
    assert {r["provenance"].get("revision") for r in subject_run.records if r["model"] == IFT.name} == {key}


def test_a_run_served_from_the_caches_equals_the_fresh_one(subject_runs: SubjectRuns) -> None:
    assert subject_runs.cache_after == subject_runs.cache_before != []  # every measurement came from the cache
    assert subject_runs.manifests_after == subject_runs.manifests_before  # no subject was built again
    fresh, again = subject_runs.fresh, subject_runs.from_cache
    assert [{k: v for k, v in r.items() if k != "timings"} for r in again.records] == [
        {k: v for k, v in r.items() if k != "timings"} for r in fresh.records]
    assert again.returncode == fresh.returncode


def test_batch_size_one_gives_the_same_verdicts_and_effects(subject_runs: SubjectRuns) -> None:
    single = subject_runs.single_rows
    assert [r["instance"] for r in single.records if r["verdict"] == "error"] == [], single.output[-6000:]
    assert {r["task"] for r in single.records} == {"xnli", "facts"}
    _assert_same_outcomes(subject_runs.fresh, single, set(single.by_instance()))


def test_permuting_ffn_neurons_changes_no_verdict_or_effect_that_draws_nothing(
        subject_runs: SubjectRuns, subject_pair: dict[str, Path]) -> None:
    original = load_model(str(subject_pair[IFT.name]), device="cpu")
    shuffled = load_model(str(subject_runs.permuted_dirs[IFT.name]), device="cpu")
    assert state_digest(original.model) != state_digest(shuffled.model)  # the neurons did move
    inputs = original.tokenizer(["la capitale de la France est", "Take the following as truth: x"],
                                return_tensors="pt", padding=True)
    with torch.no_grad():  # ... and the function did not change
        torch.testing.assert_close(shuffled.model(**inputs).logits, original.model(**inputs).logits,
                                   rtol=1e-4, atol=1e-5)
    fresh, run = subject_runs.fresh, subject_runs.permuted
    assert [r["instance"] for r in run.records if r["verdict"] == "error"] == [], run.output[-6000:]
    assert run.by_instance().keys() == fresh.by_instance().keys()
    drawing = {cid for cid, claim in _claims().items() if RANDOM_DRAWS & set(claim.conditions)}
    # The permutation reorders the down projection's sum, so activations agree to float32 rounding only, and a
    # neuron that close to the threshold may cross it: a share of neurons can move by a count or two (seen on one
    # CPU: dead-across-tokens 0.0742045 against 0.0742035, about one row-neuron in a million).
    _assert_same_outcomes(fresh, run, {key for key in fresh.by_instance() if key[0] not in drawing}, rel_tol=1e-4)
    # the random control decides ablate-all-shared's verdict, not its effect (all-shared's own drop)
    _assert_same_outcomes(fresh, run, {key for key in fresh.by_instance() if key[0] == "ablate-all-shared"},
                          verdicts=False, rel_tol=1e-4)


def _reordered(examples: list[ParallelExample], order: list[str]) -> list[ParallelExample]:
    return [ParallelExample(ex.id, {lang: ex.prompts[lang] for lang in order},
                            {lang: ex.answers[lang] for lang in order}) for ex in examples]


@pytest.mark.parametrize("task", TASKS)
def test_listing_languages_in_another_order_gives_the_same_type_shares(task: str, subject_pair: dict[str, Path],
                                                                       subject_data: Path) -> None:
    lm = load_model(IFT.name, data_dir=subject_data, device="cpu")
    examples = load_task(task, data_dir=task_folders(subject_data)[task], limit=LIMIT)
    languages = list(examples[0].prompts)
    shuffled = languages[1::2] + languages[0::2]
    first = measure(lm, examples, task_spec(task), MeasureConfig(), conditions=())
    second = measure(lm, _reordered(examples, shuffled), task_spec(task), MeasureConfig(), conditions=())
    assert second.languages == shuffled
    torch.testing.assert_close(second.example_shares, first.example_shares, rtol=0, atol=1e-3)
    assert (second.example_shares - first.example_shares).abs().sum() <= 1e-2  # a few neurons at most
    back = [shuffled.index(lang) for lang in languages]
    assert torch.equal(second.correct["baseline"][:, back], first.correct["baseline"])
    torch.testing.assert_close(second.activated[back], first.activated, rtol=0, atol=1e-3)


def test_the_base_model_does_the_tasks_and_tuning_changes_it(subject_pair: dict[str, Path],
                                                             subject_data: Path) -> None:
    """Above chance (XNLI: one in three; generation: a few %) in most languages, and measurably different after
    instruction tuning."""
    scores = {name: evaluate(load_model(name, data_dir=subject_data, device="cpu"), subject_data, LIMIT)
              for name in (BASE.name, IFT.name)}
    chance = {"xnli": 1 / 3, "facts": 0.05, "editing": 0.05}
    for task, result in scores[BASE.name].items():
        above = [lang for lang, value in result.accuracy.items() if value > chance[task]]
        assert len(above) > len(result.accuracy) / 2, (task, result.accuracy)
    changes = [abs(scores[IFT.name][t].mean_accuracy - scores[BASE.name][t].mean_accuracy) for t in TASKS]
    assert max(changes) >= 0.05, changes
