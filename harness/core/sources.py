"""The version of a piece of our code: the sha256 of its module's source and of every module of ours it imports.

Caches key on it (planted models on their builder's, measurements on their measuring code's), so a changed module
never reuses a stale result. Imports are read from the import statements, transitively, within ``PACKAGES``; the
rest (torch, transformers, ...) is pinned by version where it matters.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path

PACKAGES = ("harness",)  # imports followed into these packages, plus each root's own top-level package


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _imports(name: str, path: Path, packages: frozenset[str]) -> set[str]:
    """Modules of ``packages`` that the module ``name`` (at ``path``) imports, submodules of ``from x import y``
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
    return {m for m in wanted if m.split(".")[0] in packages}


@functools.cache
def module_sources(roots: tuple[str, ...]) -> dict[str, str]:
    """Module name -> sha256 of its source, for ``roots`` and every module of ours they import (transitively).

    "Ours" is ``PACKAGES`` and the top-level packages of the roots (a paper registered from outside ``harness``
    has its own code followed too)."""
    packages = frozenset(PACKAGES) | {root.split(".")[0] for root in roots}
    hashes: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if name in hashes or path is None:
            continue
        hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        pending += sorted(_imports(name, path, packages) - set(hashes))
    return dict(sorted(hashes.items()))
