"""A planted model's builder checks its own construction: a model whose neurons or answers are not the planted
ones is never handed out."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from harness.papers.sharing_matters import planted
from harness.papers.sharing_matters.planted import PLANTED
from harness.tasks import FIXTURE_DATA, load_task


@pytest.fixture(autouse=True)
def _denormals_restored() -> Iterator[None]:
    """A build flushes denormals process-wide; the rest of the suite (hypothesis's floats) needs them back."""
    yield
    torch.set_flush_denormal(False)


@pytest.fixture(scope="module")
def xnli() -> dict[str, list]:
    torch.set_num_threads(1)
    return {"xnli": load_task("xnli", data_dir=FIXTURE_DATA / "xnli")[:6]}


def test_a_content_position_claimed_wrongly_stops_the_build(xnli, monkeypatch) -> None:
    fit = planted._plant_tail

    def claimed_wrongly(*args: object) -> list:
        return [(layer, slots, on_last, ~on_content) for layer, slots, on_last, on_content in fit(*args)]

    monkeypatch.setattr(planted, "_plant_tail", claimed_wrongly)
    with pytest.raises(RuntimeError, match="at both positions"):
        PLANTED["planted-tail"].build(xnli)


def test_answers_claimed_wrongly_stop_the_build(xnli, monkeypatch) -> None:
    plant = planted._plant_carriers

    def claimed_wrongly(*args: object) -> list:
        expected = plant(*args)
        return [None if answer is not None else "true" for answer in expected]

    monkeypatch.setattr(planted, "_plant_carriers", claimed_wrongly)
    with pytest.raises(RuntimeError, match="planted answers not reproduced"):
        PLANTED["planted-shared"].build(xnli)


def test_keyed_neurons_claimed_wrongly_stop_the_build(xnli, monkeypatch) -> None:
    plant = planted._plant_keyed

    def claimed_wrongly(*args: object) -> list:
        return [(layer, slots, np.roll(on, 1)) for layer, slots, on in plant(*args)]

    monkeypatch.setattr(planted, "_plant_keyed", claimed_wrongly)
    with pytest.raises(RuntimeError, match="do not fire exactly on their prompts"):
        PLANTED["planted-varied"].build(xnli)
