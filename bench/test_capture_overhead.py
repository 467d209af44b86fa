"""Capture overhead: a batched forward with the Recorder hooks keeping the last token, over the same
plain batched forward. Target: ratio <= 1.05 (reported, not asserted: the machine is shared and noisy)."""

from __future__ import annotations

import random

import torch
from common import interleaved_round, plain_forward, prompt, ratio_report

from harness.core.capture import stream_last_token
from harness.core.models import LoadedModel

BATCH, TOKENS = 16, 64


def capture(lm: LoadedModel, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """acts (batch, layers, d_ff) and logits (batch, vocab) of one batch, as the harness streams them."""
    [(_, acts, logits)] = list(stream_last_token(lm, texts, batch_size=BATCH))
    return acts, logits


def test_capture_overhead(benchmark, report_ratio, mid_lm: LoadedModel, device: str) -> None:
    rng = random.Random(1)
    texts = [prompt(rng, TOKENS) for _ in range(BATCH)]
    for _ in range(2):  # warm-up (allocator, thread pool); the last one is the reference of the equality check
        plain_logits = plain_forward(mid_lm, texts)
        acts, logits = capture(mid_lm, texts)
    assert acts.shape == (BATCH, mid_lm.n_layers, mid_lm.d_ff)
    assert torch.equal(logits, plain_logits), "capture hooks must not change the forward pass"

    times: dict[str, list[float]] = {"plain": [], "capture": []}
    fns = {"plain": lambda: plain_forward(mid_lm, texts), "capture": lambda: capture(mid_lm, texts)}
    rounds = 20 if device.startswith("cuda") else 6
    benchmark.pedantic(interleaved_round, args=(mid_lm, fns, times), rounds=rounds, iterations=1)
    report_ratio("capture/plain (target <= 1.05)", {**ratio_report(times, "capture", "plain"), "batch": BATCH,
                                                   "tokens": TOKENS, "device": device})
