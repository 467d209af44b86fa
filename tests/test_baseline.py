"""Instances and their comparison with a baseline (harness.plugin.instances, harness.plugin.baseline), and
``harness diff``."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from report_samples import write_sample_run
from strategies import claim_instances

from harness.__main__ import main
from harness.plugin.baseline import (
    NEW,
    REGRESSION,
    SETTINGS_CHANGED,
    UNCHANGED,
    BaselineIndex,
    compare,
    update_baseline,
)
from harness.plugin.instances import Instance, InstanceInputError, instance_of, load_snapshot
from harness.report import write_summary

REPO = Path(__file__).resolve().parents[1]


def _instance(verdict: str = "supported", effect: float | None = 0.5, ci: tuple[float, float] | None = (0.4, 0.6),
              language: str | None = "en", **settings: object) -> Instance:
    return Instance(claim="c", instance=f"m-xnli-{language}", model="m", base_model=None, scale_model=None,
                    task="xnli", language=language,
                    settings={"threshold": 0.0, "dtype": "float32", "data_hash": "h"} | settings,
                    verdict=verdict, effect_name="drop", effect=effect, ci=ci, reason="because", run_id="now")


def _record(**fields: object) -> dict:
    record = {"claim": "c", "instance": "m-xnli-en", "tier": "full", "model": "m", "base_model": None, "task": "xnli",
              "language": "en", "verdict": "supported", "effect": {"name": "drop", "value": 0.5, "ci": [0.4, 0.6]},
              "params": {"seed": 3, "scoring": "choice", "min_drop": 0.5},
              "provenance": {"model": "m", "threshold": 0.1, "site": "gate", "positions": "all", "epsilon": 0.01,
                             "dtype": "bfloat16", "data_hash": "h"}}
    return record | fields


def test_an_instance_reads_every_setting_from_its_record_and_run() -> None:
    info = {"run_id": "r", "options": {"limit": 100, "languages": "en,de"}, "seeds": {"bootstrap": 9}}
    instance = instance_of(_record(), info)
    assert instance.key == ("c", "m", None, None, "xnli", "en")
    assert instance.settings == {"threshold": 0.1, "site": "gate", "positions": "all", "epsilon": 0.01,
                                 "dtype": "bfloat16", "limit": 100, "languages": "en,de", "seed": 3,
                                 "scoring": "choice", "data_hash": "h"}
    tiny = instance_of(_record(tier="tiny", params={}), info)  # planted data ignore --limit; seed from run.json
    assert (tiny.settings["limit"], tiny.settings["languages"], tiny.settings["seed"]) == (None, None, 9)
    assert instance_of(_record(), info | {"options": {"limit": 50}}).identity() != instance.identity()
    other = instance_of(_record(), info | {"options": {"limit": 50, "languages": "en,de"}})
    assert instance.identity(ignore=["limit"]) == other.identity(["limit"])


@pytest.mark.parametrize(("now", "status", "change"), [
    (_instance(), UNCHANGED, None),
    (_instance(effect=0.41), UNCHANGED, None),  # moved inside the baseline's interval
    (_instance(verdict="refuted"), REGRESSION, "verdict supported -> refuted"),
    (_instance(effect=0.7), REGRESSION, "effect 0.7 outside the baseline's interval [0.4, 0.6]"),
    (_instance(verdict="error", effect=None, ci=None, dtype=None), REGRESSION, "verdict supported -> error"),
    (_instance(dtype="bfloat16"), SETTINGS_CHANGED, "dtype 'float32' -> 'bfloat16'"),
    (_instance(language="de"), NEW, None),
])
def test_matching_one_instance(now: Instance, status: str, change: str | None) -> None:
    match = BaselineIndex([dataclasses.replace(_instance(), run_id="base")]).match(now)
    assert match.status == status
    assert (change in match.changes) if change else match.changes == []
    if status == REGRESSION:
        text = match.message("base")
        assert "baseline (base): supported, drop 0.5 [0.4, 0.6]: because" in text
        assert f"this run (now): {now.describe()}" in text


def test_without_an_interval_the_baseline_value_is_the_bound() -> None:
    index = BaselineIndex([_instance(ci=None)])
    assert index.match(_instance(ci=None)).status == UNCHANGED
    assert index.match(_instance(effect=0.5 + 1e-6)).changes == ["effect 0.5 outside the baseline's value 0.5"]


def test_ignored_fields_match_another_model_or_dtype() -> None:
    tuned = dataclasses.replace(_instance(dtype="bfloat16"), model="m-tuned", instance="m-tuned-xnli-en")
    assert BaselineIndex([_instance()]).match(tuned).status == NEW
    assert BaselineIndex([_instance()], ignore=["model", "dtype"]).match(tuned).status == UNCHANGED
    with pytest.raises(ValueError, match="unknown identity field.*'colour'.*valid: model, base_model"):
        BaselineIndex([], ignore=["colour"])
    with pytest.raises(ValueError, match="holds c \\[m-xnli-en\\] twice with model left out"):
        BaselineIndex([_instance(), dataclasses.replace(_instance(), model="other")], ignore=["model"])


def test_compare_lists_new_and_missing() -> None:
    comparison = compare([_instance(), _instance(language="fr")], [_instance(), _instance(language="de")])
    assert comparison.counts() == {UNCHANGED: 1, REGRESSION: 0, NEW: 1, SETTINGS_CHANGED: 0, "missing": 1}
    assert [i.language for i in comparison.missing] == ["de"]


@given(claim_instances())
def test_a_run_compared_with_itself_is_unchanged(instances: list[Instance]) -> None:
    comparison = compare(instances, instances)
    assert [m.status for m in comparison.matches] == [UNCHANGED] * len(instances) and comparison.missing == []


@given(claim_instances())
def test_every_baseline_instance_is_matched_or_missing(instances: list[Instance]) -> None:
    half = instances[: len(instances) // 2]
    comparison = compare(half, instances)
    assert len(comparison.missing) == len(instances) - len(half)
    seen = {id(m.baseline) for m in comparison.matches} | {id(i) for i in comparison.missing}
    assert seen == {id(i) for i in instances}


def test_summary_json_holds_every_instance_and_loads_as_a_snapshot(tmp_path: Path) -> None:
    write_sample_run(tmp_path / "run")
    from_run = load_snapshot(tmp_path / "run")
    from_summary = load_snapshot(write_summary(tmp_path / "run"))
    assert from_summary.instances == from_run.instances and len(from_run.instances) == 13
    assert from_summary.info["packages"]["torch"] == "2.13.0" and from_summary.run_id == "20261122-041500-ab12"


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "nothing", "no run directory or summary.json at"),
    (lambda tmp: tmp, "run.json not found"),
    (lambda tmp: (tmp / "s.json").write_text("[1]") and tmp / "s.json", "has no per-instance data"),
    (lambda tmp: (tmp / "s.json").write_text("{") and tmp / "s.json", "is not valid JSON"),
])
def test_a_bad_snapshot_path_is_one_clear_error(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InstanceInputError, match=message):
        load_snapshot(make(tmp_path))


def test_update_baseline_copies_the_run_or_its_summary(tmp_path: Path) -> None:
    write_sample_run(tmp_path / "run")
    write_summary(tmp_path / "run")
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "notes.txt").write_text("kept")
    update_baseline(tmp_path / "run", tmp_path / "base")
    assert (tmp_path / "base" / "results.jsonl").read_bytes() == (tmp_path / "run" / "results.jsonl").read_bytes()
    assert (tmp_path / "base" / "notes.txt").read_text() == "kept"
    update_baseline(tmp_path / "run", tmp_path / "ci" / "baseline.json")
    assert load_snapshot(tmp_path / "ci" / "baseline.json").instances == load_snapshot(tmp_path / "run").instances


# -- python -m harness diff ------------------------------------------------------------------------------------------

def _flip(run_dir: Path, claim: str, instance: str, **fields: object) -> None:
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        if record["claim"] == claim and record["instance"] == instance:
            record.update(fields)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    write_sample_run(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    info = json.loads((tmp_path / "b" / "run.json").read_text())
    info["packages"]["torch"] = "2.14.0"
    (tmp_path / "b" / "run.json").write_text(json.dumps(info | {"run_id": "20261123-000000-cd34"}))
    return tmp_path / "a", tmp_path / "b"


def test_diff_of_identical_runs_exits_0(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_runs
    assert main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "torch  2.13.0  2.14.0" in out and "options: unchanged" in out
    assert "instances: 13 unchanged, 0 regression, 0 new, 0 settings changed, 0 missing" in out


def test_diff_lists_what_changed_and_exits_1_on_a_regression(two_runs: tuple[Path, Path],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_runs
    _flip(b, "ablate-all-shared", "tiny-paper-xnli-en", verdict="refuted")
    _flip(b, "ablate-all-shared", "tiny-paper-xnli-de", effect={"name": "relative accuracy drop", "value": 0.8,
                                                                "ci": [0.7, 0.9]})  # inside [0.71, 0.95]
    _flip(b, "mid-layer-peak", "tiny-paper-facts", provenance={"data_hash": "sha256:other", "threshold": 0.0,
                                                               "site": "down_proj_input", "dtype": "float32"})
    assert main(["diff", str(a), str(b)]) == 1
    lines = capsys.readouterr().out.splitlines()

    def row(status: str, instance: str) -> str:
        (line,) = [line for line in lines if line.startswith(status) and f"  {instance}  " in line]
        return " ".join(line.split())  # columns are padded

    assert "supported -> refuted 0.867 [0.71, 0.95] -> 0.867 [0.71, 0.95]" in row("REGRESSION", "tiny-paper-xnli-en")
    assert "supported -> supported 0.867 [0.71, 0.95] -> 0.8 [0.7, 0.9]" in row("effect moved", "tiny-paper-xnli-de")
    assert "data_hash 'sha256:facts-0f3a9c' -> 'sha256:other'" in row("settings changed", "tiny-paper-facts")
    assert "tiny-paper facts sha256:facts sha256:other" in [" ".join(line.split()) for line in lines]  # data hashes
    assert lines[-1] == "1 regression(s)"


def test_diff_usage_errors_exit_2(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = two_runs
    assert main(["diff", str(a), str(a.parent / "missing")]) == 2
    assert "error: no run directory or summary.json at" in capsys.readouterr().err
    assert main(["diff", str(a), str(a), "--ignore", "colour"]) == 2
    assert "unknown identity field(s) 'colour'" in capsys.readouterr().err


def test_diff_exit_status_in_a_shell(two_runs: tuple[Path, Path]) -> None:
    """What a CI script sees: status 1 on a regression, the table on stdout."""
    a, b = two_runs
    _flip(b, "convert-improves", "tiny-paper-xnli-fr", verdict="inconclusive")
    proc = subprocess.run([sys.executable, "-m", "harness", "diff", str(a), str(b / "summary.json")], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2 and "error: no run directory or summary.json" in proc.stderr  # not written yet
    write_summary(b)
    proc = subprocess.run([sys.executable, "-m", "harness", "diff", str(a), str(b / "summary.json")], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "REGRESSION  convert-improves" in proc.stdout and "1 regression(s)" in proc.stdout
