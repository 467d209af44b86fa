"""What a paper package registers, and the registry that finds the papers of a run.

A paper package (``harness.papers.sharing_matters``, ``harness.papers.kojima``, or one of your own) defines
``PAPER = Paper(...)``: its kinds of measurement (what the measurement store can compute and cache for a claim) and
its planted models (what the tiny tier builds). Views, rules and paper tables stay in the package: the claims import
them, and the report draws whatever plot and table specs the records carry, so nothing generic needs them.

The papers of a run are the built-in ones, those named by the ini option ``neuron_claims_papers`` (module names,
one per line) and those of the entry-point group ``neuron_claims.papers`` (each naming a module): adding a paper is
one registration line. The store, the plugin and the report import no paper module; they ask this registry.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Protocol

from harness.core.models import LoadedModel
from harness.tasks import ParallelExample

BUILT_IN = ("harness.papers.sharing_matters.paper", "harness.papers.kojima.paper")
ENTRY_POINTS = "neuron_claims.papers"
INI_OPTION = "neuron_claims_papers"


class PlantedModel(Protocol):
    """A planted model's spec: its name, the tasks it is built on, and how to build it (frozen: its repr keys the
    planted-model cache)."""

    name: str
    tasks: tuple[str, ...]

    def build(self, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel: ...


@dataclass(frozen=True)
class Kind:
    """One kind of measurement: its settings (derived from the run's options), its run, the conditions a claim may
    ask for, and how it is read back from the plain data of the cache.

    ``version`` is the kind's schema version: bump it when the meaning of a stored field changes. The cache key
    also carries the source of the measuring code (``run``'s module and everything of ours it imports), so a changed
    reducer never silently reuses a stale measurement either way."""

    name: str
    settings: Callable[[Any], Any]  # the run's options (harness.core.store.MeasureOptions) -> a dataclass
    run: Callable[..., Any]  # (model, examples, spec, settings, *, conditions, progress) -> measurement
    conditions: tuple[str, ...]
    load: Callable[[dict[str, Any]], Any]  # plain state (tensors, numbers, strings, lists, dicts) -> measurement
    version: int = 1


@dataclass(frozen=True)
class Paper:
    name: str
    kinds: tuple[Kind, ...] = ()
    planted: tuple[PlantedModel, ...] = field(default=())


class PaperRegistryError(Exception):
    """A paper module that cannot be imported, defines no ``PAPER``, or clashes with another paper's names."""


_extra: tuple[str, ...] = ()  # modules registered for this process besides the built-in ones and entry points


def registered() -> tuple[str, ...]:
    """The modules ``use`` registered (what a spawned process passes to ``use`` to see the same papers)."""
    return _extra


def use(modules: Iterable[str]) -> None:
    """Register the papers of these modules (the ini option's lines) for this process, replacing earlier ones."""
    global _extra
    _extra = tuple(m.strip() for m in modules if m.strip())


@functools.cache
def _entry_point_modules() -> tuple[str, ...]:
    return tuple(ep.value for ep in metadata.entry_points(group=ENTRY_POINTS))


def _load(module: str) -> Paper:
    try:
        paper = getattr(importlib.import_module(module), "PAPER", None)
    except ImportError as error:
        raise PaperRegistryError(f"paper module {module!r} cannot be imported: {error}") from error
    if not isinstance(paper, Paper):
        raise PaperRegistryError(f"paper module {module!r} defines no PAPER = harness.core.papers.Paper(...)")
    return paper


def papers() -> dict[str, Paper]:
    """Every registered paper by name, built-in ones first."""
    return _papers((*BUILT_IN, *_entry_point_modules(), *_extra))


@functools.cache
def _papers(modules: tuple[str, ...]) -> dict[str, Paper]:
    found: dict[str, Paper] = {}
    for module in dict.fromkeys(modules):
        paper = _load(module)
        if paper.name in found and found[paper.name] is not paper:
            raise PaperRegistryError(f"two papers are named {paper.name!r} (module {module!r})")
        found[paper.name] = paper
    _unique("measurement kind", [(k.name, p.name) for p in found.values() for k in p.kinds])
    _unique("planted model", [(m.name, p.name) for p in found.values() for m in p.planted])
    return found


def _unique(what: str, names: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for name, paper in names:
        if name in seen:
            raise PaperRegistryError(f"{what} {name!r} is registered by both {seen[name]!r} and {paper!r}")
        seen[name] = paper


def kinds() -> dict[str, Kind]:
    """Every registered kind of measurement by name."""
    return {k.name: k for p in papers().values() for k in p.kinds}


def planted_models() -> dict[str, PlantedModel]:
    """Every registered planted model by name."""
    return {m.name: m for p in papers().values() for m in p.planted}


def planted_kinds() -> dict[str, str]:
    """Every registered planted model's name -> the kind of measurement it is made for: its paper's first kind."""
    return {m.name: p.kinds[0].name for p in papers().values() if p.kinds for m in p.planted}
