"""Turn run directories into ``index.html``: a view model built from the records, rendered by one Jinja2 template.

One run renders into its own directory; several runs (different models, tasks or settings) merge into one page
(``harness.report.merge``). Planted models of the tiny tier fold into one matrix column and one provenance row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from harness.report.figures import draw_plots
from harness.report.load import Run, load_run
from harness.report.merge import Merged, merge_runs
from harness.report.summary import VERDICTS, summarize

TEMPLATES = Path(__file__).parent / "templates"
INDEX_FILE = "index.html"
# Colour of a matrix cell: the most severe verdict among its languages.
_SEVERITY = ("error", "refuted", "inconclusive", "supported")
PLANTED_COLUMN = "planted models"
# the cells of the folded column of the tiny tier's planted models: do the verdicts match the truths?
PLANTED_STATUSES = ("planted-match", "planted-mismatch")
FOLD_MAX_VALUES = 3  # a folded provenance cell lists up to this many distinct values, or counts them
HASH_KEYS = ("data_hash",)  # provenance values shown shortened (the full value in the cell's title)


def render_report(run_dir: Path) -> Path:
    """Render ``index.html`` into the run directory and return its path."""
    run_dir = Path(run_dir)
    html = render_html(load_run(run_dir))
    path = run_dir / INDEX_FILE
    path.write_text(html, encoding="utf-8")
    return path


def render_merged(run_dirs: Sequence[Path], out_dir: Path) -> Path:
    """Render one page for several runs into ``out_dir`` and return its path."""
    runs = [load_run(Path(d)) for d in run_dirs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / INDEX_FILE
    path.write_text(render_html(*runs), encoding="utf-8")
    return path


def render_html(*runs: Run) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    env.filters["vclass"] = verdict_class
    return env.get_template("index.html.j2").render(**build_view(merge_runs(list(runs))))


def build_view(merged: Merged) -> dict[str, Any]:
    first = merged.runs[0]
    info = first.info
    git = info.get("git") or {}
    records = merged.records
    return {
        "info": {key: info.get(key) for key in ("run_id", "tier", "command", "started", "finished")},
        "git": {"commit": git.get("commit"), "dirty": git.get("dirty")},
        "interrupted": info.get("finished") is None,
        "packages": sorted((info.get("packages") or {}).items()),
        "seeds": sorted((info.get("seeds") or {}).items()),
        "options": sorted((info.get("options") or {}).items()),
        "runs": _runs(merged) if len(merged.runs) > 1 else None,
        "baselines": [_baseline(run) for run in merged.runs if run.info.get("baseline")],
        "conflicts": merged.conflicts,
        "warnings": merged.warnings,
        "summary": summarize(Run(info={"run_id": info.get("run_id")}, records=records)),
        "verdicts": VERDICTS,
        "provenance": _provenance(records, several_runs=len(merged.runs) > 1),
        "matrix": _matrix(records, merged.variants),
        "claims": _claims(records, merged.variants),
        "since_baseline": any(r.get("baseline") for r in records),
    }


def fmt(value: Any) -> str:
    """Display text for a number or other JSON value; missing values become an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def verdict_class(verdict: Any) -> str:
    return verdict if verdict in (*VERDICTS, *PLANTED_STATUSES) else "other"


def _group_by(records: list[dict[str, Any]], key: Any) -> dict[Any, list[dict[str, Any]]]:
    """Group records by ``key(record)``, keeping first-seen order of groups and records."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups


def _planted(record: dict[str, Any]) -> bool:
    return record.get("tier") == "tiny"


def _column(record: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The matrix column of a record: (model, task, variant); the tiny tier's planted models share one column."""
    model = PLANTED_COLUMN if _planted(record) else record.get("model")
    return model, record.get("task"), record.get("_variant")


