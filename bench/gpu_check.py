"""One prepared check of what users feel, for a GPU box (``bench/gpu-check``; see bench/README.md).

Builds random bf16 weights in bloomz-7b1's exact shape on the device (nothing is downloaded), then, in order:
1. capture overhead: a batch with the recorder's hooks over the same plain forward (target <= 1.05);
2. pipeline: a whole ``measure`` (forced-choice scoring, every condition) over the plain passes of the same work:
   one full forward of every row plus, per condition pass, a plain forward of the last token from the same kept
   prefixes (target <= 1.15); also over rerunning every pass in full, as without kept prefixes;
3. the reference approach (one sentence at a time, fp32, whole-sequence host copies) over the harness, per
   example (target >= 20x);
4. an end-to-end full-tier run of every XNLI claim (pytest, ``-m full``, in a subprocess) on synthetic parallel
   data shaped like XNLI (9 languages, bloomz-7b1's prompt lengths: bench/xnli_shaped.py) at ``--limit``, with a
   random base model of the same shape for the instruction-tuning claim, and the time of each part;
5. the projected full XNLI audit (1000 items x 9 languages) from those parts;
6. peak device memory (``torch.cuda.max_memory_allocated``; on the CPU the process's peak RSS).

Each step runs only when the time left allows it; the end-to-end run is a subprocess killed at the deadline (its
records so far are kept). One table is printed and the JSON is rewritten after every step, so whatever was
measured is kept. Ratios are interleaved (A B, B A, ...) within one run. ``--device cpu --shape small`` runs the
same steps at a small shape on the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import torch
import transformers

SHAPES = {  # BloomConfig; d_ff = 4 x hidden
    "bloomz-7b1": {"hidden_size": 4096, "n_layer": 30, "n_head": 32, "vocab_size": 250880},
    "mid": {"hidden_size": 1024, "n_layer": 8, "n_head": 16, "vocab_size": 8192},
    "small": {"hidden_size": 128, "n_layer": 4, "n_head": 4, "vocab_size": 4096},
}
TARGETS = {"capture": 1.05, "pipeline": 1.15, "reference": 20.0, "audit_minutes": 15.0}
FULL_ITEMS = 1000  # the projection: XNLI at --limit 1000, 9 languages


# -- building ---------------------------------------------------------------------------------------------------

def build(shape: str, device: str, seed: int = 0, name: str = "random-bloomz-7b1-shape"):
    """A random BLOOM of ``shape`` built directly on ``device`` (bf16 on CUDA, fp32 on the CPU) with the
    XNLI-shaped word tokenizer; returns a LoadedModel."""
    from xnli_shaped import word_tokenizer

    from harness.core.models import wrap_model

    tokenizer = word_tokenizer(SHAPES[shape]["vocab_size"])
    config = transformers.BloomConfig(**SHAPES[shape], pad_token_id=tokenizer.pad_token_id,
                                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(seed)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    return wrap_model(model, tokenizer, name=name)


def prompts(lm, n: int, length: int, seed: int = 0) -> list[str]:
    """``n`` texts of exactly ``length`` tokens of the word tokenizer."""
    rng = random.Random(seed)
    return [" ".join(f"w{rng.randrange(len(lm.tokenizer) - 64)}" for _ in range(length)) for _ in range(n)]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, device: str) -> dict[str, list[float]]:
    """Time each function once per round, alternating their order between rounds."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        for name in (list(fns) if r % 2 == 0 else list(reversed(fns))):
            sync(device)
            tic = time.perf_counter()
            fns[name]()
            sync(device)
            times[name].append(time.perf_counter() - tic)
    return times


def ratio(times: dict[str, list[float]], num: str, den: str) -> dict[str, float]:
    paired = [a / b for a, b in zip(times[num], times[den], strict=True)]
    return {"ratio": statistics.median(times[num]) / statistics.median(times[den]),
            "ratio_paired_median": statistics.median(paired), "ratio_min": min(times[num]) / min(times[den]),
            f"median_{num}_s": statistics.median(times[num]), f"median_{den}_s": statistics.median(times[den]),
            "rounds": len(paired)}


