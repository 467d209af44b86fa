"""A damaged cache entry is a miss, in every cache: measurements, planted models, their fitted keys and the trained
subjects. Each kind of damage (a copy cut short, an empty file, random bytes, a crafted pickle, another program's
file) is reported once, as one warning line naming the file and why; the entry is built again and replaced with
what a clean run writes; a crafted pickle never runs. Processes finding the same damaged file (pytest-xdist
workers) rebuild it once, under its file lock, and run.json lists what was rebuilt."""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import cycle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from filelock import FileLock
from hypothesis import given, settings
from hypothesis import strategies as st
from test_plugin import saved_model  # noqa: F401 - a session fixture shared with the plugin's tests
from test_plugin_xdist import comparable_records

from harness.core.cache_damage import take_damaged, warning_line
from harness.core.models import LoadedModel, build_tiny, wrap_model
from harness.core.papers import kinds
from harness.core.store import CacheFileError, read_measurement
from harness.planted import building
from harness.planted import cache as planted_cache
from harness.planted.building import fit_key, share_fits
from harness.planted.cache import PlantedCache, PlantedCacheError
from harness.subjects import BASE, IFT
from harness.subjects.build import MANIFEST, ensure_subject, subject_dir
from harness.tasks import FIXTURE_DATA
from tests.strategies import damaged_copies
from tests.test_store import make_store

REPO = Path(__file__).resolve().parents[1]
SHARING, KOJIMA = REPO / "claims" / "sharing_matters", REPO / "claims" / "kojima"
DAMAGES = ("truncated", "zero-length", "random bytes", "crafted pickle")


