"""Kojima et al.'s overlap rule (language-specific neuron sets that share few neurons) on synthetic measurements:
supported, refuted and inconclusive cases, properties over drawn overlaps, and the exact boundary of its
comparisons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from harness.papers.kojima.rules import overlap_rule
from tests.strategies import overlaps

FAST = settings(max_examples=30, deadline=None)


def shared_pairs(n_langs: int, pairs: dict[tuple[int, int, int], int], n_selected: int = 100) -> np.ndarray:
    """(2, L, L) overlap counts: N on the diagonal, ``pairs[(side, i, j)]`` neurons shared by languages i and j."""
    out = np.zeros((2, n_langs, n_langs), dtype=np.int64)
    out[:, range(n_langs), range(n_langs)] = n_selected
    for (side, i, j), n in pairs.items():
        out[side, i, j] = out[side, j, i] = n
    return out


@FAST
@given(overlaps(shared=(0, 4)))
def test_sets_sharing_under_five_percent_are_supported(data: tuple[np.ndarray, np.ndarray]) -> None:
    overlap, boot = data
    verdict = overlap_rule(overlap, boot, 100, 10_000)
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(max(overlap[s, i, j] for s in range(2) for i in range(4)
                                               for j in range(4) if i != j) / 100)
    assert verdict.measured["random same-size sets (expected) %"] == pytest.approx(1.0)


@FAST
@given(overlaps(shared=(5, 60)))
def test_sets_sharing_five_percent_or_more_are_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    overlap, boot = data
    assert overlap_rule(overlap, boot, 100, 10_000).verdict == "refuted"


def test_one_shared_pair_in_some_resamples_is_inconclusive() -> None:
    overlap = shared_pairs(3, {})
    shared = shared_pairs(3, {(0, 0, 1): 9})
    boot = np.stack([overlap] * 20 + [shared] * 20)
    verdict = overlap_rule(overlap, boot, 100, 10_000)
    assert verdict.verdict == "inconclusive" and verdict.ci[1] >= 0.05 > verdict.effect
    one = overlap_rule(overlap[:, :1, :1], boot[:, :, :1, :1], 100, 10_000)
    assert one.verdict == "inconclusive" and one.reason == "one language: no pair to compare"


def test_an_overlap_of_exactly_five_percent_is_refuted() -> None:
    at_limit = shared_pairs(3, {(1, 1, 2): 5})  # bottom-N sets of the last two languages share 5 of 100
    assert overlap_rule(at_limit, np.stack([at_limit] * 10), 100, 10_000).verdict == "refuted"
    under = shared_pairs(3, {(1, 1, 2): 4})
    assert overlap_rule(under, np.stack([under] * 10), 100, 10_000).verdict == "supported"
    reaching = overlap_rule(under, np.stack([under] * 20 + [at_limit] * 20), 100, 10_000)
    assert reaching.verdict == "inconclusive" and reaching.ci == (0.04, 0.05)


def test_two_languages_sharing_neurons_are_refuted_and_two_apart_supported() -> None:
    neighbours = shared_pairs(2, {(0, 0, 1): 30})  # the first pair of the triangle, top with top
    assert overlap_rule(neighbours, neighbours[None], 100, 10_000).verdict == "refuted"
    apart = shared_pairs(2, {})
    assert overlap_rule(apart, apart[None], 100, 10_000).verdict == "supported"


def test_one_language_has_no_pair_to_compare() -> None:
    verdict = overlap_rule(np.full((2, 1, 1), 10), np.full((3, 2, 1, 1), 10), 10, 1000)
    assert (verdict.verdict, verdict.reason, verdict.effect_name) == (
        "inconclusive", "one language: no pair to compare", "largest pairwise overlap")
    assert np.isnan(verdict.effect) and np.isnan(verdict.ci).all() and verdict.measured == {}
    assert verdict.params["N"] == 10 and verdict.params["max_overlap"] == 0.05


def test_a_small_n_is_named_in_the_reason() -> None:
    """N = 8 (0.2% of a 4,096-neuron model): one shared neuron is 12.5%, over the 5% limit by itself."""
    overlap = shared_pairs(3, {(0, 1, 2): 1})
    verdict = overlap_rule(overlap, overlap[None], 8, 4096)
    assert verdict.verdict == "refuted"
    assert verdict.reason.startswith("two languages share at most 12.5% of their 8 neurons [12.5, 12.5] (limit 5%; "
                                     "random sets: 0.20%)")
    assert verdict.reason.endswith("; with N = 8 (a small model) one shared neuron is already 12.5% of N: under 5% "
                                   "means none shared")
    assert "N = 20 (a small model)" in overlap_rule(overlap, overlap[None], 20, 4096).reason  # 5%: the limit
    assert "small model" not in overlap_rule(overlap, overlap[None], 21, 4096).reason


def test_overlap_without_resamples_and_its_reason() -> None:
    overlap = shared_pairs(3, {(0, 1, 2): 6})
    verdict = overlap_rule(overlap, np.zeros((0, 2, 3, 3), dtype=np.int64), 100, 10_000, max_overlap=0.025)
    assert verdict.verdict == "refuted" and verdict.ci == (0.06, 0.06) and verdict.effect_name == (
        "largest pairwise overlap")
    assert verdict.reason == ("two languages share at most 6.0% of their 100 neurons [6.0, 6.0] (limit 2.5%; random "
                              "sets: 1.00%)")


def test_overlap_measurements_parameters_and_reason() -> None:
    overlap = shared_pairs(3, {(0, 0, 1): 2, (1, 0, 2): 1, (1, 1, 2): 3}, n_selected=50)
    boot = np.stack([overlap] * 10 + [shared_pairs(3, {}, n_selected=50)] * 10)
    verdict = overlap_rule(overlap, boot, 50, 1000, max_overlap=0.055, confidence=0.5)
    ci = tuple(np.percentile([0.06] * 10 + [0.0] * 10, [25, 75]))
    assert verdict.verdict == "inconclusive" and verdict.effect == 0.06 and verdict.ci == pytest.approx(ci)
    assert verdict.measured == pytest.approx({
        "largest pairwise overlap %": 6.0, "mean pairwise overlap %": 100 * (2 + 1 + 3) / 6 / 50,
        "random same-size sets (expected) %": 5.0, "bootstrap resamples": 20})
    assert verdict.params == {"max_overlap": 0.055, "confidence": 0.5, "N": 50,
                              "statistic": "largest share of N shared by two languages (top with top, bottom with "
                                           "bottom)"}
    assert verdict.reason == (f"two languages share at most 6.0% of their 50 neurons [{100 * ci[0]:.1f}, "
                              f"{100 * ci[1]:.1f}] (limit 5.5%; random sets: 5.00%)")
