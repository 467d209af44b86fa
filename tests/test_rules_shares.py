"""Decision rules on type shares, on synthetic measurements: repetition across examples (§5.1.3-5.1.4), task
dependence (§5.1.1), the number of languages (App. A.3.4) and the threshold sweep (App. A.3.7); each with a
supported, a refuted and an inconclusive case.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.stats import bootstrap_ci
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.rules import (
    language_count_rule,
    non_repeating_rule,
    task_dependence_rule,
    threshold_sweep_rule,
)
from tests.strategies import task_shares, type_shares

FAST = settings(max_examples=40, deadline=None)


def _contains(ci: tuple[float, float], value: float) -> bool:
    return ci[0] - 1e-12 <= value <= ci[1] + 1e-12


# --- non_repeating_rule ---------------------------------------------------------------------------------------


def _non_repeating(overlap: np.ndarray, shares: np.ndarray, n: int, *, null_now: np.ndarray | None = None,
                   null_later: np.ndarray | None = None, **kwargs: float) -> Verdict:
    """The rule with every repeating neuron deterministic (rates 0 or 1) unless nulls are given: chance explains
    none of the overlap, which stays on any number of examples."""
    null_now = overlap if null_now is None else null_now
    return non_repeating_rule(overlap, shares, null_now, overlap if null_later is None else null_later, n, **kwargs)


@FAST
@given(type_shares(), st.floats(0.2, 1.0), st.integers(20, 60))
def test_overlap_that_chance_explains_is_supported(shares: np.ndarray, inactive: float, n: int) -> None:
    """Non-activated neurons that stayed so in all n examples only as often as their rates predict (chance), and
    would not over 1000: the old fixed cut at n examples refuted this, the projection supports it."""
    overlap = np.zeros_like(shares)
    overlap[0] = inactive * shares[0]
    verdict = _non_repeating(overlap, shares, n, null_now=overlap, null_later=np.zeros_like(shares))
    assert verdict.measured["non-activated neurons that stay so in every example %"] > 10
    assert verdict.verdict == "supported"


def test_overlap_beyond_chance_counts_in_the_projection() -> None:
    shares = np.full((4, 5), 0.25)
    overlap = np.zeros_like(shares)
    overlap[0] = 0.5 * shares[0]
    null_now = np.zeros_like(shares)
    null_now[0] = 0.3 * shares[0]  # chance explains 30 of the 50 points
    verdict = _non_repeating(overlap, shares, 30, null_now=null_now, null_later=np.zeros_like(shares))
    assert verdict.measured["non-activated that stay so, expected over 1000 examples %"] == pytest.approx(20.0)
    assert verdict.verdict == "refuted"
    null_now[0] = 0.41 * shares[0]  # 9 points beyond chance: under the 10% limit
    assert _non_repeating(overlap, shares, 30, null_now=null_now,
                          null_later=np.zeros_like(shares)).verdict == "supported"


@FAST
@given(type_shares(), st.floats(0, 0.099), st.floats(0, 0.99), st.integers(1, 500))
def test_little_overlap_is_supported_with_any_number_of_examples(shares: np.ndarray, inactive: float,
                                                                  active_part: float, n: int) -> None:
    """Overlap only falls as examples are added: below both limits it is supported, even on few examples."""
    overlap = np.zeros_like(shares)
    overlap[0] = inactive * shares[0]
    overlap[1:] = shares[1:] * min(1.0, active_part * 0.01 / shares[1:].sum(axis=0).max())
    verdict = _non_repeating(overlap, shares, n)
    assert verdict.verdict == "supported"
    assert math.isclose(verdict.effect, inactive, abs_tol=1e-9)


@FAST
@given(type_shares(), st.floats(0.101, 1.0), st.integers(20, 500))  # exactly 0.1: see the strictness test
def test_repeating_non_activated_neurons_are_refuted(shares: np.ndarray, inactive: float, n: int) -> None:
    overlap = np.zeros_like(shares)
    overlap[0] = inactive * shares[0]
    verdict = _non_repeating(overlap, shares, n)
    assert verdict.verdict == "refuted" and "non-activated" in verdict.reason


@FAST
@given(type_shares(), st.sampled_from([1, 2, 3]), st.integers(20, 500))
def test_an_active_type_kept_in_every_example_is_refuted(shares: np.ndarray, t: int, n: int) -> None:
    overlap = np.zeros_like(shares)
    overlap[t] = np.maximum(shares[t], 0.011)  # at least 1.1% of every layer keeps type t
    assert _non_repeating(overlap, shares, n).verdict == "refuted"


@FAST
@given(type_shares(), st.integers(1, 19))
def test_repeating_on_too_few_examples_is_inconclusive(shares: np.ndarray, n: int) -> None:
    verdict = _non_repeating(shares.copy(), shares, n)  # every neuron keeps its type: overlap = shares
    assert verdict.verdict == "inconclusive" and "may still fall" in verdict.reason


def test_non_repeating_limits_are_strict_and_recorded() -> None:
    shares = np.full((4, 5), 0.25)
    overlap = np.zeros_like(shares)
    overlap[0] = 0.1 * shares[0]  # exactly 10% of non-activated neurons repeat
    verdict = _non_repeating(overlap, shares, 30)
    assert verdict.verdict == "refuted"
    assert _non_repeating(overlap, shares, 30, max_inactive_repeat=0.11).verdict == "supported"
    assert verdict.params["max_active_overlap"] == 0.01 and verdict.params["max_inactive_repeat"] == 0.1
    assert verdict.params["min_examples"] == 20 and verdict.params["later_examples"] == 1000
    assert _non_repeating(np.zeros((4, 3)), np.vstack([np.zeros(3), np.ones((3, 3)) / 3]), 30).effect == 0.0


# --- task_dependence_rule -------------------------------------------------------------------------------------


def _tasks(shared: tuple[float, float], partial: tuple[float, float], n: tuple[int, int] = (30, 40),
           seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(shared, partial) per-example shares of (task, fact probing) around the given means."""
    return ((task_shares(shared[0], n[0], seed), task_shares(shared[1], n[1], seed + 1)),
            (task_shares(partial[0], n[0], seed + 2), task_shares(partial[1], n[1], seed + 3)))


