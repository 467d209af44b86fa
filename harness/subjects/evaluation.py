"""What a subject can do: accuracy per task and language and its last-token neuron types, measured the way the
claims measure them (harness.papers.sharing_matters.measurement, baseline only), on the first items of each task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.core.models import LoadedModel
from harness.papers.sharing_matters.measurement import MeasureConfig, measure
from harness.papers.sharing_matters.neurons import TYPES
from harness.subjects.corpus import TASKS, task_folders
from harness.tasks import load_task, task_spec


@dataclass(frozen=True)
class TaskScores:
    examples: int
    accuracy: dict[str, float]  # language -> share of correct answers
    types: dict[str, float]  # neuron type -> mean share over examples and layers (last prompt token)

    @property
    def mean_accuracy(self) -> float:
        return sum(self.accuracy.values()) / len(self.accuracy)


def evaluate(lm: LoadedModel, data_dir: Path | str | None, limit: int,
             batch_size: int = 16) -> dict[str, TaskScores]:
    """Scores of ``lm`` on the first ``limit`` examples of every task, from the subjects' data sources."""
    folders = task_folders(data_dir)
    scores = {}
    for task in TASKS:
        examples = load_task(task, data_dir=folders[task], limit=limit)
        m = measure(lm, examples, task_spec(task), MeasureConfig(batch_size=batch_size), conditions=())
        scores[task] = TaskScores(len(examples), dict(zip(m.languages, m.accuracy("baseline").tolist(), strict=True)),
                                  dict(zip(TYPES, m.shares.mean(dim=-1).tolist(), strict=True)))
    return scores


def format_scores(name: str, scores: dict[str, TaskScores], before: dict[str, TaskScores] | None = None) -> str:
    """Plain text: per task, accuracy per language in % (with ``before``: then the change in points) and the
    type shares in %."""
    lines = [name]
    for task, result in scores.items():
        cells = []
        for lang, value in result.accuracy.items():
            change = "" if before is None else f" ({100 * (value - before[task].accuracy[lang]):+.0f})"
            cells.append(f"{lang} {100 * value:.0f}{change}")
        types = ", ".join(f"{t} {100 * v:.1f}" for t, v in result.types.items())
        lines.append(f"  {task} (first {result.examples}) accuracy %: {', '.join(cells)}; mean "
                     f"{100 * result.mean_accuracy:.1f}")
        lines.append(f"  {task} types %: {types}")
    return "\n".join(lines)