# -- steps ------------------------------------------------------------------------------------------------------

def capture_step(lm, device: str, quick: bool) -> dict[str, Any]:
    from harness.core.batching import encode, last_logits
    from harness.core.capture import stream_last_token

    texts = prompts(lm, 16, 64, seed=1)

    def plain():
        return last_logits(lm, encode(lm, texts))

    def capture():
        return next(iter(stream_last_token(lm, texts, batch_size=16)))[2]

    for _ in range(2):
        assert torch.equal(plain(), capture()), "capture hooks must not change the forward pass"
    times = interleaved({"plain": plain, "capture": capture}, 6 if quick else 20, device)
    return {**ratio(times, "capture", "plain"), "batch": 16, "tokens": 64, "target": TARGETS["capture"]}


def pipeline_step(lm, device: str, quick: bool) -> dict[str, Any]:
    """measure (choice scoring, all conditions) against the plain passes of the same work, interleaved."""
    from xnli_shaped import PROMPT_TOKENS, TEMPLATE, template_tokens

    from harness.core.batching import encode, last_logits, length_sorted_batches, token_lengths
    from harness.core.prefixes import Prefixes
    from harness.papers.sharing_matters.measurement import CONDITIONS, MeasureConfig, expand_conditions, measure
    from harness.tasks import ParallelExample, task_spec

    languages = list(PROMPT_TOKENS)[:4]
    n_examples = 4 if quick else 8

    def xnli_prompt(tokens: int, seed: int) -> str:
        """The template filled with random words, ``tokens`` long (the measurement reads its content end)."""
        words = prompts(lm, 1, max(2, tokens - template_tokens(lm.tokenizer)), seed=seed)[0].split()
        cut = 2 * len(words) // 3
        return TEMPLATE.format(premise=" ".join(words[:cut]), hypothesis=" ".join(words[cut:]))

    examples = [ParallelExample(f"syn-{i}", {lang: xnli_prompt(PROMPT_TOKENS[lang], seed=100 * i + j)
                                             for j, lang in enumerate(languages)},
                                {lang: ("true", "false", "inconclusive")[i % 3] for lang in languages})
                for i in range(n_examples)]
    config = MeasureConfig(batch_size=16, scoring="choice")
    texts = [ex.prompts[lang] for ex in examples for lang in languages]
    batches = list(length_sorted_batches(token_lengths(lm, texts), config.batch_size))
    runs = len(expand_conditions(CONDITIONS, config.control_seeds))  # measure runs every condition

    def floor():
        """One full forward per row for the means, one keeping its prefix, then per condition pass one plain
        last-token forward."""
        kept = Prefixes(lm)
        for rows in batches:
            last_logits(lm, encode(lm, [texts[i] for i in rows]))
        for rows in batches:
            inputs = encode(lm, [texts[i] for i in rows])
            last_logits(lm, inputs, keep=lambda cache, rows=rows, mask=inputs["attention_mask"]:
                        kept.keep(rows, cache, mask))
        for _ in range(runs):
            for rows in batches:
                inputs = encode(lm, [texts[i] for i in rows])
                last_logits(lm, inputs, start=kept.batch(rows, inputs["input_ids"].shape[1]))

    def full_passes():
        for _ in range(2 + runs):
            for rows in batches:
                last_logits(lm, encode(lm, [texts[i] for i in rows]))

    timings: list[dict[str, float]] = []
    spec = task_spec("xnli")
    measure(lm, examples[:2], spec, config)  # warm-up
    times = interleaved({"floor": floor, "measure": lambda: timings.append(measure(lm, examples, spec,
                                                                                   config).timings),
                         "full_passes": full_passes}, 2 if quick else 4, device)
    return {**ratio(times, "measure", "floor"), "over_full_passes": ratio(times, "measure", "full_passes")["ratio"],
            "condition_passes": runs, "rows": len(texts), "target": TARGETS["pipeline"],
            "means_s": min(t["means"] for t in timings), "capture_s": min(t["capture"] for t in timings),
            "conditions_s": min(t["conditions"] for t in timings)}


