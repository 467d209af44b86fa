"""Damaged cache entries. Every cache of the harness (measurements, planted models and their fitted keys, trained
subjects) is an optimisation, so an entry that cannot be read as what the cache writes (truncated, empty, random
bytes, another program's file, a crafted pickle: never unpickled) is a miss, as in pip's cache, pytest's cache and
``datasets``: the entry is rebuilt and replaced atomically, and the run goes on.

Whoever finds a damaged entry while holding its file lock reports it here, then rebuilds it: of several processes
finding the same entry, the first to take the lock reports and rebuilds, and the others then read the new entry. A
report is one warning line on the ``harness.cache`` logger (stderr outside pytest, where nothing else handles it)
and an entry this process keeps until the run collects it for run.json (``take_damaged``).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

LOGGER = logging.getLogger("harness.cache")
_found: list[dict[str, str]] = []  # this process's reports not yet collected (take_damaged)


def describe(error: BaseException) -> str:
    """An exception in one line: its type and the first sentence of what its message says failed."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # torch's weights-only unpickler puts its finding after a paragraph of advice, sometimes on the next line
    marker = next((i for i, line in enumerate(lines) if "WeightsUnpickler error:" in line), None)
    if marker is not None:
        lines = [lines[marker].split("WeightsUnpickler error:", 1)[1].strip(), *lines[marker + 1:]]
        lines = [line for line in lines if line]
    detail = lines[0].split(". ", 1)[0] if lines else ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def warning_line(entry: dict[str, str]) -> str:
    return f"neuron-claims: damaged {entry['cache']} cache entry rebuilt: {entry['path']}: {entry['why']}"


def report_damaged(cache: str, path: Path, why: str) -> None:
    """Say once that ``path``, an entry of ``cache``, is damaged (``why``) and is being rebuilt."""
    entry = {"cache": cache, "path": str(path), "why": why}
    _found.append(entry)
    LOGGER.warning(warning_line(entry))


def take_damaged() -> list[dict[str, str]]:
    """The damaged entries this process reported since the last call."""
    found = list(_found)
    _found.clear()
    return found


def discard(path: Path) -> None:
    """Remove a damaged entry (a file or a folder): renamed away first, so that its name is free at once."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.damaged")
    os.replace(path, aside)
    if aside.is_dir():
        shutil.rmtree(aside)
    else:
        aside.unlink()
