"""Interventions against independent routes: weight editing (fix: value vectors folded into the bias), and the FFN
output recomputed from captured A."""

from __future__ import annotations

import pytest
import torch

from harness.core.batching import encode, last_logits
from harness.core.capture import last_token_activations
from harness.core.interventions import convert, deactivate, fix
from harness.core.models import TINY_MODELS, LoadedModel
from tests.conftest import TEXTS, random_masks, tiny, weight_edited, weight_fixed


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


DECODERS = [name for name in TINY_MODELS if name != "tiny-mt5"]


@pytest.mark.parametrize("name", DECODERS)
def test_fix_at_every_position_equals_weight_editing(name: str) -> None:
    """Fixing A_i to c at every token = a model whose v_i is folded into the down projection's bias as c v_i."""
    lm = tiny(name)
    mask = random_masks(lm, seed=6)
    values = torch.randn(mask.shape, generator=torch.Generator().manual_seed(6))
    inputs = encode(lm, TEXTS)
    with torch.inference_mode(), fix(lm, mask, values):
        hooked = last_logits(lm, inputs)
    torch.testing.assert_close(hooked, last_logits(weight_fixed(lm, mask, values), inputs), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(hooked, last_logits(lm, inputs))


def test_per_row_fixes_equal_one_row_at_a_time() -> None:
    lm = tiny("tiny-llama")
    masks = random_masks(lm, len(TEXTS), density=0.1, seed=7)
    values = torch.randn(masks.shape, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode(), fix(lm, masks, values):
        batched = last_logits(lm, encode(lm, TEXTS))
    for row, text in enumerate(TEXTS):
        edited = last_logits(weight_fixed(lm, masks[row], values[row]), encode(lm, [text]))
        torch.testing.assert_close(batched[row:row + 1], edited, atol=1e-5, rtol=1e-4)


def test_fix_at_the_last_position_sets_exactly_the_values_there() -> None:
    lm = tiny("tiny-bloom")
    mask = random_masks(lm, seed=8)
    values = torch.full(mask.shape, 0.75)
    before = last_token_activations(lm, TEXTS)
    with fix(lm, mask, values, positions="last"), deactivate(lm, torch.zeros_like(mask)):  # composes
        after = last_token_activations(lm, TEXTS)
    assert (after[:, mask] == 0.75).all()
    torch.testing.assert_close(after[:, 0][:, ~mask[0]], before[:, 0][:, ~mask[0]])


def test_fix_on_the_gate_site_feeds_the_value_times_up_to_the_down_projection() -> None:
    """Site gate: A = act(gate) is fixed, so the down projection receives value x up(x) for the fixed neurons."""
    lm = tiny("tiny-llama", "gate")
    mask = random_masks(lm, seed=9)
    values = torch.randn(mask.shape, generator=torch.Generator().manual_seed(9))
    mlp = lm.site.layers[0].mlp
    seen = {}
    hooks = [mlp.register_forward_pre_hook(lambda _m, args: seen.__setitem__("x", args[0])),
             mlp.down_proj.register_forward_pre_hook(lambda _m, args: seen.__setitem__("a", args[0]))]
    with torch.inference_mode(), fix(lm, mask, values):
        last_logits(lm, encode(lm, TEXTS))
        for hook in hooks:
            hook.remove()
        expected = torch.where(mask[0], values[0], mlp.act_fn(mlp.gate_proj(seen["x"]))) * mlp.up_proj(seen["x"])
    torch.testing.assert_close(seen["a"], expected)


def test_fix_rejects_values_that_do_not_match_the_mask() -> None:
    lm = tiny("tiny-bloom")
    mask = torch.zeros(lm.n_layers, lm.d_ff, dtype=torch.bool)
    with pytest.raises(ValueError, match="values must be floating point"):
        fix(lm, mask, torch.zeros(lm.n_layers, lm.d_ff + 1))
    with pytest.raises(ValueError, match="values must be floating point"):
        fix(lm, mask, torch.zeros(mask.shape, dtype=torch.long))
