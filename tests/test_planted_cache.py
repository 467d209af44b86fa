"""The planted-model disk cache: a cached model is the built one; any change to what it depends on misses."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from harness.core.batching import encode
from harness.core.papers import planted_models
from harness.planted import cache as planted_cache
from harness.planted.cache import PlantedCache, builder_sources, cache_key
from harness.tasks import FIXTURE_DATA, load_task

SPEC = planted_models()["planted-lang-edges"]  # the quickest to build
REPO = Path(__file__).resolve().parents[1]
SHARING, KOJIMA = REPO / "claims" / "sharing_matters", REPO / "claims" / "kojima"  # one folder per paper


@pytest.fixture(autouse=True)
def _denormals_restored() -> Iterator[None]:
    """Building or loading a planted model flushes denormals process-wide; the rest of the suite (hypothesis's
    floats) needs them back."""
    yield
    torch.set_flush_denormal(False)


@pytest.fixture(scope="module")
def examples() -> dict[str, list]:
    return {"xnli": load_task("xnli", data_dir=FIXTURE_DATA / "xnli")}


def test_the_key_covers_the_builders_and_the_harness_modules_they_import() -> None:
    sources = builder_sources(SPEC)
    for module in ("harness.papers.kojima.planted", "harness.planted.building", "harness.core.models",
                   "harness.tasks.xnli", "harness.core.sampling"):
        assert module in sources
    shared = builder_sources(planted_models()["planted-shared"])
    assert {"harness.papers.sharing_matters.planted", "harness.core.capture", "harness.planted.building"} <= set(shared)
    assert "harness.papers.kojima.planted" not in shared  # each paper's models key on their own builder
    assert "harness.plugin.hooks" not in sources and "harness.report.render" not in sources  # nothing builds with them
    assert all(len(digest) == 64 for digest in sources.values())


def test_a_changed_builder_spec_or_data_changes_the_key(examples: dict[str, list]) -> None:
    key = cache_key(SPEC, examples)
    assert cache_key(SPEC, examples) == key
    changed = dict(builder_sources(SPEC)) | {"harness.planted.building": "0" * 64}
    assert cache_key(SPEC, examples, sources=changed) != key
    assert cache_key(dataclasses.replace(SPEC, seed=1), examples) != key
    assert cache_key(SPEC, {"xnli": examples["xnli"][:-1]}) != key


def test_a_cached_model_is_the_built_one_and_a_changed_key_misses(tmp_path: Path, examples: dict[str, list],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = PlantedCache(tmp_path)
    built = first.get(SPEC, examples)
    second = PlantedCache(tmp_path)
    loaded = second.get(SPEC, examples)
    assert (first.built, first.loaded, second.built, second.loaded) == ([SPEC.name], [], [], [SPEC.name])
    assert built.model.state_dict().keys() == loaded.model.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(built.model.state_dict().values(),
                                                  loaded.model.state_dict().values(), strict=True))
    assert (loaded.name, loaded.model_id, loaded.site.name) == (built.name, built.model_id, built.site.name)
    texts = [examples["xnli"][0].prompts[lang] for lang in ("en", "zh")]
    with torch.no_grad():
        assert torch.equal(built.model(**encode(built, texts)).logits, loaded.model(**encode(loaded, texts)).logits)

    # Another builder: the old file is not the model any more, so the cache builds.
    monkeypatch.setattr(planted_cache, "builder_sources", lambda spec: {"harness.papers.kojima.planted": "changed"})
    calls = []
    monkeypatch.setattr(type(SPEC), "build", lambda spec, _examples: calls.append(spec) or built)
    third = PlantedCache(tmp_path)
    assert third.get(SPEC, examples) is built and calls == [SPEC] and third.built == [SPEC.name]
    assert len(list(tmp_path.glob(f"{SPEC.name}-*/planted.json"))) == 2


def test_without_a_directory_every_model_is_built(examples: dict[str, list], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(SPEC), "build", lambda spec, _examples: spec.name)
    cache = PlantedCache(None)
    assert cache.get(SPEC, examples) == cache.get(SPEC, examples) == SPEC.name
    assert cache.built == [SPEC.name] * 2 and cache.path(SPEC, examples) is None


def test_a_measurements_identity_covers_the_model(examples: dict[str, list]) -> None:
    """The measuring code's version is in the measurement store's own key (tests/test_store.py)."""
    identity = planted_cache.measurement_identity(SPEC, examples)
    assert identity["model_key"] == cache_key(SPEC, examples)
    assert planted_cache.measurement_identity(SPEC, examples) == identity
    assert planted_cache.measurement_identity(dataclasses.replace(SPEC, seed=1), examples) != identity
    assert planted_cache.measurement_identity(SPEC, {"xnli": examples["xnli"][:-1]}) != identity


@pytest.mark.slow
def test_a_second_tiny_run_measures_nothing_and_gives_the_same_records(pytester: pytest.Pytester) -> None:
    """Both caches warm: no planted model is built or loaded, no measurement is taken, the records are the same."""
    claims = [str(SHARING / "test_mid_layer_peak.py"),
              str(KOJIMA / "test_lsn_low_overlap.py")]
    cache = pytester.path / "cache"

    def run(name: str) -> tuple[list[dict], list[dict]]:
        result = pytester.runpytest_subprocess(*claims, "--cache-dir", str(cache), "--report",
                                               str(pytester.path / name), "-p", "no:randomly",
                                               "--prepare-processes", "0")  # the run itself measures
        assert result.ret == pytest.ExitCode.OK
        (run_dir,) = (pytester.path / name).iterdir()
        records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        return records, json.loads((run_dir / "run.json").read_text())["work"]

    first, first_work = run("first")
    second, second_work = run("second")
    assert any("measured" in w for w in first_work) and any(w.get("source") == "built" for w in first_work)
    assert second_work == []  # nothing measured, built or loaded
    assert len(list(cache.glob("tiny/*.pt"))) == len([w for w in first_work if "measured" in w])

    def comparable(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("timings",)} for r in records]

    assert comparable(second) == comparable(first)
