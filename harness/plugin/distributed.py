"""pytest-xdist support: the controller owns the run directory and the report; workers measure and send records.

Records travel to the controller on the test reports (``report.claim_record``, serialized by xdist with the report);
workers share one measurement directory (``SharedStore``: each measurement computed once) and the planted-model cache;
each worker takes one torch thread and, with ``--device auto`` (the default), a GPU of its own. Items carry an
``xdist_group`` mark per measured (model, task), so ``--dist loadgroup`` keeps a measurement's claims on one worker.
The hooks below are optional: without pytest-xdist they are never called.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

SHARED_DIR = "neuron_claims_shared_dir"  # workerinput: the measurement directory the workers share
RUN_ID = "neuron_claims_run_id"  # workerinput: the controller's run id (a baseline failure quotes it)
WORK = "neuron_claims_work"  # workeroutput: what a worker measured and built


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def distributing(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist controller about to start workers."""
    return not is_worker(config) and config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None)) \
        and not config.getoption("collectonly")


def _worker_input(config: pytest.Config) -> dict[str, Any]:
    """What the controller handed this worker (empty outside workers)."""
    return getattr(config, "workerinput", {})  # set by pytest-xdist on a worker's config only


def worker_id(config: pytest.Config) -> str:
    return str(_worker_input(config).get("workerid", "main"))


def shared_dir(config: pytest.Config) -> Path | None:
    """On a worker: the measurement directory the controller made for all workers; elsewhere None."""
    value = _worker_input(config).get(SHARED_DIR)
    return None if value is None else Path(value)


def controller_run_id(config: pytest.Config) -> str | None:
    """On a worker: the run id of the controller's run directory; elsewhere None."""
    return _worker_input(config).get(RUN_ID)


def send_work(config: pytest.Config, work: list[dict[str, Any]]) -> None:
    """On a worker: hand what it measured and built to the controller (pytest-xdist sends workeroutput at the end)."""
    config.workeroutput[WORK] = work  # type: ignore[attr-defined]  # pytest-xdist sets it on a worker's config


def auto_device(config: pytest.Config) -> str:
    """``--device auto``: the CPU without CUDA; with it, worker gwN takes cuda:N (modulo the devices), a serial run
    cuda."""
    if not torch.cuda.is_available():
        return "cpu"
    if not is_worker(config):
        return "cuda"
    index = int(worker_id(config).removeprefix("gw"))
    return f"cuda:{index % torch.cuda.device_count()}"


def group_mark(model: str, task: str) -> pytest.MarkDecorator:
    return pytest.mark.xdist_group(name=f"{model}::{task}")


class Controller:
    """The controller's side: makes the shared directory, passes it to workers, gathers what they did."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.directory: Path | None = None
        self.work: list[dict[str, Any]] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="neuron-claims-measurements-"))
        node.workerinput[SHARED_DIR] = str(self.directory)
        node.workerinput[RUN_ID] = self.run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.work += getattr(node, "workeroutput", {}).get(WORK, [])

    def cleanup(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
