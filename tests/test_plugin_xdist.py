"""pytest-xdist: one run directory written by the controller, the summary printed once, each measurement computed
once across workers, planted models built once, and records equal to a serial run's.

Equality of two runs' records, precisely: the same set of (claim, instance) keys, and for each key the same record
as JSON once its ``timings`` (wall-clock seconds of the instance and of the measurement's stages) are removed; the
order of results.jsonl lines is the order instances finished, so it is not compared either.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from test_plugin import saved_model  # noqa: F401 - a session fixture shared with the plugin's tests

from harness.core.claim import Claim
from harness.plugin import distributed
from harness.tasks import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[1]
SHARING, KOJIMA = REPO / "claims" / "sharing_matters", REPO / "claims" / "kojima"  # one folder per paper

FAKE = '''
import numpy as np
from harness.core.claim import Claim
from harness.core.verdict import Verdict

CLAIM = Claim(id="fake-{name}", title="t", paper_ref="§0", paper_text="p", tasks=("xnli",), per_language=False,
              planted=())

def test_fake(case, judge):
    if "{name}" == "crash":
        raise RuntimeError("claim crashed")
    judge(Verdict("supported", "r", "effect", np.float64(0.5), (np.float32(0.25), 0.75),
                  {{"count": np.int64(3), "share": np.float32(0.5), "nan": float("nan")}}))
'''


def _run_dir(report: Path) -> Path:
    (run_dir,) = report.iterdir()
    return run_dir


def comparable_records(run_dir: Path) -> dict[tuple[str, str], dict]:
    """A run's records keyed by (claim, instance), without their timings: what must not depend on scheduling."""
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    keyed = {(r["claim"], r["instance"]): {k: v for k, v in r.items() if k != "timings"} for r in records}
    assert len(keyed) == len(records), "an instance was recorded twice"
    return keyed


def test_two_workers_write_one_run_and_print_the_summary_once(pytester: pytest.Pytester,
                                                              saved_model: Path) -> None:  # noqa: F811 - the fixture, imported above
    files = [str(pytester.makepyfile(**{f"test_fake_{name}": FAKE.format(name=name)})) for name in ("a", "b", "crash")]
    report = pytester.path / "reports"
    result = pytester.runpytest_subprocess(*files, "-n", "2", "-m", "full", "--model", str(saved_model),
                                           "--data-dir", str(FIXTURE_DATA), "--report", str(report))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    run_dir = _run_dir(report)
    records = comparable_records(run_dir)
    assert sorted(records) == [("fake-a", "model-xnli"), ("fake-b", "model-xnli"), ("fake-crash", "model-xnli")]
    assert records["fake-crash", "model-xnli"]["error"] == "RuntimeError: claim crashed"
    # NumPy numbers reach the controller (pytest-xdist's serializer knows plain types only) as JSON numbers
    assert records["fake-a", "model-xnli"]["measured"] == {"count": 3, "share": 0.5, "nan": None}
    assert records["fake-a", "model-xnli"]["effect"] == {"name": "effect", "value": 0.5, "ci": [0.25, 0.75]}
    out = result.outlines
    assert sum("= claims =" in line for line in out) == 1
    assert [line for line in out if line.startswith("report: ")] == [f"report: {run_dir / 'index.html'}"]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["finished"] and info["run_id"] == run_dir.name
    assert json.loads((run_dir / "summary.json").read_text())["counts"] == {
        "supported": 2, "refuted": 0, "inconclusive": 0, "error": 1}


def test_missing_data_stops_a_distributed_run_once_before_the_workers_start(pytester: pytest.Pytester,
                                                                            saved_model: Path) -> None:  # noqa: F811 - the fixture, imported above
    (pytester.path / "empty").mkdir()
    result = pytester.runpytest_subprocess(str(SHARING / "test_mid_layer_peak.py"), "-n", "2", "-m", "full",
                                           "--model", str(saved_model), "--data-dir", str(pytester.path / "empty"),
                                           "--report", str(pytester.path / "r"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [line for line in result.errlines if line]
    assert line.startswith(f"ERROR: neuron-claims: xnli: data directory not found (needed for language 'en'): "
                           f"{pytester.path / 'empty' / 'xnli'} (with -n, every selected task's data is checked")
    assert not (pytester.path / "r").exists() and "INTERNALERROR" not in result.stdout.str()


@pytest.mark.slow
def test_two_workers_give_the_records_of_a_serial_run(pytester: pytest.Pytester) -> None:
    """Real claims on planted models: serial (no cache) against -n 2 --dist loadgroup with an empty planted cache.
    The pair claims read two models' measurements, so workers share measurements as well as planted models."""
    claims = [str(SHARING / f"test_{name}.py") for name in ("ift_raises_all_shared", "mid_layer_peak")]
    serial = pytester.runpytest_subprocess(*claims, "--report", str(pytester.path / "serial"), "--no-cache")
    assert serial.ret == pytest.ExitCode.OK
    cache = pytester.path / "cache"
    parallel = pytester.runpytest_subprocess(*claims, "-n", "2", "--dist", "loadgroup", "--cache-dir", str(cache),
                                             "--report", str(pytester.path / "parallel"))
    assert parallel.ret == pytest.ExitCode.OK
    serial_dir, parallel_dir = _run_dir(pytester.path / "serial"), _run_dir(pytester.path / "parallel")
    assert comparable_records(parallel_dir) == comparable_records(serial_dir)

    work = json.loads((parallel_dir / "run.json").read_text())["work"]
    assert {w["worker"] for w in work} == {"gw0", "gw1"}
    measured = [json.dumps(w["measured"], sort_keys=True) for w in work if "measured" in w]
    models = {name for path in claims for planted in _claim(path).planted  # the claims' planted models
              for name in (planted.model, planted.base_model, planted.scale_model) if name}
    assert len(measured) == len(set(measured)) == len(models), "each (model, task) measured once, by one worker"
    built = [w["planted"] for w in work if w.get("source") == "built"]
    assert sorted(built) == sorted({w["planted"] for w in work if "planted" in w}), "each planted model built once"
    assert len(list(cache.glob("planted/*/planted.json"))) == len(models)


def _claim(path: str) -> Claim:
    """The CLAIM of a claim module, imported as pytest imports it (from the repository root)."""
    return importlib.import_module(".".join(Path(path).relative_to(REPO).with_suffix("").parts)).CLAIM


def _config(worker: str | None) -> SimpleNamespace:
    return SimpleNamespace(workerinput={"workerid": worker}) if worker else SimpleNamespace()


@pytest.mark.parametrize(("cuda", "worker", "device"), [
    (0, None, "cpu"), (0, "gw3", "cpu"), (2, None, "cuda"), (2, "gw0", "cuda:0"), (2, "gw1", "cuda:1"),
    (2, "gw2", "cuda:0")])
def test_auto_device_gives_each_worker_its_own_gpu(monkeypatch: pytest.MonkeyPatch, cuda: int, worker: str | None,
                                                   device: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    assert distributed.auto_device(_config(worker)) == device  # type: ignore[arg-type]  # a config's attributes only
