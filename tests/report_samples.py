"""A realistic sample run directory (run.json + results.jsonl) for the report tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVIL = """<script>alert(1)</script> & "quoted" $x <img src=x onerror="console.error('xss')">"""
LAYERS = list(range(8))
SHARE_TYPES = ("all-shared", "partial-shared", "specific", "non-activated")
PAPER_TABLE2 = {"en": (53.8, 16.7), "de": (41.8, 3.5), "fr": (47.0, 6.1)}


def write_sample_run(run_dir: Path, *, interrupted: bool = False, evil: bool = False) -> None:
    """Write a run of four claims on two tiny models with every verdict kind, lines and bars plots and tables.

    ``interrupted`` leaves ``finished`` null and truncates the last results line, as a killed run would;
    ``evil`` puts markup, quotes and ``&`` into titles, reasons, series names, table columns and the command line.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    tag = f" {EVIL}" if evil else ""
    run = {
        "run_id": "20261122-041500-ab12", "started": "2026-11-22T04:15:00Z",
        "finished": None if interrupted else "2026-11-22T04:16:02Z",
        "command": f"pytest claims -m tiny{tag}", "tier": "tiny",
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": True},
        "packages": {"torch": "2.13.0", "transformers": "5.23.0", "jinja2": "3.1.6", "matplotlib": "3.11.2"},
        "seeds": {"bootstrap": 0, "controls": 0},
        "options": {"model": "tiny-paper", "base_model": None, "dtype": "float32", "device": "cpu", "threshold": 0.0,
                    "site": "down_proj_input", "positions": "last", "epsilon": 0.001, "limit": None,
                    "tasks": ["xnli", "facts"], "languages": None},
    }
    (run_dir / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    lines = [json.dumps(record) for record in _records(tag)]
    if interrupted:
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    (run_dir / "results.jsonl").write_text("\n".join(lines) + ("" if interrupted else "\n"), encoding="utf-8")


def _records(tag: str) -> list[dict[str, Any]]:
    verdicts = {("tiny-paper", "en"): "supported", ("tiny-paper", "de"): "supported",
                ("tiny-paper", "fr"): "inconclusive", ("tiny-gated", "en"): "supported",
                ("tiny-gated", "de"): "refuted", ("tiny-gated", "fr"): "error"}
    records = [_ablation(model, lang, verdict, tag) for (model, lang), verdict in verdicts.items()]
    records += [_ift("tiny-paper", "supported", tag), _ift("tiny-gated", "inconclusive", tag)]
    records += [_peak("xnli", "supported", tag), _peak("facts", "refuted", tag)]
    records += [_convert(lang, up, tag) for lang, up in (("en", False), ("de", True), ("fr", True))]
    return records


def _record(claim: str, title: str, model: str, task: str, language: str | None, verdict: str,
            **fields: Any) -> dict[str, Any]:
    instance = "-".join(part for part in (model, task, language) if part)
    base = {
        "claim": claim, "title": title, "instance": instance, "model": model, "base_model": None, "task": task,
        "language": language, "verdict": verdict, "expected": "supported", "reason": "", "effect": None,
        "paper": None, "measured": {}, "params": {"site": "down_proj_input", "threshold": 0.0, "positions": "last"},
        "provenance": {"model_id": f"fixtures/{model}", "revision": "planted-v1", "dtype": "float32", "device": "cpu",
                       "site": "down_proj_input", "threshold": 0.0, "data_hash": f"sha256:{task}-0f3a9c"},
        "plots": [], "tables": [], "timings": {"seconds": 0.42}, "error": None,
    }
    base.update(fields)
    return base


def _ablation(model: str, lang: str, verdict: str, tag: str) -> dict[str, Any]:
    paper_base, paper_ablated = PAPER_TABLE2[lang]
    measured = {"baseline": 62.5, "w/o all-shared": 8.3 if verdict == "supported" else 55.0,
                "w/o specific": 60.0, "w/o partial-shared": 58.3, f"w/o random{tag}": 61.0}
    conditions = list(measured)
    rows = [{"label": label, "source": "ours", "values": [value]} for label, value in measured.items()]
    rows += [{"label": "baseline", "source": "paper", "values": [paper_base]},
             {"label": "w/o all-shared", "source": "paper", "values": [paper_ablated]}]
    error = None
    if verdict == "error":
        error = f"RuntimeError: verbalizer tokens collide for fr{tag}"
        measured = {}
    return _record(
        "ablate-all-shared", f"Deactivating all-shared neurons collapses accuracy{tag}", model, "xnli", lang, verdict,
        reason=f"relative drop 0.87 [0.71, 0.95] >= 0.5; all-shared drop > specific, partial, random{tag}",
        effect={"name": "relative accuracy drop", "value": 0.867, "ci": [0.71, 0.95]},
        paper={"ref": "Table 2", "text": f"BLOOMZ XNLI {lang} {paper_base} -> {paper_ablated}",
               "numbers": {"baseline": paper_base, "w/o all-shared": paper_ablated}},
        measured=measured, error=error,
        params={"min_relative_drop": 0.5, "alpha": 0.05, "site": "down_proj_input", "threshold": 0.0},
        plots=[{"id": f"ablation-{lang}", "title": f"Accuracy under deactivation ({lang})", "kind": "bars",
                "x_label": "condition", "y_label": "accuracy (%)", "x": conditions,
                "series": {"ours": list(measured.values()) or [None] * len(conditions),
                           f"paper{tag}": [paper_base, paper_ablated, None, None, None]}}],
        tables=[{"id": "table2", "title": "Accuracy under deactivation (Table 2 layout)", "columns": [lang],
                 "rows": rows}],
        expected="supported",
    )


def _shares(peak: int, scale: float = 1.0) -> dict[str, list[float | None]]:
    all_shared = [round(scale * 0.3 / (1 + abs(layer - peak)), 3) for layer in LAYERS]
    partial = [round(scale * (0.2 + 0.02 * layer), 3) for layer in LAYERS]
    specific = [0.05] * len(LAYERS)
    rest = [round(1 - a - p - s, 3) for a, p, s in zip(all_shared, partial, specific, strict=True)]
    return dict(zip(SHARE_TYPES, (all_shared, partial, specific, rest), strict=True))


def _ift(model: str, verdict: str, tag: str) -> dict[str, Any]:
    ours, base = _shares(3), _shares(3, scale=0.6)
    series = {f"{name}{tag}": ours[name] for name in ("all-shared", "partial-shared")}
    series |= {f"{name} (base)": base[name] for name in ("all-shared", "partial-shared")}
    series["partial-shared (base)"][0] = None
    return _record(
        "ift-raises-all-shared", "Instruction tuning raises the all-shared share", model, "xnli", None, verdict,
        base_model=f"{model}-base",
        reason=f"mean share difference 0.041 [0.012, 0.070] > 0{tag}" if verdict == "supported"
        else "mean share difference 0.010 [-0.020, 0.041]: CI includes 0",
        effect={"name": "all-shared share difference", "value": 0.041, "ci": [0.012, 0.070]},
        paper={"ref": "§5.2, Fig. 7", "text": "BLOOMZ ~30% vs BLOOM ~20% all-shared (XNLI)",
               "numbers": {"share IFT": 0.30, "share base": 0.20}},
        measured={"share IFT": 0.142, "share base": 0.101},
        plots=[{"id": "ift-overlay", "title": "All-shared share per layer, IFT vs base (Fig. 7)", "kind": "lines",
                "x_label": "layer", "y_label": "share", "x": LAYERS, "series": series,
                "paper_note": "Fig. 7: the IFT curve lies above the base curve in most layers"}],
        expected="supported",
    )


def _peak(task: str, verdict: str, tag: str) -> dict[str, Any]:
    counts = {lang: [40 + 10 * (3 - abs(layer - 3)) + offset for layer in LAYERS]
              for lang, offset in (("en", 0), ("de", 4), ("fr", 2))}
    return _record(
        "mid-layer-peak", "Shares peak in the middle layers", "tiny-paper", task, None, verdict,
        expected="refuted" if task == "facts" else "supported",
        reason=f"argmax layer 3 of 8 is interior; falls by 0.15 after it{tag}" if verdict == "supported"
        else "argmax layer 7 of 8 is in the last 20% of layers",
        effect={"name": "peak layer (fraction of depth)", "value": 0.375, "ci": None},
        paper={"ref": "§5.1.1, Figs. 2-4", "text": "all-shared peaks in layers 5-10 of 30",
               "numbers": {"peak layer": 6}},
        measured={"peak layer": 3 if verdict == "supported" else 7},
        plots=[{"id": f"shares-{task}", "title": f"Share of neuron types per layer ({task})", "kind": "lines",
                "x_label": "layer", "y_label": "share", "x": LAYERS, "series": _shares(3),
                "paper_note": "Fig. 2 left: all-shared peaks mid-layers"},
               {"id": f"counts-{task}", "title": f"Activated neurons per language ({task})", "kind": "lines",
                "x_label": "layer", "y_label": "activated neurons", "x": LAYERS, "series": counts}],
    )


def _convert(lang: str, up: bool, tag: str) -> dict[str, Any]:
    baseline, converted = 60.0, (63.3 if up else 58.3)
    paper = {"en": (53.8, 52.6), "de": (41.8, 44.0), "fr": (47.0, 49.2)}[lang]
    return _record(
        "convert-improves", "Converting to all-shared improves accuracy", "tiny-paper", "xnli", lang,
        "supported", expected="supported",
        reason=f"accuracy up in 2/3 languages, mean change +1.2{tag}",
        effect={"name": "accuracy change", "value": round(converted - baseline, 2), "ci": [-1.0, 3.4]},
        paper={"ref": "Table 3", "text": f"BLOOMZ XNLI {lang} {paper[0]} -> {paper[1]}",
               "numbers": {"baseline": paper[0], "converted": paper[1]}},
        measured={"baseline": baseline, "converted": converted},
        plots=[{"id": "convert-bars", "title": "Accuracy before and after conversion", "kind": "bars",
                "x_label": "language", "y_label": "accuracy (%)", "x": ["en", "de", "fr"],
                "series": {"baseline": [60.0, 60.0, 60.0], "converted": [58.3, 63.3, 63.3],
                           "converted (base)": [None, 55.0, 54.1]}}],
        tables=[{"id": "table3", "title": "Conversion to all-shared (Table 3 layout)", "columns": [lang],
                 "rows": [{"label": "baseline", "source": "ours", "values": [baseline]},
                          {"label": "converted", "source": "ours", "values": [converted]},
                          {"label": "baseline", "source": "paper", "values": [paper[0]]},
                          {"label": "converted", "source": "paper", "values": [paper[1]]}]}],
    )


def write_model_run(run_dir: Path, model: str, run_id: str, *, base_model: str | None = None,
                    dtype: str = "float32", tier: str = "full") -> list[dict[str, Any]]:
    """A run of one model: the sample's tiny-paper records renamed (pair claims against ``base_model``, dropped when
    None), with its own run id and dtype. Returns the records."""
    write_sample_run(run_dir)
    records = []
    for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["model"] != "tiny-paper" or (record["base_model"] and base_model is None):
            continue
        record |= {"model": model, "instance": record["instance"].replace("tiny-paper", model), "tier": tier,
                   "base_model": base_model if record["base_model"] else None}
        record["provenance"] |= {"model_id": f"org/{model}", "dtype": dtype}
        records.append(record)
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    info |= {"run_id": run_id, "tier": tier}
    info["options"] |= {"model": model, "dtype": dtype}
    (run_dir / "run.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def write_planted_run(run_dir: Path, n_models: int = 20) -> None:
    """A tiny-tier run on many planted models (two per claim, of two families), as `pytest claims` writes it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    run = {"run_id": "20261122-050000-ef56", "started": "2026-11-22T05:00:00Z", "finished": "2026-11-22T05:02:00Z",
           "command": "pytest claims", "tier": "tiny", "git": {"commit": "0" * 40, "dirty": False},
           "packages": {"torch": "2.13.0"}, "seeds": {"bootstrap": 0}, "options": {"model": None}}
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    records = []
    for number in range(n_models):
        model, claim = f"planted-model-{number:02d}", f"claim-{number // 2:02d}"
        verdict = "supported" if number % 2 == 0 else "refuted"
        for language in ("en", "de", "zh") if number < 4 else (None,):
            records.append(_record(
                claim, f"Planted claim {number // 2}", model, "xnli", language, verdict, tier="tiny",
                expected=verdict, effect={"name": "effect", "value": 0.5, "ci": [0.4, 0.6]},
                provenance={"model_id": f"planted:{model}", "revision": "",
                            "model_type": ("bloom", "llama")[number % 2],
                            "dtype": "float32", "device": "cpu", "site": "down_proj_input", "n_layers": 10,
                            "d_ff": 256, "threshold": 0.0, "positions": "last", "epsilon": 0.001,
                            "data_hash": "918f727946b7a5728834517f5594b87fda3245a253f0403c9b5b780336de6f9b"}))
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
