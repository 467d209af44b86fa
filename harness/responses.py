"""Each neuron's response to a whole text: A pooled over the text's real tokens (Kojima et al., after ml-selfcond).

Batches are left-padded and sorted by length; the attention mask keeps padding out of the pool. Pooling runs in
float32 on the device inside the hooks, so only (batch, d_ff) per layer leaves the forward pass; the result may be
kept on the host (``device="cpu"``) so that the device's memory does not grow with the number of texts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from harness.batching import encode, last_logits, length_sorted_batches, token_lengths
from harness.capture import register_site_hooks
from harness.models import LoadedModel

POOLINGS = ("mean", "max")  # mean: our default; max: ml-selfcond's original default


def _pool(a: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """a (batch, seq, d_ff), mask (batch, seq) bool -> (batch, d_ff) float32 over the real tokens."""
    if pooling == "mean":
        weights = mask.to(torch.float32)  # (batch, seq)
        total = torch.bmm(weights[:, None, :], a.to(torch.float32))[:, 0]  # (batch, d_ff), float32 accumulation
        return total / weights.sum(dim=1, keepdim=True)
    return a.to(torch.float32).masked_fill(~mask[..., None], -torch.inf).amax(dim=1)


@torch.inference_mode()
def pooled_responses(lm: LoadedModel, texts: Sequence[str], *, pooling: str = "mean", batch_size: int = 16,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """Every neuron's response to every text, pooled over its real tokens: (texts, layers, d_ff) float32, in input
    order, on ``device`` (default: the model's). Each batch's pooled responses leave the model's device layer by
    layer, so with ``device="cpu"`` the device holds one batch's at a time. Decoder-only models (the models of
    Kojima et al.)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if lm.is_encoder_decoder:
        raise ValueError(f"pooled responses need a decoder-only model; {lm.name} is an encoder-decoder")
    out = torch.empty(len(texts), lm.n_layers, lm.d_ff, device=lm.device if device is None else device)
    current: dict[str, object] = {}

    def record(layer: int, a: torch.Tensor) -> None:
        mask = current["mask"].to(a.device, torch.bool)  # type: ignore[union-attr]  # always a tensor once armed
        out[current["rows"], layer] = _pool(a, mask, pooling).to(out.device)

    handles = register_site_hooks(lm, record)
    try:
        for rows in length_sorted_batches(token_lengths(lm, texts), batch_size):
            inputs = encode(lm, [texts[i] for i in rows])
            current.update(rows=torch.tensor(rows, device=out.device), mask=inputs["attention_mask"])
            last_logits(lm, inputs)  # the LM head runs for the last position only
    finally:
        for handle in handles:
            handle.remove()
    return out
