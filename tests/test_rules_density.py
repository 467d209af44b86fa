"""The density control of the layer-shape claims (harness.papers.sharing_matters.density_rules): a layer made
uniformly denser is read as it was, at the sparsest read layer's density; near-empty layers are not compared; the
paper's reading and the control's are judged together."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.density_rules import (
    MATCHED_DENSITY,
    common_density,
    density_controlled,
    matched_layer_shares,
)
from harness.papers.sharing_matters.neurons import example_type_shares, type_codes
from tests.strategies import same_density_layers

FAST = settings(max_examples=30, deadline=None)
GRID = [0.0, 0.125, 0.25, 0.5, 1.0]


def _grid(acts: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """What a measurement keeps of ``acts`` (examples, langs, layers, d_ff) on ``GRID``: the share of active
    (neuron, language) pairs (examples, thr, layers) and the type shares (examples, thr, T, layers)."""
    density = torch.stack([(acts > t).double().mean(dim=(1, 3)) for t in GRID], dim=1)
    shares = torch.stack([example_type_shares(type_codes(acts, t)) for t in GRID], dim=1)
    return density.numpy(), shares.numpy()


@FAST
@given(same_density_layers(), st.data())
def test_a_layer_made_uniformly_denser_is_read_as_it_was(acts: torch.Tensor, data: st.DataObject) -> None:
    """Every layer as dense as the others; one layer's activations raised alike by a step of the grid: at a fixed
    threshold its types change (more shared), at matched density they are its own types before the shift."""
    layer = data.draw(st.integers(0, acts.shape[2] - 1))
    shift = data.draw(st.sampled_from(GRID[1:3]))
    denser = acts.clone()
    denser[:, :, layer] += shift
    density, shares = _grid(denser)
    target = common_density(density[:, 0], min_active=0.0)
    matched, at = matched_layer_shares(GRID, density, shares, target)
    original = example_type_shares(type_codes(acts)).numpy()  # (examples, T, layers) at threshold 0
    assert np.allclose(matched, original)
    if density[:, 0, layer].mean() > density[:, 0].mean(axis=0).min():  # the shift made it denser: read higher
        assert at[layer] == pytest.approx(shift)


def test_matching_interpolates_and_leaves_out_what_it_cannot_reach() -> None:
    thresholds = [0.0, 0.1, 0.2]
    density = np.array([[[0.6, 0.5, 0.05], [0.4, 0.5, 0.04], [0.2, 0.1, 0.03]]] * 3)  # (examples, thr, layers)
    shares = np.array([[[[0.3, 0.2, 0.0]] * 2, [[0.2, 0.2, 0.0]] * 2, [[0.1, 0.0, 0.0]] * 2]] * 3)  # T = 2
    matched, at = matched_layer_shares(thresholds, density, shares, np.array([0.5, 0.3, np.nan]))
    assert at[:2] == pytest.approx([0.05, 0.15]) and np.isnan(at[2])
    assert matched.shape == (3, 2, 3) and np.isnan(matched[..., 2]).all()
    assert matched[:, :, :2] == pytest.approx(np.array([[[0.25, 0.1]] * 2] * 3))
    unreachable, at = matched_layer_shares(thresholds, density, shares, np.array([0.7, 0.05, 0.03]))
    assert np.isnan(at[:2]).all() and at[2] == pytest.approx(0.2) and np.isnan(unreachable[..., :2]).all()


def test_a_grid_of_one_threshold_matches_its_own_density_only() -> None:
    density, shares = np.full((2, 1, 2), 0.25), np.full((2, 1, 2), 0.125)
    matched, at = matched_layer_shares([0.0], density, shares, np.array([0.25, 0.125]))
    assert at[0] == 0.0 and matched[:, 0] == pytest.approx([0.125] * 2)
    assert np.isnan(at[1]) and np.isnan(matched[:, 1]).all()


def test_the_common_density_is_the_sparsest_read_layers() -> None:
    density = np.array([[0.005, 0.3, 0.2, 0.5], [0.007, 0.1, 0.2, 0.5]])  # (examples, layers)
    target = common_density(density)
    assert np.isnan(target[0]) and target[1:] == pytest.approx([0.2] * 3)  # layer 0 under 1%: not compared
    assert common_density(density, min_active=0.006) == pytest.approx([0.006, 0.006, 0.006, 0.006])  # inclusive
    assert np.isnan(common_density(density, min_active=0.6)).all()


def _verdict(verdict: str) -> Verdict:
    return Verdict(verdict, f"peak {verdict}", "peak layer (fraction of depth)", 0.5, (0.9, 0.9))


@pytest.mark.parametrize(("paper", "matched", "combined"), [
    ("supported", "supported", "supported"), ("supported", "refuted", "refuted"),
    ("supported", "inconclusive", "inconclusive"), ("refuted", "supported", "refuted"),
    ("inconclusive", "refuted", "refuted"), ("inconclusive", "supported", "inconclusive"),
    ("refuted", "refuted", "refuted"),
])
def test_supported_needs_both_readings_and_either_refutes(paper: str, matched: str, combined: str) -> None:
    verdict = density_controlled(_verdict(paper), _verdict(matched))
    assert verdict.verdict == combined and verdict.effect == 0.5
    assert verdict.controls[MATCHED_DENSITY]["verdict"] == matched
    assert verdict.measured["peak layer (fraction of depth) at matched density"] == 0.5
    assert f"peak {paper}" in verdict.reason and f"peak {matched}" in verdict.reason
    if combined != paper:
        assert verdict.reason.startswith(f"{paper} at the run's threshold but {matched} with every layer at one "
                                         "activation density")


def test_a_measurement_is_matched_on_its_grid_at_or_above_the_runs_threshold() -> None:
    """Below the run's threshold (here -0.1, where every switched-off GELU neuron counts as active) nothing is read:
    the sparsest layer stays at the run's threshold, the denser one is brought down to its density."""
    from types import SimpleNamespace

    from harness.papers.sharing_matters.claim_helpers import at_matched_density

    density = torch.tensor([[[1.0, 1.0, 1.0], [0.25, 0.5, 0.005], [0.125, 0.25, 0.0]]] * 2)  # (examples, thr, layers)
    shares = torch.stack([density * 0.5] * 4, dim=2)  # (examples, thr, T, layers)
    m = SimpleNamespace(config={"threshold": 0.0}, thresholds=[-0.1, 0.0, 0.5], threshold_density=density,
                        threshold_shares=shares)
    matched = at_matched_density(m)
    assert matched.density == 0.25 and matched.thresholds[:2] == pytest.approx([0.0, 0.5])
    assert np.isnan(matched.thresholds[2]) and np.isnan(matched.shares[..., 2]).all()  # under 1% active
    assert matched.shares[..., :2] == pytest.approx(np.full((2, 4, 2), 0.125))
    assert matched.measured() == {"common density %": 25.0, "matched threshold (mean over compared layers)": 0.25,
                                  "layers compared at matched density": 2}
    raised = at_matched_density(SimpleNamespace(**{**vars(m), "config": {"threshold": 0.5}}))
    assert raised.density == 0.125 and raised.thresholds[0] == 0.5  # a grid of 0.5 alone cannot bring layer 1 down
    assert np.isnan(raised.thresholds[1:]).all()