def reference_step(lm, device: str, quick: bool) -> dict[str, Any]:
    import copy

    import numpy as np
    from reference import run_reference, type_codes

    from harness.core.attribution import contribution_scores
    from harness.core.capture import last_token_activations
    from harness.core.models import wrap_model
    from harness.papers.sharing_matters.neurons import type_codes as harness_type_codes

    n_examples, languages = 4, 4
    texts = prompts(lm, n_examples * languages, 64, seed=5)
    groups = [{str(j): texts[i * languages + j] for j in range(languages)} for i in range(n_examples)]
    fp32 = lm if lm.dtype == torch.float32 else wrap_model(copy.deepcopy(lm.model).float(), lm.tokenizer,
                                                           name=f"{lm.name}-fp32")

    def harness_run(model):
        acts = last_token_activations(model, texts, batch_size=16).reshape(n_examples, languages, model.n_layers,
                                                                            model.d_ff)
        return harness_type_codes(acts), contribution_scores(model, acts.to(model.device))

    ref_types, ref_scores = run_reference(fp32.model, fp32.tokenizer, groups)
    codes, scores = harness_run(fp32)
    for e, types in enumerate(ref_types):
        np.testing.assert_array_equal(type_codes(types, fp32.d_ff), codes[e].numpy())
    np.testing.assert_allclose(ref_scores, scores.cpu().numpy(), rtol=1e-4, atol=1e-9)
    times = interleaved({"reference": lambda: run_reference(fp32.model, fp32.tokenizer, groups),
                         "harness": lambda: harness_run(lm)}, 2 if quick else 4, device)
    out = ratio(times, "reference", "harness")
    return {**out, "reference_per_example_s": out["median_reference_s"] / n_examples,
            "harness_per_example_s": out["median_harness_s"] / n_examples, "target": TARGETS["reference"],
            "harness_dtype": str(lm.dtype).removeprefix("torch.")}


