"""Measurements per (kind, model, task, languages), computed once per session and cached on disk so that a run can
resume.

A *kind* is one paper's measurement, registered by its paper package (harness.core.papers): e.g. ``types``
(Sharing Matters: neuron types, attribution, interventions; the default) or ``language_neurons`` (Kojima et al.).
Each kind knows its conditions (the intervention runs a claim may ask for) and how to read itself back from the
cache. Models are loaded one at a time, by name (one model serves every task and kind): asking for another model
releases the previous one. A measurement may be taken on a subset of the task's languages (claims that compare two
tasks classify neurons over the languages both have), and a model may be measured on the task's first examples only
(``example_limit``: a planted model whose finding depends on how few texts there are). A measurement's cache key holds
everything it depends on (model id and revision, dtype, site, task, data hash, template, languages, the kind's settings
and conditions, the store's and the kind's schema versions, and the source of the measuring code); files are written
atomically and hold tensors and plain data only, read back without unpickling objects (``torch.load(...,
weights_only=True)``), so a cache restored from elsewhere cannot run code. A file that does not read back as a
measurement is damaged: reported once (harness.core.cache_damage), measured afresh and replaced.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from harness.core.cache_damage import describe, report_damaged
from harness.core.models import LoadedModel
from harness.core.papers import Kind, kinds
from harness.core.sources import module_sources
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint, restrict_languages, task_spec

ModelLoader = Callable[[str], LoadedModel]  # model key -> model
ExampleLoader = Callable[[str, int], list[ParallelExample]]  # (task, in-context demonstrations) -> examples
Languages = tuple[str, ...] | None  # a subset of the task's languages, or None for all of them
SCHEMA_VERSION = 2  # of the cache files: 2 = plain data read with weights_only (1 pickled objects)
RECLAIM_BYTES = 1 << 28  # a released model at least this large is collected at once


@dataclass(frozen=True)
class MeasureOptions:
    """The run's measurement options (the plugin's command line); each kind derives its own settings from them."""

    threshold: float = 0.0
    epsilon: float = 1e-3
    positions: str = "last"
    scoring: str = "generate"
    batch_size: int = 16
    seed: int = 0


class CacheFileError(Exception):
    """A measurement cache file that is not the plain data this store writes (damaged, foreign or crafted)."""


def read_plain(path: Path) -> Any:
    """A cache file's tensors and plain data; never unpickles an object (a crafted file cannot run code)."""
    try:
        with warnings.catch_warnings():  # damaged bytes can look like a pickle of another protocol: one report
            warnings.simplefilter("ignore")
            return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # any bytes can be in the file, and each part of the reader raises its own errors
        raise CacheFileError(f"not a file of plain data ({path.stat().st_size} bytes): {describe(error)}") from error


def read_measurement(path: Path, kind: str, load: Callable[[dict[str, Any]], Any]) -> Any:
    """The measurement of ``kind`` in ``path`` (``load`` makes it from the file's plain data); a CacheFileError
    says why the file is not one."""
    state = read_plain(path)
    try:
        return load(state)
    except Exception as error:  # plain data of another shape fails wherever the loader first reads it
        raise CacheFileError(f"plain data, but not a {kind!r} measurement: {describe(error)}") from error


