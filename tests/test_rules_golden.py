"""Every rule's complete verdict on fixed inputs (tests/rule_cases.py) equals its approved version in
tests/golden/rules.json: the verdict, the reason a user reads, the effect and interval, every measured number and
every recorded parameter. A deliberate change is approved by rerunning with NEURON_CLAIMS_APPROVE=1 and reviewing
the diff of the JSON file."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.rule_cases import CASES

GOLDEN = Path(__file__).parent / "golden" / "rules.json"


def _plain(value: object) -> object:
    """JSON-comparable: floats rounded to 10 significant digits, NaN as a string, tuples as lists."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        value = float(value)
        return "nan" if math.isnan(value) else float(f"{value:.10g}")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _verdicts() -> dict[str, object]:
    return {name: _plain({k: v for k, v in asdict(case()).items() if k not in ("plots", "tables", "controls")})
            for name, case in CASES.items()}


def test_every_rule_verdict_equals_its_approved_version() -> None:
    current = _verdicts()
    if os.environ.get("NEURON_CLAIMS_APPROVE"):
        GOLDEN.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    approved = json.loads(GOLDEN.read_text())
    assert sorted(current) == sorted(approved)
    for name in CASES:
        assert current[name] == approved[name], name


@pytest.mark.parametrize("expected", ["supported", "refuted", "inconclusive"])
def test_the_cases_cover_every_outcome_of_every_rule(expected: str) -> None:
    approved = json.loads(GOLDEN.read_text())
    rules = {name.split(" / ")[0] for name in approved}
    covered = {name.split(" / ")[0] for name, v in approved.items() if v["verdict"] == expected}
    assert rules - {"layers", "examples"} <= covered
