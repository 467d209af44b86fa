"""The scale rules (App. A.3.5): curves compared over relative depth and centred, the upper layers' non-activated
share, their boundaries, and the readings they replace (means over layers, layer index, counts, the whole network),
each fooled by the planted alternative it is there for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL
from harness.papers.sharing_matters.planted import EARLY, EARLY_SHALLOW
from harness.papers.sharing_matters.scale_rules import (
    at_depths,
    relative_depths,
    scale_pattern_rule,
    upper_sparser_rule,
)


def _shares(all_shared: tuple[float, ...], dead: tuple[float, ...] | float = 0.03, n: int = 12,
            noise: float = 0.005, seed: int = 0) -> np.ndarray:
    """(examples, types, layers) shares: the given all-shared and non-activated curves, partial-shared the rest
    (specific none), each example jittered a little."""
    layers = len(all_shared)
    jitter = np.random.default_rng(seed).normal(0, noise, (n, layers))
    shares = np.zeros((n, 4, layers))
    shares[:, ALL] = np.array(all_shared) + jitter
    shares[:, NON] = np.broadcast_to(np.array(dead, dtype=float), (layers,))
    shares[:, PARTIAL] = 1 - shares[:, ALL] - shares[:, NON]
    return shares


@given(st.integers(1, 40))
def test_a_curve_read_at_its_own_depths_is_itself(layers: int) -> None:
    curve = np.random.default_rng(layers).random((3, layers))
    np.testing.assert_allclose(at_depths(curve, relative_depths(layers)), curve)


@given(st.integers(2, 40), st.integers(2, 40))
def test_a_straight_line_over_depth_is_read_exactly_between_the_end_layers(deep: int, shallow: int) -> None:
    """Linear interpolation: a line in relative depth is the same line at any other layer count, wherever the
    other model's layers lie between the first and the last layer's middles (outside, the ends are held flat)."""
    line = 0.2 + 0.5 * relative_depths(deep)
    depths = relative_depths(shallow)
    inside = (depths >= relative_depths(deep)[0]) & (depths <= relative_depths(deep)[-1])
    np.testing.assert_allclose(at_depths(line, depths)[inside], 0.2 + 0.5 * depths[inside])


def test_one_pattern_over_two_depths_is_supported_and_a_comparison_by_layer_index_would_refute_it() -> None:
    """planted-scale-large's all-shared curve over 10 layers, planted-scale-small's the same over 6: supported; a
    reading that pairs layer i with layer i (the first 6 of the 10) sees the early peak at another place."""
    larger, smaller = _shares(EARLY, seed=1), _shares(EARLY_SHALLOW, seed=2)
    verdict = scale_pattern_rule(larger, smaller)
    assert verdict.verdict == "supported" and verdict.effect < 0.02
    assert verdict.measured["largest centred difference by layer index (points)"] > 20
    by_index = scale_pattern_rule(larger[:, :, :6], smaller)
    assert by_index.verdict == "refuted"


def test_a_pattern_moved_in_depth_is_refuted_while_the_means_over_layers_agree() -> None:
    """planted-scale-moved: the early peak moved to the top with the same mean over layers; a comparison of means
    over layers (the rule on one-layer curves) supports it."""
    moved, smaller = _shares(EARLY[::-1], seed=3), _shares(EARLY_SHALLOW, seed=4)
    verdict = scale_pattern_rule(moved, smaller)
    assert verdict.verdict == "refuted" and verdict.measured["its type"] in ("all_shared", "partial_shared")
    assert verdict.measured["largest difference of means over layers (points)"] < 2
    over_layers = scale_pattern_rule(moved.mean(axis=-1, keepdims=True), smaller.mean(axis=-1, keepdims=True))
    assert over_layers.verdict == "supported"


def test_a_model_only_sparser_throughout_keeps_its_pattern() -> None:
    """Centring: 12 more points of every layer non-activated (taken from partial-shared) changes no pattern."""
    smaller = _shares(EARLY_SHALLOW, seed=5)
    sparser = _shares(EARLY, dead=0.15, seed=6)
    assert scale_pattern_rule(sparser, smaller).verdict == "supported"


@pytest.mark.parametrize(("by", "expected"), [(0.06, "supported"), (0.16, "refuted")])
def test_the_tolerance_decides_around_an_upper_layer_change(by: float, expected: str) -> None:
    """More non-activated neurons in the upper 3 of 10 layers only: a change of the pattern of ``by`` less its
    share of the mean."""
    dead = (0.03,) * 7 + (0.03 + by,) * 3
    verdict = scale_pattern_rule(_shares(EARLY, dead=dead, seed=7), _shares(EARLY_SHALLOW, seed=8))
    assert verdict.verdict == expected


def test_pattern_boundaries() -> None:
    shares = _shares(EARLY)
    assert scale_pattern_rule(shares[:3], shares[:3]).verdict == "inconclusive"
    assert scale_pattern_rule(shares[:0], shares[:0]).verdict == "inconclusive"
    with pytest.raises(ValueError, match="same examples and types"):
        scale_pattern_rule(shares, shares[:5])


def test_a_larger_upper_share_is_supported() -> None:
    larger = _shares(EARLY, dead=(0.03,) * 7 + (0.15,) * 3)[:, NON]
    smaller = _shares(EARLY_SHALLOW)[:, NON]
    verdict = upper_sparser_rule(larger, smaller)
    assert verdict.verdict == "supported" and verdict.effect == pytest.approx(0.12)
    assert verdict.measured["upper layers (larger, smaller)"] == "3, 2"


def test_counts_and_the_whole_network_are_fooled_by_a_deeper_model_sparser_below() -> None:
    """planted-scale-moved: 10 layers, 10% of the lower 7 dead and 3% of the upper 3, against 6 layers at 3%: the
    same upper share, so refuted; yet it has more non-activated neurons up there (3 layers of 3% against 2) and a
    larger non-activated share over the whole network."""
    larger = _shares(EARLY[::-1], dead=(0.10,) * 7 + (0.03,) * 3)[:, NON]
    smaller = _shares(EARLY_SHALLOW)[:, NON]
    verdict = upper_sparser_rule(larger, smaller)
    assert verdict.verdict == "refuted" and verdict.effect == pytest.approx(0.0)
    upper = [relative_depths(x.shape[-1]) >= 2 / 3 for x in (larger, smaller)]
    assert larger[:, upper[0]].sum(axis=-1).mean() > smaller[:, upper[1]].sum(axis=-1).mean()  # counts (per d_ff)
    whole = upper_sparser_rule(larger, smaller, upper_from=0.0)  # every layer an upper layer
    assert whole.verdict == "supported"


def test_upper_sparser_boundaries() -> None:
    smaller = np.full((12, 6), 0.2)
    larger = 0.2 + np.random.default_rng(0).normal(0.01, 0.03, (12, 1)) + np.zeros((12, 10))
    assert upper_sparser_rule(larger, smaller).verdict == "inconclusive"  # about 1 point, give or take 2
    assert upper_sparser_rule(larger - 0.01, smaller, min_difference=0.0).verdict == "inconclusive"
    assert upper_sparser_rule(larger[:3], smaller[:3] - 0.1).verdict == "inconclusive"  # too few examples
    with pytest.raises(ValueError, match="same examples"):
        upper_sparser_rule(larger, smaller[:4])
    with pytest.raises(ValueError, match="no upper layer"):
        upper_sparser_rule(larger, smaller, upper_from=1.0)
