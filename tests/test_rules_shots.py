"""The demonstration rule (App. A.3.6): paired per-layer differences against the fewest-demonstration count, with
its boundaries, and the reading it replaces (means over layers) fooled by demonstrations that move layers apart."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.sharing_matters.neurons import ALL, NON
from harness.papers.sharing_matters.shares_rules import shots_invariance_rule


def _shares(seed: int, n: int = 12, layers: int = 6) -> np.ndarray:
    """(examples, types, layers) shares summing to 1 per example and layer."""
    raw = np.random.default_rng(seed).uniform(0.5, 1.5, (n, 4, layers))
    return raw / raw.sum(axis=1, keepdims=True)


def _moved(shares: np.ndarray, by: float, layers: slice = slice(None)) -> np.ndarray:
    """``by`` of each layer's neurons moved from non-activated to all-shared in ``layers``."""
    out = shares.copy()
    out[:, ALL, layers] += by
    out[:, NON, layers] -= by
    return out


def test_identical_shares_are_supported_with_an_empty_interval() -> None:
    shares = _shares(0)
    verdict = shots_invariance_rule({0: shares, 2: shares.copy(), 4: shares.copy()})
    assert verdict.verdict == "supported" and verdict.effect == 0.0 and verdict.ci == (0.0, 0.0)


def test_a_layer_moved_beyond_the_tolerance_is_refuted_and_named() -> None:
    shares = _shares(1)
    verdict = shots_invariance_rule({0: shares, 2: shares, 6: _moved(shares, 0.2, slice(3, 4))})
    assert verdict.verdict == "refuted" and verdict.effect == pytest.approx(0.2)
    assert verdict.measured["its layer"] == 3 and verdict.measured["its shot count"] == 6
    assert "layer 3, 6 shots" in verdict.reason  # all-shared and non-activated moved alike: the first is named


def test_means_over_layers_are_fooled_by_layers_moving_apart() -> None:
    """Demonstrations that raise the upper layers' all-shared share and lower the lower layers' by as much leave
    every mean over layers where it was: that reading is supported, the per-layer rule refutes."""
    shares = _moved(_shares(2), 0.1)
    moved = _moved(_moved(shares, 0.2, slice(3, None)), -0.2, slice(None, 3))
    per_layer = shots_invariance_rule({0: shares, 2: moved})
    over_layers = shots_invariance_rule({0: shares.mean(axis=-1, keepdims=True),
                                         2: moved.mean(axis=-1, keepdims=True)})
    assert over_layers.verdict == "supported" and per_layer.verdict == "refuted"
    assert per_layer.measured["largest change of a mean over layers (points)"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("by, expected", [(0.03, "supported"), (0.08, "refuted")])
def test_the_tolerance_decides_around_a_uniform_shift(by: float, expected: str) -> None:
    shares = _moved(_shares(3), 0.1)
    assert shots_invariance_rule({0: shares, 4: _moved(shares, by)}, tolerance=0.05).verdict == expected


def test_noisy_changes_near_the_tolerance_are_inconclusive() -> None:
    shares = _moved(_shares(4), 0.2)
    noise = np.random.default_rng(5).normal(0.05, 0.1, shares.shape[0])[:, None]
    moved = shares.copy()
    moved[:, ALL] += noise
    assert shots_invariance_rule({0: shares, 2: moved}).verdict == "inconclusive"


def test_too_few_examples_or_counts_are_inconclusive() -> None:
    shares = _shares(6, n=3)
    assert shots_invariance_rule({0: shares, 2: _moved(shares, 0.3)}).verdict == "inconclusive"
    assert shots_invariance_rule({0: _shares(7)}).verdict == "inconclusive"


def test_the_reference_is_the_fewest_demonstrations_whatever_the_order() -> None:
    shares = _shares(8)
    verdict = shots_invariance_rule({6: _moved(shares, 0.2), 0: shares, 2: shares})
    assert verdict.params["reference"] == 0 and verdict.measured["its shot count"] == 6


def test_shapes_that_differ_between_counts_are_an_error() -> None:
    with pytest.raises(ValueError, match="same"):
        shots_invariance_rule({0: _shares(9), 2: _shares(9, layers=5)})