@FAST
@given(st.floats(0.05, 0.3), st.floats(0.05, 0.3), st.integers(10, 80), st.integers(10, 80), st.integers(0, 99))
def test_more_all_shared_and_less_partial_than_facts_is_supported(d_shared: float, d_partial: float, n_task: int,
                                                                  n_facts: int, seed: int) -> None:
    verdict = task_dependence_rule(*_tasks((0.3 + d_shared, 0.3), (0.3, 0.3 + d_partial), (n_task, n_facts), seed))
    assert verdict.verdict == "supported"
    assert _contains(verdict.ci, verdict.effect) and math.isclose(verdict.effect, d_shared, abs_tol=1e-9)


@FAST
@given(st.floats(-0.3, 0.0), st.booleans(), st.integers(40, 80), st.integers(0, 99))
def test_either_difference_at_or_below_zero_is_refuted(d: float, shared_side: bool, n: int, seed: int) -> None:
    """With 40+ examples a side the interval of a zero difference lies below the 1-point minimum."""
    shared, partial = ((0.3 + d, 0.3), (0.3, 0.5)) if shared_side else ((0.5, 0.3), (0.3, 0.3 + d))
    assert task_dependence_rule(*_tasks(shared, partial, (n, n + 5), seed)).verdict == "refuted"


def test_a_noisy_task_difference_is_inconclusive() -> None:
    rng = np.random.default_rng(0)
    noisy = (0.33 + rng.normal(0, 0.15, 12), 0.3 + rng.normal(0, 0.15, 12))
    verdict = task_dependence_rule(noisy, (np.full(12, 0.2), np.full(12, 0.4)))
    assert verdict.ci[0] < 0.01 < verdict.ci[1] and verdict.verdict == "inconclusive"


