"""XNLI as a parallel choice task (paper App. A.2).

Source: ``datasets.load_dataset("facebook/xnli", <lang>, split="test")`` when ``data_dir`` is None; the nine XNLI
languages of the paper (XNLI has no Portuguese). Row i of every language is the same item (XNLI is a translation
of one English set), so examples are parallel by row index; unequal row counts, or labels that differ at one index,
mean the copies are not aligned and are an error.

Local copy (``data_dir``), in the hub dataset's schema::

    <data_dir>/<lang>/test.jsonl    one row a line: {"premise": str, "hypothesis": str, "label": int}

with label 0 = entailment, 1 = neutral, 2 = contradiction, as on the hub.

The gold answer is the prompt's own answer word (English in every language, as the template asks):
entailment -> "true", contradiction -> "false", neutral -> "inconclusive".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.tasks.examples import (
    LANGUAGES,
    MissingDataError,
    ParallelExample,
    TaskDataError,
    TaskSpec,
    check_limit,
    hub_offline,
    read_jsonl,
    require_nonempty,
    resolve_languages,
)

HUB_ID = "facebook/xnli"
TEMPLATE = (
    "Take the following as truth: {premise}\n"
    'Then the following statement: "{hypothesis}" is "true", "false", or "inconclusive"?'
)
#: Hub label id -> answer word of the template.
LABEL_WORDS: dict[int, str] = {0: "true", 1: "inconclusive", 2: "false"}

SPEC = TaskSpec(
    name="xnli",
    scoring="verbalizer",
    choices=("true", "false", "inconclusive"),
    template=TEMPLATE,
    max_new_tokens=None,
    languages=tuple(lang for lang in LANGUAGES if lang != "pt"),
    folder="xnli",
)


def load(
    languages: Iterable[str] | None = None, limit: int | None = None, data_dir: Path | str | None = None
) -> list[ParallelExample]:
    check_limit(limit)
    if languages is not None and "pt" in ([languages] if isinstance(languages, str) else list(languages)):
        raise TaskDataError(f"xnli has no Portuguese ('pt'); supported: {', '.join(SPEC.languages)}")
    langs = resolve_languages(languages, "xnli", SPEC.languages)
    rows = {
        lang: _read_local(Path(data_dir), lang) if data_dir is not None else _read_hub(lang) for lang in langs
    }
    counts = {lang: len(r) for lang, r in rows.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{lang}={n}" for lang, n in counts.items())
        raise TaskDataError(f"xnli: parallel data of unequal length (rows per language: {detail})")
    where = str(data_dir) if data_dir is not None else f"hub dataset {HUB_ID}"
    n_items = counts[langs[0]] if limit is None else min(limit, counts[langs[0]])
    examples = [_example(i, {lang: rows[lang][i] for lang in langs}, where) for i in range(n_items)]
    return require_nonempty(examples, "xnli", where)


def _example(index: int, rows: dict[str, dict[str, Any]], where: str) -> ParallelExample:
    labels = {lang: row.get("label") for lang, row in rows.items()}
    if len(set(labels.values())) != 1:
        raise TaskDataError(f"xnli: row {index} has different labels across languages {labels} in {where}")
    label = next(iter(labels.values()))
    if label not in LABEL_WORDS:
        raise TaskDataError(
            f"xnli: row {index} has label {label!r}; expected 0, 1 or 2 (hub schema) in {where}"
        )
    prompts = {}
    for lang, row in rows.items():
        if not isinstance(row.get("premise"), str) or not isinstance(row.get("hypothesis"), str):
            raise TaskDataError(
                f"xnli: row {index} ({lang}) lacks a 'premise' or 'hypothesis' string in {where}"
            )
        prompts[lang] = TEMPLATE.format(premise=row["premise"], hypothesis=row["hypothesis"])
    return ParallelExample(
        id=f"xnli:{index}", prompts=prompts, answers={lang: LABEL_WORDS[label] for lang in rows}
    )


def _read_local(data_dir: Path, lang: str) -> list[dict[str, Any]]:
    if not data_dir.is_dir():
        raise MissingDataError(f"xnli: data directory not found (needed for language {lang!r}): {data_dir}")
    return read_jsonl(data_dir / lang / "test.jsonl", "xnli", lang)


def _read_hub(lang: str) -> list[dict[str, Any]]:
    if hub_offline():
        raise MissingDataError(
            f"xnli: HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set and no local data directory was given "
            f"(language {lang!r}); pass data_dir (--data-dir) pointing at a folder with <lang>/test.jsonl "
            f"in the {HUB_ID} schema"
        )
    import datasets  # deferred: importing datasets is slow and only the hub path needs it

    try:
        split = datasets.load_dataset(HUB_ID, lang, split="test")
    except ConnectionError as error:
        raise MissingDataError(f"xnli: could not reach {HUB_ID} on the hub for language {lang!r} ({error}); pass "
                               f"data_dir (--data-dir) pointing at a folder with <lang>/test.jsonl") from None
    return [{"premise": r["premise"], "hypothesis": r["hypothesis"], "label": r["label"]} for r in split]
