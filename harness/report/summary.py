"""``summary.json``: a small, key-sorted digest of a run, made for diffing two runs and for ``--baseline``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from harness.plugin.instances import SUMMARY_FILE, instance_of
from harness.report.load import Run, load_run

VERDICTS = ("supported", "refuted", "inconclusive", "error")
RUN_FACTS = ("tier", "command", "packages", "options", "git", "seeds")  # copied from run.json for `harness diff`


def summarize(run: Run) -> dict[str, Any]:
    """Counts per verdict (all four always present), verdict per claim instance, planted-truth mismatches, the run's
    facts (packages, options, git) and every instance with its settings, verdict and effect (see
    harness.plugin.instances).

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
    instances = [instance_of(record, run.info).to_json() for record in run.records]
    return {"run_id": run.info.get("run_id"), "counts": dict(counts), "claims": claims,
            "mismatches": sorted(mismatches), **{name: run.info.get(name) for name in RUN_FACTS},
            "instances": instances}


def write_summary(run_dir: Path) -> Path:
    """Write ``summary.json`` into the run directory and return its path."""
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY_FILE
    text = json.dumps(summarize(load_run(run_dir)), sort_keys=True, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
