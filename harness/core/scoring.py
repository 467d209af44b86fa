"""Scoring a batch of prompts: greedy generation, or a forced choice by first verbalizer token.

Both run inside any intervention context, take optional per-row masks, and return per-row results so that
claims can run paired tests. A task with answer words (XNLI's verbalizers) is scored by default as the paper's
below-chance numbers imply: greedy generation of a few tokens, the answer being the first verbalizer found in the
continuation as a whole word (no verbalizer: wrong). Forced choice, the argmax over the verbalizers' first tokens,
cannot fall below chance. Verbalizer tokens: the first token of " word" (leading-space convention); when those
collide (byte-level tokenizers give " " for every word) the first token of "word". Colliding first tokens under both
conventions are an error.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack

import torch
from transformers import PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList

from harness.core.batching import encode, last_logits, longest_first, run_with_backoff, token_lengths
from harness.core.capture import Recorder
from harness.core.interventions import convert, deactivate, fix
from harness.core.models import LoadedModel
from harness.core.prefixes import Prefixes, PrefixView, cache_argument, returned_cache

Kept = Prefixes | PrefixView


class VerbalizerError(ValueError):
    """The answer words do not start with distinct tokens for this tokenizer."""


def verbalizer_tokens(lm: LoadedModel, choices: Sequence[str]) -> tuple[list[int], str]:
    """First token id of each answer word and the convention used ("leading space" or "no space")."""
    for convention, prefix in (("leading space", " "), ("no space", "")):
        ids = [lm.tokenizer(prefix + word, add_special_tokens=False)["input_ids"][0] for word in choices]
        if len(set(ids)) == len(ids):
            return ids, convention
    raise VerbalizerError(f"the answer words {list(choices)} share their first token in {type(lm.tokenizer).__name__}"
                          " with and without a leading space; choose other verbalizers")


def verbalizer_budget(lm: LoadedModel, choices: Sequence[str]) -> int:
    """New tokens that generation needs to write any verbalizer in quotes after a space (e.g. ` "inconclusive"`)."""
    return max(len(lm.tokenizer(f' "{word}"', add_special_tokens=False)["input_ids"]) for word in choices)


@functools.cache
def _verbalizer_pattern(choices: tuple[str, ...]) -> re.Pattern[str]:
    words = sorted(choices, key=len, reverse=True)  # the longest first where one word starts another
    return re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)


def first_verbalizer(text: str, choices: Sequence[str]) -> str | None:
    """The earliest of ``choices`` in ``text`` as a whole word (case-insensitive; quotes or punctuation around it
    are fine), in its spelling in ``choices``; None when there is none."""
    match = _verbalizer_pattern(tuple(choices)).search(text)
    if match is None:
        return None
    return next(word for word in choices if word.lower() == match.group(1).lower())


def settled_verbalizer(text: str, choices: Sequence[str]) -> bool:
    """Whether more tokens can no longer change ``first_verbalizer(text)``: a verbalizer is found and followed by a
    character that ends the word (a trailing partial UTF-8 character, U+FFFD, does not count)."""
    match = _verbalizer_pattern(tuple(choices)).search(text.rstrip("\ufffd"))
    return match is not None and match.end() < len(text.rstrip("\ufffd"))


def first_answer_token(lm: LoadedModel, answer: str) -> int:
    """The token the model would emit first for ``answer`` right after a prompt (leading-space convention)."""
    ids = lm.tokenizer(" " + answer.strip(), add_special_tokens=False)["input_ids"]
    if lm.tokenizer.convert_ids_to_tokens(ids[0]) in (" ", "▁", "Ġ") and len(ids) > 1:
        return ids[1]
    return ids[0]


def normalize(text: str) -> str:
    """Lower-case, NFKC, punctuation and extra white space removed (SQuAD-style, Unicode-aware)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") or ch in string.punctuation else ch for ch in text)
    return re.sub(r"\s+", " ", text).strip()


def _unspaced(ch: str) -> bool:
    """Characters of scripts written without spaces between words (Chinese, Japanese, Thai), not Hangul."""
    return ("\u0e00" <= ch <= "\u0e7f" or unicodedata.east_asian_width(ch) in ("W", "F")) and not (
        "\uac00" <= ch <= "\ud7af" or "\u1100" <= ch <= "\u11ff")


def _tokens(text: str) -> list[str]:
    """Words; runs of unspaced scripts are split into characters, so mixed text compares fairly."""
    return [piece for word in normalize(text).split()
            for piece in (re.findall(r".", word) if any(_unspaced(c) for c in word) else [word])]


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = _tokens(prediction), _tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> bool:
    return normalize(prediction) == normalize(gold)


