"""Shared vocabulary of the task loaders: parallel examples, task specs, languages, errors, fingerprints.

A *parallel example* is one item of a task given in several languages at once (the unit over which the paper
classifies neurons into all-shared / partial-shared / specific / non-activated: docs/design.md, "Definitions").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The paper's language codes, in the canonical order every loader uses for the keys of an example.
LANGUAGES: tuple[str, ...] = ("en", "de", "es", "fr", "pt", "ru", "th", "tr", "vi", "zh")

#: The project's own small parallel datasets (one folder per task: ``xnli``, ``mpararel``, ``mzsre``).
FIXTURE_DATA: Path = Path(__file__).resolve().parents[2] / "fixtures" / "data"

_TRUTHY = {"1", "on", "yes", "true"}


class TaskDataError(ValueError):
    """Bad request or bad data for a task (unknown task/language, unequal parallel data, empty data...)."""


class MissingDataError(FileNotFoundError):
    """A data file or folder a task needs is not there; the message names the path and the language."""


@dataclass(frozen=True)
class ParallelExample:
    """One task item in several languages; ``prompts`` and ``answers`` share keys, in ``LANGUAGES`` order."""

    id: str
    prompts: dict[str, str]
    answers: dict[str, str]

    def __post_init__(self) -> None:
        if list(self.prompts) != list(self.answers):
            raise TaskDataError(
                f"example {self.id}: prompt languages {list(self.prompts)} != answer languages {list(self.answers)}"
            )


@dataclass(frozen=True)
class TaskSpec:
    """How a task is prompted and scored; recorded with every result."""

    name: str
    # "verbalizer": the answer is one of ``choices`` (greedy generation, the first verbalizer found; or a forced
    # choice among their first tokens); "generate": an open answer, compared with the gold by the task's metric
    scoring: str
    choices: tuple[str, ...] | None
    template: str
    max_new_tokens: int | None  # open answers: the generation budget; verbalizers: the tokenizer decides
    languages: tuple[str, ...]
    folder: str = ""  # the folder holding its data under a data directory (--data-dir, fixtures/data)
    match: str = "exact match"  # open answers: "exact match" or "prefix match" (harness.core.scoring.MATCHES)
    # the template field whose end is the translated content's end (None: the last field); KE ALL->EN names its
    # context, the edit in each language, since its question is the same English one in every language
    content_field: str | None = None

    def content_end(self, prompt: str) -> int:
        """Character offset in ``prompt`` where its translated content ends (see ``content_end``)."""
        return content_end(self.template, prompt, self.content_field)


def data_fingerprint(examples: Sequence[ParallelExample]) -> str:
    """sha256 hex digest of a canonical JSON of the examples (ids, prompts, answers, in order)."""
    payload = [{"id": ex.id, "prompts": ex.prompts, "answers": ex.answers} for ex in examples]
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_content(template: str, prompt: str) -> str:
    """What a prompt was filled in with: its template's fields joined by new lines, without the template's own words
    (XNLI: premise and hypothesis in the prompt's language, without the English instructions around them).

    A template without fields (facts: the prompt is a translated pattern) gives the prompt itself; a prompt that
    does not fit a template with fields is an error.
    """
    pieces = list(string.Formatter().parse(template))
    if all(field is None for _, field, _, _ in pieces):
        return prompt
    pattern = "".join(re.escape(literal) + ("(.*?)" if field is not None else "") for literal, field, _, _ in pieces)
    match = re.fullmatch(pattern, prompt, flags=re.DOTALL)
    if match is None:
        raise TaskDataError(f"prompt {prompt[:60]!r} does not fit the template {template[:60]!r}")
    return "\n".join(match.groups())


def content_end(template: str, prompt: str, field: str | None = None) -> int:
    """Character offset where the prompt's translated content ends: the end of the template's last field (XNLI:
    the hypothesis, KE: the question), or of the named ``field`` (KE ALL->EN: the context, the edit in the prompt's
    language), before the template's words after it; a template without fields (facts: a translated pattern) is
    content to its end.

    What follows the field is matched at the prompt's end: the template's own words, and its later fields as text
    without line breaks (so the last of several demonstration blocks, one per line, is the one read). The prompt
    must end so and hold content before it; otherwise an error.
    """
    pieces = list(string.Formatter().parse(template))
    fields = [i for i, (_, name, _, _) in enumerate(pieces) if name is not None]
    if not fields:
        return len(prompt)
    named = [i for i in fields if pieces[i][1] == field] if field is not None else fields[-1:]
    if not named:
        raise TaskDataError(f"the template {template[:60]!r} has no field {field!r}")
    rest = pieces[named[-1] + 1:]
    tail = "".join(re.escape(literal) + ("" if name is None else "[^\n]*?") for literal, name, _, _ in rest)
    match = re.search(tail + r"\Z", prompt)
    closing = "".join(literal + ("" if name is None else "{" + name + "}") for literal, name, _, _ in rest)
    if match is None or match.start() == 0:
        raise TaskDataError(f"prompt {prompt[-60:]!r} does not end with content and then the template's closing "
                            f"words {closing!r}")
    return match.start()


def restrict_languages(examples: Sequence[ParallelExample], languages: Sequence[str]) -> list[ParallelExample]:
    """The same examples in ``languages`` only (kept in the examples' own order); every one must be present."""
    have = list(examples[0].prompts) if examples else []
    missing = [lang for lang in languages if lang not in have]
    if missing or not languages:
        raise TaskDataError(f"cannot restrict examples in {', '.join(have)} to languages {', '.join(languages)}")
    keep = [lang for lang in have if lang in languages]
    return [ParallelExample(ex.id, {lang: ex.prompts[lang] for lang in keep}, {lang: ex.answers[lang] for lang in keep})
            for ex in examples]


def resolve_languages(
    requested: Iterable[str] | None, task: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    """Validate ``requested`` against ``default`` (the task's languages) and return it in ``LANGUAGES`` order."""
    if requested is None:
        return default
    asked = [requested] if isinstance(requested, str) else list(requested)
    if not asked:
        raise TaskDataError(f"{task}: no languages asked for; supported: {', '.join(default)}")
    unknown = [lang for lang in asked if lang not in default]
    if unknown:
        raise TaskDataError(
            f"{task}: unsupported language(s) {', '.join(map(repr, unknown))}; supported: {', '.join(default)}"
        )
    return tuple(lang for lang in LANGUAGES if lang in asked)


def require_data_dir(task: str, data_dir: Path | str | None, where_to_get: str) -> Path:
    """The task's local data folder, or one clear error that says where to get the data."""
    if data_dir is None:
        raise MissingDataError(f"{task}: no data_dir given; {where_to_get}")
    root = Path(data_dir)
    if not root.is_dir():
        raise MissingDataError(f"{task}: data directory not found: {root}")
    return root


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise TaskDataError(f"limit must be a positive integer or None, got {limit!r}")


def require_nonempty(examples: list[ParallelExample], task: str, where: str) -> list[ParallelExample]:
    if not examples:
        raise TaskDataError(f"{task}: no examples found in {where}")
    return examples


def read_jsonl(path: Path, task: str, lang: str) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (blank lines skipped), with errors that name the file and the language."""
    if not path.is_file():
        raise MissingDataError(f"{task}: missing data file for language {lang!r}: {path}")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise TaskDataError(
                        f"{task}: {path}:{number} ({lang}) is not valid JSON: {err}"
                    ) from None
    return rows


def hub_offline() -> bool:
    """True when the user asked the Hugging Face libraries not to touch the network."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUTHY
        for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    )
