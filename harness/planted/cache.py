"""Planted models built once per machine: ``harness.papers.sharing_matters.planted.build_planted`` behind a disk cache; and the identity
under which the tiny tier caches its measurements of them (``measurement_identity``).

A built model is pickled whole (module graph, tokenizer, neuron site) under a key that hashes everything it depends
on: the source of the builder modules and of every ``fixtures`` / ``harness`` module they import (transitively, read
from the import statements), the spec's repr, the examples it is built on, and the torch and transformers versions.
A changed builder therefore never reuses a stale model. A file lock per key makes concurrent processes (pytest-xdist
workers) build each model once: the others wait, then load it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import transformers
from filelock import FileLock

from harness.papers.sharing_matters.planted import PlantSpec, build_planted
from harness.papers.kojima.planted import LanguagePlantSpec
from harness.core.models import LoadedModel
from harness.tasks import ParallelExample, data_fingerprint

BUILDERS = ("harness.papers.sharing_matters.planted",)  # the builder's entry module; what it imports is followed from here
MEASURING = ("harness.core.store",)  # the measurements' entry module (every kind); what it imports is followed
PACKAGES = ("fixtures", "harness")  # imports followed into these packages (the rest are pinned by version)


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _imports(name: str, path: Path) -> set[str]:
    """Modules of ``PACKAGES`` that the module ``name`` (at ``path``) imports, submodules of ``from x import y``
    included."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if _module_file(f"{base}.{alias.name}")}
    wanted = set()
    for module in found:  # a.b.c imports a and a.b too
        parts = module.split(".")
        wanted |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in wanted if m.split(".")[0] in PACKAGES}


@functools.cache
def module_sources(roots: tuple[str, ...]) -> dict[str, str]:
    """Module name -> sha256 of its source, for ``roots`` and every module of ours they import (transitively)."""
    hashes: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if name in hashes or path is None:
            continue
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        pending += sorted(_imports(name, path) - set(hashes))
    return dict(sorted(hashes.items()))


def builder_sources() -> dict[str, str]:
    """Module name -> sha256 of its source, for the builder modules and everything of ours they import."""
    return module_sources(BUILDERS)


def cache_key(spec: PlantSpec | LanguagePlantSpec, examples_by_task: Mapping[str, Sequence[ParallelExample]],
              sources: Mapping[str, str] | None = None) -> str:
    payload: dict[str, Any] = {
        "sources": dict(builder_sources() if sources is None else sources), "spec": repr(spec),
        "data": {task: data_fingerprint(list(examples)) for task, examples in sorted(examples_by_task.items())},
        "torch": torch.__version__, "transformers": transformers.__version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


class PlantedCache:
    """Builds planted models, or loads them from ``directory`` (None: always build); says which it did."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.built: list[str] = []
        self.loaded: list[str] = []

    def path(self, spec: PlantSpec | LanguagePlantSpec,
             examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{spec.name}-{cache_key(spec, examples_by_task)}.pt"

    def get(self, spec: PlantSpec | LanguagePlantSpec,
            examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
        path = self.path(spec, examples_by_task)
        if path is None:
            self.built.append(spec.name)
            return build_planted(spec, examples_by_task)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):
            if path.exists():
                lm = torch.load(path, weights_only=False)  # our own pickle, written below
                # The builders flush denormals process-wide (fast CPU matmuls with silu tails); a loaded model
                # must run under the same setting to give the same numbers.
                torch.set_flush_denormal(True)
                self.loaded.append(spec.name)
                return lm
            lm = build_planted(spec, examples_by_task)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(lm, tmp)
            os.replace(tmp, path)
            self.built.append(spec.name)
            return lm


def measurement_identity(spec: PlantSpec | LanguagePlantSpec,
                         examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> dict[str, Any]:
    """What a tiny-tier measurement of a planted model depends on besides what the measurement store's key holds
    (task, data, template, languages, settings, conditions): the model's own cache key (its builder's code, spec,
    data and the library versions) and the source of the measuring code (``MEASURING`` and every ``fixtures`` /
    ``harness`` module it imports). A measurement cached under it is therefore never stale: any change to the model,
    the measuring code or the data gives another key."""
    return {"planted": repr(spec), "model_key": cache_key(spec, examples_by_task),
            "measuring": module_sources(MEASURING)}
