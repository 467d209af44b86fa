"""Compare claim instances with a baseline run: what changed, what is new, what is missing.

Matching: an instance is compared with the baseline instance of the same identity (harness.plugin.instances: claim,
model, base model, task, language and the settings that change a measurement), leaving out the fields named in
``ignore``. An instance without such a twin is paired with the baseline's only instance of the same claim, model,
task and language when either of the two ended in an error (an error records no measured settings, and a claim that
now errors has regressed); otherwise a same-key twin whose settings differ is reported as "settings changed" and
not compared, since it is another measurement.

A compared instance is a *regression* when its verdict changed, or its effect lies outside the baseline's interval
(widened to hold the baseline's own effect, which a percentile interval need not; the baseline's value when it has
no interval).
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.plugin.instances import IDENTITY_FIELDS, KEY_FIELDS, Instance

UNCHANGED, REGRESSION, NEW, SETTINGS_CHANGED = "unchanged", "regression", "new", "settings changed"
_TOLERANCE = 1e-9  # relative: effects read back from JSON are compared with this slack


@dataclass
class Match:
    """One current instance against the baseline."""

    current: Instance
    status: str  # UNCHANGED, REGRESSION, NEW or SETTINGS_CHANGED
    baseline: Instance | None = None
    changes: list[str] = field(default_factory=list)  # why it regressed, or which settings differ

    @property
    def regression(self) -> bool:
        return self.status == REGRESSION

    @property
    def compared(self) -> bool:
        """Whether the baseline holds this same instance (not a new one, nor one measured with other settings)."""
        return self.status in (UNCHANGED, REGRESSION)

    def message(self, baseline_run: str) -> str:
        """The failure text: both runs quoted."""
        old = self.baseline
        assert old is not None
        return (f"{self.current.claim} [{self.current.instance}] changed since baseline {baseline_run}: "
                f"{'; '.join(self.changes)}\n"
                f"  baseline ({old.run_id}): {old.describe()}: {old.reason or ''}\n"
                f"  this run ({self.current.run_id}): {self.current.describe()}: {self.current.reason or ''}")

    def to_record(self, baseline_run: str) -> dict[str, Any]:
        """What a run record keeps of its comparison (the report's "since baseline" column)."""
        old = self.baseline
        return {"run_id": baseline_run, "status": self.status, "changes": self.changes,
                "verdict": old.verdict if old else None, "effect": old.effect if old else None,
                "ci": list(old.ci) if old and old.ci else None}


def check_ignore(ignore: Iterable[str]) -> list[str]:
    """The ignored identity fields, or ValueError naming the unknown ones and the valid ones."""
    fields = list(ignore)
    unknown = [name for name in fields if name not in IDENTITY_FIELDS]
    if unknown:
        raise ValueError(f"unknown identity field(s) {', '.join(map(repr, unknown))}; valid: "
                         f"{', '.join(IDENTITY_FIELDS)}")
    return fields


def regression_reasons(current: Instance, baseline: Instance) -> list[str]:
    """Why ``current`` differs from ``baseline`` in a way that counts: verdict, or effect outside the interval."""
    reasons = []
    if current.verdict != baseline.verdict:
        reasons.append(f"verdict {baseline.verdict} -> {current.verdict}")
    if current.effect is not None and baseline.effect is not None:
        low, high = baseline.ci if baseline.ci is not None and None not in baseline.ci else (baseline.effect,) * 2
        low, high = min(low, baseline.effect), max(high, baseline.effect)  # a run always agrees with itself
        slack = _TOLERANCE * max(1.0, abs(low), abs(high))
        if not low - slack <= current.effect <= high + slack or not math.isfinite(current.effect):
            interval = f"interval [{low:.4g}, {high:.4g}]" if low != high else f"value {low:.4g}"
            reasons.append(f"effect {current.effect:.4g} outside the baseline's {interval}")
    return reasons


def settings_differences(current: Instance, baseline: Instance) -> list[str]:
    names = dict.fromkeys([*baseline.settings, *current.settings])
    return [f"{name} {baseline.settings.get(name)!r} -> {current.settings.get(name)!r}" for name in names
            if baseline.settings.get(name) != current.settings.get(name)]


class BaselineIndex:
    """The baseline's instances, indexed for matching one current instance at a time (the plugin) or many (diff)."""

    def __init__(self, instances: Iterable[Instance], ignore: Iterable[str] = ()) -> None:
        self.ignore = check_ignore(ignore)
        self.instances = list(instances)
        self._by_identity: dict[str, Instance] = {}
        self._by_key: dict[tuple[Any, ...], list[Instance]] = {}
        for instance in self.instances:
            identity = instance.identity(self.ignore)
            if identity in self._by_identity:
                left_out = f" with {', '.join(self.ignore)} left out" if self.ignore else ""
                raise ValueError(f"the baseline holds {instance.claim} [{instance.instance}] twice{left_out} (runs "
                                 f"{self._by_identity[identity].run_id} and {instance.run_id}): compare with one run")
            self._by_identity[identity] = instance
            self._by_key.setdefault(self._key(instance), []).append(instance)

    def _key(self, instance: Instance) -> tuple[Any, ...]:
        return tuple(None if name in self.ignore else value
                     for name, value in zip(KEY_FIELDS, instance.key, strict=True))

    def match(self, current: Instance) -> Match:
        twin = self._by_identity.get(current.identity(self.ignore))
        if twin is not None:
            reasons = regression_reasons(current, twin)
            return Match(current, REGRESSION if reasons else UNCHANGED, twin, reasons)
        same_key = self._by_key.get(self._key(current), [])
        if len(same_key) != 1:
            return Match(current, NEW)
        (twin,) = same_key
        if not (current.measured and twin.measured):
            return Match(current, REGRESSION if current.verdict != twin.verdict else UNCHANGED, twin,
                         regression_reasons(current, twin))
        return Match(current, SETTINGS_CHANGED, twin, settings_differences(current, twin))


@dataclass
class Comparison:
    matches: list[Match]
    missing: list[Instance]  # in the baseline, not in the current run

    def with_status(self, status: str) -> list[Match]:
        return [m for m in self.matches if m.status == status]

    @property
    def regressions(self) -> list[Match]:
        return self.with_status(REGRESSION)

    def counts(self) -> dict[str, int]:
        counts = {status: len(self.with_status(status)) for status in (UNCHANGED, REGRESSION, NEW, SETTINGS_CHANGED)}
        return counts | {"missing": len(self.missing)}


def compare(current: Iterable[Instance], baseline: Iterable[Instance], ignore: Iterable[str] = ()) -> Comparison:
    index = BaselineIndex(baseline, ignore)
    matches = [index.match(instance) for instance in current]
    return Comparison(matches, missing_from(index, matches))


def missing_from(index: BaselineIndex, matches: Iterable[Match]) -> list[Instance]:
    """Baseline instances that no current instance was matched with (exactly, or as a same-key twin)."""
    seen = {id(m.baseline) for m in matches if m.baseline is not None}
    return [instance for instance in index.instances if id(instance) not in seen]


BASELINE_FILES = ("run.json", "results.jsonl", "summary.json", "index.html")


def update_baseline(run_dir: Path, target: Path) -> None:
    """Make the run at ``run_dir`` the baseline at ``target``: its summary.json when ``target`` names a .json file,
    else a copy of the run's files in the directory ``target`` (each replaced atomically; other files stay)."""
    if target.suffix == ".json":
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(run_dir / "summary.json", target)
        return
    target.mkdir(parents=True, exist_ok=True)
    for name in BASELINE_FILES:
        if (run_dir / name).is_file():
            _copy(run_dir / name, target / name)


def _copy(source: Path, destination: Path) -> None:
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, destination)
