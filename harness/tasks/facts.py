"""Fact probing on mParaRel relation P36 ("capital of"), parallel by subject.

Local layout (``data_dir``; as in github coastalcph/mpararel ``data/mpararel_reviewed``; Chinese is ``zh-hans``).
Without ``data_dir`` (or with a URL) the files are mirrored from that public source (harness.tasks.remote)::

    <data_dir>/patterns/<lang>/P36.jsonl   {"pattern": "the capital of [X] is [Y]", "checked-by-human": bool}
    <data_dir>/tuples/<lang>/P36.jsonl     {"sub_uri", "obj_uri", "sub_label", "obj_label", "lineid"}

Choices made here (the paper is silent on them):

- Usable pattern: exactly one ``[X]`` and ``[Y]`` last once trailing whitespace and sentence punctuation (``.。!?！？``)
  are stripped, so a causal LM can be asked for the continuation. Prompt = the pattern up to ``[Y]`` with ``[X]`` :=
  ``sub_label``, right-stripped. Patterns whose prompts coincide after stripping are kept once. Human-checked patterns
  come first, then file order.
- Facts: subjects (``sub_uri``) present in every asked language, with one capital (one ``obj_uri``) that is the same in
  every asked language; subjects listed with several capitals (e.g. Roman Empire: Rome, Constantinople) have no single
  gold answer and are dropped. Order: the first asked language's tuple file.
- Paraphrases: P = the smallest number of usable patterns over the asked languages; each fact gives P examples, one per
  paraphrase index k < P, id ``P36:<sub_uri>:<k>``. Paraphrase k of two languages is not a translation of the other
  (mParaRel does not align them); the fact is what is parallel. Fewer than 3 paraphrases in a language is an error.
- ``limit`` counts examples (fact-major: all paraphrases of a fact before the next fact).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.tasks import remote
from harness.tasks.examples import (
    LANGUAGES,
    ParallelExample,
    TaskDataError,
    TaskSpec,
    check_limit,
    read_jsonl,
    require_data_dir,
    require_nonempty,
    resolve_languages,
)

RELATION = "P36"
MIN_PARAPHRASES = 3
_TRAILING = " \t\n.。!?！？"
#: Project code -> mParaRel folder name.
FOLDERS: dict[str, str] = {lang: ("zh-hans" if lang == "zh" else lang) for lang in LANGUAGES}

SPEC = TaskSpec(
    name="facts",
    scoring="generate",
    choices=None,
    template="mParaRel P36 pattern up to a final [Y], [X] := subject (e.g. 'the capital of [X] is')",
    max_new_tokens=8,
    languages=LANGUAGES,
    folder="mpararel",
    match="prefix match",
)


def load(
    languages: Iterable[str] | None = None, limit: int | None = None, data_dir: Path | str | None = None
) -> list[ParallelExample]:
    check_limit(limit)
    langs = resolve_languages(languages, "facts", SPEC.languages)
    if data_dir is None or remote.is_url(data_dir):  # the public source (or a URL of a copy), cached locally
        data_dir = remote.mirror("facts", data_dir, [f"{kind}/{FOLDERS[lang]}/{RELATION}.jsonl"
                                                     for kind in ("patterns", "tuples") for lang in langs])
    root = require_data_dir("facts", data_dir, "pass data_dir (--data-dir): the folder that holds patterns/ and "
                            "tuples/ as in mParaRel")
    prompts = {lang: usable_prefixes(_read(root, "patterns", lang), lang) for lang in langs}
    n_para = min(len(p) for p in prompts.values())
    tuples = {lang: _by_subject(_read(root, "tuples", lang), lang, root) for lang in langs}
    examples = []
    for sub in _parallel_subjects(tuples, langs):
        facts = {lang: tuples[lang][sub] for lang in langs}
        for k in range(n_para):
            examples.append(
                ParallelExample(
                    id=f"{RELATION}:{sub}:{k}",
                    prompts={
                        lang: prompts[lang][k].replace("[X]", facts[lang]["sub_label"]) for lang in langs
                    },
                    answers={lang: facts[lang]["obj_label"] for lang in langs},
                )
            )
            if limit is not None and len(examples) == limit:
                return examples
    return require_nonempty(examples, "facts", f"{root} (languages {', '.join(langs)})")


def usable_prefixes(patterns: list[dict[str, Any]], lang: str) -> list[str]:
    """Prompt prefixes (still holding ``[X]``) of the patterns whose ``[Y]`` comes last; see the module doc."""
    ordered = sorted(patterns, key=lambda p: not p.get("checked-by-human", False))
    prefixes: list[str] = []
    for row in ordered:
        text = str(row.get("pattern", "")).rstrip(_TRAILING)
        if text.endswith("[Y]") and text.count("[Y]") == 1 and text.count("[X]") == 1:
            prefix = text[: -len("[Y]")].rstrip()
            if prefix not in prefixes:
                prefixes.append(prefix)
    if len(prefixes) < MIN_PARAPHRASES:
        raise TaskDataError(
            f"facts: language {lang!r} has {len(prefixes)} usable {RELATION} patterns ([Y] last); "
            f"at least {MIN_PARAPHRASES} are needed"
        )
    return prefixes


def _read(root: Path, kind: str, lang: str) -> list[dict[str, Any]]:
    return read_jsonl(root / kind / FOLDERS[lang] / f"{RELATION}.jsonl", "facts", lang)


def _by_subject(rows: list[dict[str, Any]], lang: str, root: Path) -> dict[str, dict[str, Any] | None]:
    """sub_uri -> its fact, or None when the subject has several capitals; insertion order = file order."""
    facts: dict[str, dict[str, Any] | None] = {}
    for row in rows:
        if not all(isinstance(row.get(key), str) for key in ("sub_uri", "obj_uri", "sub_label", "obj_label")):
            raise TaskDataError(
                f"facts: a {lang} tuple in {root} lacks sub_uri/obj_uri/sub_label/obj_label: {row}"
            )
        sub = row["sub_uri"]
        facts[sub] = row if sub not in facts or _same_object(facts[sub], row) else None
    return facts


def _same_object(known: dict[str, Any] | None, row: dict[str, Any]) -> bool:
    return known is not None and known["obj_uri"] == row["obj_uri"]


def _parallel_subjects(
    tuples: dict[str, dict[str, dict[str, Any] | None]], langs: tuple[str, ...]
) -> list[str]:
    first = tuples[langs[0]]
    return [
        sub
        for sub, fact in first.items()
        if fact is not None
        and all(
            (other := tuples[lang].get(sub)) is not None and other["obj_uri"] == fact["obj_uri"]
            for lang in langs
        )
    ]
