"""The prepared GPU check runs every step on the CPU at a small shape without an error (a step that broke would
otherwise be found only on a GPU box, where device time is scarce)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_every_step_of_the_gpu_check_runs_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    done = subprocess.run([sys.executable, "bench/gpu_check.py", "--device", "cpu", "--shape", "small",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    steps = json.loads(out.read_text())["steps"]
    assert set(steps) >= {"build", "capture", "pipeline", "reference", "e2e"}
    failed = {name: step for name, step in steps.items() if "error" in step or "skipped" in step}
    assert not failed, failed