class MeasurementStore:
    def __init__(self, load_model: ModelLoader, load_examples: ExampleLoader, config: Any, *,
                 identity: Callable[[str], dict[str, object]], cache_dir: Path | None, progress: bool = False,
                 example_limit: Callable[[str], int | None] = lambda model: None) -> None:
        self._load_model, self._load_examples, self.config = load_model, load_examples, config
        self._example_limit = example_limit  # model -> how many of a task's first examples it is measured on
        self._identity, self.cache_dir, self.progress = identity, cache_dir, progress
        # (kind, model, task, languages, shots) -> measurement
        self._measurements: dict[tuple[str, str, str, Languages, int], Any] = {}
        self._last: dict[tuple[str, str], Any] = {}  # (model, task) -> the measurement last handed out
        self._examples: dict[tuple[str, int], list[ParallelExample]] = {}  # (task, shots) -> examples
        self._current: tuple[str, LoadedModel] | None = None
        self.computed: list[tuple[str, str]] = []  # (model, task) this session measured (not from a cache)
        self.conditions: dict[tuple[str, str], set[str]] = {}  # (model, task) -> conditions its claims read, any kind

    def examples(self, task: str, languages: Languages = None, shots: int = 0) -> list[ParallelExample]:
        """The task's examples (on ``languages`` only, when given), each prompt after ``shots`` in-context
        demonstrations (App. A.3.6; the editing tasks only: the loader says so otherwise)."""
        if (task, shots) not in self._examples:
            self._examples[task, shots] = self._load_examples(task, shots)
        examples = self._examples[task, shots]
        return examples if languages is None else restrict_languages(examples, languages)

    def measured_examples(self, model: str, task: str, languages: Languages = None,
                          shots: int = 0) -> list[ParallelExample]:
        """The examples ``model`` is measured on: the task's (on ``languages``, after ``shots`` demonstrations), its
        first ``example_limit`` ones."""
        return self.examples(task, languages, shots)[:self._example_limit(model)]

    def languages(self, task: str) -> list[str]:
        return list(self.examples(task)[0].prompts)

    def cache_key(self, model: str, task: str, languages: Languages = None, kind: str = "types",
                  shots: int = 0) -> str:
        spec = task_spec(task)
        examples = self.measured_examples(model, task, languages, shots)
        registered = self._kind(kind)
        key = {"model": self._identity(model), "task": task, "template": spec.template,
               "data_hash": data_fingerprint(examples), "languages": list(examples[0].prompts), "shots": shots,
               "config": asdict(registered.settings(self.config)),
               "conditions": sorted(self._conditions(model, task, kind)), "kind": kind,
               "schema": [SCHEMA_VERSION, registered.version], "code": measuring_code(registered)}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]

    @staticmethod
    def _kind(kind: str) -> Kind:
        known = kinds()
        if kind not in known:
            raise ValueError(f"unknown measurement kind {kind!r}; known kinds: {', '.join(known)}")
        return known[kind]

    def get(self, model: str, task: str, languages: Sequence[str] | None = None, kind: str = "types",
            shots: int = 0) -> Any:
        """The measurement of ``kind`` of ``model`` on ``task`` (on ``languages`` only, when given; after ``shots``
        in-context demonstrations, a measurement of its own)."""
        self._kind(kind)
        key = (kind, model, task, self._subset(task, languages), shots)
        if key not in self._measurements:
            self._measurements[key] = self._obtain(*key)
        self._last[model, task] = self._measurements[key]
        return self._measurements[key]

    def is_cached(self, model: str, task: str, languages: Sequence[str] | None = None, kind: str = "types",
                  shots: int = 0) -> bool:
        """Whether the measurement is in this session's memory or on disk (reads nothing)."""
        key = (kind, model, task, self._subset(task, languages), shots)
        path = self._path(*key)
        return key in self._measurements or (path is not None and path.exists())

    def _subset(self, task: str, languages: Sequence[str] | None) -> Languages:
        """``languages`` as the key holds them: None for all of the task's languages."""
        return None if languages is None or list(languages) == self.languages(task) else tuple(languages)

    def peek(self, model: str, task: str) -> Any:
        """The measurement of ``model`` on ``task`` this session handed out last (any kind or languages), or None;
        computes nothing. A claim's run record takes its provenance from it."""
        return self._last.get((model, task))

    def model(self, model: str) -> LoadedModel:
        if self._current is None or self._current[0] != model:
            self.release()
            self._current = (model, self._load_model(model))
        return self._current[1]

    def release(self) -> None:
        """Drop the loaded model. A large one's memory is reclaimed at once (a full collection: modules with hooks
        sit in reference cycles); a full collection costs about half a second, more than a tiny model is worth."""
        large = self._current is not None and _size_bytes(self._current[1]) >= RECLAIM_BYTES
        self._current = None
        if large:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _conditions(self, model: str, task: str, kind: str) -> Collection[str]:
        """The conditions of ``kind`` the session's claims read; all of them when nobody said (direct use)."""
        known = self._kind(kind).conditions
        asked = self.conditions.get((model, task))
        if asked is None:
            return set(known)
        registered = kinds()
        unknown = asked - {c for k in registered.values() for c in k.conditions}
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; known: "
                             + "; ".join(f"{name}: {', '.join(k.conditions)}" for name, k in registered.items()))
        return asked & set(known)

    def _path(self, kind: str, model: str, task: str, languages: Languages, shots: int = 0) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{self.cache_key(model, task, languages, kind, shots)}.pt"

    def _obtain(self, kind: str, model: str, task: str, languages: Languages, shots: int = 0) -> Any:
        """The cached measurement, or one measured and written in place of a missing or damaged file (a damaged one
        is reported first). Called with the entry to itself: a store shared by processes holds its file lock."""
        path = self._path(kind, model, task, languages, shots)
        if path is not None and path.exists():
            try:
                return self._read(kind, path)
            except CacheFileError as error:
                report_damaged("measurement", path, str(error))
        return self._compute(kind, model, task, languages, shots)

    def _read(self, kind: str, path: Path) -> Any:
        return read_measurement(path, kind, self._kind(kind).load)

    def _compute(self, kind: str, model: str, task: str, languages: Languages, shots: int = 0) -> Any:
        spec: TaskSpec = task_spec(task)
        registered = self._kind(kind)
        result = registered.run(self.model(model), self.measured_examples(model, task, languages, shots), spec,
                                registered.settings(self.config), conditions=self._conditions(model, task, kind),
                                progress=self.progress)
        self.computed.append((model, task))
        path = self._path(kind, model, task, languages, shots)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(result.to_state(), tmp)
            os.replace(tmp, path)
        return result


def _size_bytes(lm: LoadedModel) -> int:
    return sum(p.numel() * p.element_size() for p in lm.model.parameters())


def measuring_code(kind: Kind) -> dict[str, str]:
    """The version of a kind's measuring code: module -> sha256 of the source of its run's module and of every
    module of ours it imports."""
    return module_sources((kind.run.__module__,))
