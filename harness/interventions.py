"""Interventions on neuron activations as context managers that compose and always remove their hooks.

A mask is either shared by the batch, (layers, d_ff), or per row, (batch, layers, d_ff), so several conditions
(one per row) run in one batched forward pass. ``positions="last"`` edits position -1 of every forward call:
with left padding that is the last prompt token, and during cached generation each newly generated token.
``positions="all"`` edits every position. Edits are in place: run under ``torch.inference_mode()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from harness.capture import register_site_hooks
from harness.models import LoadedModel

POSITIONS = ("last", "all")
Edit = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (a (..., d_ff), mask (..., d_ff)) -> new a


def _check(lm: LoadedModel, mask: torch.Tensor, positions: str) -> None:
    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
    if mask.dtype != torch.bool or mask.dim() not in (2, 3) or tuple(mask.shape[-2:]) != (lm.n_layers, lm.d_ff):
        raise ValueError(f"mask must be bool (layers, d_ff) or (batch, layers, d_ff) with layers={lm.n_layers}, "
                         f"d_ff={lm.d_ff}; got {mask.dtype} {tuple(mask.shape)}")


@contextmanager
def _intervene(lm: LoadedModel, mask: torch.Tensor, positions: str, edit: Edit) -> Iterator[None]:
    _check(lm, mask, positions)
    per_layer = [mask[..., layer, :] for layer in range(lm.n_layers)]  # each (d_ff,) or (batch, d_ff)

    def apply(layer: int, a: torch.Tensor) -> torch.Tensor:
        if per_layer[layer].device != a.device:  # a layer on another device (device_map): move once, keep
            per_layer[layer] = per_layer[layer].to(a.device)
        m = per_layer[layer]
        if positions == "last":
            a[:, -1] = edit(a[:, -1], m)
            return a
        return edit(a, m if m.dim() == 1 else m[:, None, :])

    handles = register_site_hooks(lm, apply, prepend=True)
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def deactivate(lm: LoadedModel, mask: torch.Tensor, *, positions: str = "last"):
    """Set A_i to 0 for the masked neurons (paper §6.3)."""
    return _intervene(lm, mask, positions, lambda a, m: a.masked_fill(m, 0.0))


def convert(lm: LoadedModel, mask: torch.Tensor, *, threshold: float = 0.0, epsilon: float = 1e-3,
            positions: str = "last"):
    """Make the masked neurons active: A_i <= threshold becomes threshold + epsilon (§6.3, Table 3)."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    return _intervene(lm, mask, positions,
                      lambda a, m: torch.where(m & (a <= threshold), torch.full_like(a, threshold + epsilon), a))
