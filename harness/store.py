"""Measurements per (model, task), computed once per session and cached on disk so that a run can resume.

Models are loaded one at a time: asking for another model releases the previous one. A measurement's cache key
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
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint, task_spec

ModelLoader = Callable[[str, str, list[ParallelExample]], LoadedModel]  # (model key, task, examples)
ExampleLoader = Callable[[str], list[ParallelExample]]  # task -> examples


class MeasurementStore:
    def __init__(self, load_model: ModelLoader, load_examples: ExampleLoader, config: MeasureConfig, *,
                 identity: Callable[[str], dict[str, object]], cache_dir: Path | None, progress: bool = False) -> None:
        self._load_model, self._load_examples, self.config = load_model, load_examples, config
        self._identity, self.cache_dir, self.progress = identity, cache_dir, progress
        self._measurements: dict[tuple[str, str], Measurement] = {}
        self._examples: dict[str, list[ParallelExample]] = {}
        self._current: tuple[str, LoadedModel] | None = None
        self.computed: list[tuple[str, str]] = []  # what this session measured (not from a cache)
        self.conditions: dict[str, set[str]] = {}  # model -> intervention conditions its claims need

    def examples(self, task: str) -> list[ParallelExample]:
        if task not in self._examples:
            self._examples[task] = self._load_examples(task)
        return self._examples[task]

    def cache_key(self, model: str, task: str) -> str:
        spec = task_spec(task)
        examples = self.examples(task)
        key = {"model": self._identity(model), "task": task, "template": spec.template,
               "data_hash": data_fingerprint(examples), "languages": list(examples[0].prompts),
               "config": asdict(self.config), "conditions": sorted(self._conditions(model))}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def get(self, model: str, task: str) -> Measurement:
        if (model, task) not in self._measurements:
            self._measurements[model, task] = self._cached(model, task) or self._compute(model, task)
        return self._measurements[model, task]

    def peek(self, model: str, task: str) -> Measurement | None:
        """The measurement if this session already has it, without computing anything."""
        return self._measurements.get((model, task))

    def model(self, model: str, task: str) -> LoadedModel:
        if self._current is None or self._current[0] != model:
            self.release()
            self._current = (model, self._load_model(model, task, self.examples(task)))
        return self._current[1]

    def release(self) -> None:
        self._current = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _conditions(self, model: str) -> set[str]:
        return self.conditions.get(model, set(CONDITIONS[1:]))

    def _path(self, model: str, task: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{self.cache_key(model, task)}.pt"

    def _cached(self, model: str, task: str) -> Measurement | None:
        path = self._path(model, task)
        if path is None or not path.exists():
            return None
        return Measurement.from_state(torch.load(path, weights_only=False))

    def _compute(self, model: str, task: str) -> Measurement:
        spec: TaskSpec = task_spec(task)
        result = measure(self.model(model, task), self.examples(task), spec, self.config,
                         conditions=self._conditions(model), progress=self.progress)
        self.computed.append((model, task))
        path = self._path(model, task)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(result.to_state(), tmp)
            os.replace(tmp, path)
        return result
