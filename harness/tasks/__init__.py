"""Parallel multilingual tasks of the papers: ``xnli``, ``facts`` (mParaRel P36), ``editing`` (MzsRE).

``load_task(name, data_dir=FIXTURE_DATA / "xnli")`` etc. reads the project's own small datasets; ``data_dir`` always
points at the task's folder (the one holding ``<lang>/``, ``patterns/`` + ``tuples/``, or the MzsRE json files).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.tasks import editing, facts, xnli
from harness.tasks.examples import (
    FIXTURE_DATA,
    LANGUAGES,
    MissingDataError,
    ParallelExample,
    TaskDataError,
    TaskSpec,
    content_end,
    data_fingerprint,
    prompt_content,
    restrict_languages,
)

__all__ = [
    "FIXTURE_DATA",
    "LANGUAGES",
    "TASKS",
    "SHOT_TASKS",
    "TASK_FOLDERS",
    "MissingDataError",
    "ParallelExample",
    "TaskDataError",
    "TaskSpec",
    "content_end",
    "data_fingerprint",
    "load_task",
    "prompt_content",
    "restrict_languages",
    "task_spec",
    "with_shots",
]

_SPECS: dict[str, TaskSpec] = {spec.name: spec for spec in (xnli.SPEC, facts.SPEC, editing.SPEC, editing.REVERSE_SPEC)}
TASKS: tuple[str, ...] = tuple(_SPECS)
_LOADERS = {xnli.SPEC.name: xnli.load, facts.SPEC.name: facts.load}  # editing's two directions: editing.load
TASK_FOLDERS = {name: spec.folder for name, spec in _SPECS.items()}  # each task's folder under data dirs
SHOT_TASKS: tuple[str, ...] = tuple(editing.DIRECTION_OF)  # the tasks that take in-context demonstrations


def with_shots(name: str, shots: int) -> str:
    """The name under which task ``name``'s examples after ``shots`` demonstrations sit beside its own examples (a
    planted model's build examples): the task's own name at 0 shots."""
    return name if shots == 0 else f"{name}@{shots}-shot"


def task_spec(name: str) -> TaskSpec:
    _check_name(name)
    return _SPECS[name]


def load_task(
    name: str,
    *,
    languages: Iterable[str] | None = None,
    limit: int | None = None,
    data_dir: Path | str | None = None,
    direction: str | None = None,
    shots: int = 0,
) -> list[ParallelExample]:
    """Load task ``name`` as parallel examples (keys in ``LANGUAGES`` order); ``direction``/``shots``: editing only
    (``editing`` takes either direction, en->all by default; ``editing-all-en`` is all->en)."""
    _check_name(name)
    if name in editing.DIRECTION_OF:
        if name != editing.SPEC.name and direction not in (None, editing.DIRECTION_OF[name]):
            raise TaskDataError(f"{name} is the {editing.DIRECTION_OF[name]} direction; got direction {direction!r}")
        return editing.load(languages, limit, data_dir, direction=direction or editing.DIRECTION_OF[name],
                            shots=shots)
    if direction is not None or shots:
        raise TaskDataError(f"{name}: direction and shots apply to the editing task only")
    return _LOADERS[name](languages, limit, data_dir)


def _check_name(name: str) -> None:
    if name not in _SPECS:
        raise TaskDataError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