def prefix_match(prediction: str, gold: str) -> bool:
    """The continuation starts with the gold object (after normalisation), ending at a word boundary."""
    gold_norm, pred_norm = normalize(gold), normalize(prediction)
    if not gold_norm or not pred_norm.startswith(gold_norm):
        return False
    rest = pred_norm[len(gold_norm):]
    return not rest or rest[0] == " " or _unspaced(gold_norm[-1])  # "Paris" is not a prefix of "Parisian"


def _masked(lm: LoadedModel, stack: ExitStack, rows: list[int], deact: torch.Tensor | None,
            conv: torch.Tensor | None, fixed: torch.Tensor | None, values: torch.Tensor | None, threshold: float,
            epsilon: float, positions: str) -> None:
    if deact is not None:
        stack.enter_context(deactivate(lm, deact[rows].to(lm.device), positions=positions))
    if conv is not None:
        stack.enter_context(convert(lm, conv[rows].to(lm.device), threshold=threshold, epsilon=epsilon,
                                    positions=positions))
    if fixed is not None:
        if values is None:
            raise ValueError("fix_masks need fix_values: the value (layers, d_ff) each masked neuron takes")
        mask = fixed[rows].to(lm.device)
        stack.enter_context(fix(lm, mask, values.to(lm.device).float().expand(mask.shape), positions=positions))


@torch.inference_mode()
def predict_choice(lm: LoadedModel, texts: Sequence[str], choice_ids: Sequence[int], *, batch_size: int = 16,
                   deactivate_masks: torch.Tensor | None = None, convert_masks: torch.Tensor | None = None,
                   fix_masks: torch.Tensor | None = None, fix_values: torch.Tensor | None = None,
                   threshold: float = 0.0, epsilon: float = 1e-3, positions: str = "last",
                   recorder: Recorder | None = None, keep_prefixes: Kept | None = None,
                   prefixes: Kept | None = None) -> torch.Tensor:
    """Index of the highest-scoring choice per text, (len(texts),) on the CPU.

    Per-row masks are (len(texts), layers, d_ff) (``fix_masks`` set their neurons to ``fix_values``, (layers,
    d_ff), e.g. each neuron's mean: mean-ablation); ``recorder``, if given, captures the same pass and its
    per-row activations are returned through ``recorder.rows`` in input order. ``keep_prefixes`` keeps each
    text's keys and values but its last token's (harness.core.prefixes, by the text's index); ``prefixes`` starts
    texts from kept ones (only for masks at ``positions="last"``), a batch's pass then running from its rows'
    furthest content position (``recorder.content_offsets``) onward.
    """
    _check_prefixes(positions, recorder, prefixes, content=True)
    ids = torch.tensor(list(choice_ids), device=lm.device)
    out = torch.empty(len(texts), dtype=torch.long)
    if not texts:
        return out
    order = longest_first(token_lengths(lm, texts))

    def step(rows: list[int]) -> None:
        inputs = encode(lm, [texts[i] for i in rows])
        with ExitStack() as stack:
            _masked(lm, stack, rows, deactivate_masks, convert_masks, fix_masks, fix_values, threshold, epsilon,
                    positions)
            if recorder is not None:
                recorder.arm(inputs["attention_mask"], rows)
            start = None if prefixes is None else prefixes.batch(rows, inputs["input_ids"].shape[1],
                                                                 _tail(recorder, rows))
            keep = None if keep_prefixes is None else \
                functools.partial(keep_prefixes.keep, rows, attention_mask=inputs["attention_mask"])
            logits = last_logits(lm, inputs, start=start, keep=keep)
            if recorder is not None:
                recorder.collect(rows)
        out[rows] = logits[:, ids].argmax(-1).cpu()

    for _ in run_with_backoff(step, order, batch_size):
        pass
    return out


def _check_prefixes(positions: str, recorder: Recorder | None, prefixes: Kept | None, *, content: bool = False) -> None:
    """Kept prefixes skip the prompt's earlier tokens: only edits of the last one, and recording at the last (and,
    where ``content``, at the content position, which the pass then reaches back to)."""
    reads = recorder is not None and (recorder.threshold is not None or
                                      (recorder.content_offsets is not None and not content))
    if prefixes is not None and (positions != "last" or reads):
        raise ValueError("kept prefixes skip every prompt token but the last: only for positions 'last', without a "
                         "recorder of other positions (any token" + ("" if content else ", content") + ")")


