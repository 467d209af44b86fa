"""The non-activated-majority rule (§5.1.4): outcomes, boundaries and the recorded numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.papers.sharing_matters.shares_rules import non_activated_majority_rule


def _shares(n: int, mean: float, spread: float = 0.02, layers: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(mean + spread * rng.standard_normal((n, layers)), 0, 1)


def test_a_clear_majority_is_supported_and_a_clear_minority_refuted() -> None:
    assert non_activated_majority_rule(_shares(20, 0.8)).verdict == "supported"
    assert non_activated_majority_rule(_shares(20, 0.2)).verdict == "refuted"


def test_at_the_limit_is_neither() -> None:
    exactly = np.full((20, 4), 0.5)
    verdict = non_activated_majority_rule(exactly)
    assert verdict.verdict == "inconclusive" and verdict.measured["layers at or under the limit"] == 4
    assert non_activated_majority_rule(exactly - 1e-9).verdict == "refuted"
    assert non_activated_majority_rule(exactly + 1e-9).verdict == "supported"


def test_noisy_around_the_limit_is_inconclusive() -> None:
    assert non_activated_majority_rule(_shares(8, 0.5, spread=0.3)).verdict == "inconclusive"


def test_too_few_examples_is_inconclusive() -> None:
    verdict = non_activated_majority_rule(_shares(4, 0.9))
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("only 4 examples")
    assert non_activated_majority_rule(_shares(4, 0.9), min_examples=4).verdict == "supported"


def test_the_limit_is_a_parameter() -> None:
    shares = _shares(20, 0.7)
    assert non_activated_majority_rule(shares, min_share=0.9).verdict == "refuted"
    assert non_activated_majority_rule(shares, min_share=0.9).params["min_share"] == 0.9


def test_the_lowest_layer_and_the_layers_under_the_limit_are_recorded() -> None:
    shares = np.tile([0.99, 0.4, 0.8, 0.8], (10, 1))
    verdict = non_activated_majority_rule(shares)
    assert verdict.measured["non-activated % (lowest layer)"] == pytest.approx(99.0)
    assert verdict.measured["layers at or under the limit"] == 1
    assert verdict.effect == pytest.approx(0.7475)


@given(st.floats(0.0, 1.0), st.integers(5, 30))
def test_constant_shares_decide_by_their_side_of_the_limit(value: float, n: int) -> None:
    verdict = non_activated_majority_rule(np.full((n, 3), value)).verdict
    assert verdict == ("supported" if value > 0.5 else "refuted" if value < 0.5 else "inconclusive")
