"""Task loaders on the project's own fixtures (offline, fast)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.tasks import (
    FIXTURE_DATA,
    LANGUAGES,
    MissingDataError,
    ParallelExample,
    TaskDataError,
    data_fingerprint,
    load_task,
    restrict_languages,
    task_spec,
)

XNLI_DIR = FIXTURE_DATA / "xnli"
FACTS_DIR = FIXTURE_DATA / "mpararel"
MZSRE_DIR = FIXTURE_DATA / "mzsre"
XNLI_LANGS = ("en", "de", "es", "fr", "ru", "th", "tr", "vi", "zh")
XNLI_RE = re.compile(
    r"Take the following as truth: (?P<p>[^\n]+)\n"
    r'Then the following statement: "(?P<h>[^\n]+)" is "true", "false", or "inconclusive"\?'
)
EDIT_RE = re.compile(r"(?P<context>.+) Question: (?P<question>.+) Answer:", re.DOTALL)


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


# --- API surface -------------------------------------------------------------------------------------------------


def test_specs() -> None:
    xnli = task_spec("xnli")
    assert (xnli.scoring, xnli.choices, xnli.languages) == (
        "verbalizer",
        ("true", "false", "inconclusive"),
        XNLI_LANGS,
    )
    assert task_spec("facts").scoring == task_spec("editing").scoring == "generate"
    assert task_spec("facts").languages == task_spec("editing").languages == LANGUAGES
    assert task_spec("editing").template == "{context} Question: {question} Answer:"
    assert 0 < task_spec("facts").max_new_tokens < task_spec("editing").max_new_tokens


def test_unknown_task_lists_known() -> None:
    with pytest.raises(TaskDataError, match="known tasks: xnli, facts, editing, editing-all-en"):
        load_task("squad", data_dir=XNLI_DIR)
    with pytest.raises(ValueError, match="unknown task"):
        task_spec("squad")


def test_example_is_frozen_and_keys_must_match() -> None:
    ex = ParallelExample(id="a", prompts={"en": "p"}, answers={"en": "a"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.id = "b"  # type: ignore[misc]  # the assignment a frozen dataclass refuses
    with pytest.raises(TaskDataError):
        ParallelExample(id="a", prompts={"en": "p"}, answers={"de": "a"})


@given(st.lists(st.tuples(st.text(), st.text(), st.text()), min_size=1, max_size=5))
def test_fingerprint_is_canonical(items: list[tuple[str, str, str]]) -> None:
    examples = [ParallelExample(id=i, prompts={"en": p}, answers={"en": a}) for i, p, a in items]
    copy = [ParallelExample(id=e.id, prompts=dict(e.prompts), answers=dict(e.answers)) for e in examples]
    digest = data_fingerprint(examples)
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and digest == data_fingerprint(copy)
    changed = [
        *examples[:-1],
        dataclasses.replace(examples[-1], answers={"en": examples[-1].answers["en"] + "x"}),
    ]
    assert data_fingerprint(changed) != digest


def test_direction_and_shots_are_editing_only() -> None:
    with pytest.raises(TaskDataError, match="editing task only"):
        load_task("xnli", data_dir=XNLI_DIR, direction="all->en")
    with pytest.raises(TaskDataError, match="editing task only"):
        load_task("facts", data_dir=FACTS_DIR, shots=2)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_bad_limit(limit: object) -> None:
    with pytest.raises(TaskDataError, match="limit"):
        load_task("xnli", data_dir=XNLI_DIR, limit=limit)  # type: ignore[arg-type]  # bad values on purpose


# --- xnli --------------------------------------------------------------------------------------------------------


def test_xnli_fixture() -> None:
    examples = load_task("xnli", data_dir=XNLI_DIR)
    assert len(examples) == 24
    assert Counter(ex.answers["en"] for ex in examples) == {"true": 8, "false": 8, "inconclusive": 8}
    rows = {lang: _rows(XNLI_DIR / lang / "test.jsonl") for lang in XNLI_LANGS}
    for i, ex in enumerate(examples):
        assert ex.id == f"xnli:{i}"
        assert tuple(ex.prompts) == tuple(ex.answers) == XNLI_LANGS
        assert len(set(ex.answers.values())) == 1
        for lang, prompt in ex.prompts.items():
            match = XNLI_RE.fullmatch(prompt)
            assert match, prompt
            assert (match["p"], match["h"]) == (rows[lang][i]["premise"], rows[lang][i]["hypothesis"])
            assert len(match["p"]) < 60


def test_xnli_pt_and_unknown_language() -> None:
    with pytest.raises(TaskDataError, match="no Portuguese"):
        load_task("xnli", data_dir=XNLI_DIR, languages=["en", "pt"])
    with pytest.raises(TaskDataError, match="unsupported language.*'xx'.*supported: en, de"):
        load_task("xnli", data_dir=XNLI_DIR, languages=["xx"])


def test_xnli_languages_are_reordered() -> None:
    examples = load_task("xnli", data_dir=XNLI_DIR, languages=["zh", "en"])
    assert all(tuple(ex.prompts) == ("en", "zh") for ex in examples)


@given(st.integers(min_value=1, max_value=40))
def test_xnli_limit_is_a_prefix(limit: int) -> None:
    full = load_task("xnli", data_dir=XNLI_DIR, languages=["en", "de"])
    assert load_task("xnli", data_dir=XNLI_DIR, languages=["en", "de"], limit=limit) == full[:limit]


def test_xnli_unequal_lengths(tmp_path: Path) -> None:
    root = _copy(XNLI_DIR, tmp_path)
    path = root / "de" / "test.jsonl"
    _write_rows(path, _rows(path)[:-1])
    with pytest.raises(TaskDataError, match=r"unequal length.*en=24, de=23"):
        load_task("xnli", data_dir=root, limit=3)


def test_xnli_misaligned_labels(tmp_path: Path) -> None:
    root = _copy(XNLI_DIR, tmp_path)
    path = root / "fr" / "test.jsonl"
    rows = _rows(path)
    rows[5]["label"] = (rows[5]["label"] + 1) % 3
    _write_rows(path, rows)
    with pytest.raises(TaskDataError, match="row 5 has different labels"):
        load_task("xnli", data_dir=root)


def test_xnli_missing_file_names_path_and_language(tmp_path: Path) -> None:
    root = _copy(XNLI_DIR, tmp_path)
    (root / "tr" / "test.jsonl").unlink()
    with pytest.raises(MissingDataError, match=r"'tr'.*tr/test\.jsonl"):
        load_task("xnli", data_dir=root)


def test_xnli_empty(tmp_path: Path) -> None:
    for lang in ("en", "de"):
        _write_rows(tmp_path / lang / "test.jsonl", [])
    with pytest.raises(TaskDataError, match="no examples"):
        load_task("xnli", data_dir=tmp_path, languages=["en", "de"])


def test_xnli_reads_a_local_copy_in_the_hub_schema(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"]),
        }
    )
    for lang, hypothesis in (("en", "A dog is outside."), ("de", "Ein Hund ist draußen.")):
        table = {"premise": ["p1", "p2", "p3"], "hypothesis": [hypothesis] * 3, "label": [0, 1, 2]}
        (tmp_path / lang).mkdir()
        datasets.Dataset.from_dict(table, features=features).to_json(tmp_path / lang / "test.jsonl")
    examples = load_task("xnli", data_dir=tmp_path, languages=["de", "en"])
    assert [ex.answers for ex in examples] == [
        {"en": word, "de": word} for word in ("true", "inconclusive", "false")
    ]
    assert examples[0].prompts["de"].startswith("Take the following as truth: p1\n")


def test_xnli_offline_without_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the hub must not be contacted when offline")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(MissingDataError, match="HF_DATASETS_OFFLINE.*pass data_dir"):
        load_task("xnli", limit=2)


def test_xnli_hub_path(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(path: str, name: str, split: str) -> list[dict]:
        calls.append((path, name, split))
        return [{"premise": f"{name} p", "hypothesis": "h", "label": 2}] * 4

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    examples = load_task("xnli", languages=["en", "vi"], limit=3)
    assert calls == [("facebook/xnli", "en", "test"), ("facebook/xnli", "vi", "test")]
    assert len(examples) == 3 and examples[0].answers == {"en": "false", "vi": "false"}



def test_xnli_hub_unreachable_says_to_pass_a_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")

    def unreachable(path: str, name: str, split: str) -> list[dict]:
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub")

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(MissingDataError, match="could not reach facebook/xnli.*'de'.*--data-dir"):
        load_task("xnli", languages=["de"])


# --- facts -------------------------------------------------------------------------------------------------------


def test_facts_fixture() -> None:
    examples = load_task("facts", data_dir=FACTS_DIR)
    assert len(examples) == 12 * 3
    assert all(tuple(ex.prompts) == LANGUAGES for ex in examples)
    first = {ex.id: ex for ex in examples}
    assert first["P36:Q142:0"].prompts["en"] == "the capital of France is"
    assert (
        first["P36:Q142:1"].prompts["en"] == "France's capital city is"
    )  # trailing "." of the pattern dropped
    assert first["P36:Q142:0"].prompts["zh"] == "法国的首都是"
    assert first["P36:Q142:0"].answers["zh"] == "巴黎"
    assert not any("[X]" in p or "[Y]" in p for ex in examples for p in ex.prompts.values())


def test_facts_intersection_depends_on_languages() -> None:
    examples = load_task("facts", data_dir=FACTS_DIR, languages=["de", "en"])
    assert len(examples) == 13 * 3  # Australia is in en and de only
    assert examples[-1].answers == {"en": "Canberra", "de": "Canberra"}


def test_facts_limit_counts_examples() -> None:
    examples = load_task("facts", data_dir=FACTS_DIR, limit=4)
    assert [ex.id for ex in examples] == ["P36:Q142:0", "P36:Q142:1", "P36:Q142:2", "P36:Q183:0"]


def test_facts_too_few_paraphrases(tmp_path: Path) -> None:
    root = _copy(FACTS_DIR, tmp_path)
    path = root / "patterns" / "vi" / "P36.jsonl"
    _write_rows(path, [r for r in _rows(path) if not r["pattern"].startswith("thủ đô")])
    with pytest.raises(TaskDataError, match="'vi' has 2 usable P36 patterns"):
        load_task("facts", data_dir=root)


def test_facts_subject_with_two_capitals_is_dropped(tmp_path: Path) -> None:
    root = _copy(FACTS_DIR, tmp_path)
    path = root / "tuples" / "ru" / "P36.jsonl"
    rows = _rows(path)
    _write_rows(path, [*rows, {**rows[0], "obj_uri": "Q456", "obj_label": "Лион"}])
    ids = {ex.id.split(":")[1] for ex in load_task("facts", data_dir=root)}
    assert "Q142" not in ids and len(ids) == 11
    assert "Q142" in {ex.id.split(":")[1] for ex in load_task("facts", data_dir=root, languages=["en", "de"])}


def test_facts_missing_file_names_path_and_language(tmp_path: Path) -> None:
    root = _copy(FACTS_DIR, tmp_path)
    (root / "tuples" / "zh-hans" / "P36.jsonl").unlink()
    with pytest.raises(MissingDataError, match=r"'zh'.*zh-hans/P36\.jsonl"):
        load_task("facts", data_dir=root)
    assert load_task("facts", data_dir=root, languages=["en", "th"])


def test_facts_offline_without_data_dir_says_to_pass_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingDataError, match="offline.*pass a local copy.*--data-dir"):
        load_task("facts")


# --- editing -----------------------------------------------------------------------------------------------------


def _mzsre(lang: str) -> list[dict]:
    return json.loads((MZSRE_DIR / f"mzsre_test_duplicate_en{lang}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("direction", ["en->all", "all->en"])
def test_editing_fixture(direction: str) -> None:
    examples = load_task("editing", data_dir=MZSRE_DIR, direction=direction)
    assert len(examples) == 12
    de = _mzsre("de")
    for i, ex in enumerate(examples):
        assert tuple(ex.prompts) == LANGUAGES and ex.id == f"mzsre:{i}"
        en, x = de[i]["en"], de[i]["de"]
        edit, test = (en, x) if direction == "en->all" else (x, en)
        match = EDIT_RE.fullmatch(ex.prompts["de"])
        assert (
            match and match["context"] == f"{edit['src']} {edit['alt']}" and match["question"] == test["src"]
        )
        assert ex.answers["de"] == test["alt"]
        assert ex.prompts["en"] == f"{en['src']} {en['alt']} Question: {en['src']} Answer:"
        assert ex.answers["en"] == en["alt"]


def test_reverse_editing_task_is_the_all_to_en_direction() -> None:
    assert load_task("editing-all-en", data_dir=MZSRE_DIR, limit=3) == load_task(
        "editing", data_dir=MZSRE_DIR, direction="all->en", limit=3)
    with pytest.raises(TaskDataError, match="editing-all-en is the all->en direction"):
        load_task("editing-all-en", data_dir=MZSRE_DIR, direction="en->all")


def test_editing_default_direction_is_en_to_all() -> None:
    assert load_task("editing", data_dir=MZSRE_DIR) == load_task(
        "editing", data_dir=MZSRE_DIR, direction="en->all"
    )
    with pytest.raises(TaskDataError, match="unknown direction 'en->de'"):
        load_task("editing", data_dir=MZSRE_DIR, direction="en->de")


@given(st.integers(min_value=1, max_value=11))
def test_editing_shots(shots: int) -> None:
    plain = load_task("editing", data_dir=MZSRE_DIR, languages=["en", "fr"])
    examples = load_task("editing", data_dir=MZSRE_DIR, languages=["en", "fr"], shots=shots)
    for i, ex in enumerate(examples):
        lines = ex.prompts["fr"].split("\n")
        assert len(lines) == shots + 1 and lines[-1] == plain[i].prompts["fr"]
        demos = [(i - shots + j) % 12 for j in range(shots)]
        assert i not in demos
        assert lines[:-1] == [f"{plain[j].prompts['fr']} {plain[j].answers['fr']}" for j in demos]


def test_editing_bad_shots() -> None:
    with pytest.raises(TaskDataError, match="shots"):
        load_task("editing", data_dir=MZSRE_DIR, shots=12)


def test_editing_english_side_must_agree(tmp_path: Path) -> None:
    root = _copy(MZSRE_DIR, tmp_path)
    path = root / "mzsre_test_duplicate_envi.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[3]["en"]["alt"] = "blue"
    path.write_text(json.dumps(items), encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"English side of item 3 differs.*envi\.json"):
        load_task("editing", data_dir=root)


def test_editing_unequal_lengths(tmp_path: Path) -> None:
    root = _copy(MZSRE_DIR, tmp_path)
    path = root / "mzsre_test_duplicate_enes.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8"))[:-2]), encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"unequal length.*de=12, es=10"):
        load_task("editing", data_dir=root)


def test_editing_missing_file_and_english_only(tmp_path: Path) -> None:
    root = _copy(MZSRE_DIR, tmp_path)
    (root / "mzsre_test_duplicate_ende.json").unlink()
    with pytest.raises(MissingDataError, match=r"'de'.*mzsre_test_duplicate_ende\.json"):
        load_task("editing", data_dir=root)
    english = load_task("editing", data_dir=root, languages=["en"])
    assert [ex.answers for ex in english] == [{"en": item["en"]["alt"]} for item in _mzsre("es")]


def test_restricting_languages_keeps_examples_and_their_order() -> None:
    facts = load_task("facts", data_dir=FACTS_DIR, limit=6)
    common = restrict_languages(facts, ["zh", "en", "de"])  # asked in any order, kept in the examples' order
    assert [list(ex.prompts) for ex in common] == [["en", "de", "zh"]] * 6
    assert [ex.id for ex in common] == [ex.id for ex in facts]
    assert all(ex.prompts[lang] == old.prompts[lang] and ex.answers[lang] == old.answers[lang]
               for ex, old in zip(common, facts, strict=True) for lang in ex.prompts)
    assert common == load_task("facts", data_dir=FACTS_DIR, limit=6, languages=["en", "de", "zh"])
    for bad in (["en", "pt"], []):
        with pytest.raises(TaskDataError, match="cannot restrict"):
            restrict_languages(load_task("xnli", data_dir=XNLI_DIR, limit=2), bad)
