"""Passes over a planted model's prompts, shared between the builds of one process.

While every FFN but the last writes nothing, a planted model's FFN inputs, and every layer's keys and values, depend
on its other weights, its tokenizer and its prompts only, which many planted models share. A pass over such a model
is kept for this process under a hash of exactly those (``stream_base``, ``stream_key``), and a build with the same
ones reads it instead of running the pass again: the FFN inputs at the positions a build fits its keys on
(``ffn_inputs``) and the keys and values of every prompt token but the last (``kept_prefixes``), which the
verification of the finished model starts from. A model whose earlier FFNs write has no hash and runs its own
passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from harness.core.batching import encode, length_sorted_batches, token_lengths
from harness.core.models import LoadedModel
from harness.core.prefixes import Prefixes, returned_cache, supported
from harness.planted.building import HIDDEN, PlantedFfn

BUILD_ATTENTION_CELLS = 32 * 256 ** 2  # build passes: 32 prompts of 256 tokens, fewer when longer

_Kept = TypeVar("_Kept")
_STREAMS: dict[bytes, list[torch.Tensor]] = {}  # FFN inputs of planted models whose FFNs before the last write nothing
_STREAMS_KEPT = 8
_PREFIXES: dict[bytes, Prefixes] = {}  # the same passes' keys and values of every prompt token but the last
_PREFIXES_KEPT = 4  # about 170 MB each; a tiny-tier run builds on four such streams (prompt sets, families)


def ffn_inputs(lm: LoadedModel, ffns: Sequence[PlantedFfn], texts: list[str],
               content_offsets: Callable[[], torch.Tensor], *, at_content: bool, both: bool) -> list[torch.Tensor]:
    """Each layer's FFN input at every prompt's last token (or, ``at_content``, the position ``content_offsets()``,
    (prompts,), counts back from it; called only when read): one (prompts, HIDDEN) tensor per layer.

    Kept and read again under ``stream_key`` while no FFN but the last writes; such a pass reads both positions at
    once when ``both`` (a build that fits keys at both), and keeps its keys and values for ``kept_prefixes``."""
    stream = stream_base(lm, ffns, texts)
    positions = (False, True) if stream is not None and both else (at_content,)
    read = {where: content_offsets() if where else _last(texts) for where in positions}
    keys = {} if stream is None else {where: stream_key(stream, read[where]) for where in positions}
    if keys.get(at_content) in _STREAMS:
        return [x.clone() for x in _STREAMS[keys[at_content]]]
    out = {where: [torch.empty(len(texts), HIDDEN) for _ in lm.site.layers] for where in positions}
    rows: list[int] = []

    def keep(_m: torch.nn.Module, args: tuple[torch.Tensor, ...], i: int) -> None:
        x = args[0]  # (batch, seq, HIDDEN), left padded
        for where in positions:
            out[where][i][rows] = x[torch.arange(len(rows)), x.shape[1] - 1 - read[where][rows]]

    hooks = [layer.mlp.register_forward_pre_hook(lambda m, args, i=i: keep(m, args, i))
             for i, layer in enumerate(lm.site.layers)]
    kept = Prefixes(lm) if stream is not None and supported(lm, "last") else None
    for batch in length_sorted_batches(token_lengths(lm, texts), 32, attention_cells=BUILD_ATTENTION_CELLS):
        rows[:] = batch
        inputs = encode(lm, [texts[i] for i in batch])
        output = lm.model(**inputs, use_cache=kept is not None)
        if kept is not None:
            kept.keep(batch, returned_cache(lm, output), inputs["attention_mask"])
    for hook in hooks:
        hook.remove()
    if stream is not None:
        for where, key in keys.items():
            _remember(_STREAMS, key, [x.clone() for x in out[where]], _STREAMS_KEPT)
        if kept is not None and kept.rows:
            _remember(_PREFIXES, stream_key(stream, _last(texts)), kept, _PREFIXES_KEPT)
    return out[at_content]


def kept_prefixes(lm: LoadedModel, ffns: Sequence[PlantedFfn], texts: list[str]) -> Prefixes | None:
    """Kept keys and values of every prompt token but the last that the finished model's own pass would compute:
    those of an earlier pass (``ffn_inputs``) over a model with the same ``stream_key``. While no FFN but the last
    writes, the keys and values of every layer depend on what that key covers only (the last layer's FFN comes
    after its attention); the key is taken again here, on the finished model. None: no such pass kept."""
    stream = stream_base(lm, ffns, texts)
    key = None if stream is None else stream_key(stream, _last(texts))
    if key is None or key not in _PREFIXES:
        return None
    _PREFIXES[key] = _PREFIXES.pop(key)  # the most recently used is evicted last
    return _PREFIXES[key]


def stream_base(lm: LoadedModel, ffns: Sequence[PlantedFfn], texts: list[str]) -> bytes | None:
    """A hash of what the FFN inputs (and every layer's keys and values) depend on when no FFN but the last writes
    (every other weight but the LM head's, the tokenizer's added tokens, the prompts); None when some earlier FFN
    writes."""
    if any(bool(ffn.down.weight.any() or ffn.down.bias.any()) for ffn in ffns[:-1]):
        return None
    unread = {id(p) for ffn in ffns for module in (ffn.key, ffn.down, ffn.up) if module is not None
              for p in module.parameters()}
    unread |= {id(p) for p in lm.model.get_output_embeddings().parameters()}  # read after the last layer
    digest = hashlib.blake2b(digest_size=32)
    for name, parameter in lm.model.named_parameters():
        if id(parameter) not in unread:
            digest.update(name.encode())
            digest.update(parameter.detach().cpu().numpy().tobytes())
    digest.update(repr(sorted(lm.tokenizer.get_added_vocab().items())).encode())
    digest.update("\0".join(texts).encode())
    return digest.digest()


def stream_key(stream: bytes, offsets: torch.Tensor) -> bytes:
    """The stream's hash (``stream_base``) with the positions read, (prompts,) counted back from the last token."""
    return hashlib.blake2b(stream + offsets.numpy().tobytes(), digest_size=32).digest()


def _last(texts: list[str]) -> torch.Tensor:
    """(prompts,) offsets of every prompt's last token: zero."""
    return torch.zeros(len(texts), dtype=torch.long)


def _remember(kept: dict[bytes, _Kept], key: bytes, value: _Kept, most: int) -> None:
    """Keep ``value`` under ``key``, dropping the least recently kept or used beyond ``most``."""
    kept[key] = value
    if len(kept) > most:
        del kept[next(iter(kept))]