class Payload:
    """Unpickling it would run code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - the pickle protocol's hook
        return (Path.write_text, (self.marker, "ran"))


def damaged(kind: str, good: bytes, crafted: bytes) -> bytes:
    """A cache file's bytes ``good`` after one kind of damage (``crafted``: the crafted pickle)."""
    return {"truncated": good[:len(good) // 2], "zero-length": b"",
            "random bytes": random.Random(len(good)).randbytes(len(good)), "crafted pickle": crafted,
            "flipped bit": good[:-1] + bytes([good[-1] ^ 1])}[kind]


def torch_file(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def plain(value: Any) -> Any:
    """A measurement (or its state) as comparable data: tensors as their dtype, shape and bytes, floats as their hex
    (NaN equals NaN), no timings."""
    if hasattr(value, "to_state"):
        value = value.to_state()
    if isinstance(value, torch.Tensor):
        return str(value.dtype), tuple(value.shape), value.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items() if key != "timings"}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value.hex() if isinstance(value, float) else value


@pytest.fixture(autouse=True)
def _reports_of_this_test_only() -> Iterator[None]:
    take_damaged()
    yield
    take_damaged()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the property tests overwrite at every example."""
    return tmp_path_factory.mktemp("scratch")


def one_warning(caplog: pytest.LogCaptureFixture, report: dict[str, str]) -> None:
    assert [r.getMessage() for r in caplog.records if r.name == "harness.cache"] == [warning_line(report)]


# -- measurements ----------------------------------------------------------------------------------------------------

def quick_store(cache: Path) -> Any:
    store = make_store(cache)
    store.conditions["tiny-bloom", "xnli"] = set()  # the baseline only: a measurement of a moment
    return store


@pytest.fixture(scope="module")
def clean_measurement(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes, Any]:
    """A clean run's measurement file: its name, its bytes and the measurement."""
    cache = tmp_path_factory.mktemp("clean-measurement")
    measured = quick_store(cache).get("tiny-bloom", "xnli")
    (path,) = cache.glob("*.pt")
    return path.name, path.read_bytes(), measured


def read_types(path: Path) -> Any:
    return read_measurement(path, "types", kinds()["types"].load)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_damaged_measurement_file_reads_and_a_crafted_one_runs_nothing(clean_measurement: tuple[str, bytes, Any],
                                                                          scratch: Path, data: st.DataObject) -> None:
    name, good, _ = clean_measurement
    marker = scratch / "ran"
    path = scratch / name
    path.write_bytes(data.draw(damaged_copies(good, torch_file({"state": Payload(marker)}))))
    with pytest.raises(CacheFileError, match=r"^not a file of plain data \(\d+ bytes\): \w+"):
        read_types(path)
    assert not marker.exists()


WHY = {"truncated": r"^not a file of plain data \(\d+ bytes\): OSError", "zero-length": r"\(0 bytes\): EOFError$",
       "random bytes": r"^not a file of plain data", "crafted pickle": r"UnpicklingError: Unsupported global",
       "foreign": r"^plain data, but not a 'types' measurement: ValueError: .*missing"}


@pytest.mark.parametrize("kind", WHY)
def test_a_damaged_measurement_is_reported_once_measured_again_and_replaced(
        tmp_path: Path, clean_measurement: tuple[str, bytes, Any], caplog: pytest.LogCaptureFixture,
        kind: str) -> None:
    name, good, clean = clean_measurement
    marker = tmp_path / "ran"
    foreign = torch_file({"task": "xnli"})  # plain data, but not a measurement
    (tmp_path / name).write_bytes(foreign if kind == "foreign" else
                                  damaged(kind, good, torch_file({"state": Payload(marker)})))
    store = quick_store(tmp_path)
    assert plain(store.get("tiny-bloom", "xnli")) == plain(clean) and store.computed == [("tiny-bloom", "xnli")]
    (report,) = take_damaged()
    assert report["cache"] == "measurement" and report["path"] == str(tmp_path / name)
    assert re.search(WHY[kind], report["why"])
    one_warning(caplog, report)
    assert plain(read_types(tmp_path / name)) == plain(clean)  # replaced by the new measurement
    assert sorted(p.name for p in tmp_path.iterdir()) == [name] and not marker.exists()  # nothing else written


LOCKED_READER = """
import json, sys
from pathlib import Path
import filelock
from harness.core.cache_damage import take_damaged
from harness.core.shared_store import SharedStore
from tests.test_store import make_store

acquire = filelock.FileLock.acquire

def announced(self, *args, **kwargs):
    print("waiting", flush=True)  # the file was read without the lock, and found damaged
    return acquire(self, *args, **kwargs)

filelock.FileLock.acquire = announced
store = make_store(Path(sys.argv[1]), store=SharedStore)
store.conditions["tiny-bloom", "xnli"] = set()
store.get("tiny-bloom", "xnli")
print(json.dumps({"measured": len(store.measured), "damaged": take_damaged()}), flush=True)
"""


def test_two_processes_finding_the_same_damaged_measurement_replace_it_once(
        tmp_path: Path, clean_measurement: tuple[str, bytes, Any]) -> None:
    """Both processes read the damaged file before either may replace it (this test holds the lock until both wait
    for it): the first to take the lock reports and measures, the other reads the new file."""
    name, good, clean = clean_measurement
    path = tmp_path / name
    path.write_bytes(damaged("truncated", good, b""))
    with FileLock(f"{path}.lock"):
        processes = [subprocess.Popen([sys.executable, "-c", LOCKED_READER, str(tmp_path)], cwd=REPO,
                                      stdout=subprocess.PIPE, text=True) for _ in range(2)]
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "waiting"
    outcomes = [json.loads(process.communicate(timeout=600)[0]) for process in processes]
    assert sorted(outcome["measured"] for outcome in outcomes) == [0, 1]
    assert sorted(len(outcome["damaged"]) for outcome in outcomes) == [0, 1]
    assert all(len(outcome["damaged"]) == outcome["measured"] for outcome in outcomes)  # who reported, measured
    assert plain(read_types(path)) == plain(clean)


# -- planted models --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuickSpec:
    """A planted-model spec built in a moment: a tiny random BLOOM whose tokenizer has a token added."""

    name: str = "planted-quick"
    tasks: tuple[str, ...] = ("xnli",)

    def build(self, examples_by_task: Mapping[str, Sequence[object]]) -> LoadedModel:
        model, tokenizer = build_tiny("tiny-bloom", seed=5)
        tokenizer.add_tokens(["<planted>"])
        return wrap_model(model, tokenizer, name=self.name, site="down_proj_input")


@pytest.fixture(scope="module")
def clean_planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean run's planted-model cache entry."""
    cache = PlantedCache(tmp_path_factory.mktemp("clean-planted"))
    cache.get(QuickSpec(), {})
    path = cache.path(QuickSpec(), {})
    assert path is not None
    return path


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_damaged_planted_model_loads_and_a_crafted_one_runs_nothing(clean_planted: Path, scratch: Path,
                                                                       data: st.DataObject) -> None:
    entry, marker = scratch / clean_planted.name, scratch / "ran"
    shutil.rmtree(entry, ignore_errors=True)
    shutil.copytree(clean_planted, entry)
    file = data.draw(st.sampled_from([planted_cache.META, planted_cache.WEIGHTS]))
    (entry / file).write_bytes(data.draw(damaged_copies((entry / file).read_bytes(), pickle.dumps(Payload(marker)))))
    with pytest.raises(PlantedCacheError):
        planted_cache.load(entry)
    assert not marker.exists()


@pytest.mark.parametrize(("file", "kind"), [(file, kind) for file in (planted_cache.META, planted_cache.WEIGHTS)
                                             for kind in DAMAGES] + [(planted_cache.META, "tokens")])
def test_a_damaged_planted_model_is_reported_once_built_again_and_replaced(
        tmp_path: Path, clean_planted: Path, caplog: pytest.LogCaptureFixture, file: str, kind: str) -> None:
    entry, marker = tmp_path / clean_planted.name, tmp_path / "ran"
    shutil.copytree(clean_planted, entry)
    good = (entry / file).read_bytes()
    if kind == "tokens":  # valid JSON whose tokens do not rebuild the tokenizer's vocabulary
        (entry / file).write_text(json.dumps(json.loads(good) | {"added_tokens": []}))
    else:
        (entry / file).write_bytes(damaged(kind, good, pickle.dumps(Payload(marker))))
    cache = PlantedCache(tmp_path)
    cache.get(QuickSpec(), {})
    assert (cache.built, cache.loaded) == ([QuickSpec.name], [])
    (report,) = take_damaged()
    assert report["cache"] == "planted-model" and report["path"] == str(entry)
    if kind == "tokens":
        assert report["why"] == "does not rebuild its tokenizer's vocabulary"
    one_warning(caplog, report)
    for name in (planted_cache.META, planted_cache.WEIGHTS):  # what a clean run wrote
        assert (entry / name).read_bytes() == (clean_planted / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [entry.name, f"{entry.name}.lock"]  # nothing left aside
    assert not marker.exists()


# -- fitted keys -----------------------------------------------------------------------------------------------------

@pytest.fixture
def fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(building, "_FITS", {})  # this process's own fits: as in a fresh process
    share_fits(tmp_path / "fits")
    yield tmp_path / "fits"
    share_fits(None)


def _problem() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(40, 8))
    return x, x[:, 0] > 0.5


def npy_file(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_damaged_fit_reads_and_a_crafted_one_runs_nothing(scratch: Path, data: st.DataObject) -> None:
    path, marker = scratch / "fit.npy", scratch / "ran"
    good = npy_file(np.arange(9, dtype=np.float64))
    path.write_bytes(data.draw(damaged_copies(good, npy_file(np.array([Payload(marker)], dtype=object)))))
    with pytest.raises(building.FitFileError):
        building._read_fit(path, 8)
    assert not marker.exists()


@pytest.mark.parametrize("kind", [*DAMAGES, "foreign"])
def test_a_damaged_fit_is_reported_once_solved_again_and_replaced(fits: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture, kind: str) -> None:
    x, on = _problem()
    w, b = fit_key(x, on)
    (file,) = fits.glob("*.npy")
    good, marker = file.read_bytes(), fits / "ran"
    foreign = npy_file(np.zeros(3))  # a numpy file, but not a fit of 8 weights
    file.write_bytes(foreign if kind == "foreign" else
                     damaged(kind, good, npy_file(np.array([Payload(marker)], dtype=object))))
    monkeypatch.setattr(building, "_FITS", {})  # another process: nothing solved in it yet
    w_again, b_again = fit_key(x, on)
    assert np.array_equal(w_again, w) and b_again == b
    (report,) = take_damaged()
    assert report["cache"] == "fitted-key" and report["path"] == str(file)
    one_warning(caplog, report)
    assert file.read_bytes() == good and not marker.exists()
    assert sorted(p.name for p in fits.iterdir()) == [file.name, f"{file.name}.lock"]


# -- trained subjects ------------------------------------------------------------------------------------------------

RECIPES = {recipe.name: replace(recipe.with_steps(2), rows_per_step=4) for recipe in (BASE, IFT)}


def subject(cache: Path) -> Path:
    """The instruction-tuned subject at two steps (and its base), cached in ``cache``."""
    return ensure_subject(IFT.name, FIXTURE_DATA, cache_dir=cache, recipes=RECIPES, progress=False)


@pytest.fixture(scope="module")
def clean_subjects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("clean-subjects")
    subject(cache)
    return cache


@pytest.mark.parametrize(("file", "kind"), [
    ("model.safetensors", "truncated"), (MANIFEST, "zero-length"), ("tokenizer.json", "random bytes"),
    ("model.safetensors", "crafted pickle"), ("config.json", "crafted pickle"),
    ("model.safetensors", "flipped bit"),  # still loads: its weights' digest says they are not the saved ones
    ("pytorch_model.bin", "crafted pickle")])  # pickled weights in place of the safetensors: never loaded
def test_a_damaged_subject_is_reported_once_trained_again_and_replaced(
        tmp_path: Path, clean_subjects: Path, caplog: pytest.LogCaptureFixture, file: str, kind: str) -> None:
    cache, marker = tmp_path / "subjects", tmp_path / "ran"
    shutil.copytree(clean_subjects, cache)
    folder = subject_dir(IFT.name, FIXTURE_DATA, cache_dir=cache, recipes=RECIPES)
    base = subject_dir(BASE.name, FIXTURE_DATA, cache_dir=cache, recipes=RECIPES)
    base_weights = (base / "model.safetensors").stat().st_mtime_ns
    if file == "pytorch_model.bin":
        (folder / "model.safetensors").unlink()
        (folder / file).write_bytes(pickle.dumps(Payload(marker)))
    else:
        (folder / file).write_bytes(damaged(kind, (folder / file).read_bytes(), pickle.dumps(Payload(marker))))
    assert subject(cache) == folder
    (report,) = take_damaged()
    assert report["cache"] == "trained-subject" and report["path"] == str(folder)
    one_warning(caplog, report)
    clean = clean_subjects / folder.name
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in clean.iterdir())
    for name in ("model.safetensors", "tokenizer.json", "config.json"):  # what a clean run wrote
        assert (folder / name).read_bytes() == (clean / name).read_bytes()
    assert json.loads((folder / MANIFEST).read_text())["state_digest"] == \
        json.loads((clean / MANIFEST).read_text())["state_digest"]
    assert (base / "model.safetensors").stat().st_mtime_ns == base_weights  # the intact parent is not rebuilt
    assert subject(cache) == folder and take_damaged() == []
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [base.name, f"{base.name}.lock", folder.name, f"{folder.name}.lock"]) and not marker.exists()


