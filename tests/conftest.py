"""Shared fixtures: tiny random models of every supported architecture, built once per session."""

from __future__ import annotations

import copy
import functools
import os

import pytest
import torch
from hypothesis import settings

from harness.core.models import TINY_MODELS, LoadedModel, load_model
from harness.core.sites import neuron_site

pytest_plugins = ["pytester", "subject_runs"]

# CI runs the same examples every time (a failure found locally is reproduced with its printed blob).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() not in ("", "0", "false"):
    settings.load_profile("ci")

TEXTS = ["The capital of France is", "ab", "Привет мир, как дела сегодня?", "东京是日本的首都", "x y z"]


@functools.cache
def tiny(name: str, site: str = "down_proj_input") -> LoadedModel:
    return load_model(name, site=site, device="cpu")


@pytest.fixture(params=TINY_MODELS)
def tiny_lm(request: pytest.FixtureRequest) -> LoadedModel:
    return tiny(request.param)


def random_masks(lm: LoadedModel, *batch: int, density: float = 0.3, seed: int = 0) -> torch.Tensor:
    """Random neuron masks, (*batch, layers, d_ff) bool."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*batch, lm.n_layers, lm.d_ff, generator=g) < density


def weight_edited(lm: LoadedModel, mask: torch.Tensor) -> LoadedModel:
    """A copy whose value vectors of the masked neurons are zero: A_i = 0 at every position, without hooks."""
    out = copy.copy(lm)
    out.model = copy.deepcopy(lm.model)
    out.site = neuron_site(out.model, lm.site.name)
    with torch.no_grad():
        for layer, down in enumerate(out.site.down_projs):
            if lm.site.weight_is_in_by_out:
                down.weight[mask[layer]] = 0
            else:
                down.weight[:, mask[layer]] = 0
    return out


def weight_fixed(lm: LoadedModel, mask: torch.Tensor, values: torch.Tensor) -> LoadedModel:
    """A copy in which the masked neurons are constant without hooks: their value vectors are folded into the down
    projection's bias (value x v_i) and zeroed, i.e. A_i = value at every position (site down_proj_input)."""
    out = weight_edited(lm, mask)
    with torch.no_grad():
        for layer, down in enumerate(out.site.down_projs):
            vectors = lm.site.value_vectors(layer)  # (d_ff, d_model)
            shift = values[layer][mask[layer]] @ vectors[mask[layer]]  # (d_model,)
            if down.bias is None:
                down.bias = torch.nn.Parameter(torch.zeros_like(shift))
            down.bias += shift
    return out


@functools.cache
def loud(name: str, gain: float = 30.0) -> LoadedModel:
    """A copy of a tiny model whose value vectors are scaled up, so that the FFN neurons dominate the output."""
    lm = tiny(name)
    out = copy.copy(lm)
    out.model = copy.deepcopy(lm.model)
    out.site = neuron_site(out.model, lm.site.name)
    with torch.no_grad():
        for down in out.site.down_projs:
            down.weight.mul_(gain)
    return out
