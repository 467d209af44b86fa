"""Benchmark fixtures: the measured model (mid-size BLOOM on CPU, bloomz-7b1's shape on CUDA) and a ratio log.

``--device`` comes from the harness plugin (default here: cpu). Ratios are also printed in the terminal summary.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from common import BLOOMZ_7B1, MID, build_bloom

from harness.core.models import LoadedModel

RATIOS: list[str] = []


def bench_device(config: pytest.Config) -> str:
    return config.getoption("device") or "cpu"


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> str:
    return bench_device(pytestconfig)


@pytest.fixture(scope="session")
def mid_lm(device: str) -> LoadedModel:
    """CPU: BLOOM hidden 1024, 8 layers, d_ff 4096, fp32. CUDA: bloomz-7b1's exact shape, bf16, random weights."""
    if device.startswith("cuda"):
        return build_bloom(BLOOMZ_7B1, device=device, dtype=torch.bfloat16, name="random-bloomz-7b1-shape")
    return build_bloom(MID, device=device, name="random-bloom-mid")


@pytest.fixture
def report_ratio(benchmark: Any, request: pytest.FixtureRequest):
    """Store numbers in ``benchmark.extra_info`` and queue one line for the terminal summary."""

    def report(label: str, numbers: dict[str, float | int | str]) -> None:
        benchmark.extra_info.update(numbers)
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in numbers.items())
        line = f"{request.node.name}: {label}: {shown}"
        RATIOS.append(line)
        print(line)

    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RATIOS:
        terminalreporter.section("benchmark ratios (one run, same machine)")
        for line in RATIOS:
            terminalreporter.write_line(line)
