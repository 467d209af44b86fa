"""A measurement store that several processes (pytest-xdist workers) can share through its cache directory.

A file lock per measurement makes exactly one process compute it; the others wait, then read it from the cache
(files are written atomically, so a reader never sees half a file). A damaged file is replaced under the same lock:
reported and measured again once, whichever processes find it. The store also lists what it measured itself,
so a run can show that each measurement was computed once.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from filelock import FileLock

from harness.core.store import CacheFileError, Languages, MeasurementStore


class SharedStore(MeasurementStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.measured: list[dict[str, Any]] = []  # (kind, model, task, languages) this process computed

    def _obtain(self, kind: str, model: str, task: str, languages: Languages, shots: int = 0) -> Any:
        path = self._path(kind, model, task, languages, shots)
        if path is None:
            return super()._obtain(kind, model, task, languages, shots)
        if path.exists():
            with suppress(CacheFileError):  # damaged: decided under the lock, so that one process replaces it
                return self._read(kind, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):  # another process may have measured (or replaced) it meanwhile
            return super()._obtain(kind, model, task, languages, shots)

    def _compute(self, kind: str, model: str, task: str, languages: Languages, shots: int = 0) -> Any:
        result = super()._compute(kind, model, task, languages, shots)
        self.measured.append({"kind": kind, "model": model, "task": task,
                              "languages": None if languages is None else list(languages),
                              **({"shots": shots} if shots else {})})
        return result
