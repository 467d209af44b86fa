"""Left-padded batches sorted by length, the forward pass to the last position, and out-of-memory back-off."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch
from transformers import Cache, PreTrainedTokenizerBase

from harness.core.models import LoadedModel
from harness.core.prefixes import cache_argument, returned_cache

T = TypeVar("T")


@functools.lru_cache(maxsize=1 << 14)  # texts: a measurement chunk reads at most a few hundred
def _token_ids(tokenizer: PreTrainedTokenizerBase, vocabulary: int, text: str) -> tuple[int, ...]:
    """One text's ids as the tokenizer gives them (special tokens included), kept: a measurement tokenizes each
    prompt once per pass. ``vocabulary`` (the tokenizer's size) is in the key, so added tokens miss."""
    return tuple(tokenizer(text)["input_ids"])


def token_ids(lm: LoadedModel, texts: Sequence[str]) -> list[tuple[int, ...]]:
    return [_token_ids(lm.tokenizer, len(lm.tokenizer), text) for text in texts]


def encode(lm: LoadedModel, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Tokenize with left padding so that position -1 is every row's last prompt token.

    Models with absolute positions get position ids counted from each row's first real token, and
    encoder-decoders get a one-token decoder input (the decoder start token).
    """
    ids = token_ids(lm, texts)
    longest = max(map(len, ids))
    input_ids = torch.full((len(ids), longest), lm.tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for row, row_ids in enumerate(ids):  # left padding
        input_ids[row, longest - len(row_ids):] = torch.tensor(row_ids, dtype=torch.long)
        attention_mask[row, longest - len(row_ids):] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if "position_ids" in lm.forward_params:
        inputs["position_ids"] = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    if lm.is_encoder_decoder:
        start = lm.model.config.decoder_start_token_id
        inputs["decoder_input_ids"] = torch.full((len(texts), 1), start, dtype=torch.long)
    return {k: v.to(lm.device) for k, v in inputs.items()}


@torch.inference_mode()
def last_logits(lm: LoadedModel, inputs: dict[str, torch.Tensor], *, start: Cache | None = None,
                keep: Callable[[object], None] | None = None) -> torch.Tensor:
    """Next-token logits at the last position, (batch, vocab), computing the LM head for that position only.

    ``start``: a cache of every position but the last few (harness.core.prefixes): only those positions run.
    ``keep``: called with the pass's cache (keys and values of every position).
    """
    extra = {"logits_to_keep": 1} if "logits_to_keep" in lm.forward_params else {}
    if start is not None:
        tail = inputs["input_ids"].shape[1] - start.get_seq_length()
        inputs = {name: value[:, -tail:] if name in ("input_ids", "position_ids") else value
                  for name, value in inputs.items()}
        extra[cache_argument(lm)] = start
    output = lm.model(**inputs, use_cache=start is not None or keep is not None, **extra)
    if keep is not None:
        keep(returned_cache(lm, output))
    return output.logits[:, -1]


def token_lengths(lm: LoadedModel, texts: Sequence[str]) -> list[int]:
    return [len(ids) for ids in token_ids(lm, texts)]


def longest_first(lengths: Sequence[int]) -> list[int]:
    """Indices ordered by length, longest first, so that consecutive rows pad little."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def length_sorted_batches(lengths: Sequence[int], batch_size: int,
                          attention_cells: int | None = None) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (longest first), so padding stays small; with
    ``attention_cells``, a batch also stops before rows x its longest length squared (one head's attention
    scores) exceeds it, so long prompts go in small batches."""
    order = longest_first(lengths)
    batch: list[int] = []
    for index in order:
        longest = lengths[batch[0]] if batch else lengths[index]
        if batch and (len(batch) == batch_size or
                      attention_cells is not None and (len(batch) + 1) * longest ** 2 > attention_cells):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def run_with_backoff(step: Callable[[list[int]], T], indices: list[int], batch_size: int) -> Iterator[T]:
    """Call ``step`` on chunks of ``indices``; on out-of-memory halve the chunk and retry, down to one row."""
    start = 0
    while start < len(indices):
        chunk = indices[start:start + batch_size]
        try:
            result = step(chunk)
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not is_out_of_memory(error) or batch_size == 1:
                raise
            batch_size //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        start += len(chunk)
        yield result
