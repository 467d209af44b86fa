"""The language-neuron planted models check their own construction: a spec whose groups miss a language or whose
shared groups, moved languages or prior name an unknown one, moved languages without layers or splitting a group,
noise neurons on more texts than they can be fitted to, dead neurons that respond, writers that do not steer and a prior
language the model does not favour are all caught while building."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harness.papers.kojima import planted as planted_languages
from harness.papers.kojima.planted import LANGUAGE_PLANTED as PLANTED
from harness.papers.kojima.planted import build_language_planted as build_planted
from harness.planted.prepare import TinySettings, tiny_store
from harness.tasks import FIXTURE_DATA, load_task


@pytest.fixture(scope="module")
def examples() -> dict[str, list]:
    return {"xnli": load_task("xnli", data_dir=FIXTURE_DATA / "xnli")}


def test_groups_must_cover_every_language_once(examples: dict[str, list]) -> None:
    spec = dataclasses.replace(PLANTED["planted-lang-shared"], groups=(("en", "de"), ("es", "fr")))
    with pytest.raises(ValueError, match="must cover the languages"):
        build_planted(spec, examples)


def test_shared_groups_the_prior_and_the_written_language_must_name_known_languages(examples: dict[str, list]) -> None:
    spec = dataclasses.replace(PLANTED["planted-lang-related"], shared=(("en", "xx"),))
    with pytest.raises(ValueError, match=r"name languages \['xx'\] not in"):
        build_planted(spec, examples)
    with pytest.raises(ValueError, match=r"name languages \['yy'\] not in"):
        build_planted(dataclasses.replace(PLANTED["planted-lang-ceiling"], prior="yy"), examples)
    with pytest.raises(ValueError, match=r"name languages \['zz'\] not in"):
        build_planted(dataclasses.replace(PLANTED["planted-lang-collapse"], writes="zz"), examples)


@pytest.mark.slow
def test_neurons_that_should_be_dead_but_respond_are_caught(examples: dict[str, list],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planted_languages, "DEAD_BIAS", 0.5)
    with pytest.raises(RuntimeError, match="outside the planted ones respond"):
        build_planted(PLANTED["planted-lang-edges"], examples)


@pytest.mark.slow
@pytest.mark.parametrize(("model", "written"), [("planted-lang-steer", "en"), ("planted-lang-collapse", "zh")])
def test_writers_that_do_not_steer_are_caught(examples: dict[str, list], monkeypatch: pytest.MonkeyPatch, model: str,
                                              written: str) -> None:
    monkeypatch.setattr(planted_languages, "STEER", 0.0)
    with pytest.raises(RuntimeError, match=f"fixing en's writers does not move the next-token distribution to "
                                           f"favour {written}'s bytes"):
        build_planted(PLANTED[model], examples)


@pytest.mark.slow
def test_a_prior_language_the_model_does_not_favour_is_caught(examples: dict[str, list],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planted_languages, "PRIOR", 0.0)
    with pytest.raises(RuntimeError, match="without a fix the model does not favour en's bytes"):
        build_planted(PLANTED["planted-lang-ceiling"], examples)


def test_moved_languages_need_their_layers_and_whole_groups(examples: dict[str, list]) -> None:
    with pytest.raises(ValueError, match=r"name languages \['xx'\] not in"):
        build_planted(dataclasses.replace(PLANTED["planted-lang-mixed"], moved=("xx",)), examples)
    with pytest.raises(ValueError, match="need moved_layers"):
        build_planted(dataclasses.replace(PLANTED["planted-lang-mixed"], moved_layers=()), examples)
    split = dataclasses.replace(PLANTED["planted-lang-shared"], moved=("en",), moved_layers=(4,))
    with pytest.raises(ValueError, match=r"whole groups \(split: \[\('en', 'de'\)\]\)"):
        build_planted(split, examples)


def test_noise_neurons_need_fewer_texts_than_the_hidden_size(examples: dict[str, list]) -> None:
    with pytest.raises(ValueError, match=r"fewer texts than the hidden size \(64\), got 72: set example_limit"):
        build_planted(dataclasses.replace(PLANTED["planted-lang-chance"], example_limit=8, n_layers=1), examples)


def test_the_tiny_store_measures_a_limited_model_on_its_first_examples(tmp_path) -> None:
    store, _ = tiny_store(TinySettings(seed=0, scoring="generate", cache_dir=tmp_path))
    limited = store.measured_examples("planted-lang-chance", "xnli")
    assert [ex.id for ex in limited] == [ex.id for ex in store.examples("xnli")[:3]]
    assert len(store.measured_examples("planted-lang-edges", "xnli")) == len(store.examples("xnli")) == 24
    unlimited = dataclasses.replace(PLANTED["planted-lang-chance"], example_limit=None)
    key = store.cache_key("planted-lang-chance", "xnli", kind="language_neurons")
    store._example_limit = lambda name: unlimited.example_limit  # the same model measured on every example
    assert store.cache_key("planted-lang-chance", "xnli", kind="language_neurons") != key


def test_a_model_built_from_kept_ffn_inputs_is_the_one_built_from_its_own_pass(
        examples: dict[str, list], monkeypatch: pytest.MonkeyPatch) -> None:
    """Planted models of one depth share their silent model's FFN inputs: the second build reads the first's and
    comes out bit for bit as when built alone."""
    passes: list[int] = []
    run_pass = planted_languages._ffn_pass
    monkeypatch.setattr(planted_languages, "_ffn_pass", lambda *args: passes.append(1) or run_pass(*args))
    monkeypatch.setattr(planted_languages, "_INPUTS", {})
    alone = build_planted(PLANTED["planted-lang-middle"], examples).model.state_dict()
    monkeypatch.setattr(planted_languages, "_INPUTS", {})
    build_planted(PLANTED["planted-lang-edges"], examples)
    before = len(passes)
    after = build_planted(PLANTED["planted-lang-middle"], examples).model.state_dict()
    assert len(passes) == before  # no pass of its own
    assert all(torch.equal(alone[name], after[name]) for name in alone)
