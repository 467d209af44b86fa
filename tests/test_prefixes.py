"""Intervention passes that start from the capture pass's kept prefixes (harness.core.prefixes) give what rerunning
every prompt in full gives: the same logits, and the same measurement (every condition, both scorings), for every
tiny architecture; rows beyond the byte budget run in full."""

from __future__ import annotations

import pytest
import torch

import harness.core.prefixes
import harness.papers.sharing_matters.measurement
from harness.core.batching import encode, last_logits, length_sorted_batches, token_lengths
from harness.core.capture import Recorder
from harness.core.interventions import deactivate
from harness.core.prefixes import Prefixes, supported
from harness.papers.sharing_matters.measurement import MeasureConfig, measure
from harness.tasks import FIXTURE_DATA, load_task, task_spec
from tests.conftest import TEXTS, random_masks, tiny

DECODERS = ("tiny-bloom", "tiny-llama", "tiny-xglm", "tiny-opt", "tiny-gpt2", "tiny-gpt-neox")


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("tail", [1, 4])
def test_the_last_tokens_from_kept_prefixes_give_the_full_passs_logits(name: str, tail: int) -> None:
    """Kept in one batching, read in another, under per-row masks at the last position: the logits, and with a
    ``tail`` of more than one token the activations up to ``tail - 1`` tokens before the last, are the full
    pass's (a row shorter than the tail included)."""
    lm = tiny(name)
    assert supported(lm, "last") and not supported(lm, "all")
    kept = Prefixes(lm)
    masks = random_masks(lm, len(TEXTS), density=0.3, seed=1)
    batches = list(length_sorted_batches(token_lengths(lm, TEXTS), 3))
    full, cached = {}, {}
    for rows in batches:
        inputs = encode(lm, [TEXTS[i] for i in rows])
        last_logits(lm, inputs, keep=lambda cache, rows=rows, mask=inputs["attention_mask"]:
                    kept.keep(rows, cache, mask))
    offsets = [min(tail, n) - 1 for n in token_lengths(lm, TEXTS)]  # a real token of each row
    for rows in ([4, 0], [1, 3, 2]):
        inputs = encode(lm, [TEXTS[i] for i in rows])
        with deactivate(lm, masks[rows]), Recorder(lm, content_offsets=offsets) as recorder:
            for found, start in ((full, None), (cached, kept.batch(rows, inputs["input_ids"].shape[1], tail))):
                assert (start is None) == (found is full)
                recorder.arm(inputs["attention_mask"], rows)
                logits = last_logits(lm, inputs, start=start)
                recorder.collect(list(range(len(rows))))  # gathered in the batch's order
                found.update(zip(rows, zip(logits, recorder.gather_content(), strict=True), strict=True))
                recorder.gather()
    for row, (logits, content) in full.items():
        torch.testing.assert_close(cached[row][0], logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cached[row][1], content, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "scoring"), [(n, "generate") for n in DECODERS] + [("tiny-bloom", "choice"),
                                                                                       ("tiny-llama", "choice")])
def test_a_measurement_with_kept_prefixes_equals_one_without(name: str, scoring: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lm = tiny(name)
    started: list[int] = []  # rows of the batches that started from kept prefixes
    batch = Prefixes.batch

    def counted(self: Prefixes, ids: list[int], padded: int, tail: int = 1) -> object:
        cache = batch(self, ids, padded, tail)
        started.extend(ids if cache is not None else [])
        return cache

    monkeypatch.setattr(Prefixes, "batch", counted)
    scored: list[int] = []  # rows the condition passes scored
    correct = harness.papers.sharing_matters.measurement._correct

    def counted_rows(lm: object, spec: object, texts: list[str], *args: object, **kwargs: object) -> torch.Tensor:
        scored.extend(range(len(texts)) if kwargs.get("prefixes") is not None else [])
        return correct(lm, spec, texts, *args, **kwargs)

    monkeypatch.setattr(harness.papers.sharing_matters.measurement, "_correct", counted_rows)
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "zh"], limit=4)
    config = MeasureConfig(batch_size=4, chunk_rows=6, control_seeds=2, scoring=scoring)
    reused = measure(lm, examples, task_spec("xnli"), config)
    assert started and len(started) == len(scored)  # every condition pass started from kept prefixes
    full = measure(lm, examples, task_spec("xnli"), config, prefix_reuse=False)
    assert reused.correct.keys() == full.correct.keys()
    for condition in full.correct:
        assert torch.equal(reused.correct[condition], full.correct[condition]), condition
    for condition in full.edits:
        assert torch.equal(reused.edits[condition], full.edits[condition]), condition


@pytest.mark.parametrize("budget", [0, 40_000])
def test_rows_beyond_the_budget_run_in_full(monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    lm = tiny("tiny-bloom")
    monkeypatch.setattr(harness.core.prefixes, "CPU_BUDGET", budget)
    kept = Prefixes(lm)
    inputs = encode(lm, TEXTS)
    last_logits(lm, inputs, keep=lambda cache: kept.keep(range(len(TEXTS)), cache, inputs["attention_mask"]))
    assert kept.nbytes <= budget and len(kept.rows) + kept.skipped == len(TEXTS)
    assert (kept.skipped == len(TEXTS)) == (budget == 0) and kept.batch(range(len(TEXTS)), 40) is None
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de"], limit=3)
    config = MeasureConfig(batch_size=2, control_seeds=1)
    partly = measure(lm, examples, task_spec("xnli"), config)
    full = measure(lm, examples, task_spec("xnli"), config, prefix_reuse=False)
    assert all(torch.equal(partly.correct[c], full.correct[c]) for c in full.correct)
