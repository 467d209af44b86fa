"""The tiny tier's store, and background processes that prepare its measurements ahead of the run.

A tiny-tier run takes its claims one after another in one process, and most of a cold run is building planted
models and measuring them. On a machine with more cores, ``Preparer`` starts background processes (spawned, one
torch thread each) that take the measurements the collected claims will ask for, the last-needed first, while the
run works from the first. Both sides go through the same file-locked disk caches (planted models, measurements),
so each is computed once, by whichever side gets there first, and the other side loads it. A prediction that is
wrong costs time, never a result: the run computes whatever it does not find.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.core import papers
from harness.core.cache_damage import LOGGER, take_damaged
from harness.core.papers import planted_kinds, planted_models
from harness.core.shared_store import SharedStore
from harness.core.store import MeasureOptions
from harness.planted.building import share_fits
from harness.planted.cache import PlantedCache, measurement_identity
from harness.tasks import FIXTURE_DATA, SHOT_TASKS, load_task, task_spec, with_shots

MIN_REQUESTS = 3  # fewer missing measurements than this: not worth starting a process
RESULT_GRACE_S = 1.0  # at the end of the run, how long unfinished background work may still report


@dataclass(frozen=True)
class TinySettings:
    """What decides the tiny tier's measurements (the same in the run and in every background process)."""

    seed: int
    scoring: str
    cache_dir: Path | None  # None: nothing cached on disk (--no-cache)
    shared_dir: Path | None = None  # pytest-xdist: the run's measurement directory when nothing is cached
    papers: tuple[str, ...] = ()  # paper modules registered besides the built-in ones (harness.core.papers.use)


@dataclass(frozen=True)
class Request:
    """One measurement a claim will ask the store for."""

    kind: str
    model: str
    task: str
    languages: tuple[str, ...] | None = None
    shots: int = 0


def tiny_store(settings: TinySettings) -> tuple[SharedStore, PlantedCache]:
    """The store of the tiny tier: planted models built (or loaded) through ``PlantedCache``; their measurements
    cached under a key that covers the planted model's and the measuring code's sources.

    Sets this process to one torch thread: tiny models gain nothing from more, and every process of a tiny-tier run
    (serial, pytest-xdist worker, background preparation) then sums floats in the same order, so a planted model
    and its measurement are the same bits whichever process made them."""
    torch.set_num_threads(1)
    planted = PlantedCache(None if settings.cache_dir is None else settings.cache_dir / "planted")
    share_fits(None if settings.cache_dir is None else settings.cache_dir / "planted" / "fits")
    specs = planted_models()

    def examples(name: str) -> dict[str, list]:
        """Its tasks' examples, and those of its tasks that take demonstrations after each of its ``shots`` (a spec
        without the attribute is built on its tasks' own examples only)."""
        counts = (0, *getattr(specs[name], "shots", ()))
        return {with_shots(task, shots): store.examples(task, shots=shots) for task in specs[name].tasks
                for shots in counts if shots == 0 or task in SHOT_TASKS}

    store = SharedStore(
        lambda name: planted.get(specs[name], examples(name)),
        lambda task, shots: load_task(task, data_dir=FIXTURE_DATA / task_spec(task).folder, shots=shots),
        MeasureOptions(seed=settings.seed, scoring=settings.scoring),
        identity=lambda name: measurement_identity(specs[name], examples(name)),
        example_limit=lambda name: getattr(specs[name], "example_limit", None),
        cache_dir=settings.shared_dir if settings.cache_dir is None else settings.cache_dir / "tiny")
    return store, planted


def measurement_kind(model: str) -> str:
    """The kind of measurement a planted model is made for (its paper's first kind; a wrong guess costs time only)."""
    return planted_kinds()[model]


_BACKGROUND: tuple[SharedStore, PlantedCache] | None = None  # a background process's own store, made once


def _start_process(settings: TinySettings, conditions: Mapping[tuple[str, str], set[str]]) -> None:
    global _BACKGROUND  # one store per background process, made by the pool's initializer
    papers.use(settings.papers)  # a spawned process registers the run's papers anew
    LOGGER.addHandler(logging.NullHandler())  # the run reports the damaged entries this process finds (_prepare)
    store, planted = tiny_store(settings)
    store.conditions.update({key: set(value) for key, value in conditions.items()})
    _BACKGROUND = (store, planted)


def _prepare(request: Request) -> list[dict[str, Any]]:
    """Take one measurement in a background process; returns what it measured, built and found damaged (run.json's
    ``work``)."""
    assert _BACKGROUND is not None, "the pool's initializer makes the store"
    store, planted = _BACKGROUND
    before = len(store.measured), len(planted.built), len(planted.loaded)
    store.get(request.model, request.task, request.languages, kind=request.kind, shots=request.shots)
    worker = f"prepare-{os.getpid()}"
    return ([{"worker": worker, "measured": m} for m in store.measured[before[0]:]]
            + [{"worker": worker, "planted": name, "source": "built"} for name in planted.built[before[1]:]]
            + [{"worker": worker, "planted": name, "source": "cache"} for name in planted.loaded[before[2]:]]
            + [{"worker": worker, "damaged": entry} for entry in take_damaged()])


class Preparer:
    """Background processes preparing ``requests`` (in the run's order of first use) from the last one back."""

    def __init__(self, settings: TinySettings, store: SharedStore, requests: Iterable[Request],
                 processes: int) -> None:
        missing = [r for r in dict.fromkeys(requests)
               if not store.is_cached(r.model, r.task, r.languages, r.kind, r.shots)]
        self.pool: Any = None
        self.jobs: list[Any] = []  # multiprocessing AsyncResults, one per missing request
        if processes < 1 or len(missing) < MIN_REQUESTS:
            return
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch state forked mid-use
        self.pool = context.Pool(processes, initializer=_start_process, initargs=(settings, store.conditions))
        self.jobs = [self.pool.apply_async(_prepare, (request,)) for request in reversed(missing)]
        self.pool.close()

    def wait(self) -> None:
        """Until every request is prepared (or failed: the run then meets the failure itself)."""
        if self.pool is not None:
            self.pool.join()

    def stop(self) -> list[dict[str, Any]]:
        """End the background processes now and say what they did. What they finished is in the caches; nothing
        half-written is: every cache file appears by an atomic rename, and the OS drops a dead process's locks."""
        if self.pool is None:
            return []
        deadline = time.monotonic() + RESULT_GRACE_S
        for job in self.jobs:  # a result written to the cache a moment ago is still on its way
            job.wait(max(0.0, deadline - time.monotonic()))
        self.pool.terminate()
        self.pool.join()
        self.pool = None
        return [entry for job in self.jobs if job.ready() and job.successful() for entry in job.get()]
