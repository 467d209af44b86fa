"""``summary.json``: a small, key-sorted digest of a run, made for diffing two runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from harness.report.load import Run, load_run

VERDICTS = ("supported", "refuted", "inconclusive", "error")
SUMMARY_FILE = "summary.json"


def summarize(run: Run) -> dict[str, Any]:
    """Counts per verdict (all four always present), verdict per claim instance, and planted-truth mismatches.

    A mismatch is named ``"<claim>/<instance>"`` because instance ids repeat across claims.
    """
    counts = Counter({verdict: 0 for verdict in VERDICTS})
    claims: dict[str, dict[str, str]] = {}
    mismatches = []
    for record in run.records:
        claim, instance, verdict = str(record["claim"]), str(record.get("instance")), str(record.get("verdict"))
        counts[verdict] += 1
        claims.setdefault(claim, {})[instance] = verdict
        expected = record.get("expected")
        if expected is not None and verdict != expected:
            mismatches.append(f"{claim}/{instance}")
    return {"run_id": run.info.get("run_id"), "counts": dict(counts), "claims": claims,
            "mismatches": sorted(mismatches)}


def write_summary(run_dir: Path) -> Path:
    """Write ``summary.json`` into the run directory and return its path."""
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY_FILE
    text = json.dumps(summarize(load_run(run_dir)), sort_keys=True, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
