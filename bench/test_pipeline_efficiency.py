"""Pipeline efficiency: a whole ``measure`` run (means + capture + classification + attribution + every
intervention condition + scoring, forced choice) over the plain forward passes of the same work: one full forward of
every row for the neurons' means, one keeping its prefix, then per condition pass a plain forward of each row's last
token from that prefix (what the harness's passes compute, without hooks, masks, reducers or scoring). Target: ratio
<= 1.15. Also reported: measure over rerunning every pass in full (as before prefixes were kept), the means pass's
share of the run, and time per example vs run size."""

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

from harness.core.batching import encode, last_logits
from harness.core.models import LoadedModel
from harness.core.prefixes import Prefixes
from harness.core.scoring import verbalizer_tokens
from harness.papers.sharing_matters.measurement import (
    CONDITIONS,
    MeasureConfig,
    Measurement,
    expand_conditions,
    measure,
)
from harness.tasks import ParallelExample, task_spec

SPEC = task_spec("xnli")
CONFIG = MeasureConfig(batch_size=16, scoring="choice")
RUNS = len(expand_conditions(CONDITIONS, CONFIG.control_seeds))  # condition passes (seeded controls: per seed)
SCALE_SHAPE = {"vocab_size": 384, "hidden_size": 256, "n_layer": 4, "n_head": 4}  # cheap enough for 8 vs 32 examples


def batches(examples: Sequence[ParallelExample]) -> list[list[int]]:
    """The floor's batches: row indices (example-major, then language) ``batch_size`` at a time.

    All prompts have the same length, so these are also the batches measure's length sort forms.
    """
    n = len(rows_of(examples))
    return [list(range(start, min(start + CONFIG.batch_size, n))) for start in range(0, n, CONFIG.batch_size)]


def floor_passes(lm: LoadedModel, examples: Sequence[ParallelExample]) -> None:
    texts, kept = rows_of(examples), Prefixes(lm)
    for rows in batches(examples):  # the means
        plain_forward(lm, [texts[i] for i in rows])
    for rows in batches(examples):
        inputs = encode(lm, [texts[i] for i in rows])
        last_logits(lm, inputs, keep=lambda cache, rows=rows, mask=inputs["attention_mask"]:
                    kept.keep(rows, cache, mask))
    for _ in range(RUNS):
        for rows in batches(examples):
            inputs = encode(lm, [texts[i] for i in rows])
            last_logits(lm, inputs, start=kept.batch(rows, inputs["input_ids"].shape[1]))


def full_passes(lm: LoadedModel, examples: Sequence[ParallelExample]) -> None:
    texts = rows_of(examples)
    for _ in range(2 + RUNS):
        for rows in batches(examples):
            plain_forward(lm, [texts[i] for i in rows])


def run(lm: LoadedModel, examples: Sequence[ParallelExample]) -> Measurement:
    return measure(lm, examples, SPEC, CONFIG)


def check_baseline(lm: LoadedModel, examples: Sequence[ParallelExample], result: Measurement) -> None:
    """measure's baseline correctness equals the argmax over the verbalizers of the plain forward."""
    ids, _ = verbalizer_tokens(lm, SPEC.choices)
    texts = rows_of(examples)
    logits = torch.cat([plain_forward(lm, [texts[i] for i in rows]) for rows in batches(examples)])  # (rows, vocab)
    answers = [SPEC.choices[i] for i in logits[:, ids].argmax(-1).tolist()]
    golds = [a for ex in examples for a in ex.answers.values()]
    expected = torch.tensor([a == g for a, g in zip(answers, golds, strict=True)]).reshape(len(examples), -1)
    assert torch.equal(result.correct["baseline"], expected)
    assert len(result.correct) == 1 + RUNS


def test_pipeline_efficiency(benchmark, report_ratio, mid_lm: LoadedModel, device: str) -> None:
    examples = synthetic_examples(8, LANGS4)  # 8 examples x 4 languages = 32 rows = 2 batches of 16
    floor_passes(mid_lm, examples[:4])  # warm-up
    check_baseline(mid_lm, examples, run(mid_lm, examples))

    times: dict[str, list[float]] = {"floor": [], "measure": [], "full": []}
    timings: list[dict[str, float]] = []
    fns = {"floor": lambda: floor_passes(mid_lm, examples),
           "measure": lambda: timings.append(run(mid_lm, examples).timings),
           "full": lambda: full_passes(mid_lm, examples)}
    rounds = 5 if device.startswith("cuda") else 2
    benchmark.pedantic(interleaved_round, args=(mid_lm, fns, times), rounds=rounds, iterations=1)
    report_ratio("measure/plain passes of the same work (target <= 1.15)", {
        **ratio_report(times, "measure", "floor"), "over_full_passes": ratio_report(times, "measure", "full")["ratio"],
        "condition_passes": RUNS, "examples": len(examples), "languages": len(LANGS4),
        "per_example_measure_s": min(times["measure"]) / len(examples),
        "means_s": min(t["means"] for t in timings), "capture_s": min(t["capture"] for t in timings),
        "conditions_s": min(t["conditions"] for t in timings), "device": device})


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