def _runs(merged: Merged) -> dict[str, Any]:
    """The runs side by side: one column per run, one row per fact (rows that differ are marked)."""
    facts: list[tuple[str, Any]] = [
        ("tier", lambda i: i.get("tier")), ("command", lambda i: i.get("command")),
        ("started", lambda i: i.get("started")), ("finished", lambda i: i.get("finished")),
        ("git commit", lambda i: (i.get("git") or {}).get("commit")),
        ("dirty working tree", lambda i: (i.get("git") or {}).get("dirty"))]
    for section, prefix in (("seeds", "seed "), ("options", ""), ("packages", "")):
        names = dict.fromkeys(name for run in merged.runs for name in sorted(run.info.get(section) or {}))
        facts += [(f"{prefix}{name}", lambda i, s=section, n=name: (i.get(s) or {}).get(n)) for name in names]
    rows = []
    for label, read in facts:
        values = [read(run.info) for run in merged.runs]
        rows.append({"label": label, "cells": values, "differs": len({json.dumps(v, default=str) for v in values}) > 1})
    return {"ids": [r.info.get("run_id") for r in merged.runs], "rows": rows,
            "interrupted": [r.info.get("run_id") for r in merged.runs if r.info.get("finished") is None]}


def _baseline(run: Run) -> dict[str, Any]:
    baseline = run.info.get("baseline") or {}
    return {"run": run.info.get("run_id"), "path": baseline.get("path"), "run_id": baseline.get("run_id"),
            "counts": baseline.get("counts") or {}, "missing": baseline.get("missing") or [],
            "ignore": baseline.get("ignore") or []}


def _provenance(records: list[dict[str, Any]], several_runs: bool) -> dict[str, Any]:
    """Distinct provenance per model x task (model id, revision, dtype, device, site, data hash, ...); the planted
    models of the tiny tier fold into one row listing their distinct values."""
    keys: list[str] = []
    for record in records:
        keys += [k for k in record.get("provenance") or {} if k not in keys and k != "model"]
    lead = ["run"] if several_runs else []

    def values(record: dict[str, Any]) -> list[Any]:
        prov = record.get("provenance") or {}
        return ([record.get("_run")] if several_runs else []) + [
            record.get("model"), record.get("base_model"), record.get("scale_model"), record.get("task")] + [
            prov.get(k) for k in keys]

    columns = [*lead, "model", "base model", "other size", "task", *keys]
    rows: list[list[Any]] = []
    for record in records:
        row = values(record)
        if not _planted(record) and row not in rows:
            rows.append(row)
    planted = [values(r) for r in records if _planted(r)]
    folded = None
    if planted:
        distinct = [list(dict.fromkeys(json.dumps(v, default=str) for v in column))
                    for column in zip(*planted, strict=False)]
        folded = [[json.loads(v) for v in column] for column in distinct]
        name = columns.index("model")
        folded[name] = [f"{len(folded[name])} planted models"]
    display = [[_cell(column, value) for column, value in zip(columns, row, strict=True)] for row in rows]
    folded_display = None if folded is None else [_folded_cell(column, values)
                                                  for column, values in zip(columns, folded, strict=True)]
    planted_models = list(dict.fromkeys(r.get("model") for r in records if _planted(r)))
    return {"columns": columns, "rows": display, "planted": folded_display, "planted_models": planted_models}


def _folded_cell(column: str, values: list[Any]) -> dict[str, str]:
    """The planted models' distinct values of one provenance column; more than a few are counted (all in the title)."""
    cells = [_cell(column, v) for v in values]
    title = ", ".join(c["title"] for c in cells)
    if len(cells) > FOLD_MAX_VALUES:
        return {"text": f"{len(cells)} values", "title": title}
    return {"text": ", ".join(c["text"] for c in cells), "title": title}


def _cell(column: str, value: Any) -> dict[str, str]:
    text = fmt(value)
    if column in HASH_KEYS and value is not None and len(text) > 12:
        return {"text": text[:12] + "…", "title": text}
    return {"text": text, "title": text}