# -- a run ----------------------------------------------------------------------------------------------------------

def _run_dir(report: Path) -> Path:
    (run_dir,) = report.iterdir()
    return run_dir


def _damage_every_file(files: list[Path], marker: Path) -> None:
    """Each file damaged in one of the four ways, in turn."""
    for kind, file in zip(cycle(DAMAGES), files, strict=False):
        file.write_bytes(damaged(kind, file.read_bytes(), torch_file({"state": Payload(marker)})))


def _damaged_entries(pytester_result: pytest.RunResult, run_dir: Path) -> list[dict[str, str]]:
    """The damaged entries run.json lists, after checking that the run printed one warning line for each (a
    failing test's captured log may show the line too, as pytest shows any log record of a failing test)."""
    work = json.loads((run_dir / "run.json").read_text())["work"]
    entries = [w["damaged"] for w in work if "damaged" in w]
    lines = [line for line in pytester_result.outlines if line.startswith("neuron-claims: damaged ")]
    assert sorted(lines) == sorted(map(warning_line, entries))
    return entries


def test_a_full_tier_run_over_damaged_measurements_gives_the_records_of_a_clean_run(
        pytester: pytest.Pytester, saved_model: Path) -> None:  # noqa: F811 - the fixture, imported above
    """The issue's run: a full-tier run on a small saved BLOOM, then every measurement file damaged; the next run
    (two workers, which may both need a file) measures each again once and ends with the clean run's records."""
    cache, marker = pytester.path / "cache", pytester.path / "ran"
    claims = [SHARING / "test_mid_layer_peak.py", SHARING / "test_non_activated_majority.py",
              KOJIMA / "test_lsn_low_overlap.py"]
    args = [*map(str, claims), "-m", "full", "--model", str(saved_model), "--tasks", "xnli,facts", "--languages",
            "en,de", "--limit", "3", "--data-dir", str(FIXTURE_DATA), "--cache-dir", str(cache), "-p", "no:randomly"]
    clean = pytester.runpytest_subprocess(*args, "--report", str(pytester.path / "clean"))
    files = sorted(cache.glob("*.pt"))
    assert len(files) == 4  # two kinds of measurement on two tasks
    _damage_every_file(files, marker)
    again = pytester.runpytest_subprocess(*args, "-n", "2", "--report", str(pytester.path / "again"))
    outcomes = ("passed", "failed", "inconclusive", "error")
    assert [again.parseoutcomes().get(o) for o in outcomes] == [clean.parseoutcomes().get(o) for o in outcomes]
    run_dir = _run_dir(pytester.path / "again")
    assert comparable_records(run_dir) == comparable_records(_run_dir(pytester.path / "clean"))
    entries = _damaged_entries(again, run_dir)
    assert sorted(entry["path"] for entry in entries) == sorted(map(str, files))  # each file once
    assert all(entry["cache"] == "measurement" for entry in entries) and not marker.exists()


