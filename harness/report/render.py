"""Turn a run directory into ``index.html``: a view model built from the records, rendered by one Jinja2 template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from harness.report.figures import plot_data_uri
from harness.report.load import Run, load_run
from harness.report.summary import VERDICTS, summarize

TEMPLATES = Path(__file__).parent / "templates"
INDEX_FILE = "index.html"
# Colour of a matrix cell: the most severe verdict among its languages.
_SEVERITY = ("error", "refuted", "inconclusive", "supported")


def render_report(run_dir: Path) -> Path:
    """Render ``index.html`` into the run directory and return its path."""
    run_dir = Path(run_dir)
    html = render_html(load_run(run_dir))
    path = run_dir / INDEX_FILE
    path.write_text(html, encoding="utf-8")
    return path


def render_html(run: Run) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["fmt"] = fmt
    env.filters["vclass"] = verdict_class
    return env.get_template("index.html.j2").render(**build_view(run))


def build_view(run: Run) -> dict[str, Any]:
    info = run.info
    git = info.get("git") or {}
    return {
        "info": {key: info.get(key) for key in ("run_id", "tier", "command", "started", "finished")},
        "git": {"commit": git.get("commit"), "dirty": git.get("dirty")},
        "interrupted": info.get("finished") is None,
        "packages": sorted((info.get("packages") or {}).items()),
        "seeds": sorted((info.get("seeds") or {}).items()),
        "options": sorted((info.get("options") or {}).items()),
        "warnings": run.warnings,
        "summary": summarize(run),
        "verdicts": VERDICTS,
        "provenance": _provenance(run.records),
        "matrix": _matrix(run.records),
        "claims": _claims(run.records),
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
    return verdict if verdict in VERDICTS else "other"


def _group_by(records: list[dict[str, Any]], key: Any) -> dict[Any, list[dict[str, Any]]]:
    """Group records by ``key(record)``, keeping first-seen order of groups and records."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return groups


def _model_task(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("model"), record.get("task")


def _provenance(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Distinct provenance per model x task (model id, revision, dtype, device, site, data hash, ...)."""
    keys: list[str] = []
    for record in records:
        keys += [k for k in record.get("provenance") or {} if k not in keys]
    rows: list[list[Any]] = []
    for record in records:
        prov = record.get("provenance") or {}
        row = [record.get("model"), record.get("base_model"), record.get("task")] + [prov.get(k) for k in keys]
        if row not in rows:
            rows.append(row)
    return {"columns": ["model", "base model", "task", *keys], "rows": rows}


def _matrix(records: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(_group_by(records, _model_task))
    rows = []
    for claim, claim_records in _group_by(records, lambda r: str(r["claim"])).items():
        by_column = _group_by(claim_records, _model_task)
        cells = [_cell(by_column.get(column, [])) for column in columns]
        rows.append({"claim": claim, "title": claim_records[0].get("title"), "cells": cells})
    return {"columns": columns, "rows": rows}


def _cell(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not records:
        return None
    verdicts = [str(r.get("verdict")) for r in records]
    counts = {v: verdicts.count(v) for v in dict.fromkeys([*VERDICTS, *verdicts]) if v in verdicts}
    planted = [r for r in records if r.get("expected") is not None]
    matched = sum(r.get("verdict") == r.get("expected") for r in planted)
    worst = next((v for v in _SEVERITY if v in counts), "other")
    return {"counts": counts, "status": worst, "planted": len(planted), "matched": matched}


def _claims(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sections = []
    for claim, claim_records in _group_by(records, lambda r: str(r["claim"])).items():
        groups = [_group(model, task, rs) for (model, task), rs in _group_by(claim_records, _model_task).items()]
        sections.append({"claim": claim, "title": claim_records[0].get("title"), "groups": groups})
    return sections


def _group(model: Any, task: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """One claim x model x task: per-language rows, paper-vs-ours numbers, merged figures and tables."""
    first = records[0]
    texts = list(dict.fromkeys(_paper_text(r) for r in records))
    return {
        "model": model,
        "task": task,
        "base_model": first.get("base_model"),
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
    }


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
    """Each plot id once (records of one group carry identical copies)."""
    specs: dict[str, dict[str, Any]] = {}
    for record in records:
        for spec in record.get("plots") or []:
            specs.setdefault(str(spec.get("id")), spec)
    plots = []
    for spec in specs.values():
        try:
            uri, problem = plot_data_uri(spec), None
        except (ValueError, TypeError) as exc:
            uri, problem = None, f"cannot draw plot {spec.get('id')!r}: {exc}"
        plots.append({"title": spec.get("title"), "note": spec.get("paper_note"), "uri": uri, "problem": problem})
    return plots


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
