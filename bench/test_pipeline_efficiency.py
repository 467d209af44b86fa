"""Pipeline efficiency (SPEC §7): a whole ``measure`` run (capture + classification + attribution + the five
intervention conditions + scoring) over the plain forward passes it needs: 1 capture + 5 conditions = 6 plain
forwards of the same rows in the same batches. Target: ratio <= 1.15. Also: time per example vs run size."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from common import (
    LANGS4,
    build_bloom,
    interleaved_round,
    plain_forward,
    ratio_report,
    rows_of,
    synthetic_examples,
)

from harness.measure import CONDITIONS, MeasureConfig, Measurement, measure
from harness.models import LoadedModel
from harness.scoring import verbalizer_tokens
from harness.tasks import ParallelExample, task_spec

SPEC = task_spec("xnli")
CONFIG = MeasureConfig(batch_size=16)
PASSES = len(CONDITIONS)  # baseline (with capture) + 5 conditions
SCALE_SHAPE = {"vocab_size": 384, "hidden_size": 256, "n_layer": 4, "n_head": 4}  # cheap enough for 8 vs 32 examples


def batches(examples: Sequence[ParallelExample]) -> list[list[str]]:
    """The floor's batches: the rows (example-major, then language) ``batch_size`` at a time.

    All prompts have the same length, so these are also the batches measure's length sort forms.
    """
    rows = rows_of(examples)
    return [rows[start:start + CONFIG.batch_size] for start in range(0, len(rows), CONFIG.batch_size)]


def plain_passes(lm: LoadedModel, examples: Sequence[ParallelExample]) -> None:
    for texts in batches(examples):
        for _ in range(PASSES):
            plain_forward(lm, texts)


def run(lm: LoadedModel, examples: Sequence[ParallelExample]) -> Measurement:
    return measure(lm, examples, SPEC, CONFIG)


def check_baseline(lm: LoadedModel, examples: Sequence[ParallelExample], result: Measurement) -> None:
    """measure's baseline correctness equals the argmax over the verbalizers of the plain forward."""
    ids, _ = verbalizer_tokens(lm, SPEC.choices)
    logits = torch.cat([plain_forward(lm, texts) for texts in batches(examples)])  # (rows, vocab)
    answers = [SPEC.choices[i] for i in logits[:, ids].argmax(-1).tolist()]
    golds = [a for ex in examples for a in ex.answers.values()]
    expected = torch.tensor([a == g for a, g in zip(answers, golds, strict=True)]).reshape(len(examples), -1)
    assert torch.equal(result.correct["baseline"], expected)
    assert set(result.correct) == set(CONDITIONS)


def test_pipeline_efficiency(benchmark, report_ratio, mid_lm: LoadedModel, device: str) -> None:
    examples = synthetic_examples(8, LANGS4)  # 8 examples x 4 languages = 32 rows = 2 batches of 16
    plain_passes(mid_lm, examples[:4])  # warm-up
    check_baseline(mid_lm, examples, run(mid_lm, examples))

    times: dict[str, list[float]] = {"plain": [], "measure": []}
    timings: list[dict[str, float]] = []
    fns = {"plain": lambda: plain_passes(mid_lm, examples),
           "measure": lambda: timings.append(run(mid_lm, examples).timings)}
    rounds = 5 if device.startswith("cuda") else 2
    benchmark.pedantic(interleaved_round, args=(mid_lm, fns, times), rounds=rounds, iterations=1)
    plain_pass = min(times["plain"]) / PASSES  # one plain pass over all rows
    report_ratio("measure/6 plain passes (target <= 1.15)", {
        **ratio_report(times, "measure", "plain"), "examples": len(examples), "languages": len(LANGS4),
        "per_example_measure_s": min(times["measure"]) / len(examples),
        "capture_pass_over_plain_pass": min(t["capture"] for t in timings) / plain_pass,
        "condition_passes_over_plain_passes": min(t["conditions"] for t in timings) / (plain_pass * (PASSES - 1)),
        "device": device})


def test_pipeline_scaling(benchmark, report_ratio, device: str) -> None:
    """Time per example of measure on 8 vs 32 examples (flat means nothing grows with the run)."""
    lm = build_bloom(SCALE_SHAPE, device=device, name="random-bloom-256")
    sizes = {"n8": synthetic_examples(8, LANGS4, seed=2), "n32": synthetic_examples(32, LANGS4, seed=3)}
    run(lm, sizes["n8"])  # warm-up
    times: dict[str, list[float]] = {"n8": [], "n32": []}
    fns = {name: (lambda ex=ex: run(lm, ex)) for name, ex in sizes.items()}
    benchmark.pedantic(interleaved_round, args=(lm, fns, times), rounds=2, iterations=1)
    per_example = {name: [t / len(sizes[name]) for t in ts] for name, ts in times.items()}
    report_ratio("per-example time, 32 vs 8 examples (flat = 1.0)", {
        **ratio_report(per_example, "n32", "n8"), "hidden": SCALE_SHAPE["hidden_size"], "device": device})