@pytest.mark.slow
def test_a_tiny_tier_run_over_a_damaged_cache_gives_the_records_of_a_clean_run(pytester: pytest.Pytester) -> None:
    """Every file of every cache of the tiny tier damaged (measurements, planted models' weights or JSON, fitted
    keys): two workers rebuild each entry once, the planted verdicts hold and the records are the clean run's."""
    cache, marker = pytester.path / "cache", pytester.path / "ran"
    args = [str(KOJIMA / "test_lsn_low_overlap.py"), "--cache-dir", str(cache), "-p", "no:randomly"]
    clean = pytester.runpytest_subprocess(*args, "--report", str(pytester.path / "clean"))
    assert clean.ret == pytest.ExitCode.OK
    entries = sorted(cache.glob("planted/planted-*/"))
    files = (sorted(cache.glob("tiny/*.pt")) + sorted(cache.glob("planted/fits/*.npy"))
             + [entry / name for entry, name in zip(entries, cycle([planted_cache.META, planted_cache.WEIGHTS]),
                                                    strict=False)])
    _damage_every_file(files, marker)
    again = pytester.runpytest_subprocess(*args, "-n", "2", "--report", str(pytester.path / "again"))
    assert again.ret == pytest.ExitCode.OK
    run_dir = _run_dir(pytester.path / "again")
    assert comparable_records(run_dir) == comparable_records(_run_dir(pytester.path / "clean"))
    reported = sorted(entry["path"] for entry in _damaged_entries(again, run_dir))
    assert reported == sorted(str(file.parent if file.parent in entries else file) for file in files)
    assert not marker.exists()
