"""Claim instances as comparable units: what makes two records "the same instance", read from a run or a summary.

An instance is identified by its claim, model (and base or other-sized model), task and language, plus the
*settings* that change its measurement (``SETTINGS``). Two records with the same identity are the same instance; the
baseline comparison, ``python -m harness diff`` and the merged report all use this one definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.report.load import Run

SUMMARY_FILE = "summary.json"  # harness.report writes it; this module reads it (and is imported by the report)
Record = dict[str, Any]
RunInfo = dict[str, Any]  # run.json


def _provenance(name: str) -> Callable[[Record, RunInfo], Any]:
    return lambda record, _info: (record.get("provenance") or {}).get(name)


def _full_tier_option(name: str) -> Callable[[Record, RunInfo], Any]:
    """A run option that only the full tier reads (the tiny tier's planted data ignores --limit, --languages)."""
    return lambda record, info: (info.get("options") or {}).get(name) if record.get("tier") == "full" else None


def _seed(record: Record, info: RunInfo) -> Any:
    params = record.get("params") or {}
    return params["seed"] if "seed" in params else (info.get("seeds") or {}).get("bootstrap")


# The settings that change a measurement, each read from a record and its run's run.json. A new measurement
# option is one more line here.
SETTINGS: dict[str, Callable[[Record, RunInfo], Any]] = {
    "threshold": _provenance("threshold"),
    "site": _provenance("site"),
    "positions": _provenance("positions"),
    "epsilon": _provenance("epsilon"),
    "dtype": _provenance("dtype"),
    "limit": _full_tier_option("limit"),
    "languages": _full_tier_option("languages"),
    "seed": _seed,
    "scoring": lambda record, _info: (record.get("params") or {}).get("scoring"),
    "data_hash": _provenance("data_hash"),
}
KEY_FIELDS = ("claim", "model", "base_model", "scale_model", "task", "language")
IDENTITY_FIELDS = (*KEY_FIELDS[1:], *SETTINGS)  # what --baseline-ignore / diff --ignore may leave out of matching


class InstanceInputError(Exception):
    """A path that holds neither a run directory nor a summary.json with per-instance data."""


@dataclass(frozen=True)
class Instance:
    claim: str
    instance: str  # the test id (model-task-language)
    model: str | None
    base_model: str | None
    scale_model: str | None
    task: str | None
    language: str | None
    settings: dict[str, Any]
    verdict: str
    effect_name: str | None
    effect: float | None
    ci: tuple[float | None, float | None] | None
    reason: str | None = None
    expected: str | None = None
    run_id: str | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """Claim, model, base model, other-sized model, task, language: the instance without its settings."""
        return tuple(getattr(self, name) for name in KEY_FIELDS)

    def identity(self, ignore: Iterable[str] = ()) -> str:
        """The instance's identity as a string (key and settings), leaving out the fields in ``ignore``."""
        skip = set(ignore)
        fields = {name: getattr(self, name) for name in KEY_FIELDS if name not in skip}
        fields |= {name: value for name, value in self.settings.items() if name not in skip}
        return json.dumps(fields, sort_keys=True, default=str)

    @property
    def measured(self) -> bool:
        """False for an instance that ended in an error: its record holds no measured settings."""
        return self.verdict != "error"

    def describe(self) -> str:
        """Verdict and effect in one line, e.g. ``supported, relative drop 0.867 [0.71, 0.95]``."""
        text = self.verdict
        if self.effect is not None:
            text += f", {self.effect_name or 'effect'} {_number(self.effect)}"
            if self.ci is not None and None not in self.ci:
                text += f" [{_number(self.ci[0])}, {_number(self.ci[1])}]"
        return text

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ci": None if self.ci is None else list(self.ci)}

    @classmethod
    def from_json(cls, data: dict[str, Any], run_id: str | None = None) -> Instance:
        ci = data.get("ci")
        return cls(**{**{name: data.get(name) for name in cls.__dataclass_fields__},
                      "settings": data.get("settings") or {},
                      "ci": None if ci is None else tuple(ci), "run_id": data.get("run_id") or run_id})


def _number(value: float) -> str:
    return f"{value:.4g}"


def instance_of(record: Record, info: RunInfo) -> Instance:
    """The instance a run record (``results.jsonl`` line) is of, with the settings read from it and its run."""
    effect = record.get("effect") or {}
    ci = effect.get("ci")
    return Instance(
        claim=str(record["claim"]), instance=str(record.get("instance")), model=record.get("model"),
        base_model=record.get("base_model"), scale_model=record.get("scale_model"), task=record.get("task"),
        language=record.get("language"),
        settings={name: read(record, info) for name, read in SETTINGS.items()},
        verdict=str(record.get("verdict")), effect_name=effect.get("name"), effect=effect.get("value"),
        ci=tuple(ci) if isinstance(ci, list | tuple) and len(ci) == 2 else None, reason=record.get("reason"),
        expected=record.get("expected"), run_id=info.get("run_id"))


@dataclass
class Snapshot:
    """What comparing runs needs of one run: its run.json facts and its instances (from a run or a summary.json)."""

    path: Path
    info: RunInfo
    instances: list[Instance]

    @property
    def run_id(self) -> str:
        return str(self.info.get("run_id") or self.path)


def snapshot_of(run: Run, path: Path) -> Snapshot:
    return Snapshot(path, run.info, [instance_of(record, run.info) for record in run.records])


def load_snapshot(path: Path) -> Snapshot:
    """A run directory (run.json + results.jsonl) or its summary.json."""
    from harness.report.load import ReportInputError, load_run, read_json  # the report imports this module

    path = Path(path)
    if path.is_dir():
        try:
            return snapshot_of(load_run(path), path)
        except ReportInputError as error:
            raise InstanceInputError(str(error)) from error
    if not path.is_file():
        raise InstanceInputError(f"no run directory or {SUMMARY_FILE} at {path}")
    summary = read_json(path, InstanceInputError)
    if not isinstance(summary, dict) or not isinstance(summary.get("instances"), list):
        raise InstanceInputError(f"{path} has no per-instance data (not a {SUMMARY_FILE}, or one written before "
                                 "instances were recorded): pass the run directory, or re-render it with "
                                 "`python -m harness report RUN`")
    info = {name: summary.get(name) for name in ("run_id", "tier", "command", "packages", "options", "git", "seeds")}
    return Snapshot(path, info, [Instance.from_json(item, info["run_id"]) for item in summary["instances"]])