def _tail(recorder: Recorder | None, rows: list[int]) -> int:
    """How many of a batch's last columns a pass from kept prefixes runs: up to its furthest content position."""
    if recorder is None or recorder.content_offsets is None:
        return 1
    return 1 + int(recorder.content_offsets[rows].max())


@functools.lru_cache(maxsize=1 << 14)
def _decoded(tokenizer: PreTrainedTokenizerBase, vocabulary: int, ids: tuple[int, ...]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=True)


def _continuation(lm: LoadedModel, ids: tuple[int, ...]) -> str:
    """The text of generated ids without special tokens, kept: rows of a run end in few distinct continuations,
    and a slow tokenizer decodes each again at every step. ``vocabulary`` is in the key, as in ``token_ids``."""
    return _decoded(lm.tokenizer, len(lm.tokenizer), ids)


class _StopWhen(StoppingCriteria):
    """Per-row stop: a row is done when ``stop_when`` holds for its decoded continuation so far."""

    def __init__(self, lm: LoadedModel, prompt_length: int, stop_when: Callable[[str], bool]) -> None:
        self.lm, self.start, self.stop_when = lm, 1 if lm.is_encoder_decoder else prompt_length, stop_when

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object) -> torch.Tensor:
        texts = [_continuation(self.lm, tuple(row)) for row in input_ids[:, self.start:].tolist()]
        return torch.tensor([self.stop_when(text) for text in texts], device=input_ids.device)


@torch.inference_mode()
def generate(lm: LoadedModel, texts: Sequence[str], max_new_tokens: int, *, batch_size: int = 16,
             deactivate_masks: torch.Tensor | None = None, convert_masks: torch.Tensor | None = None,
             fix_masks: torch.Tensor | None = None, fix_values: torch.Tensor | None = None,
             threshold: float = 0.0, epsilon: float = 1e-3, positions: str = "last",
             recorder: Recorder | None = None, stop_when: Callable[[str], bool] | None = None,
             keep_prefixes: Kept | None = None, prefixes: Kept | None = None) -> tuple[list[str], list[int]]:
    """Greedy continuations (decoded text, first generated token id) per text, at most ``max_new_tokens``.

    ``stop_when(continuation)`` ends a row early once it says more tokens cannot change its answer (the rest of
    the batch goes on): a saving only, the caller must read the same answer from the shorter text.
    ``keep_prefixes`` and ``prefixes`` as in ``predict_choice``.
    """
    _check_prefixes(positions, recorder, prefixes)
    texts_out, first_ids = [""] * len(texts), [0] * len(texts)
    if not texts:
        return texts_out, first_ids
    order = longest_first(token_lengths(lm, texts))

    def step(rows: list[int]) -> None:
        inputs = encode(lm, [texts[i] for i in rows])
        inputs.pop("position_ids", None)  # generate derives them from the attention mask
        inputs.pop("decoder_input_ids", None)
        with ExitStack() as stack:
            _masked(lm, stack, rows, deactivate_masks, convert_masks, fix_masks, fix_values, threshold, epsilon,
                    positions)
            if recorder is not None:
                recorder.arm(inputs["attention_mask"], rows)
            stopping = StoppingCriteriaList([_StopWhen(lm, inputs["input_ids"].shape[1], stop_when)]
                                            if stop_when else [])
            start = None if prefixes is None else prefixes.batch(rows, inputs["input_ids"].shape[1])
            cached = {} if start is None else {cache_argument(lm): start}
            output = lm.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                       num_beams=1, pad_token_id=lm.tokenizer.pad_token_id,
                                       stopping_criteria=stopping, return_dict_in_generate=True, **cached)
            sequences = output.sequences
            if keep_prefixes is not None:
                keep_prefixes.keep(rows, returned_cache(lm, output), inputs["attention_mask"])
            if recorder is not None:
                recorder.collect(rows)
        new = sequences[:, 1:] if lm.is_encoder_decoder else sequences[:, inputs["input_ids"].shape[1]:]
        for row, tokens in zip(rows, new.cpu(), strict=True):
            first_ids[row] = int(tokens[0]) if len(tokens) else -1
            texts_out[row] = _continuation(lm, tuple(tokens.tolist()))

    for _ in run_with_backoff(step, order, batch_size):
        pass
    return texts_out, first_ids


MATCHES = {"exact match": exact_match, "prefix match": prefix_match}  # how an open answer is compared (TaskSpec)
