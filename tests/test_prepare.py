"""Background preparation of the tiny tier: what it skips, and that what it prepares is what the run computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.prepare import Preparer, Request, TinySettings, tiny_store

REPO = Path(__file__).resolve().parents[1]


def test_nothing_starts_for_cached_or_few_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = tiny_store(TinySettings(seed=0, scoring="generate", cache_dir=tmp_path))
    requests = [Request("types", name, "xnli") for name in ("planted-shared", "planted-specific", "planted-spread")]
    cached = store._path("types", "planted-shared", "xnli", None)  # one of them on disk already
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert store.is_cached("planted-shared", "xnli", store.languages("xnli"))  # all languages = no subset
    started = []
    monkeypatch.setattr("multiprocessing.context.SpawnContext.Pool", lambda *a, **k: started.append(a))
    assert Preparer(TinySettings(0, "generate", tmp_path), store, requests * 2, processes=1).pool is None
    assert Preparer(TinySettings(0, "generate", tmp_path), store, requests[1:], processes=0).pool is None
    assert not started  # two missing requests, or no process: the run measures them itself


@pytest.mark.slow
def test_prepared_measurements_give_the_records_of_a_run_that_measures_everything(pytester: pytest.Pytester) -> None:
    """A cold run with a background process and a run without cache or background give the same records; the
    background process measured part of the run and built planted models, and the run measured the rest."""
    claims = [str(REPO / "claims" / f"test_{name}.py") for name in ("mid_layer_peak", "ift_raises_all_shared")]

    def run(name: str, *options: str) -> tuple[list[dict], list[dict]]:
        result = pytester.runpytest_subprocess(*claims, "--report", str(pytester.path / name), "-p", "no:randomly",
                                               *options)
        assert result.ret == pytest.ExitCode.OK
        (run_dir,) = (pytester.path / name).iterdir()
        records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        return records, json.loads((run_dir / "run.json").read_text())["work"]

    prepared, work = run("prepared", "--cache-dir", str(pytester.path / "cache"), "--prepare-processes", "1")
    alone, alone_work = run("alone", "--no-cache", "--prepare-processes", "1")  # --no-cache: nothing prepared
    background = [w for w in work if w["worker"].startswith("prepare-")]
    assert any("measured" in w for w in background) and any(w.get("source") == "built" for w in background)
    assert any("measured" in w for w in work if w["worker"] == "main")
    measured = sorted(json.dumps(w["measured"], sort_keys=True) for w in work if "measured" in w)
    assert measured == sorted(json.dumps(w["measured"], sort_keys=True) for w in alone_work if "measured" in w)

    def comparable(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("timings",)} for r in records]

    assert comparable(prepared) == comparable(alone)
