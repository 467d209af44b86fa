"""Interventions against independent routes: weight editing, and the FFN output recomputed from captured A."""

from __future__ import annotations

import pytest
import torch

from harness.batching import encode, last_logits
from harness.capture import last_token_activations
from harness.interventions import convert, deactivate
from harness.models import LoadedModel
from tests.conftest import TEXTS, random_masks, tiny, weight_edited


def test_deactivate_all_positions_equals_weight_editing(tiny_lm: LoadedModel) -> None:
    mask = random_masks(tiny_lm)
    inputs = encode(tiny_lm, TEXTS)
    with torch.inference_mode(), deactivate(tiny_lm, mask, positions="all"):
        hooked = last_logits(tiny_lm, inputs)
    edited = last_logits(weight_edited(tiny_lm, mask), inputs)
    torch.testing.assert_close(hooked, edited, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(hooked, last_logits(tiny_lm, inputs))


def test_per_row_masks_equal_one_row_at_a_time() -> None:
    lm = tiny("tiny-llama")
    masks = random_masks(lm, len(TEXTS))
    with torch.inference_mode(), deactivate(lm, masks, positions="all"):
        batched = last_logits(lm, encode(lm, TEXTS))
    for row, text in enumerate(TEXTS):
        edited = last_logits(weight_edited(lm, masks[row]), encode(lm, [text]))
        torch.testing.assert_close(batched[row:row + 1], edited, atol=1e-5, rtol=1e-4)


def test_gate_site_deactivation_equals_weight_editing() -> None:
    lm = tiny("tiny-llama", "gate")
    mask = random_masks(lm, seed=1)
    inputs = encode(lm, TEXTS)
    with torch.inference_mode(), deactivate(lm, mask, positions="all"):
        hooked = last_logits(lm, inputs)
    torch.testing.assert_close(hooked, last_logits(weight_edited(lm, mask), inputs), atol=1e-5, rtol=1e-4)


def test_last_position_deactivation_zeroes_exactly_the_mask(tiny_lm: LoadedModel) -> None:
    """Recorders see A after interventions: the masked neurons read 0 at the last token, the rest are unchanged
    in the first layer (later layers may change through the residual stream)."""
    mask = random_masks(tiny_lm, seed=2)
    before = last_token_activations(tiny_lm, TEXTS)
    with deactivate(tiny_lm, mask):
        after = last_token_activations(tiny_lm, TEXTS)
    assert (after[:, mask] == 0).all()
    torch.testing.assert_close(after[:, 0][:, ~mask[0]], before[:, 0][:, ~mask[0]])


def test_convert_sets_inactive_masked_neurons_just_above_threshold() -> None:
    lm = tiny("tiny-bloom")
    mask = random_masks(lm, seed=3)
    before = last_token_activations(lm, TEXTS)
    with convert(lm, mask, threshold=0.0, epsilon=1e-3):
        after = last_token_activations(lm, TEXTS)
    first = after[:, 0]
    raised = mask[0] & (before[:, 0] <= 0)
    torch.testing.assert_close(first[raised], torch.full_like(first[raised], 1e-3))
    torch.testing.assert_close(first[~raised], before[:, 0][~raised])


def test_convert_output_equals_ffn_recomputed_from_edited_a() -> None:
    """Down-projection output under convert = W_V A' + b, with A' built by hand from the captured A."""
    lm = tiny("tiny-bloom")
    mask = random_masks(lm, seed=4)
    down = lm.site.down_projs[0]
    a = last_token_activations(lm, TEXTS)[:, 0]
    a_converted = torch.where(mask[0] & (a <= 0), torch.tensor(1e-3), a)
    seen = []
    handle = down.register_forward_hook(lambda _m, _args, out: seen.append(out[:, -1].clone()))
    with torch.inference_mode(), convert(lm, mask):
        last_logits(lm, encode(lm, TEXTS))
    handle.remove()
    torch.testing.assert_close(seen[0], down(a_converted), atol=1e-5, rtol=1e-4)


def test_interventions_compose_and_remove_their_hooks_on_error() -> None:
    lm = tiny("tiny-gpt2")
    mask = random_masks(lm, seed=5)
    inputs = encode(lm, TEXTS)
    with pytest.raises(KeyError), deactivate(lm, mask), convert(lm, ~mask):
        raise KeyError("boom")
    assert not any(m._forward_pre_hooks for m in lm.site.hooked)
    with torch.inference_mode(), deactivate(lm, mask, positions="all"), convert(lm, torch.zeros_like(mask)):
        composed = last_logits(lm, inputs)
    torch.testing.assert_close(composed, last_logits(weight_edited(lm, mask), inputs), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("bad", [torch.zeros(2, 3), torch.zeros(3, 128, dtype=torch.int64)])
def test_bad_masks_are_rejected(bad: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="mask must be bool"), deactivate(tiny("tiny-bloom"), bad):
        pass


def test_bad_positions_and_epsilon_are_rejected() -> None:
    lm = tiny("tiny-bloom")
    mask = torch.zeros(lm.n_layers, lm.d_ff, dtype=torch.bool)
    with pytest.raises(ValueError, match="positions"), deactivate(lm, mask, positions="first"):
        pass
    with pytest.raises(ValueError, match="epsilon"):
        convert(lm, mask, epsilon=0.0)
