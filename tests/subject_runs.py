"""Session fixtures (a pytest plugin of tests/conftest.py): the trained subject pair built from the real data
beside the clone, and full-tier runs of every claim on it, shared by the subject's tests and the report test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.subjects import IFT, SUBJECTS
from harness.subjects.build import ensure_subject
from harness.tasks import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CLAIM_FILES = sorted((REPO / "claims").glob("test_*.py"))
#: Items per task in the subject's full-tier runs: all 24 XNLI items of the fixture, 12 facts x 4 paraphrases,
#: 48 MzsRE items; every one of them is among the subjects' training items (harness.subjects.recipe.ITEMS).
LIMIT = 48


@dataclass(frozen=True)
class ClaimsRun:
    run_dir: Path
    records: list[dict]
    output: str
    returncode: int
    seconds: float

    def by_instance(self) -> dict[tuple[str, str], dict]:
        return {(r["claim"], r["instance"]): r for r in self.records}


@pytest.fixture(scope="session")
def subject_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --data-dir for the subject: the project's XNLI fixture, mParaRel and MzsRE from ../shared/data."""
    if not SHARED_DATA.is_dir():
        message = f"real data not found at {SHARED_DATA}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(f"{message} (CI=true makes this a failure)")
    root = tmp_path_factory.mktemp("subject-data")
    (root / "xnli").symlink_to(FIXTURE_DATA / "xnli")
    (root / "mpararel").symlink_to(SHARED_DATA / "mpararel")
    (root / "mzsre").symlink_to(SHARED_DATA / "mzsre")
    return root


@pytest.fixture(scope="session")
def subject_pair(subject_data: Path) -> dict[str, Path]:
    """Cache folder of each subject, built now (about 7 minutes on one thread) or reused from an earlier build."""
    return {name: ensure_subject(name, subject_data, progress=False) for name in SUBJECTS}


def run_full_tier(workdir: Path, data_dir: Path, *options: str, model: str = IFT.name) -> ClaimsRun:
    """Every claim of the project on ``model`` in a pytest subprocess; its records and output."""
    workdir.mkdir(parents=True, exist_ok=True)
    report = workdir / "reports"
    command = [sys.executable, "-m", "pytest", *map(str, CLAIM_FILES), "-m", "full", "--model", model,
               "--data-dir", str(data_dir), "--limit", str(LIMIT), "--report", str(report), "-p", "no:randomly",
               "-p", "no:cacheprovider", "-q", *options]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=1200, check=False)
    seconds = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    runs = [p for p in report.iterdir() if p.is_dir()] if report.is_dir() else []
    assert len(runs) == 1, f"expected one run directory in {report}; pytest said:\n{output[-6000:]}"
    lines = (runs[0] / "results.jsonl").read_text().splitlines()
    return ClaimsRun(runs[0], [json.loads(line) for line in lines], output, proc.returncode, seconds)


@pytest.fixture(scope="session")
def subject_run(subject_pair: dict[str, Path], subject_data: Path,
                tmp_path_factory: pytest.TempPathFactory) -> ClaimsRun:
    """The full tier on the instruction-tuned subject (and its registered base), batch size 16, with a cache."""
    workdir = tmp_path_factory.mktemp("subject-run")
    return run_full_tier(workdir / "first", subject_data, "--cache-dir", str(workdir / "cache"))
