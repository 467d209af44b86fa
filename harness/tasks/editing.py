"""In-context knowledge editing on MzsRE (paper §4, App. A.2), directions en->all and all->en.

Local layout (``data_dir``; as in github weixuan-wang123/ReMaKE ``data/MzsRE``)::

    <data_dir>/mzsre_test_duplicate_en<X>.json   a JSON list of items {"en": {...}, "<X>": {...}}, X != en

Each side has ``src`` (the question) and ``alt`` (the counterfactual edited answer), among other fields. Item i is the
same fact in every file, so the files must have equal length and an identical English side (else an error).

Prompt: ``{context} Question: {question} Answer:`` where an edit's context is ``src + " " + alt`` (the question
followed by its new answer, one space between):

- ``en->all`` (default): for X, the context is the English edit, the question ``X.src``, the gold ``X.alt``;
- ``all->en``: for X, the context is the edit in X, the question ``en.src``, the gold ``en.alt``;
- for ``en`` itself (both directions): English context, question and gold.

``shots=n`` (App. A.3.6) prepends n demonstrations, each a full ``{context} Question: {question} Answer: {answer}``
block in the same language and direction, one per line: the n items just before the item (wrapping around to the end
of the file for the first items, so every item gets n demonstrations and never itself). ``limit`` takes the first
items after the demonstrations were chosen, so a limited run is a prefix of the full one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.tasks import remote
from harness.tasks.examples import (
    LANGUAGES,
    MissingDataError,
    ParallelExample,
    TaskDataError,
    TaskSpec,
    check_limit,
    require_data_dir,
    require_nonempty,
    resolve_languages,
)

TEMPLATE = "{context} Question: {question} Answer:"
DIRECTIONS = ("en->all", "all->en")
SPEC = TaskSpec(
    name="editing",
    scoring="generate",
    choices=None,
    template=TEMPLATE,
    max_new_tokens=16,
    languages=LANGUAGES,
    folder="mzsre",
)
#: The reverse direction as a task of its own (the paper reports it apart: Table 5, Fig. 11). Its question is the
#: English one in every language, so its translated content is the edit: the content ends with the context.
REVERSE_SPEC = dataclasses.replace(SPEC, name="editing-all-en", content_field="context")
#: Task name -> its editing direction.
DIRECTION_OF = {SPEC.name: "en->all", REVERSE_SPEC.name: "all->en"}

Side = dict[str, Any]


def file_name(lang: str) -> str:
    return f"mzsre_test_duplicate_en{lang}.json"


def load(
    languages: Iterable[str] | None = None,
    limit: int | None = None,
    data_dir: Path | str | None = None,
    direction: str | None = None,
    shots: int = 0,
) -> list[ParallelExample]:
    check_limit(limit)
    direction = direction or "en->all"
    if direction not in DIRECTIONS:
        raise TaskDataError(f"editing: unknown direction {direction!r}; known: {', '.join(DIRECTIONS)}")
    langs = resolve_languages(languages, "editing", SPEC.languages)
    if data_dir is None or remote.is_url(data_dir):  # the public source (or a URL of a copy), cached locally
        others = [lang for lang in langs if lang != "en"] or [lang for lang in SPEC.languages if lang != "en"]
        data_dir = remote.mirror("editing", data_dir, [file_name(lang) for lang in others])
    root = require_data_dir("editing", data_dir, "pass data_dir (--data-dir): the folder with "
                            "mzsre_test_duplicate_en<X>.json as in MzsRE")
    sides = _read_sides(root, langs)
    n_items = len(sides["en"])
    if isinstance(shots, bool) or not isinstance(shots, int) or not 0 <= shots < n_items:
        raise TaskDataError(
            f"editing: shots must be an integer in [0, {n_items - 1}] for {root}, got {shots!r}"
        )
    blocks = {lang: [_block(sides, lang, i, direction) for i in range(n_items)] for lang in langs}
    examples = []
    for i in range(n_items if limit is None else min(limit, n_items)):
        prompts, answers = {}, {}
        for lang in langs:
            context, question, answer = blocks[lang][i]
            demos = [_demo(*blocks[lang][j]) for j in range(i - shots, i)]  # negative j wraps to the end
            prompts[lang] = "\n".join([*demos, TEMPLATE.format(context=context, question=question)])
            answers[lang] = answer
        examples.append(ParallelExample(id=f"mzsre:{i}", prompts=prompts, answers=answers))
    return require_nonempty(examples, "editing", str(root))


def _demo(context: str, question: str, answer: str) -> str:
    return f"{TEMPLATE.format(context=context, question=question)} {answer}"


def _block(sides: dict[str, list[Side]], lang: str, i: int, direction: str) -> tuple[str, str, str]:
    """(context, question, gold) of item i in language ``lang`` for ``direction``."""
    en, x = sides["en"][i], sides[lang][i]
    edit, test = (en, x) if direction == "en->all" else (x, en)
    return f"{edit['src']} {edit['alt']}", test["src"], test["alt"]


def _read_sides(root: Path, langs: tuple[str, ...]) -> dict[str, list[Side]]:
    """language -> its side of every item; ``en`` is checked identical across the files read."""
    others = [lang for lang in langs if lang != "en"]
    if not others:  # English alone: any file holds it; take the first one present
        present = [lang for lang in LANGUAGES[1:] if (root / file_name(lang)).is_file()]
        if not present:
            raise MissingDataError(f"editing: no mzsre_test_duplicate_en<X>.json in {root} (needed for 'en')")
        others = present[:1]
    sides: dict[str, list[Side]] = {}
    english: dict[str, list[Side]] = {}
    for lang in others:
        items = _read_file(root / file_name(lang), lang)
        english[lang] = [item["en"] for item in items]
        if lang in langs:
            sides[lang] = [item[lang] for item in items]
    counts = {lang: len(items) for lang, items in english.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{lang}={n}" for lang, n in counts.items())
        raise TaskDataError(f"editing: parallel data of unequal length in {root} (items per file: {detail})")
    reference = others[0]
    for lang in others[1:]:
        for i, (a, b) in enumerate(zip(english[reference], english[lang], strict=True)):
            if a != b:
                raise TaskDataError(
                    f"editing: the English side of item {i} differs between {file_name(reference)} and "
                    f"{file_name(lang)} in {root}; the files are not aligned"
                )
    sides["en"] = english[reference]
    return sides


def _read_file(path: Path, lang: str) -> list[dict[str, Side]]:
    if not path.is_file():
        raise MissingDataError(f"editing: missing data file for language {lang!r}: {path}")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise TaskDataError(f"editing: {path} ({lang}) is not valid JSON: {err}") from None
    if not isinstance(items, list) or not items:
        raise TaskDataError(f"editing: {path} ({lang}) holds no items (expected a non-empty JSON list)")
    for i, item in enumerate(items):
        for side in ("en", lang):
            fields = item.get(side) if isinstance(item, dict) else None
            if not isinstance(fields, dict) or not all(
                isinstance(fields.get(k), str) for k in ("src", "alt")
            ):
                raise TaskDataError(f"editing: item {i} of {path} lacks '{side}.src'/'{side}.alt' strings")
    return items
