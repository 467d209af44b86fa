"""A measurement store that several processes (pytest-xdist workers) can share through its cache directory.

A file lock per measurement makes exactly one process compute it; the others wait, then read it from the cache
(files are written atomically, so a reader never sees half a file). The store also lists what it measured itself,
so a run can show that each measurement was computed once.
"""

from __future__ import annotations

from typing import Any

from filelock import FileLock

from harness.core.store import Languages, MeasurementStore


class SharedStore(MeasurementStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.measured: list[dict[str, Any]] = []  # (kind, model, task, languages) this process computed

    def _compute(self, kind: str, model: str, task: str, languages: Languages) -> Any:
        path = self._path(kind, model, task, languages)
        if path is None:
            return self._measure(kind, model, task, languages)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):
            cached = self._cached(kind, model, task, languages)  # another process may have measured it meanwhile
            return cached if cached is not None else self._measure(kind, model, task, languages)

    def _measure(self, kind: str, model: str, task: str, languages: Languages) -> Any:
        result = super()._compute(kind, model, task, languages)
        self.measured.append({"kind": kind, "model": model, "task": task,
                              "languages": None if languages is None else list(languages)})
        return result
