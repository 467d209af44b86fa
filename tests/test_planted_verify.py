"""A planted model's builder checks its own construction: a model whose neurons or answers are not the planted
ones is never handed out."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from harness.core.capture import Recorder
from harness.core.content_position import content_offsets
from harness.core.scoring import predict_choice, verbalizer_tokens
from harness.papers.sharing_matters import planted, planted_streams
from harness.papers.sharing_matters.planted import PLANTED
from harness.tasks import FIXTURE_DATA, load_task, task_spec


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
    at_last_token = dataclasses.replace(PLANTED["planted-varied"], content_silent=False)  # no refit on the claim
    with pytest.raises(RuntimeError, match="do not fire exactly on their prompts"):
        at_last_token.build(xnli)


@pytest.fixture
def kept_routes(monkeypatch) -> list[bool]:
    """Whether each verification found kept prefixes to start from, in build order."""
    routes: list[bool] = []
    kept_for = planted_streams.kept_prefixes

    def recorded(*args: object) -> object:
        kept = kept_for(*args)
        routes.append(kept is not None)
        return kept

    monkeypatch.setattr(planted_streams, "kept_prefixes", recorded)
    return routes


@pytest.mark.parametrize("name", ["planted-shared", "planted-tail"])
def test_verification_from_kept_prefixes_sees_what_a_whole_pass_sees(xnli, monkeypatch, kept_routes: list[bool],
                                                                      name: str) -> None:
    """The verification runs each prompt's last tokens only (back to its content position where that is checked:
    planted-tail), from the centring pass's kept keys and values: its forced choices and activations at both
    positions are those of a pass over the whole prompts."""
    monkeypatch.setattr(planted_streams, "_STREAMS", {})  # an earlier build's kept inputs: no centring pass
    monkeypatch.setattr(planted_streams, "_PREFIXES", {})
    lm = PLANTED[name].build(xnli)
    assert kept_routes == [True]
    (kept,) = planted_streams._PREFIXES.values()
    texts = [ex.prompts[lang] for ex in xnli["xnli"] for lang in ex.prompts]
    spec = task_spec("xnli")
    offsets = content_offsets(lm, texts, [spec.content_end(text) for text in texts])
    assert min(offsets) > 0  # the content position lies before the last token
    choice_ids, _ = verbalizer_tokens(lm, spec.choices)
    passes = []
    for prefixes in (None, kept):
        with Recorder(lm, content_offsets=offsets) as recorder:
            predicted = predict_choice(lm, texts, choice_ids, recorder=recorder, prefixes=prefixes)
            content = recorder.gather_content()
            passes.append((predicted, torch.cat([recorder.gather()[0], content])))  # (rows,), (2 rows, layers, d_ff)
    (whole, whole_acts), (tail, tail_acts) = passes
    assert torch.equal(whole, tail)
    # the same up to float32 rounding (a shorter pass sums in another order), far inside the fits' margins (3)
    assert torch.allclose(whole_acts, tail_acts, rtol=1e-3, atol=1e-2)
    clear = whole_acts.abs() > 1e-2
    assert torch.equal(whole_acts[clear] > 0, tail_acts[clear] > 0)


def test_a_model_whose_earlier_ffns_write_is_verified_on_whole_prompts(xnli, kept_routes: list[bool]) -> None:
    PLANTED["planted-contributing"].build(xnli)  # forced-active neurons write in every layer
    assert kept_routes == [False]
