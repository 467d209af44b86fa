"""Measurement cache: keys, atomic files, and resuming a run that was killed part-way."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.core import papers
from harness.core import store as store_module
from harness.core.models import load_model
from harness.core.store import MeasurementStore
from harness.papers.kojima.language_neurons import LanguageNeurons
from harness.papers.sharing_matters.measurement import MeasureConfig
from harness.tasks import FIXTURE_DATA, load_task

FOLDERS = {"xnli": "xnli", "facts": "mpararel"}
STORE_SCRIPT = """
import sys
from pathlib import Path
from tests.test_store import make_store
store = make_store(Path(sys.argv[1]))
for task in ("xnli", "facts"):
    store.get("tiny-bloom", task)
    print("measured", task, flush=True)
"""


def make_store(cache: Path | None, *, threshold: float = 0.0, loads: list[str] | None = None,
               store: type[MeasurementStore] = MeasurementStore) -> MeasurementStore:
    def model(name: str) -> object:
        if loads is not None:
            loads.append(name)
        return load_model(name, device="cpu")

    def examples(task: str, shots: int = 0) -> list:
        languages = ["en", "de", "fr"] if task == "xnli" else ["en", "de", "zh"]
        return load_task(task, languages=languages, limit=3, data_dir=FIXTURE_DATA / FOLDERS[task])

    return store(model, examples, MeasureConfig(threshold=threshold, batch_size=4),
                 identity=lambda name: {"name": name}, cache_dir=cache)


def test_second_store_reads_the_cache_without_loading_the_model(tmp_path: Path) -> None:
    first = make_store(tmp_path)
    measured = first.get("tiny-bloom", "xnli")
    assert len(list(tmp_path.glob("*.pt"))) == 1 and first.computed == [("tiny-bloom", "xnli")]
    loads: list[str] = []
    second = make_store(tmp_path, loads=loads)
    again = second.get("tiny-bloom", "xnli")
    assert loads == [] and second.computed == []
    assert again.example_ids == measured.example_ids
    for condition, correct in measured.correct.items():
        assert (again.correct[condition] == correct).all()
    assert (again.example_shares == measured.example_shares).all()


def test_the_key_changes_with_what_the_measurement_depends_on(tmp_path: Path) -> None:
    base = make_store(tmp_path)
    assert base.cache_key("tiny-bloom", "xnli") != make_store(tmp_path, threshold=0.5).cache_key("tiny-bloom", "xnli")
    assert base.cache_key("tiny-bloom", "xnli") != base.cache_key("tiny-llama", "xnli")
    base.conditions["tiny-bloom", "xnli"] = {"convert"}
    assert base.cache_key("tiny-bloom", "xnli") != make_store(tmp_path).cache_key("tiny-bloom", "xnli")


def test_a_changed_schema_version_or_measuring_code_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_store(tmp_path)
    first.get("tiny-bloom", "xnli")
    key = first.cache_key("tiny-bloom", "xnli")
    types = papers.kinds()["types"]
    bumped = dataclasses.replace(types, version=types.version + 1)
    monkeypatch.setattr(papers, "kinds", lambda: {"types": bumped})
    monkeypatch.setattr(store_module, "kinds", lambda: {"types": bumped})
    loads: list[str] = []
    second = make_store(tmp_path, loads=loads)
    assert second.cache_key("tiny-bloom", "xnli") != key
    second.get("tiny-bloom", "xnli")
    assert loads == ["tiny-bloom"] and second.computed == [("tiny-bloom", "xnli")]  # measured again
    monkeypatch.undo()
    code = store_module.measuring_code(types)
    assert "harness.papers.sharing_matters.reducers" in code and "harness.core.capture" in code
    assert "harness.papers.sharing_matters.rules" not in code  # the rules decide; they measure nothing
    changed = dict(code) | {"harness.papers.sharing_matters.reducers": "0" * 64}
    monkeypatch.setattr(store_module, "measuring_code", lambda kind: changed)
    assert make_store(tmp_path).cache_key("tiny-bloom", "xnli") != key


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    make_store(None).get("tiny-bloom", "xnli")
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    repo = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-c", STORE_SCRIPT, str(cache)], cwd=repo,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "measured xnli"
    process.kill()  # killed while measuring the second task
    process.wait(timeout=60)
    assert len(list(cache.glob("*.pt"))) == 1  # the finished task only; no partial file under a final name
    loads: list[str] = []
    resumed = make_store(cache, loads=loads)
    resumed.get("tiny-bloom", "xnli")
    assert resumed.computed == [] and loads == []
    resumed.get("tiny-bloom", "facts")
    assert resumed.computed == [("tiny-bloom", "facts")]


def test_bad_conditions_are_rejected() -> None:
    store = make_store(None)
    store.conditions["tiny-bloom", "xnli"] = {"everything"}
    with pytest.raises(ValueError, match="unknown conditions"):
        store.get("tiny-bloom", "xnli")


def test_models_are_released_one_at_a_time() -> None:
    loads: list[str] = []
    store = make_store(None, loads=loads)
    store.model("tiny-bloom")
    store.model("tiny-bloom")
    store.model("tiny-llama")
    assert loads == ["tiny-bloom", "tiny-llama"]


def test_a_language_subset_is_its_own_measurement_equal_to_a_store_of_those_languages(tmp_path: Path) -> None:
    """Restricting a task's languages re-classifies neurons over those languages only: the same as a store whose
    loader gave those languages in the first place."""
    store = make_store(tmp_path)
    full = store.get("tiny-bloom", "xnli")
    subset = store.get("tiny-bloom", "xnli", ("en", "fr"))
    assert store.get("tiny-bloom", "xnli", ("en", "de", "fr")) is full  # all languages: the same measurement
    assert subset.languages == ["en", "fr"] and len(list(tmp_path.glob("*.pt"))) == 2
    direct = MeasurementStore(lambda name: load_model(name, device="cpu"),
                              lambda task, shots: load_task(task, languages=["en", "fr"], limit=3,
                                                            data_dir=FIXTURE_DATA / FOLDERS[task], shots=shots),
                              MeasureConfig(batch_size=4), identity=lambda name: {"name": name}, cache_dir=None)
    alone = direct.get("tiny-bloom", "xnli")
    assert (subset.example_shares == alone.example_shares).all() and subset.activated.shape[0] == 2
    assert (subset.correct["baseline"] == alone.correct["baseline"]).all()
    with pytest.raises(ValueError, match="cannot restrict"):
        store.get("tiny-bloom", "xnli", ("en", "pt"))


def test_a_second_kind_is_measured_cached_and_peeked_apart_from_the_first(tmp_path: Path) -> None:
    first = make_store(tmp_path)
    first.conditions["tiny-bloom", "xnli"] = {"resamples"}  # a language-neuron claim's; the types kind reads none
    types = first.get("tiny-bloom", "xnli")
    neurons = first.get("tiny-bloom", "xnli", kind="language_neurons")
    assert isinstance(neurons, LanguageNeurons) and not neurons.tampering and len(neurons.boot_overlap) == 100
    assert set(types.correct) == {"baseline"}
    assert first.peek("tiny-bloom", "xnli") is neurons and first.peek("tiny-bloom", "facts") is None
    assert first.cache_key("tiny-bloom", "xnli") != first.cache_key("tiny-bloom", "xnli", kind="language_neurons")
    assert len(list(tmp_path.glob("*.pt"))) == 2
    loads: list[str] = []
    second = make_store(tmp_path, loads=loads)
    second.conditions["tiny-bloom", "xnli"] = {"resamples"}
    again = second.get("tiny-bloom", "xnli", kind="language_neurons")
    assert loads == [] and torch.equal(again.top, neurons.top) and torch.equal(again.boot_overlap, neurons.boot_overlap)
    with pytest.raises(ValueError, match="unknown measurement kind"):
        second.get("tiny-bloom", "xnli", kind="sharing")


def test_a_measurement_after_demonstrations_is_never_reused_without_them(tmp_path: Path) -> None:
    """App. A.3.6: each number of in-context demonstrations is a measurement of its own, in memory and on disk."""
    def examples(task: str, shots: int = 0) -> list:
        return load_task(task, languages=["en", "de"], limit=3, data_dir=FIXTURE_DATA / "mzsre", shots=shots)

    def make() -> MeasurementStore:
        return MeasurementStore(lambda name: load_model(name, device="cpu"), examples,
                                MeasureConfig(batch_size=4), identity=lambda name: {"name": name}, cache_dir=tmp_path)

    store = make()
    store.conditions["tiny-bloom", "editing"] = set()
    assert store.cache_key("tiny-bloom", "editing", shots=2) != store.cache_key("tiny-bloom", "editing")
    two = store.get("tiny-bloom", "editing", shots=2)
    zero = store.get("tiny-bloom", "editing")
    assert zero is not two and store.computed == [("tiny-bloom", "editing")] * 2
    assert len(list(tmp_path.glob("*.pt"))) == 2 and zero.example_ids == two.example_ids
    assert zero.data_hash != two.data_hash  # measured on the prompts after the demonstrations
    assert all(store.examples("editing", shots=2)[i].prompts["de"].endswith(ex.prompts["de"])
               for i, ex in enumerate(store.examples("editing")))
    again = make()
    again.conditions["tiny-bloom", "editing"] = set()
    assert torch.equal(again.get("tiny-bloom", "editing").example_activated, zero.example_activated)
    assert torch.equal(again.get("tiny-bloom", "editing", shots=2).example_activated, two.example_activated)
    assert again.computed == [] and again.is_cached("tiny-bloom", "editing", shots=2)
    assert not again.is_cached("tiny-bloom", "editing", shots=4)
