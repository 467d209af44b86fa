"""Run records: one claim instance's record (verdict, effect, paper numbers, provenance), and the writer that
keeps the records arriving from any process (the controller, or a serial run)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from harness.core.claim import ClaimCase
from harness.core.provenance import Provenance
from harness.core.verdict import Verdict

if TYPE_CHECKING:
    from harness.plugin.session import ClaimsSession


def build_record(case: ClaimCase, verdict: Verdict | None, m: Provenance | None, seconds: float,
                 error: str | None = None) -> dict[str, Any]:
    """One claim instance's record as results.jsonl has it; ``m`` is the measurement it read last (any kind)."""
    claim = case.claim
    provenance: dict[str, Any] = {"model": case.model}
    params = dict(verdict.params) if verdict else {}
    timings = {"seconds": round(seconds, 3)}
    if m is not None:  # measurement choices go with the rule's parameters; the model's facts to provenance
        # (a kind of measurement without a threshold or epsilon, e.g. Kojima's language neurons, records None)
        provenance = {**m.model, "data_hash": m.data_hash,
                      **{name: m.config.get(name) for name in ("threshold", "positions", "epsilon")}}
        params |= {**m.config, **m.scoring}
        timings |= m.timings
    record = {
        "claim": claim.id, "title": claim.title, "instance": case.id, "tier": case.tier, "model": case.model,
        "base_model": case.base_model, "scale_model": case.scale_model, "task": case.task, "language": case.language,
        "verdict": verdict.verdict if verdict else "error", "expected": case.expected,
        "reason": verdict.reason if verdict else error,
        "effect": {"name": verdict.effect_name, "value": verdict.effect, "ci": list(verdict.ci)} if verdict else None,
        "paper": {"ref": claim.paper_ref, "text": claim.paper_text,
                  "numbers": claim.paper_numbers(str(provenance.get("model_id", case.model)), case.task,
                                                 case.language)},
        "measured": verdict.measured if verdict else {}, "params": params, "provenance": provenance,
        "plots": verdict.plots if verdict else [], "tables": verdict.tables if verdict else [],
        "controls": verdict.controls if verdict else {},
        "timings": timings, "error": error}
    return json.loads(json.dumps(_finite(record), default=str, allow_nan=False))  # as results.jsonl has it




def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null. NumPy scalars become Python numbers (records cross process
    boundaries under pytest-xdist, whose serializer knows only plain types)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class RecordWriter:
    """Writes the records arriving on call reports, whichever process measured them (the controller, or a serial
    run; registered there only)."""

    def __init__(self, state: ClaimsSession) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "claim_record", None)
        if record is not None and report.when == "call":
            self.state.add(record)
