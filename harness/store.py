"""Measurements per (kind, model, task, languages), computed once per session and cached on disk so that a run can
resume.

A *kind* is one paper's measurement: ``types`` (Sharing Matters: neuron types, attribution, interventions; the
default) or ``language_neurons`` (Kojima et al.: expertise, language-specific neurons, tampering). Each kind knows
its conditions (the intervention runs a claim may ask for) and how to read itself back from the cache.
Models are loaded one at a time, by name (one model serves every task and kind): asking for another model releases
the previous one. A measurement may be taken on a subset of the task's languages (claims that compare two tasks
classify neurons over the languages both have). A measurement's cache key
holds everything it depends on (model id and revision, dtype, site, task, data hash, template, threshold,
languages, measurement config); files are written atomically.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from harness.language_neurons import (
    LANGUAGE_CONDITIONS,
    LanguageNeuronConfig,
    LanguageNeurons,
    measure_language_neurons,
)
from harness.measure import CONDITIONS, MeasureConfig, Measurement, measure
from harness.models import LoadedModel
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint, restrict_languages, task_spec

ModelLoader = Callable[[str], LoadedModel]  # model key -> model
ExampleLoader = Callable[[str], list[ParallelExample]]  # task -> examples
Languages = tuple[str, ...] | None  # a subset of the task's languages, or None for all of them


@dataclass(frozen=True)
class Kind:
    """One kind of measurement: its settings (from the store's config), its run, its conditions, its cache reader."""

    settings: Callable[[MeasureConfig], Any]  # a dataclass: goes into the cache key and to ``run``
    run: Callable[..., Any]  # (model, examples, spec, settings, *, conditions, progress) -> measurement
    conditions: tuple[str, ...]
    load: Callable[[dict[str, object]], Any]


def _language_settings(config: MeasureConfig) -> LanguageNeuronConfig:
    """Kojima et al.'s defaults with the run's seed and batch size."""
    return LanguageNeuronConfig(seed=config.seed, batch_size=config.batch_size)


KINDS: dict[str, Kind] = {
    "types": Kind(lambda config: config, measure, CONDITIONS, Measurement.from_state),
    "language_neurons": Kind(_language_settings, measure_language_neurons, LANGUAGE_CONDITIONS,
                             LanguageNeurons.from_state),
}


class MeasurementStore:
    def __init__(self, load_model: ModelLoader, load_examples: ExampleLoader, config: MeasureConfig, *,
                 identity: Callable[[str], dict[str, object]], cache_dir: Path | None, progress: bool = False) -> None:
        self._load_model, self._load_examples, self.config = load_model, load_examples, config
        self._identity, self.cache_dir, self.progress = identity, cache_dir, progress
        self._measurements: dict[tuple[str, str, str, Languages], Any] = {}  # (kind, model, task, languages)
        self._last: dict[tuple[str, str], Any] = {}  # (model, task) -> the measurement last handed out
        self._examples: dict[str, list[ParallelExample]] = {}
        self._current: tuple[str, LoadedModel] | None = None
        self.computed: list[tuple[str, str]] = []  # (model, task) this session measured (not from a cache)
        self.conditions: dict[tuple[str, str], set[str]] = {}  # (model, task) -> conditions its claims read, any kind

    def examples(self, task: str, languages: Languages = None) -> list[ParallelExample]:
        if task not in self._examples:
            self._examples[task] = self._load_examples(task)
        examples = self._examples[task]
        return examples if languages is None else restrict_languages(examples, languages)

    def languages(self, task: str) -> list[str]:
        return list(self.examples(task)[0].prompts)

    def cache_key(self, model: str, task: str, languages: Languages = None, kind: str = "types") -> str:
        spec = task_spec(task)
        examples = self.examples(task, languages)
        key = {"model": self._identity(model), "task": task, "template": spec.template,
               "data_hash": data_fingerprint(examples), "languages": list(examples[0].prompts),
               "config": asdict(KINDS[kind].settings(self.config)),
               "conditions": sorted(self._conditions(model, task, kind))}
        if kind != "types":  # the first kind's keys stay as they were
            key["kind"] = kind
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def get(self, model: str, task: str, languages: Sequence[str] | None = None, kind: str = "types") -> Any:
        """The measurement of ``kind`` of ``model`` on ``task`` (on ``languages`` only, when given)."""
        if kind not in KINDS:
            raise ValueError(f"unknown measurement kind {kind!r}; known kinds: {', '.join(KINDS)}")
        key = (kind, model, task, self._subset(task, languages))
        if key not in self._measurements:
            self._measurements[key] = self._cached(*key) or self._compute(*key)
        self._last[model, task] = self._measurements[key]
        return self._measurements[key]

    def is_cached(self, model: str, task: str, languages: Sequence[str] | None = None, kind: str = "types") -> bool:
        """Whether the measurement is in this session's memory or on disk (reads nothing)."""
        key = (kind, model, task, self._subset(task, languages))
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
        self._current = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _conditions(self, model: str, task: str, kind: str) -> Collection[str]:
        """The conditions of ``kind`` the session's claims read; all of them when nobody said (direct use)."""
        known = KINDS[kind].conditions
        asked = self.conditions.get((model, task))
        if asked is None:
            return set(known)
        unknown = asked - {c for k in KINDS.values() for c in k.conditions}
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; known: "
                             + "; ".join(f"{name}: {', '.join(k.conditions)}" for name, k in KINDS.items()))
        return asked & set(known)

    def _path(self, kind: str, model: str, task: str, languages: Languages) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{self.cache_key(model, task, languages, kind)}.pt"

    def _cached(self, kind: str, model: str, task: str, languages: Languages) -> Any:
        path = self._path(kind, model, task, languages)
        if path is None or not path.exists():
            return None
        return KINDS[kind].load(torch.load(path, weights_only=False))

    def _compute(self, kind: str, model: str, task: str, languages: Languages) -> Any:
        spec: TaskSpec = task_spec(task)
        result = KINDS[kind].run(self.model(model), self.examples(task, languages), spec,
                                 KINDS[kind].settings(self.config), conditions=self._conditions(model, task, kind),
                                 progress=self.progress)
        self.computed.append((model, task))
        path = self._path(kind, model, task, languages)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(result.to_state(), tmp)
            os.replace(tmp, path)
        return result
