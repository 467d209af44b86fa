"""What every kind of measurement records about where it comes from, and how it travels through the cache."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

from harness.tasks import ParallelExample, TaskSpec


@dataclass(kw_only=True)
class Provenance:
    """The fields both papers' measurements repeat: the model's facts, the task and its data, the settings, the
    scoring and the timings. A claim's run record takes its provenance from them (harness.plugin.session)."""

    model: dict[str, object]  # LoadedModel.provenance()
    task: str
    languages: list[str]
    example_ids: list[str]
    config: dict[str, object]  # the kind's settings, as a dict
    data_hash: str
    scoring: dict[str, object] = field(default_factory=dict)  # how answers were scored (verbalizers, budget, ...)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The model and task, for titles and ids of plots and tables."""
        return f"{self.model['model']} {self.task}"

    def to_state(self) -> dict[str, Any]:
        """Plain data only (tensors, numbers, strings, lists, dicts): what the cache stores."""
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """The measurement back from ``to_state``; a ValueError names what does not fit."""
        if not isinstance(state, dict):
            raise ValueError(f"a {cls.__name__} state is a dict, got {type(state).__name__}")
        names = {f.name for f in fields(cls)}
        if set(state) != names:
            missing, unknown = sorted(names - set(state)), sorted(set(state) - names)
            raise ValueError(f"a {cls.__name__} state does not match its fields: missing {missing}, unknown {unknown}")
        return cls(**state)


def check_request(spec: TaskSpec, examples: Sequence[ParallelExample], conditions: Collection[str],
                  known: Collection[str]) -> list[str]:
    """The languages of a measurement request, after a ValueError for unknown conditions or no examples."""
    unknown = set(conditions) - set(known)
    if unknown:
        raise ValueError(f"unknown conditions {sorted(unknown)}; choose from {tuple(known)}")
    if not examples:
        raise ValueError(f"{spec.name}: no examples to measure")
    return list(examples[0].prompts)