def _phases(run_dir: Path) -> dict[str, float]:
    """Seconds of each measured part, from the run's records (one measurement's timings appear on every record
    that read it: counted once per model and kind)."""
    seen: dict[tuple, dict[str, float]] = {}
    for line in (run_dir / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        timings = {k: v for k, v in record.get("timings", {}).items() if k != "seconds"}
        kind = "language" if "tampering" in timings or "bootstrap" in timings else "types"
        if timings:
            seen.setdefault((record["provenance"].get("model"), record["model"], kind, tuple(sorted(timings))),
                            timings)
    phases: dict[str, float] = {}
    for (_, model, kind, _), timings in seen.items():
        for name, seconds in timings.items():
            label = f"{kind}: {name}" + (" (base model)" if kind == "types" and "base" in model else "")
            phases[label] = phases.get(label, 0.0) + seconds
    return phases


def e2e_child(args: argparse.Namespace) -> None:
    """The end-to-end run (in its own process): every XNLI claim through pytest on the synthetic data."""
    import pytest
    from xnli_shaped import write_xnli

    import harness.plugin.session

    workdir = Path(args.workdir)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    tic = time.perf_counter()
    models = {name: build(args.shape, args.device, seed=seed, name=name)
              for seed, name in enumerate(("random-ift", "random-base"))}
    build_s = time.perf_counter() - tic
    dirs = {}
    for name, lm in models.items():
        dirs[name] = workdir / name
        lm.model.config.save_pretrained(dirs[name])  # the option check reads the configuration; weights stay here
    write_xnli(workdir / "data", args.limit, models["random-ift"].tokenizer)
    by_path = {str(path): models[name] for name, path in dirs.items()}
    real_load = harness.plugin.session.load_model
    harness.plugin.session.load_model = lambda name, **kw: by_path.get(name) or real_load(name, **kw)
    argv = ["claims", "-m", "full", "--model", str(dirs["random-ift"]), "--base-model", str(dirs["random-base"]),
            "--data-dir", str(workdir / "data"), "--tasks", "xnli", "--limit", str(args.limit), "--device",
            args.device, "--batch-size", str(args.batch_size), "--report", str(workdir / "reports"), "--no-cache",
            "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--rootdir", str(ROOT), "-o", "addopts="]
    tic = time.perf_counter()
    code = pytest.main(argv)
    pytest_s = time.perf_counter() - tic
    (run_dir,) = [p for p in (workdir / "reports").iterdir() if p.is_dir()]
    from harness.report import render_report

    tic = time.perf_counter()
    render_report(run_dir)
    report_s = time.perf_counter() - tic
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    counts: dict[str, int] = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    peak = torch.cuda.max_memory_allocated() if args.device.startswith("cuda") else None
    print("E2E " + json.dumps({
        "exit_code": int(code), "build_models_s": build_s, "pytest_s": pytest_s, "report_s": report_s,
        "phases": _phases(run_dir), "instances": len(records), "verdicts": counts,
        "peak_device_bytes": peak, "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def e2e_step(args: argparse.Namespace, seconds_left: float) -> dict[str, Any]:
    from xnli_shaped import PROMPT_TOKENS

    with tempfile.TemporaryDirectory(prefix="gpu-check-e2e-") as workdir:
        cmd = [sys.executable, str(Path(__file__)), "--e2e-child", "--workdir", workdir, "--shape", args.shape,
               "--device", args.device, "--limit", str(args.limit), "--batch-size", str(args.batch_size)]
        tic = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds_left, cwd=ROOT, check=False)
        except subprocess.TimeoutExpired as expired:
            out = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
            partial = list((Path(workdir) / "reports").glob("*/results.jsonl"))
            records = len(partial[0].read_text().splitlines()) if partial else 0
            return {"stopped": f"out of time after {time.perf_counter() - tic:.0f} s", "records_so_far": records,
                    "output_tail": out[-2000:]}
        wall = time.perf_counter() - tic
        lines = [line for line in done.stdout.splitlines() if line.startswith("E2E ")]
        if not lines:
            return {"error": f"exit {done.returncode}", "output_tail": (done.stdout + done.stderr)[-3000:]}
        result = json.loads(lines[-1][4:])
    phases = result["phases"]
    measured = sum(phases.values())
    rest = result["pytest_s"] - measured - result["report_s"]  # rules, loading, pytest, the run's own report
    constant = {k: v for k, v in phases.items() if k.endswith("tampering")}  # 100 samples whatever the limit
    scale = FULL_ITEMS / args.limit
    projected = (sum(constant.values()) + (measured - sum(constant.values())) * scale + result["report_s"]
                 + max(rest, 0.0) * scale + result["build_models_s"] / 2)  # one model to load, not two to build
    mean_tokens = statistics.mean(PROMPT_TOKENS.values())
    return {**result, "limit": args.limit, "languages": 9, "wall_s": wall, "rules_and_overhead_s": rest,
            "mean_prompt_tokens": mean_tokens, "projected_full_xnli_s": projected,
            "projection": f"parts linear in the items x {scale:g}, tampering constant, one model load",
            "target_minutes": TARGETS["audit_minutes"]}


# -- the run ------------------------------------------------------------------------------------------------------

def peak_memory(device: str) -> dict[str, float]:
    out = {"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}
    if device.startswith("cuda"):
        out["peak_device_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    return out


def table(results: dict[str, Any]) -> str:
    rows = [("step", "result", "target", "seconds")]
    for name, r in results["steps"].items():
        if not isinstance(r, dict):
            continue
        seconds = f"{r.get('step_s', 0):.0f}"
        if "skipped" in r or "error" in r or "stopped" in r:
            rows.append((name, r.get("skipped") or r.get("stopped") or r.get("error"), "", seconds))
        elif name == "e2e":
            run = f"{r['instances']} claim instances at --limit {r['limit']} x 9 languages: {r['pytest_s']:.0f} s"
            rows.append((name, run, "", seconds))
            for phase, s in sorted(r["phases"].items()):
                rows.append(("", f"  {phase}: {s:.1f} s", "", ""))
            rest = f"  rules, loading, pytest: {r['rules_and_overhead_s']:.1f} s; report {r['report_s']:.1f} s"
            rows.append(("", rest, "", ""))
            audit = (f"{r['projected_full_xnli_s'] / 60:.1f} min for {FULL_ITEMS} items x 9 languages "
                     f"({r['mean_prompt_tokens']:.0f} tokens a prompt)")
            rows.append(("projected audit", audit, f"<= {r['target_minutes']:.0f} min", ""))
        elif "ratio" in r:
            extra = f" (over full passes {r['over_full_passes']:.3f})" if "over_full_passes" in r else ""
            bound = "<=" if name != "reference" else ">="
            shown = f"{r['ratio']:.3f} (paired {r['ratio_paired_median']:.3f}, min {r['ratio_min']:.3f}){extra}"
            rows.append((name, shown, f"{bound} {r['target']}", seconds))
        else:
            rows.append((name, ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in r.items() if k != "step_s"), "", seconds))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None,
                        help="default: bloomz-7b1 on CUDA, small on the CPU")
    parser.add_argument("--limit", type=int, default=None, help="items of the end-to-end run (default: 50 on "
                        "CUDA, 6 on the CPU)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting steps after this (8 min "
                        "wall in all: keep 30 s for the table)")
    parser.add_argument("--out", default=str(HERE / "results" / "gpu-check.json"))
    parser.add_argument("--skip", default="", help="comma-separated steps to skip: capture,pipeline,reference,e2e")
    parser.add_argument("--e2e-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    args.shape = args.shape or ("bloomz-7b1" if cuda else "small")
    args.limit = args.limit or (50 if cuda else 6)
    if args.e2e_child:
        e2e_child(args)
        return
    deadline = time.monotonic() + args.budget_s
    if not cuda:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(args.device) if cuda else f"cpu ({platform.processor() or 'cpu'}, "
                  f"{torch.get_num_threads()} torch threads)", "shape": {args.shape: SHAPES[args.shape]},
        "torch": torch.__version__, "transformers": transformers.__version__, "budget_s": args.budget_s,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"), "steps": {}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        results["memory"] = peak_memory(args.device)
        out.write_text(json.dumps(results, indent=2, default=str))

    quick = not cuda
    skip = set(filter(None, args.skip.split(",")))
    tic = time.perf_counter()
    lm = build(args.shape, args.device)
    sync(args.device)
    results["steps"]["build"] = {"seconds": time.perf_counter() - tic, "parameters": sum(
        p.numel() for p in lm.model.parameters()), "dtype": str(lm.dtype).removeprefix("torch.")}
    save()
    # (step, the least time it needs, function of the model, the device and whether to run fewer rounds)
    steps: list[tuple[str, float, Callable[..., dict[str, Any]]]] = [
        ("capture", 20.0, capture_step), ("pipeline", 40.0, pipeline_step), ("reference", 40.0, reference_step)]
    for name, least, run in steps:
        left = deadline - time.monotonic()
        if name in skip or left < least:
            results["steps"][name] = {"skipped": "asked" if name in skip else f"out of time ({left:.0f} s left)"}
        else:
            tic = time.perf_counter()
            try:
                results["steps"][name] = run(lm, args.device, quick)
            except Exception as error:  # noqa: BLE001 - one failed step must not lose the others' numbers
                results["steps"][name] = {"error": f"{type(error).__name__}: {error}"}
            results["steps"][name]["step_s"] = time.perf_counter() - tic
        save()
    del lm  # the end-to-end run builds its own two models
    gc.collect()
    with contextlib.suppress(Exception):
        torch.cuda.empty_cache()
    left = deadline - time.monotonic()
    if "e2e" in skip or left < 30:
        results["steps"]["e2e"] = {"skipped": "asked" if "e2e" in skip else f"out of time ({left:.0f} s left)"}
    else:
        tic = time.perf_counter()
        results["steps"]["e2e"] = e2e_step(args, left)
        results["steps"]["e2e"]["step_s"] = time.perf_counter() - tic
    results["total_s"] = args.budget_s - (deadline - time.monotonic())
    save()
    print(table(results))
    print(f"peak memory: {results['memory']}; wrote {out}")


if __name__ == "__main__":
    main()
