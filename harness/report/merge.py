"""Merge several runs (different models, tasks or settings) into one set of records for one page.

Records are tagged with their run (``_run``). An instance (claim, model, base model, task, language) found in several
runs with the same settings is kept once (the last run's record; a warning says so). Found with different settings
(harness.plugin.instances), it is a *conflict*: every version is kept, the (model, task) column splits by run
(``_variant``), and the conflict is listed with the settings that differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.plugin.instances import Instance, instance_of
from harness.report.load import Run

Record = dict[str, Any]


@dataclass
class Conflict:
    claim: str
    instance: str
    sides: list[tuple[str, str]]  # (run id, the settings that differ, with this run's values)


@dataclass
class Merged:
    runs: list[Run]
    records: list[Record]
    conflicts: list[Conflict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    variants: dict[tuple[Any, Any, str], str] = field(default_factory=dict)  # (model, task, run id) -> column label


def run_id(run: Run, number: int) -> str:
    return str(run.info.get("run_id") or f"run {number + 1}")


def merge_runs(runs: list[Run]) -> Merged:
    ids = [run_id(run, i) for i, run in enumerate(runs)]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"the same run was given twice: {', '.join(duplicates)}")
    warnings = [f"{ids[i]}: {w}" if len(runs) > 1 else w for i, run in enumerate(runs) for w in run.warnings]
    # instance key -> identity -> (run id, record, instance); later runs replace earlier ones of the same identity
    found: dict[tuple[Any, ...], dict[str, tuple[str, Record, Instance]]] = {}
    position: dict[int, tuple[int, int, int]] = {}  # id(tagged record) -> (run, place in its run, line): page order
    for number, (rid, run) in enumerate(zip(ids, runs, strict=True)):
        for line, record in enumerate(run.records):
            instance = instance_of(record, run.info)
            versions = found.setdefault(instance.key, {})
            identity = instance.identity()
            if identity in versions:
                earlier_run, earlier, _ = versions[identity]
                differs = "" if earlier.get("verdict") == record.get("verdict") else \
                    f" (verdicts {earlier.get('verdict')} and {record.get('verdict')})"
                warnings.append(f"{instance.claim} [{instance.instance}] is in runs {earlier_run} and {rid} with the "
                                f"same settings{differs}; the record of {rid} is shown")
            tagged = {**record, "_run": rid}
            place = record.get("position")
            position[id(tagged)] = (number, place if isinstance(place, int) else line, line)
            versions[identity] = (rid, tagged, instance)
    merged = Merged(runs, [], warnings=warnings)
    split: dict[tuple[Any, Any], dict[str, list[str]]] = {}  # (model, task) -> run id -> differing settings
    for versions in found.values():
        if len(versions) > 1:
            conflict = _conflict(list(versions.values()))
            merged.conflicts.append(conflict)
            _, record, _ = next(iter(versions.values()))
            column = split.setdefault((record.get("model"), record.get("task")), {})
            for rid, text in conflict.sides:
                column.setdefault(rid, [])
                column[rid] += [text] if text not in column[rid] else []
    for versions in found.values():
        for rid, record, _ in versions.values():
            label = split.get((record.get("model"), record.get("task")), {})
            record["_variant"] = None
            if label:
                record["_variant"] = rid
                merged.variants[(record.get("model"), record.get("task"), rid)] = "; ".join(label.get(rid, []))
    records = [record for versions in found.values() for _, record, _ in versions.values()]
    merged.records = sorted(records, key=lambda r: position[id(r)])  # run by run, each in its collection order
    return merged


def _conflict(versions: list[tuple[str, Record, Instance]]) -> Conflict:
    first = versions[0][2]
    names = [name for name in first.settings if len({repr(v.settings.get(name)) for _, _, v in versions}) > 1]
    sides = [(rid, ", ".join(f"{name}={instance.settings.get(name)!r}" for name in names) or "same settings")
             for rid, _, instance in versions]
    return Conflict(first.claim, first.instance, sides)