def test_too_few_examples_in_either_task_are_inconclusive() -> None:
    shared, partial = _tasks((0.5, 0.2), (0.2, 0.5), (30, 4))
    verdict = task_dependence_rule(shared, partial)
    assert verdict.verdict == "inconclusive" and "too few" in verdict.reason
    assert verdict.params == {"min_difference": 0.01, "min_examples": 5, "seed": 0}


def test_unpaired_bootstrap_resamples_each_sample_on_its_own() -> None:
    a, b = np.arange(10.0), np.arange(25.0) + 3

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.mean(axis=axis) - y.mean(axis=axis)

    ci = bootstrap_ci(diff, a, b, paired=False, seed=3)
    assert ci == bootstrap_ci(diff, a, b, paired=False, seed=3) and _contains(ci, a.mean() - b.mean())
    with pytest.raises(ValueError):
        bootstrap_ci(diff, a, b)  # paired needs equal lengths


# --- language_count_rule --------------------------------------------------------------------------------------

COUNTS = [3, 5, 7, 9]


def _by_count(first: float, last: float, n: int, seed: int) -> np.ndarray:
    """Per-example shares (n, counts) moving linearly from ``first`` to ``last``, spread +-0.02 per column."""
    return np.stack([task_shares(first + (last - first) * j / (len(COUNTS) - 1), n, seed + j)
                     for j in range(len(COUNTS))], axis=1)


@FAST
@given(st.floats(0.03, 0.3), st.floats(0.0, 0.2), st.floats(0.2, 0.4), st.integers(10, 80), st.integers(0, 99))
def test_rising_partial_and_steady_all_shared_is_supported(rise: float, drop: float, shared: float, n: int,
                                                           seed: int) -> None:
    verdict = language_count_rule(_by_count(shared, shared * (1 - drop), n, seed), _by_count(0.2, 0.2 + rise, n, seed),
                                  COUNTS)
    assert verdict.verdict == "supported"
    assert math.isclose(verdict.effect, rise, abs_tol=1e-9) and _contains(verdict.ci, verdict.effect)
    assert math.isclose(verdict.measured["all-shared relative drop"], drop, abs_tol=1e-9)


@FAST
@given(st.floats(0.5, 0.9), st.floats(-0.1, 0.3), st.integers(20, 80), st.integers(0, 99))
def test_all_shared_halving_with_more_languages_is_refuted(drop: float, rise: float, n: int, seed: int) -> None:
    verdict = language_count_rule(_by_count(0.3, 0.3 * (1 - drop), n, seed), _by_count(0.2, 0.2 + rise, n, seed),
                                  COUNTS)
    assert verdict.verdict == "refuted" and "all-shared falls" in verdict.reason


@FAST
@given(st.floats(-0.2, 0.0), st.integers(20, 80), st.integers(0, 99))
def test_partial_shared_not_rising_is_refuted(rise: float, n: int, seed: int) -> None:
    verdict = language_count_rule(_by_count(0.3, 0.3, n, seed), _by_count(0.3, 0.3 + rise, n, seed), COUNTS)
    assert verdict.verdict == "refuted"


def test_language_count_without_evidence_is_inconclusive() -> None:
    shared, partial = _by_count(0.3, 0.28, 30, 0), _by_count(0.2, 0.4, 30, 0)
    assert language_count_rule(shared, partial, COUNTS).verdict == "supported"
    assert language_count_rule(shared[:4], partial[:4], COUNTS).verdict == "inconclusive"  # too few examples
    one = language_count_rule(shared[:, -1:], partial[:, -1:], [9])
    assert one.verdict == "inconclusive" and one.effect == 0.0  # a single count compares nothing
    rng = np.random.default_rng(0)
    noisy = np.stack([np.full(12, 0.2)] * 3 + [0.21 + rng.normal(0, 0.2, 12)], axis=1)  # rise 1 point +- noise
    verdict = language_count_rule(shared[:12], noisy, COUNTS)
    assert verdict.ci[0] < 0.01 < verdict.ci[1] and verdict.verdict == "inconclusive"
    assert verdict.params["max_relative_drop"] == 1 / 3 and verdict.params["min_rise"] == 0.01


