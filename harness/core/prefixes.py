"""Keys and values of each prompt but its last token, kept from the baseline pass for the intervention passes.

An intervention at ``positions="last"`` edits the last prompt token and the tokens generated after it. Every earlier
position computes exactly what the baseline pass computed (attention is causal, and nothing before the last token
is edited), so an intervention pass can start from the baseline's keys and values of the first n - 1 tokens and run
the model on the last prompt token onward: one token instead of n per row and condition.

Rows are kept one by one, their real tokens only, and padded on the left again for whatever batch a later pass
forms, so a pass may run any subset of the rows in any order. A byte budget bounds what is kept (per measurement
chunk); a batch with a row beyond it runs in full. Decoder-only models with one plain key/value cache per layer;
anything else (encoder-decoders, sliding-window caches, ``positions="all"``) runs in full.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import DynamicCache

from harness.core.models import LoadedModel

CPU_BUDGET = 2 << 30  # bytes of kept prefixes on the CPU
CUDA_SHARE = 0.25  # share of the device's memory kept prefixes may take on a GPU ...
CUDA_FREE_SHARE = 0.5  # ... and of what is free when a chunk starts (the chunk's own tensors come after)

KeyValues = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys and values (batch, heads, tokens, head_dim)


def supported(lm: LoadedModel, positions: str) -> bool:
    """Whether passes on ``lm`` editing ``positions`` can start from kept prefixes."""
    config = lm.model.config
    return (positions == "last" and not lm.is_encoder_decoder and getattr(config, "sliding_window", None) is None
            and bool(lm.forward_params & {"cache", "past_key_values"}))


def default_budget(device: torch.device) -> int:
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return int(min(CUDA_SHARE * total, CUDA_FREE_SHARE * free))
    return CPU_BUDGET


def cache_argument(lm: LoadedModel) -> str:
    """The name of the forward's and generate's cache argument (transformers >= 5: ``cache``)."""
    return "cache" if "cache" in lm.forward_params else "past_key_values"


def returned_cache(lm: LoadedModel, output: object) -> object:
    return getattr(output, cache_argument(lm))


def _layers(cache: object) -> KeyValues:
    """(keys, values) per layer of a transformers cache, each (batch, heads, tokens, head_dim)."""
    return [(item[0], item[1]) for item in cache]  # type: ignore[attr-defined]  # every Cache iterates so


class Prefixes:
    """Kept prefixes by row id (e.g. the row's place in a measurement chunk); see the module doc."""

    def __init__(self, lm: LoadedModel, budget: int | None = None) -> None:
        self.lm = lm
        self.budget = default_budget(lm.device) if budget is None else budget
        self.rows: dict[int, torch.Tensor] = {}  # (layers, 2: keys and values, heads, tokens, head_dim)
        self.nbytes = 0
        self.skipped = 0  # rows not kept: over the budget

    def keep(self, ids: Sequence[int], cache: object, attention_mask: torch.Tensor) -> None:
        """Keep the prefixes of a batch's rows (row b of the batch has id ``ids[b]``) from the cache of a pass over
        the left-padded batch (its prompts, and possibly generated tokens after them)."""
        padded = attention_mask.shape[1]
        lengths = attention_mask.sum(dim=1).tolist()
        layers = _layers(cache)
        keys = layers[0][0]  # (batch, heads, tokens, head_dim)
        for b, (row, n) in enumerate(zip(ids, lengths, strict=True)):
            size = 2 * len(layers) * keys[b, :, padded - n:padded - 1].numel() * keys.element_size()
            if self.nbytes + size > self.budget:
                self.skipped += 1
                continue
            self.rows[row] = torch.stack([part[b, :, padded - n:padded - 1] for pair in layers for part in pair]
                                         ).unflatten(0, (len(layers), 2))  # (layers, 2, heads, n - 1, head_dim)
            self.nbytes += size

    def batch(self, ids: Sequence[int], padded: int, tail: int = 1) -> DynamicCache | None:
        """A cache holding the kept prefixes of rows ``ids`` but their last ``tail - 1`` tokens, left-padded to
        ``padded - tail`` tokens (the batch's prompts are ``padded`` tokens long with padding), so that a pass runs
        the last ``tail`` columns only; None when a row has no kept prefix or nothing would be cached. A row
        shorter than ``tail`` has padding only in the cache (its pass covers all its tokens)."""
        if padded <= tail or not all(row in self.rows for row in ids):
            return None
        first = self.rows[ids[0]]  # (layers, 2, heads, tokens, head_dim)
        out = first.new_empty(first.shape[0], 2, len(ids), first.shape[2], padded - tail, first.shape[4])
        for b, row in enumerate(ids):
            kept = self.rows[row]
            cached = max(0, kept.shape[3] + 1 - tail)  # the row's tokens before its last ``tail``
            out[:, :, b, :, :padded - tail - cached].zero_()  # padding: masked, but never NaN
            out[:, :, b, :, padded - tail - cached:] = kept[:, :, :, :cached]
        layers = [(keys, values) for keys, values in out]  # each (batch, heads, padded - tail, head_dim)
        return DynamicCache(ddp_cache_data=layers)

    def view(self, ids: Sequence[int]) -> PrefixView:
        """This store seen through a list of rows: row i of the view is row ``ids[i]`` here."""
        return PrefixView(self, list(ids))


class PrefixView:
    """Rows of a ``Prefixes`` renumbered (a pass over a subset of the rows)."""

    def __init__(self, store: Prefixes, ids: list[int]) -> None:
        self.store, self.ids = store, ids

    @property
    def lm(self) -> LoadedModel:
        return self.store.lm

    def keep(self, rows: Sequence[int], cache: object, attention_mask: torch.Tensor) -> None:
        self.store.keep([self.ids[r] for r in rows], cache, attention_mask)

    def batch(self, rows: Sequence[int], padded: int, tail: int = 1) -> DynamicCache | None:
        return self.store.batch([self.ids[r] for r in rows], padded, tail)


__all__ = ["PrefixView", "Prefixes", "cache_argument", "returned_cache", "supported"]
