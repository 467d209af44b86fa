"""Read a run directory (``run.json`` + ``results.jsonl``) tolerantly: a killed run must still render."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"


class ReportInputError(Exception):
    """The run directory or its ``run.json`` is missing or unreadable."""


def read_json(path: Path, error: type[Exception]) -> Any:
    """The JSON value in ``path``; ``error`` naming the path and the parser's message when it is not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path} is not valid JSON: {exc}") from exc


@dataclass
class Run:
    info: dict[str, Any]
    records: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def load_run(run_dir: Path) -> Run:
    """Load a run; bad result lines and repeated instances become warnings shown in the page, not exceptions."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportInputError(f"run directory not found: {run_dir}")
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise ReportInputError(f"{RUN_FILE} not found in {run_dir}")
    info = read_json(run_file, ReportInputError)
    if not isinstance(info, dict):
        raise ReportInputError(f"{run_file} must hold a JSON object")
    warnings: list[str] = []
    results_file = run_dir / RESULTS_FILE
    if results_file.is_file():
        records = _read_results(results_file, warnings)
    else:
        records = []
        warnings.append(f"{RESULTS_FILE} not found: no claim instance finished")
    return Run(info=info, records=_dedupe(records, warnings), warnings=warnings)


def _read_results(path: Path, warnings: list[str]) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.append(f"{RESULTS_FILE}: skipped truncated last line {number} (run killed while writing?)")
            else:
                warnings.append(f"{RESULTS_FILE}: skipped unparsable line {number}")
            continue
        if not isinstance(record, dict) or not record.get("claim"):
            warnings.append(f"{RESULTS_FILE}: skipped line {number}: not a result record")
            continue
        records.append(record)
    return records


def _dedupe(records: list[dict[str, Any]], warnings: list[str]) -> list[dict[str, Any]]:
    """Keep the last record of each (claim, instance), in the position of its first appearance."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (str(record["claim"]), str(record.get("instance")))
        if key in by_key:
            warnings.append(f"instance {key[1]} of claim {key[0]} appears more than once; the last record is shown")
        by_key[key] = record
    return list(by_key.values())
