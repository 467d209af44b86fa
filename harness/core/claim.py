"""A claim: one paper finding, where it applies, its planted truths, and the paper's numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Planted:
    """One tiny-tier instance: a planted model (and its base or other-sized model for pair claims) and the verdict it
    must give;
    ``by_language`` overrides it for some languages of a per-language claim, as (language, verdict) pairs."""

    model: str
    expected: str
    base_model: str | None = None
    scale_model: str | None = None
    by_language: tuple[tuple[str, str], ...] = ()
    controls: tuple[tuple[str, str], ...] = ()  # (control, the verdict the rule gives under it), e.g. content end
    task: str | None = None  # the task its instance measures (None: the tiny tier's own, XNLI)

    def expected_for(self, language: str | None) -> str:
        return dict(self.by_language).get(language, self.expected)


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    paper_ref: str
    paper_text: str
    tasks: tuple[str, ...]  # tasks of the full tier it applies to
    per_language: bool  # one instance per language, or one over all languages
    planted: tuple[Planted, ...]  # tiny tier
    needs_base: bool = False  # compares the model with its foundation model (--base-model)
    needs_scale: bool = False  # compares the model with one of its family at another size (--scale-model)
    versus: str | None = None  # a second task each instance compares its own with (on the languages both have)
    conditions: tuple[str, ...] = ()  # intervention conditions it reads (its measurement kinds' ``conditions``)
    shots: tuple[int, ...] = (0,)  # in-context demonstration counts it reads a measurement at (editing tasks)
    tiny_languages: tuple[str, ...] | None = None  # the languages its tiny-tier instances read (None: all)
    # paper numbers for (model id, task, language or None): label -> value, shown beside ours
    paper_numbers: Callable[[str, str, str | None], dict[str, float]] = field(default=lambda *_: {})


@dataclass(frozen=True)
class ClaimCase:
    """One parametrized instance of a claim (the pytest id says model-task-language)."""

    claim: Claim
    tier: str  # "tiny" or "full"
    model: str
    task: str
    language: str | None = None
    base_model: str | None = None
    scale_model: str | None = None
    expected: str | None = None  # planted truth (tiny tier)
    expected_controls: tuple[tuple[str, str], ...] = ()  # planted truth under controls (Planted.controls)

    @property
    def models(self) -> tuple[str, ...]:
        """The model and the other model of a pair claim, if any."""
        return tuple(filter(None, (self.model, self.base_model, self.scale_model)))

    @property
    def id(self) -> str:
        """Readable: the last part of a hub id or path (``bigscience/bloomz-7b1`` -> ``bloomz-7b1``)."""
        short = [name.rstrip("/").rsplit("/", 1)[-1] for name in self.models]
        tasks = "-vs-".join(filter(None, (self.task, self.claim.versus)))
        return "-".join(p for p in ("-vs-".join(short), tasks, self.language) if p)
