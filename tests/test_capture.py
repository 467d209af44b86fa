"""Batched, left-padded capture against one text at a time, on every tiny architecture."""

from __future__ import annotations

import torch

from harness.core.batching import encode, last_logits, length_sorted_batches, run_with_backoff
from harness.core.capture import Recorder, last_token_activations
from harness.core.models import LoadedModel
from tests.conftest import TEXTS, tiny


def test_padded_batch_equals_one_at_a_time(tiny_lm: LoadedModel) -> None:
    batched = last_token_activations(tiny_lm, TEXTS, batch_size=4)
    single = torch.cat([last_token_activations(tiny_lm, [t]) for t in TEXTS])
    assert batched.shape == (len(TEXTS), tiny_lm.n_layers, tiny_lm.d_ff)
    assert batched.dtype == torch.float32 and batched.device.type == "cpu"
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_last_logits_padded_equal_unpadded(tiny_lm: LoadedModel) -> None:
    batched = last_logits(tiny_lm, encode(tiny_lm, TEXTS))
    single = torch.cat([last_logits(tiny_lm, encode(tiny_lm, [t])) for t in TEXTS])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_capture_equals_manual_ffn_recomputation() -> None:
    """For BLOOM, A = gelu(dense_h_to_4h(ln(x))): recompute it from the hooked layer input by hand."""
    lm = tiny("tiny-bloom")
    layer0 = lm.model.transformer.h[0]
    seen = {}
    handle = layer0.mlp.register_forward_pre_hook(lambda _m, args: seen.update(x=args[0]))
    acts = last_token_activations(lm, ["hello"])
    handle.remove()
    with torch.inference_mode():
        manual = layer0.mlp.gelu_impl(layer0.mlp.dense_h_to_4h(seen["x"]))[0, -1]
    torch.testing.assert_close(acts[0, 0], manual)


def test_hooks_are_removed() -> None:
    lm = tiny("tiny-bloom")
    with Recorder(lm):
        assert lm.site.hooked[0]._forward_pre_hooks
    assert not any(m._forward_pre_hooks for m in lm.site.hooked)


def test_ever_active_ignores_padding() -> None:
    lm = tiny("tiny-llama")
    inputs = encode(lm, ["a much longer text than the other", "hi"])
    with Recorder(lm, threshold=0.0) as rec, torch.inference_mode():
        rec.arm(inputs["attention_mask"])
        lm.model(**inputs)
        padded = rec.ever_active[1]
        single = encode(lm, ["hi"])
        rec.arm(single["attention_mask"])
        lm.model(**single)
        assert torch.equal(padded, rec.ever_active[0])


def test_length_sorted_batches_cover_every_index_once() -> None:
    batches = list(length_sorted_batches([3, 9, 1, 7, 5], 2))
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert batches[0] == [1, 3]


def test_out_of_memory_halves_the_batch() -> None:
    sizes = []

    def step(chunk: list[int]) -> list[int]:
        sizes.append(len(chunk))
        if len(chunk) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (fake)")
        return chunk

    done = [i for chunk in run_with_backoff(step, list(range(7)), 8) for i in chunk]
    assert done == list(range(7))
    assert sizes[:3] == [7, 4, 2]


def test_other_errors_are_not_swallowed() -> None:
    def step(chunk: list[int]) -> None:
        raise RuntimeError("shape mismatch")

    try:
        list(run_with_backoff(step, [1, 2], 2))
    except RuntimeError as error:
        assert "shape" in str(error)
    else:
        raise AssertionError("expected the error to propagate")
