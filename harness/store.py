"""Measurements per (model, task, languages), computed once per session and cached on disk so that a run can resume.

Models are loaded one at a time, by name (one model serves every task): asking for another model releases the
previous one. A measurement may be taken on a subset of the task's languages (claims that compare two tasks
classify neurons over the languages both have). A measurement's cache key
holds everything it depends on (model id and revision, dtype, site, task, data hash, template, threshold,
languages, measurement config); files are written atomically.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from harness.measure import CONDITIONS, MeasureConfig, Measurement, measure
from harness.models import LoadedModel
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint, restrict_languages, task_spec

ModelLoader = Callable[[str], LoadedModel]  # model key -> model
ExampleLoader = Callable[[str], list[ParallelExample]]  # task -> examples
Languages = tuple[str, ...] | None  # a subset of the task's languages, or None for all of them


class MeasurementStore:
    def __init__(self, load_model: ModelLoader, load_examples: ExampleLoader, config: MeasureConfig, *,
                 identity: Callable[[str], dict[str, object]], cache_dir: Path | None, progress: bool = False) -> None:
        self._load_model, self._load_examples, self.config = load_model, load_examples, config
        self._identity, self.cache_dir, self.progress = identity, cache_dir, progress
        self._measurements: dict[tuple[str, str, Languages], Measurement] = {}
        self._examples: dict[str, list[ParallelExample]] = {}
        self._current: tuple[str, LoadedModel] | None = None
        self.computed: list[tuple[str, str]] = []  # (model, task) this session measured (not from a cache)
        self.conditions: dict[tuple[str, str], set[str]] = {}  # (model, task) -> conditions its claims read

    def examples(self, task: str, languages: Languages = None) -> list[ParallelExample]:
        if task not in self._examples:
            self._examples[task] = self._load_examples(task)
        examples = self._examples[task]
        return examples if languages is None else restrict_languages(examples, languages)

    def languages(self, task: str) -> list[str]:
        return list(self.examples(task)[0].prompts)

    def cache_key(self, model: str, task: str, languages: Languages = None) -> str:
        spec = task_spec(task)
        examples = self.examples(task, languages)
        key = {"model": self._identity(model), "task": task, "template": spec.template,
               "data_hash": data_fingerprint(examples), "languages": list(examples[0].prompts),
               "config": asdict(self.config), "conditions": sorted(self._conditions(model, task))}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def get(self, model: str, task: str, languages: Languages = None) -> Measurement:
        """The measurement of ``model`` on ``task`` (on ``languages`` only, when given)."""
        if languages is not None and list(languages) == self.languages(task):
            languages = None
        key = (model, task, None if languages is None else tuple(languages))
        if key not in self._measurements:
            self._measurements[key] = self._cached(*key) or self._compute(*key)
        return self._measurements[key]

    def peek(self, model: str, task: str) -> Measurement | None:
        """A measurement of ``model`` on ``task`` this session already has (all languages first), computing nothing."""
        found = [m for (name, t, _), m in self._measurements.items() if (name, t) == (model, task)]
        return self._measurements.get((model, task, None)) or next(iter(found), None)

    def model(self, model: str) -> LoadedModel:
        if self._current is None or self._current[0] != model:
            self.release()
            self._current = (model, self._load_model(model))
        return self._current[1]

    def release(self) -> None:
        self._current = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _conditions(self, model: str, task: str) -> set[str]:
        """What the session's claims read; every condition when nobody said (direct use of the store)."""
        return self.conditions.get((model, task), set(CONDITIONS[1:]))

    def _path(self, model: str, task: str, languages: Languages) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{self.cache_key(model, task, languages)}.pt"

    def _cached(self, model: str, task: str, languages: Languages) -> Measurement | None:
        path = self._path(model, task, languages)
        if path is None or not path.exists():
            return None
        return Measurement.from_state(torch.load(path, weights_only=False))

    def _compute(self, model: str, task: str, languages: Languages) -> Measurement:
        spec: TaskSpec = task_spec(task)
        result = measure(self.model(model), self.examples(task, languages), spec, self.config,
                         conditions=self._conditions(model, task), progress=self.progress)
        self.computed.append((model, task))
        path = self._path(model, task, languages)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(result.to_state(), tmp)
            os.replace(tmp, path)
        return result
