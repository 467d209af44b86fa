"""The subjects' training text: every task's parallel examples, each prompt followed by its gold answer.

The data come through the task loaders, from the same folder layout as the full tier's ``--data-dir``
(``xnli/``, ``mpararel/``, ``mzsre/``). Without a folder, mParaRel and MzsRE are mirrored from their pinned public
commits (harness.tasks.remote, cached in ``~/.cache/neuron-claims/data``) and XNLI is the project's own fixture.
The subjects are trained on the very items the claims test them on: they are an exercise, not a benchmark.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.tasks import (
    FIXTURE_DATA,
    MissingDataError,
    ParallelExample,
    TaskDataError,
    data_fingerprint,
    load_task,
    task_spec,
)

# the subjects learn KE in its EN->ALL direction (ALL->EN is measured, not trained)
TASKS = ("xnli", "facts", "editing")
MIRRORED = ("facts", "editing")  # without a data directory: read from their pinned public mirrors


@dataclass(frozen=True)
class Document:
    """One training text: a task prompt in one language, then " " + its gold answer, then end-of-text."""

    task: str
    language: str
    prompt: str
    answer: str


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    data_hash: str  # sha256 over the tasks' data fingerprints: part of the subjects' cache keys
    source: str  # where the data came from, in words


def task_folders(data_dir: Path | str | None) -> dict[str, Path | None]:
    """Each task's data folder (None: the loader's pinned public mirror)."""
    if data_dir is None:
        return {task: None if task in MIRRORED else FIXTURE_DATA / task_spec(task).folder for task in TASKS}
    return {task: Path(data_dir) / task_spec(task).folder for task in TASKS}


def load_corpus(data_dir: Path | str | None, who: str, items: dict[str, int]) -> Corpus:
    """The documents of the first ``items[task]`` examples of every task (the loaders' ``limit``), in every
    language (editing: direction en->all, no demonstrations).

    Any data that cannot be read is one MissingDataError naming ``who`` needs it and what is missing.
    """
    folders = task_folders(data_dir)
    examples: dict[str, list[ParallelExample]] = {}
    for task in TASKS:
        try:
            examples[task] = load_task(task, data_dir=folders[task], limit=items[task])
        except (MissingDataError, TaskDataError) as error:
            where = f"--data-dir {data_dir}" if data_dir is not None else "the pinned public mirrors"
            raise MissingDataError(f"{who} is trained on the tasks' data, read from {where} (folders "
                                   f"{', '.join(task_spec(t).folder for t in TASKS)}): {error}") from None
    documents = tuple(Document(task, lang, ex.prompts[lang], ex.answers[lang])
                      for task in TASKS for ex in examples[task] for lang in ex.prompts)
    digest = hashlib.sha256("".join(f"{task}:{data_fingerprint(examples[task])};" for task in TASKS).encode())
    source = str(data_dir) if data_dir is not None else f"pinned mirrors + {FIXTURE_DATA / 'xnli'}"
    return Corpus(documents, digest.hexdigest(), source)
