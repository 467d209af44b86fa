"""What a claim instance concludes: a verdict with its effect, interval and the numbers behind it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("supported", "refuted", "inconclusive")


@dataclass
class Verdict:
    verdict: str  # one of VERDICTS
    reason: str
    effect_name: str
    effect: float
    ci: tuple[float, float]
    measured: dict[str, float | None] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    plots: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    # the same rule under a control (e.g. "content end", Sharing Matters' template control): its verdict, reason,
    # effect, ci
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def decide(holds: bool, supported_if: bool, refuted_if: bool) -> str:
    """supported when the rule holds with its statistical condition; refuted when it fails decisively."""
    if holds and supported_if:
        return "supported"
    if not holds and refuted_if:
        return "refuted"
    return "inconclusive"


def inconclusive(reason: str, effect_name: str, effect: float = math.nan,
                 ci: tuple[float, float] = (math.nan, math.nan), measured: dict[str, Any] | None = None,
                 params: dict[str, Any] | None = None) -> Verdict:
    """An inconclusive verdict: too few items, a model that cannot do the task, or a measurement without what the
    rule reads; the effect and its interval when there are any."""
    return Verdict("inconclusive", reason, effect_name, effect, ci, {} if measured is None else measured,
                   {} if params is None else params)
