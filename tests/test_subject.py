"""The trained subjects' machinery at a few steps on the project's fixture data: bit-identical rebuilds, the
documents and their loss masks, packing, the cache (built once, keyed, atomic), the aliases and their errors."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings

from harness.__main__ import main
from harness.core.models import BASE_OF, base_model_for, load_model, registry_identity
from harness.core.scoring import verbalizer_tokens
from harness.subjects import BASE, IFT, SUBJECTS
from harness.subjects import build as subject_build
from harness.subjects.build import MANIFEST, build, state_digest, subject_dir
from harness.subjects.corpus import TASKS, Document, load_corpus
from harness.subjects.tokenizer import train_tokenizer
from harness.subjects.training import Encoded, collate, encode_documents, packed_rows
from harness.tasks import FIXTURE_DATA, MissingDataError, task_spec
from tests.strategies import packing_cases

FEW_STEPS = {recipe.name: replace(recipe.with_steps(2), rows_per_step=4) for recipe in (BASE, IFT)}


@pytest.fixture(scope="module")
def fixture_corpus():
    return load_corpus(FIXTURE_DATA, "test", dict(BASE.items))


@pytest.fixture
def few_step_subjects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The registry's subjects at two training steps each, cached under ``tmp_path``; returns the cache root."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for name, recipe in FEW_STEPS.items():
        monkeypatch.setitem(SUBJECTS, name, recipe)
    return tmp_path / "neuron-claims" / "subjects"


def test_two_builds_give_bit_identical_weights_and_another_seed_does_not(fixture_corpus) -> None:
    recipe = FEW_STEPS[BASE.name]
    first, _, manifest = build(recipe, fixture_corpus, progress=False)
    second, _, again = build(recipe, fixture_corpus, progress=False)
    assert first.state_dict().keys() == second.state_dict().keys()
    assert all(torch.equal(first.state_dict()[k], second.state_dict()[k]) for k in first.state_dict())
    assert manifest["state_digest"] == again["state_digest"] == state_digest(second)
    other, _, _ = build(replace(recipe, seed=recipe.seed + 1), fixture_corpus, progress=False)
    assert state_digest(other) != manifest["state_digest"]
    assert manifest["parameters"] == sum(p.numel() for p in first.parameters())
    assert manifest["training"]["steps"] == 2 and len(manifest["training"]["losses"]) == 1


def test_the_base_recipe_is_deep_enough_for_the_layer_claims() -> None:
    assert BASE.architecture.n_layer >= 8 and BASE.threads == 1 and IFT.parent == BASE.name
    assert base_model_for(IFT.name) == BASE.name and BASE_OF[IFT.name] == BASE.name


def test_documents_are_every_task_in_every_language(fixture_corpus) -> None:
    seen = {(d.task, d.language) for d in fixture_corpus.documents}
    assert seen == {(task, lang) for task in TASKS for lang in task_spec(task).languages}
    assert len(fixture_corpus.data_hash) == 64


def test_loss_masks_cover_the_answer_and_end_of_text_or_everything_but_the_start(fixture_corpus) -> None:
    tokenizer = train_tokenizer((f"{d.prompt} {d.answer}" for d in fixture_corpus.documents), 4096)
    doc = Document("facts", "fr", "la capitale de la France est", "Paris")
    (answer_only,) = encode_documents(tokenizer, [doc], "answer", 128)
    (everything,) = encode_documents(tokenizer, [doc], "all", 128)
    assert answer_only.ids == everything.ids
    prompt_ids = tokenizer(doc.prompt)["input_ids"]
    assert list(answer_only.ids[:len(prompt_ids)]) == prompt_ids and prompt_ids[0] == tokenizer.bos_token_id
    trained = [t for t, on in zip(answer_only.ids, answer_only.target, strict=True) if on]
    assert tokenizer.decode(trained) == " Paris</s>"
    assert everything.target == (False, *[True] * (len(everything.ids) - 1))
    with pytest.raises(ValueError, match="more than a row's 5"):
        encode_documents(tokenizer, [doc], "all", 5)


@settings(max_examples=50, deadline=None)
@given(packing_cases())
def test_packing_places_each_pooled_document_once_per_epoch_in_rows_that_fit(case) -> None:
    lengths, pool, row_tokens = case
    encoded = [Encoded(tuple(range(n)), (True,) * n) for n in lengths]
    rows = packed_rows(encoded, pool, row_tokens, torch.Generator().manual_seed(0))
    epoch, placed = [], 0
    while placed < len(pool):
        row = next(rows)
        epoch.append(row)
        placed += len(row)
    assert placed == len(pool) and sorted(i for row in epoch for i in row) == sorted(pool)
    assert all(row and sum(lengths[i] for i in row) <= row_tokens for row in epoch)
    batch = collate(encoded, epoch, row_tokens, pad_id=-1)
    assert batch["attention_mask"].sum().item() == sum(lengths[i] for i in pool)
    assert ((batch["labels"] == -100) | (batch["attention_mask"] == 1)).all()


def test_alias_builds_on_first_use_then_loads_from_the_cache(few_step_subjects: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    lm = load_model(IFT.name, data_dir=FIXTURE_DATA, device="cpu")
    folders = sorted(p.name for p in few_step_subjects.iterdir() if p.is_dir())  # not their file locks
    assert [f.rsplit("-", 1)[0] for f in folders] == [BASE.name, IFT.name]  # the parent was built first
    assert lm.n_layers == BASE.architecture.n_layer and lm.d_ff == BASE.architecture.d_ff
    assert lm.tokenizer.padding_side == "left" and lm.model_id == IFT.name and lm.revision in folders[1]
    assert verbalizer_tokens(lm, task_spec("xnli").choices)[1] == "leading space"
    manifest = json.loads((few_step_subjects / folders[1] / MANIFEST).read_text())
    assert manifest["state_digest"] == state_digest(lm.model) and manifest["recipe"]["loss_on"] == "answer"

    monkeypatch.setattr(subject_build, "train", lambda *a, **k: pytest.fail("trained again instead of loading"))
    again = load_model(IFT.name, data_dir=FIXTURE_DATA, device="cpu")
    assert state_digest(again.model) == manifest["state_digest"]
    assert sorted(p.name for p in few_step_subjects.iterdir() if p.is_dir()) == folders  # no temporary folder left


def test_the_cache_key_follows_recipe_and_data_only(few_step_subjects: Path, tmp_path: Path) -> None:
    key = subject_dir(IFT.name, FIXTURE_DATA)
    assert subject_dir(IFT.name, FIXTURE_DATA) == key
    other_data = tmp_path / "data"
    other_data.mkdir()
    for folder in ("xnli", "mpararel", "mzsre"):
        (other_data / folder).symlink_to(FIXTURE_DATA / folder)
    assert subject_dir(IFT.name, other_data) == key  # same data under another path: same subject
    assert subject_dir(IFT.name, FIXTURE_DATA, recipes={**SUBJECTS, BASE.name: BASE.with_steps(3)}) != key
    estimate = replace(FEW_STEPS[BASE.name], expected_minutes=99)  # the notice's estimate decides no weight
    assert subject_dir(IFT.name, FIXTURE_DATA, recipes={**SUBJECTS, BASE.name: estimate}) == key
    items = dict(BASE.items) | {"facts": 8}
    assert subject_dir(IFT.name, FIXTURE_DATA, recipes={
        **SUBJECTS, IFT.name: replace(FEW_STEPS[IFT.name], items=tuple(items.items()))}) != key
    assert registry_identity(IFT.name, FIXTURE_DATA) == {"subject_key": key.name.rsplit("-", 1)[-1]}
    assert registry_identity("bloomz-7b1", FIXTURE_DATA) == {}


def test_missing_data_is_one_clear_error_and_writes_nothing(few_step_subjects: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingDataError, match=f"trained-tiny is trained on the tasks' data, read from --data-dir "
                                               f"{empty}.*xnli: data directory not found"):
        load_model(BASE.name, data_dir=empty, device="cpu")
    assert not few_step_subjects.exists()
    assert main(["train-subject", "--data-dir", str(empty)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_train_subject_builds_ahead_and_rejects_unknown_names(few_step_subjects: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-subject", "no-such-subject"]) == 2
    assert "known: trained-tiny, trained-tiny-ift" in capsys.readouterr().err
    assert main(["train-subject", "--data-dir", str(FIXTURE_DATA), "--evaluate", "2"]) == 0
    out = capsys.readouterr().out
    for name in SUBJECTS:
        assert f"{name}: {few_step_subjects}" in out
    assert "xnli (first 2) accuracy %: en" in out and "facts types %: non_activated" in out
    assert len([p for p in few_step_subjects.iterdir() if p.is_dir()]) == 2
    assert list(itertools.chain.from_iterable(p.glob(".*") for p in few_step_subjects.iterdir())) == []
