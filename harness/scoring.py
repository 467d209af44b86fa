"""Scoring a batch of prompts: multiple choice by first verbalizer token, or greedy generation.

Both run inside any intervention context, take optional per-row masks, and return per-row results so that
claims can run paired tests. Verbalizer tokens: the first token of " word" (leading-space convention); when
those collide (byte-level tokenizers give " " for every word) the first token of "word". Colliding first
tokens under both conventions are an error.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack

import torch

from harness.batching import encode, last_logits, longest_first, run_with_backoff, token_lengths
from harness.capture import Recorder
from harness.interventions import convert, deactivate
from harness.models import LoadedModel


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
            conv: torch.Tensor | None, threshold: float, epsilon: float, positions: str) -> None:
    if deact is not None:
        stack.enter_context(deactivate(lm, deact[rows].to(lm.device), positions=positions))
    if conv is not None:
        stack.enter_context(convert(lm, conv[rows].to(lm.device), threshold=threshold, epsilon=epsilon,
                                    positions=positions))


@torch.inference_mode()
def predict_choice(lm: LoadedModel, texts: Sequence[str], choice_ids: Sequence[int], *, batch_size: int = 16,
                   deactivate_masks: torch.Tensor | None = None, convert_masks: torch.Tensor | None = None,
                   threshold: float = 0.0, epsilon: float = 1e-3, positions: str = "last",
                   recorder: Recorder | None = None) -> torch.Tensor:
    """Index of the highest-scoring choice per text, (len(texts),) on the CPU.

    Per-row masks are (len(texts), layers, d_ff); ``recorder``, if given, captures the same pass and its
    per-row activations are returned through ``recorder.rows`` in input order.
    """
    ids = torch.tensor(list(choice_ids), device=lm.device)
    out = torch.empty(len(texts), dtype=torch.long)
    if not texts:
        return out
    order = longest_first(token_lengths(lm, texts))

    def step(rows: list[int]) -> None:
        inputs = encode(lm, [texts[i] for i in rows])
        with ExitStack() as stack:
            _masked(lm, stack, rows, deactivate_masks, convert_masks, threshold, epsilon, positions)
            if recorder is not None:
                recorder.arm(inputs["attention_mask"])
            logits = last_logits(lm, inputs)
            if recorder is not None:
                recorder.collect(rows)
        out[rows] = logits[:, ids].argmax(-1).cpu()

    for _ in run_with_backoff(step, order, batch_size):
        pass
    return out


@torch.inference_mode()
def generate(lm: LoadedModel, texts: Sequence[str], max_new_tokens: int, *, batch_size: int = 16,
             deactivate_masks: torch.Tensor | None = None, convert_masks: torch.Tensor | None = None,
             threshold: float = 0.0, epsilon: float = 1e-3, positions: str = "last",
             recorder: Recorder | None = None) -> tuple[list[str], list[int]]:
    """Greedy continuations (decoded text, first generated token id) per text, at most ``max_new_tokens``."""
    texts_out, first_ids = [""] * len(texts), [0] * len(texts)
    if not texts:
        return texts_out, first_ids
    order = longest_first(token_lengths(lm, texts))

    def step(rows: list[int]) -> None:
        inputs = encode(lm, [texts[i] for i in rows])
        inputs.pop("position_ids", None)  # generate derives them from the attention mask
        inputs.pop("decoder_input_ids", None)
        with ExitStack() as stack:
            _masked(lm, stack, rows, deactivate_masks, convert_masks, threshold, epsilon, positions)
            if recorder is not None:
                recorder.arm(inputs["attention_mask"])
            sequences = lm.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                          num_beams=1, pad_token_id=lm.tokenizer.pad_token_id)
            if recorder is not None:
                recorder.collect(rows)
        new = sequences[:, 1:] if lm.is_encoder_decoder else sequences[:, inputs["input_ids"].shape[1]:]
        for row, tokens in zip(rows, new.cpu(), strict=True):
            first_ids[row] = int(tokens[0]) if len(tokens) else -1
            texts_out[row] = lm.tokenizer.decode(tokens, skip_special_tokens=True)

    for _ in run_with_backoff(step, order, batch_size):
        pass
    return texts_out, first_ids