def _matrix(records: list[dict[str, Any]], variants: dict[tuple[Any, Any, str], str]) -> dict[str, Any]:
    columns = _ordered_columns(records)
    rows = []
    for claim, claim_records in _group_by(records, lambda r: str(r["claim"])).items():
        by_column = _group_by(claim_records, _column)
        cells = [_matrix_cell(by_column.get(column, []), folded=column[0] == PLANTED_COLUMN) for column in columns]
        rows.append({"claim": claim, "title": claim_records[0].get("title"), "cells": cells})
    bases = {_column(r): r.get("base_model") for r in records if r.get("base_model") and not _planted(r)}
    heads = [{"model": model, "task": task, "base": bases.get((model, task, variant)),
              "planted": model == PLANTED_COLUMN,
              "variant": variant, "label": variants.get((model, task, variant)) if variant else None}
             for model, task, variant in columns]
    return {"columns": heads, "rows": rows}


def _ordered_columns(records: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """First-seen order, except that a base model's columns follow its instruction-tuned model's (the pair lines
    up), a (model, task) split by conflicting runs keeps its columns together, and planted models come last."""
    columns = list(_group_by(records, _column))
    ift_of = {r.get("base_model"): r.get("model") for r in records if r.get("base_model") and not _planted(r)}
    models = list(dict.fromkeys(model for model, _, _ in columns))

    def head(model: Any) -> Any:
        return ift_of[model] if ift_of.get(model) in models else model

    pairs = list(dict.fromkeys((model, task) for model, task, _ in columns))

    def order(column: tuple[Any, Any, Any]) -> tuple[int, ...]:  # a split column's runs side by side
        model, task, _ = column
        return (model == PLANTED_COLUMN, models.index(head(model)), head(model) != model, pairs.index((model, task)),
                columns.index(column))

    return sorted(columns, key=order)


def _matrix_cell(records: list[dict[str, Any]], folded: bool = False) -> dict[str, Any] | None:
    cell = _cell_counts(records)
    if cell is not None and folded:  # coloured by the planted truths, since each model's verdict is planted
        cell["models"] = [{"model": model, **_cell_counts(rs)}
                          for model, rs in _group_by(records, lambda r: r.get("model")).items()]
        cell["status"] = "planted-match" if cell["matched"] == cell["planted"] else "planted-mismatch"
    return cell


def _cell_counts(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not records:
        return None
    verdicts = [str(r.get("verdict")) for r in records]
    counts = {v: verdicts.count(v) for v in dict.fromkeys([*VERDICTS, *verdicts]) if v in verdicts}
    planted = [r for r in records if r.get("expected") is not None]
    matched = sum(r.get("verdict") == r.get("expected") for r in planted)
    worst = next((v for v in _SEVERITY if v in counts), "other")
    regressions = sum((r.get("baseline") or {}).get("status") == "regression" for r in records)
    return {"counts": counts, "status": worst, "planted": len(planted), "matched": matched,
            "regressions": regressions, "models": None}


def _claims(records: list[dict[str, Any]], variants: dict[tuple[Any, Any, str], str]) -> list[dict[str, Any]]:
    sections = []
    for claim, claim_records in _group_by(records, lambda r: str(r["claim"])).items():
        by_group = _group_by(claim_records, lambda r: (r.get("model"), r.get("task"), r.get("_variant")))
        groups = [_group(model, task, rs, variant, variants.get((model, task, variant)) if variant else None)
                  for (model, task, variant), rs in by_group.items()]
        sections.append({"claim": claim, "title": claim_records[0].get("title"), "groups": groups})
    _draw(sections)
    return sections


def _group(model: Any, task: Any, records: list[dict[str, Any]], variant: str | None = None,
           label: str | None = None) -> dict[str, Any]:
    """One claim x model x task: per-language rows, paper-vs-ours numbers, merged figures and tables."""
    first = records[0]
    texts = list(dict.fromkeys(_paper_text(r) for r in records))
    return {
        "model": model,
        "task": task,
        "variant": variant,
        "variant_label": label,
        "base_model": first.get("base_model"),
        "scale_model": first.get("scale_model"),
        "paper_ref": (first.get("paper") or {}).get("ref"),
        "paper_text": texts[0] if len(texts) == 1 else None,
        "params": sorted((first.get("params") or {}).items()),
        "rows": [_row(r) for r in records],
        "numbers": _numbers(records),
        "plots": _plots(records),
        "tables": merge_tables(records),
    }


def _row(record: dict[str, Any]) -> dict[str, Any]:
    effect = {key: (record.get("effect") or {}).get(key) for key in ("name", "value", "ci")}
    expected = record.get("expected")
    return {
        "instance": record.get("instance"),
        "language": record.get("language") or "all",
        "verdict": record.get("verdict"),
        "expected": expected,
        "match": None if expected is None else record.get("verdict") == expected,
        "effect": effect,
        "reason": record.get("reason"),
        "paper_text": _paper_text(record),
        "error": _error_text(record.get("error")),
        "seconds": (record.get("timings") or {}).get("seconds"),
        "baseline": _since_baseline(record.get("baseline")),
    }


def _since_baseline(baseline: dict[str, Any] | None) -> dict[str, Any] | None:
    """The "since baseline" cell: the comparison's status, what changed and the baseline's verdict and effect."""
    if not baseline:
        return None
    ci = baseline.get("ci")
    effect = (fmt(baseline.get("effect")) + (f" [{fmt(ci)}]" if ci else "")
              if baseline.get("effect") is not None else None)
    return {"status": baseline.get("status"), "changes": baseline.get("changes") or [],
            "verdict": baseline.get("verdict"), "effect": effect, "run_id": baseline.get("run_id")}


def _paper_text(record: dict[str, Any]) -> str | None:
    return (record.get("paper") or {}).get("text")


def _error_text(error: Any) -> str | None:
    if error is None or error == "":
        return None
    if isinstance(error, dict):
        head = ": ".join(str(error[k]) for k in ("type", "message") if error.get(k))
        trace = error.get("traceback")
        return f"{head}\n{trace}" if trace else head or json.dumps(error, sort_keys=True)
    return str(error)


def _numbers(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Paper numbers and measured numbers side by side: one column per key, a paper row and an ours row per language."""
    keys: list[str] = []
    for record in records:
        for source in ((record.get("paper") or {}).get("numbers") or {}, record.get("measured") or {}):
            keys += [k for k in source if k not in keys]
    rows = []
    for record in records:
        language = record.get("language") or "all"
        paper = (record.get("paper") or {}).get("numbers") or {}
        if paper:
            rows.append({"label": language, "source": "paper", "cells": [paper.get(k) for k in keys]})
        measured = record.get("measured") or {}
        rows.append({"label": language, "source": "ours", "cells": [measured.get(k) for k in keys]})
    return {"columns": keys, "rows": rows if keys else []}


def _plots(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each plot id once (records of one group carry identical copies), to be drawn by ``_draw``."""
    specs: dict[str, dict[str, Any]] = {}
    for record in records:
        for spec in record.get("plots") or []:
            specs.setdefault(str(spec.get("id")), spec)
    return [{"title": spec.get("title"), "note": spec.get("paper_note"), "spec": spec} for spec in specs.values()]


def _draw(sections: list[dict[str, Any]]) -> None:
    """Draw every plot of the claim sections at once (in parallel where there are many): its URI, or the problem."""
    plots = [plot for section in sections for group in section["groups"] for plot in group["plots"]]
    for plot, (uri, problem) in zip(plots, draw_plots([plot.pop("spec") for plot in plots]), strict=True):
        plot.update(uri=uri, problem=problem)


def merge_tables(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge tables sharing an id: columns united in first-seen order, rows matched by (label, source)."""
    merged: dict[str, dict[str, Any]] = {}
    for record in records:
        for spec in record.get("tables") or []:
            table = merged.setdefault(str(spec.get("id")), {"title": spec.get("title"), "columns": [], "cells": {}})
            columns = [str(c) for c in spec.get("columns") or []]
            table["columns"] += [c for c in columns if c not in table["columns"]]
            for row in spec.get("rows") or []:
                cells = table["cells"].setdefault((str(row.get("label")), str(row.get("source"))), {})
                for column, value in zip(columns, row.get("values") or [], strict=False):
                    if value is not None or column not in cells:
                        cells[column] = value
    return [
        {"title": t["title"], "columns": t["columns"],
         "rows": [{"label": label, "source": source, "cells": [cells.get(c) for c in t["columns"]]}
                  for (label, source), cells in t["cells"].items()]}
        for t in merged.values()
    ]