# --- threshold_sweep_rule -------------------------------------------------------------------------------------

SWEEP = [0.0, 0.1, 0.3, 0.5]


def _sweep(lower_kept: float, upper_kept: float, n: int, layers: int, seed: int) -> np.ndarray:
    """(n, thresholds, layers) active shares: 0.5 in every layer at threshold 0, then each half keeps its share
    of that at the raised thresholds (falling linearly to ``*_kept`` at the last); per-example spread +-0.02."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, len(SWEEP), layers))
    for j in range(len(SWEEP)):
        step = j / (len(SWEEP) - 1)
        for layer in range(layers):
            kept = upper_kept if layer >= layers / 2 else lower_kept
            out[:, j, layer] = 0.5 * (1 - step * (1 - kept)) + rng.permutation(np.linspace(-0.02, 0.02, n))
    return out


@FAST
@given(st.floats(0.0, 0.4), st.floats(0.2, 0.6), st.integers(2, 30), st.integers(10, 60), st.integers(0, 99))
def test_upper_layers_keeping_more_active_neurons_is_supported(lower: float, more: float, layers: int, n: int,
                                                               seed: int) -> None:
    verdict = threshold_sweep_rule(_sweep(lower, lower + more, n, layers, seed), SWEEP)
    assert verdict.verdict == "supported" and _contains(verdict.ci, verdict.effect)


@FAST
@given(st.floats(0.0, 0.4), st.floats(0.2, 0.6), st.integers(2, 30), st.integers(10, 60), st.integers(0, 99))
def test_lower_layers_keeping_more_active_neurons_is_refuted(upper: float, more: float, layers: int, n: int,
                                                             seed: int) -> None:
    verdict = threshold_sweep_rule(_sweep(upper + more, upper, n, layers, seed), SWEEP)
    assert verdict.verdict == "refuted" and verdict.effect < 0


def test_threshold_sweep_without_evidence_is_inconclusive() -> None:
    active = _sweep(0.2, 0.6, 30, 10, 0)
    assert threshold_sweep_rule(active, SWEEP).verdict == "supported"
    assert threshold_sweep_rule(active[:4], SWEEP).verdict == "inconclusive"  # too few examples
    assert threshold_sweep_rule(active[:, :1], SWEEP[:1]).verdict == "inconclusive"  # no raised threshold
    assert threshold_sweep_rule(active[..., :1], SWEEP).verdict == "inconclusive"  # one layer: no halves
    rng = np.random.default_rng(1)
    noisy = _sweep(0.4, 0.42, 8, 10, 0) + rng.normal(0, 0.1, (8, len(SWEEP), 1))  # a layer-wide shift per example
    noisy[..., 5:] += rng.normal(0, 0.1, (8, len(SWEEP), 1))
    assert threshold_sweep_rule(noisy, SWEEP).verdict == "inconclusive"


def test_threshold_sweep_halves_skip_the_middle_layer_of_an_odd_depth() -> None:
    active = np.full((10, 2, 5), 0.5)
    active[:, 1, :2], active[:, 1, 2], active[:, 1, 3:] = 0.1, 0.0, 0.3  # the middle layer (2) is in neither half
    verdict = threshold_sweep_rule(active, [0.0, 0.5])
    assert verdict.params["lower half"] == "layers 0-1" and verdict.params["upper half"] == "layers 3-4"
    assert math.isclose(verdict.effect, 0.2) and verdict.verdict == "supported"
