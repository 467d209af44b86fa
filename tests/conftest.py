"""Shared fixtures: tiny random models of every supported architecture, built once per session."""

from __future__ import annotations

import functools

import pytest

from harness.models import TINY_MODELS, LoadedModel, load_model

pytest_plugins = ["pytester"]

TEXTS = ["The capital of France is", "ab", "Привет мир, как дела сегодня?", "东京是日本的首都", "x y z"]


@functools.cache
def tiny(name: str, site: str = "down_proj_input") -> LoadedModel:
    return load_model(name, site=site, device="cpu")


@pytest.fixture(params=TINY_MODELS)
def tiny_lm(request: pytest.FixtureRequest) -> LoadedModel:
    return tiny(request.param)
