"""Shared builders and timers of the benchmarks: random BLOOMs, synthetic 64-token prompts, interleaved timing.

Imported by the benchmark modules and by the memory probe's subprocess (``python bench/test_memory.py N``).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import transformers
from transformers import ByT5Tokenizer

from harness.core.batching import encode, last_logits
from harness.core.models import LoadedModel, wrap_model
from harness.tasks import ParallelExample

# BloomConfig shapes (d_ff = 4 x hidden). Vocab 384 = ByT5Tokenizer, which needs no files.
SMALL = {"vocab_size": 384, "hidden_size": 64, "n_layer": 4, "n_head": 4}
MID = {"vocab_size": 384, "hidden_size": 1024, "n_layer": 8, "n_head": 16}
BLOOMZ_7B1 = {"vocab_size": 250880, "hidden_size": 4096, "n_layer": 30, "n_head": 32}  # GPU only, bf16

ANSWERS = ("true", "false", "inconclusive")
LANGS4 = ("en", "de", "fr", "zh")


def build_bloom(shape: dict[str, int], *, device: str = "cpu", dtype: torch.dtype = torch.float32,
                seed: int = 0, name: str = "bench-bloom") -> LoadedModel:
    """A random BLOOM of ``shape`` built directly on ``device`` in ``dtype``, with the offline ByT5 tokenizer."""
    tokenizer = ByT5Tokenizer()
    config = transformers.BloomConfig(**shape, pad_token_id=tokenizer.pad_token_id,
                                      eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    return wrap_model(model, tokenizer, name=name)


def prompt(rng: random.Random, n_tokens: int) -> str:
    """ASCII text that ByT5 encodes to exactly ``n_tokens`` ids (one byte each, plus </s>)."""
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ,.") for _ in range(n_tokens - 2)) + "?"


def synthetic_examples(n: int, languages: Sequence[str] = LANGS4, *, n_tokens: int = 64,
                       seed: int = 0) -> list[ParallelExample]:
    """``n`` parallel examples with one distinct ``n_tokens``-token prompt per language; gold answers cycle."""
    rng = random.Random(seed)
    return [ParallelExample(f"syn-{i}", {lang: prompt(rng, n_tokens) for lang in languages},
                            {lang: ANSWERS[i % 3] for lang in languages}) for i in range(n)]


def rows_of(examples: Sequence[ParallelExample]) -> list[str]:
    """Texts in measure's row order: example-major, then language."""
    return [text for ex in examples for text in ex.prompts.values()]


def plain_forward(lm: LoadedModel, texts: Sequence[str]) -> torch.Tensor:
    """The floor: tokenize (left padding) and one forward to the last position, (batch, vocab)."""
    return last_logits(lm, encode(lm, texts))


def sync(lm: LoadedModel) -> None:
    if lm.device.type == "cuda":
        torch.cuda.synchronize(lm.device)


def timed(lm: LoadedModel, fn: Callable[[], object]) -> float:
    sync(lm)
    tic = time.perf_counter()
    fn()
    sync(lm)
    return time.perf_counter() - tic


def interleaved_round(lm: LoadedModel, fns: dict[str, Callable[[], object]], times: dict[str, list[float]]) -> None:
    """Time each function once, alternating their order between rounds so drift hits both sides alike."""
    names = list(fns)
    if len(next(iter(times.values()), [])) % 2:
        names.reverse()
    for name in names:
        times[name].append(timed(lm, fns[name]))


def ratio_report(times: dict[str, list[float]], num: str, den: str) -> dict[str, float]:
    """median(num)/median(den), the median of the per-round ratios, min(num)/min(den) (least hit by other
    processes on a shared machine), and both medians (seconds)."""
    paired = [a / b for a, b in zip(times[num], times[den], strict=True)]
    return {f"median_{num}_s": statistics.median(times[num]), f"median_{den}_s": statistics.median(times[den]),
            "ratio": statistics.median(times[num]) / statistics.median(times[den]),
            "ratio_paired_median": statistics.median(paired), "ratio_min": min(times[num]) / min(times[den]),
            "rounds": len(paired)}
