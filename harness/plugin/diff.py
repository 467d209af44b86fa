"""``python -m harness diff A B``: what changed between two runs, as terminal tables; exit status 1 on regressions.

A and B are run directories or their summary.json; B is compared with A as with ``--baseline A``
(harness.plugin.baseline):
verdicts and effects of the same instances, instances new in B or missing from it, instances whose settings
changed, and the runs' package versions, options and data hashes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from harness.plugin.baseline import NEW, REGRESSION, SETTINGS_CHANGED, UNCHANGED, Comparison, Match, compare
from harness.plugin.instances import IDENTITY_FIELDS, Instance, Snapshot, load_snapshot

MOVED = "effect moved"  # same verdict, effect inside the baseline's interval but not equal
_ORDER = {REGRESSION: 0, SETTINGS_CHANGED: 1, NEW: 2, "missing": 3, MOVED: 4}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="the earlier run (baseline): a run directory or its summary.json")
    parser.add_argument("b", help="the later run, compared with A")
    parser.add_argument("--ignore", default="", help="identity fields to leave out when matching instances, "
                        f"comma-separated ({', '.join(IDENTITY_FIELDS)}), e.g. model for a fine-tuned checkpoint")


def run(args: argparse.Namespace) -> tuple[int, str]:
    """Exit status (1 on regressions) and the text to print; raises InstanceInputError or ValueError on bad input."""
    a, b = load_snapshot(args.a), load_snapshot(args.b)
    ignore = [name.strip() for name in args.ignore.split(",") if name.strip()]
    comparison = compare(b.instances, a.instances, ignore)
    return (1 if comparison.regressions else 0), "\n".join(render(a, b, comparison, ignore))


def render(a: Snapshot, b: Snapshot, comparison: Comparison, ignore: Sequence[str] = ()) -> list[str]:
    lines = [f"A: {a.run_id}  {a.path}", f"B: {b.run_id}  {b.path}"]
    if ignore:
        lines.append(f"matching instances with {', '.join(ignore)} left out")
    for title, rows in (("packages", _changed(a.info.get("packages"), b.info.get("packages"))),
                        ("options", _changed(a.info.get("options"), b.info.get("options"))),
                        ("git", _changed(a.info.get("git"), b.info.get("git"))),
                        ("data hashes (model, task)", _data_hashes(a.instances, b.instances))):
        lines += ["", f"{title}: " + ("changed" if rows else "unchanged")]
        lines += table(["", "A", "B"], rows) if rows else []
    counts = comparison.counts()
    moved = [m for m in comparison.with_status(UNCHANGED) if _moved(m)]
    lines += ["", "instances: " + ", ".join(f"{n} {name}" for name, n in counts.items()) + f" ({len(moved)} with "
              "the effect moved inside the baseline's interval)"]
    rows = [_row(m.status, m.current.claim, m.current.instance, m.baseline, m.current, m.changes)
            for m in comparison.matches if m.status != UNCHANGED]
    rows += [_row(MOVED, m.current.claim, m.current.instance, m.baseline, m.current, []) for m in moved]
    rows += [_row("missing", i.claim, i.instance, i, None, ["not in B"]) for i in comparison.missing]
    rows.sort(key=lambda row: (_ORDER[row[0]], row[1], row[2]))
    if rows:
        lines += table(["status", "claim", "instance", "verdict A -> B", "effect A -> B", "what changed"],
                       [[status.upper() if status == REGRESSION else status, *rest] for status, *rest in rows])
    lines += ["", f"{len(comparison.regressions)} regression(s)"]
    return lines


def _moved(match: Match) -> bool:
    old, new = match.baseline, match.current
    return (old is not None and old.effect is not None and new.effect is not None
            and not math.isclose(old.effect, new.effect, rel_tol=1e-9, abs_tol=1e-12))


def _row(status: str, claim: str, instance: str, old: Instance | None, new: Instance | None,
         changes: list[str]) -> list[str]:
    verdicts = f"{old.verdict if old else '-'} -> {new.verdict if new else '-'}"
    effects = f"{_effect(old)} -> {_effect(new)}"
    return [status, claim, instance, verdicts, effects, "; ".join(changes)]


def _effect(instance: Instance | None) -> str:
    if instance is None or instance.effect is None:
        return "-"
    text = f"{instance.effect:.4g}"
    if instance.ci is not None and None not in instance.ci:
        text += f" [{instance.ci[0]:.4g}, {instance.ci[1]:.4g}]"
    return text


def _changed(a: Any, b: Any) -> list[list[str]]:
    a, b = a or {}, b or {}
    return [[name, _text(a.get(name)), _text(b.get(name))] for name in sorted(set(a) | set(b))
            if a.get(name) != b.get(name)]


def _data_hashes(a: list[Instance], b: list[Instance]) -> list[list[str]]:
    def hashes(instances: list[Instance]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for instance in instances:
            if instance.settings.get("data_hash"):
                out.setdefault(f"{instance.model} {instance.task}", set()).add(str(instance.settings["data_hash"]))
        return out

    old, new = hashes(a), hashes(b)
    return [[name, _short(old.get(name)), _short(new.get(name))] for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name) and name in old and name in new]


def _short(hashes: set[str] | None) -> str:
    return ", ".join(sorted(h[:12] for h in hashes or ()))


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart; the last column is not padded."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (headers, *rows)]
