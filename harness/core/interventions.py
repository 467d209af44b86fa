"""Interventions on neuron activations as context managers that compose and always remove their hooks.

A mask is either shared by the batch, (layers, d_ff), or per row, (batch, layers, d_ff), so several conditions
(one per row) run in one batched forward pass; ``fix`` also takes values of the mask's shape. ``positions="last"``
edits position -1 of every forward call: with left padding that is the last prompt token, and during cached
generation each newly generated token.
``positions="all"`` edits every position. Edits are in place: run under ``torch.inference_mode()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from harness.core.capture import register_site_hooks
from harness.core.models import LoadedModel

POSITIONS = ("last", "all")
# (a (..., d_ff), mask (..., d_ff), values (..., d_ff) or None) -> new a
Edit = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def _check(lm: LoadedModel, mask: torch.Tensor, positions: str) -> None:
    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
    if mask.dtype != torch.bool or mask.dim() not in (2, 3) or tuple(mask.shape[-2:]) != (lm.n_layers, lm.d_ff):
        raise ValueError(f"mask must be bool (layers, d_ff) or (batch, layers, d_ff) with layers={lm.n_layers}, "
                         f"d_ff={lm.d_ff}; got {mask.dtype} {tuple(mask.shape)}")


@contextmanager
def _intervene(lm: LoadedModel, mask: torch.Tensor, positions: str, edit: Edit,
               values: torch.Tensor | None = None) -> Iterator[None]:
    _check(lm, mask, positions)
    # per layer: the mask and the values, each (d_ff,) or (batch, d_ff)
    per_layer = [(mask[..., layer, :], None if values is None else values[..., layer, :])
                 for layer in range(lm.n_layers)]

    def apply(layer: int, a: torch.Tensor) -> torch.Tensor:
        m, v = per_layer[layer]
        if m.device != a.device or (v is not None and (v.device, v.dtype) != (a.device, a.dtype)):
            # a layer on another device (device_map), or values in another dtype: convert once, keep
            per_layer[layer] = m, v = m.to(a.device), None if v is None else v.to(a.device, a.dtype)
        if positions == "last":
            a[:, -1] = edit(a[:, -1], m, v)
            return a
        if m.dim() == 2:
            m, v = m[:, None, :], None if v is None else v[:, None, :]
        return edit(a, m, v)

    handles = register_site_hooks(lm, apply, prepend=True)
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def deactivate(lm: LoadedModel, mask: torch.Tensor, *, positions: str = "last"):
    """Set A_i to 0 for the masked neurons (paper §6.3)."""
    return _intervene(lm, mask, positions, lambda a, m, _v: a.masked_fill(m, 0.0))


def convert(lm: LoadedModel, mask: torch.Tensor, *, threshold: float = 0.0, epsilon: float = 1e-3,
            positions: str = "last"):
    """Make the masked neurons active: A_i <= threshold becomes threshold + epsilon (§6.3, Table 3)."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    return _intervene(lm, mask, positions,
                      lambda a, m, _v: torch.where(m & (a <= threshold), torch.full_like(a, threshold + epsilon), a))


def fix(lm: LoadedModel, mask: torch.Tensor, values: torch.Tensor, *, positions: str = "all"):
    """Set the masked neurons' A_i to ``values`` (same shape as ``mask``), e.g. their median response to one
    language's texts (Kojima et al.'s ``on_p50``). The default edits every position, as Kojima et al. do
    (ml-selfcond forces the units at every token)."""
    if values.shape != mask.shape or not values.is_floating_point():
        raise ValueError(f"values must be floating point with the mask's shape {tuple(mask.shape)}; got "
                         f"{values.dtype} {tuple(values.shape)}")
    return _intervene(lm, mask, positions, lambda a, m, v: torch.where(m, v, a), values)
