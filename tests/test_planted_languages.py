"""The language-neuron planted models check their own construction: a spec whose groups miss a language, dead
neurons that respond, and writers that do not steer are all caught while building."""

from __future__ import annotations

import dataclasses

import pytest

from fixtures import planted_languages
from fixtures.planted import PLANTED, build_planted
from harness.tasks import FIXTURE_DATA, load_task


@pytest.fixture(scope="module")
def examples() -> dict[str, list]:
    return {"xnli": load_task("xnli", data_dir=FIXTURE_DATA / "xnli")}


def test_groups_must_cover_every_language_once(examples: dict[str, list]) -> None:
    spec = dataclasses.replace(PLANTED["planted-lang-shared"], groups=(("en", "de"), ("es", "fr")))
    with pytest.raises(ValueError, match="must cover the languages"):
        build_planted(spec, examples)


@pytest.mark.slow
def test_neurons_that_should_be_dead_but_respond_are_caught(examples: dict[str, list],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planted_languages, "DEAD_BIAS", 0.5)
    with pytest.raises(RuntimeError, match="outside the planted ones respond"):
        build_planted(PLANTED["planted-lang-edges"], examples)


@pytest.mark.slow
def test_writers_that_do_not_steer_are_caught(examples: dict[str, list], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planted_languages, "STEER", 0.0)
    with pytest.raises(RuntimeError, match="does not favour its bytes"):
        build_planted(PLANTED["planted-lang-steer"], examples)
