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
import torch

from harness.core.models import load_model
from harness.subjects import BASE, IFT, SUBJECTS
from harness.subjects.build import MANIFEST, ensure_subject
from harness.tasks import FIXTURE_DATA

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CLAIM_FILES = sorted((REPO / "claims").rglob("test_*.py"))
#: Items per task in the subject's full-tier runs: all 24 XNLI items of the fixture, 6 facts x 4 paraphrases,
#: 24 MzsRE items; every one of them is among the subjects' training items (harness.subjects.recipe.ITEMS).
LIMIT = 24


@dataclass(frozen=True)
class ClaimsRun:
    run_dir: Path
    records: list[dict]
    output: str
    returncode: int
    seconds: float

    def by_instance(self) -> dict[tuple[str, str], dict]:
        return {(r["claim"], r["instance"]): r for r in self.records}


class FullTierProcess:
    """Every claim of the project on one model, in a pytest subprocess started at construction."""

    def __init__(self, workdir: Path, data_dir: Path, *options: str, model: str = IFT.name, threads: int = 1) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.report = workdir / "reports"
        command = [sys.executable, "-m", "pytest", *map(str, CLAIM_FILES), "-m", "full", "--model", model,
                   "--data-dir", str(data_dir), "--limit", str(LIMIT), "--report", str(self.report),
                   "-p", "no:randomly", "-p", "no:cacheprovider", "-q", *options]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads)}
        self.start = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)

    def wait(self) -> ClaimsRun:
        output, _ = self.process.communicate(timeout=1500)
        seconds = time.perf_counter() - self.start
        runs = [p for p in self.report.iterdir() if p.is_dir()] if self.report.is_dir() else []
        assert len(runs) == 1, f"expected one run directory in {self.report}; pytest said:\n{output[-6000:]}"
        lines = (runs[0] / "results.jsonl").read_text().splitlines()
        return ClaimsRun(runs[0], [json.loads(line) for line in lines], output, self.process.returncode, seconds)


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
    """Cache folder of each subject, built now (minutes on one thread) or reused from an earlier build."""
    return {name: ensure_subject(name, subject_data, progress=False) for name in SUBJECTS}


def permute_ffn_neurons(source: Path, target: Path, seed: int) -> None:
    """Save a copy of a BLOOM subject whose FFN neurons are permuted inside every layer: rows of the up projection
    (and its bias) and columns of the down projection move together, so the function is unchanged."""
    lm = load_model(str(source), device="cpu", dtype="float32")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in lm.model.transformer.h:
            up, down = block.mlp.dense_h_to_4h, block.mlp.dense_4h_to_h
            order = torch.randperm(up.out_features, generator=generator)
            up.weight.copy_(up.weight[order])
            up.bias.copy_(up.bias[order])
            down.weight.copy_(down.weight[:, order])
    lm.model.save_pretrained(target)
    lm.tokenizer.save_pretrained(target)


@dataclass(frozen=True)
class SubjectRuns:
    """Four full-tier runs of every claim on the pair, two at a time on one thread each (CI has two cores)."""

    fresh: ClaimsRun  # batch size 16, writing a measurement cache
    from_cache: ClaimsRun  # the same command again, after ``fresh``
    cache_before: list[str]  # the measurement cache's files before and after ``from_cache``
    cache_after: list[str]
    manifests_before: dict[str, int]  # the subjects' manifests' mtimes before and after all runs
    manifests_after: dict[str, int]
    single_rows: ClaimsRun  # --batch-size 1 on xnli and facts (choice and generation scoring)
    permuted: ClaimsRun  # the pair with its FFN neurons permuted, every claim and task
    permuted_dirs: dict[str, Path]


def _manifests(pair: dict[str, Path]) -> dict[str, int]:
    return {name: (folder / MANIFEST).stat().st_mtime_ns for name, folder in pair.items()}


@pytest.fixture(scope="session")
def subject_runs(subject_pair: dict[str, Path], subject_data: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> SubjectRuns:
    workdir = tmp_path_factory.mktemp("subject-runs")
    cache = workdir / "cache"
    manifests = _manifests(subject_pair)
    permuted = {name: workdir / "permuted" / name for name in subject_pair}  # same names: same instance ids
    for seed, (name, folder) in enumerate(subject_pair.items()):
        permute_ffn_neurons(folder, permuted[name], seed)
    fresh = FullTierProcess(workdir / "fresh", subject_data, "--cache-dir", str(cache))
    shuffled = FullTierProcess(workdir / "permuted-run", subject_data, "--base-model", str(permuted[BASE.name]),
                               "--no-cache", model=str(permuted[IFT.name]))
    fresh_run, shuffled_run = fresh.wait(), shuffled.wait()
    cache_before = sorted(p.name for p in cache.iterdir())
    again = FullTierProcess(workdir / "again", subject_data, "--cache-dir", str(cache))
    single = FullTierProcess(workdir / "single", subject_data, "--batch-size", "1", "--tasks", "xnli,facts",
                             "--no-cache")
    again_run, single_run = again.wait(), single.wait()
    return SubjectRuns(fresh_run, again_run, cache_before, sorted(p.name for p in cache.iterdir()), manifests,
                       _manifests(subject_pair), single_run, shuffled_run, permuted)


@pytest.fixture(scope="session")
def subject_run(subject_runs: SubjectRuns) -> ClaimsRun:
    """The full tier on the instruction-tuned subject (and its registered base), batch size 16."""
    return subject_runs.fresh
