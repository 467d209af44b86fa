"""Every comparison of the scale rules (App. A.3.5, harness.papers.sharing_matters.scale_rules) at its exact
boundary: identical examples make every bootstrap interval the statistic itself, and dyadic shares make the
statistic exact, so a limit set to it (or one float either side) tells a strict comparison from an inclusive one."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.sharing_matters.neurons import ALL, NON
from harness.papers.sharing_matters.scale_rules import relative_depths, scale_pattern_rule, upper_sparser_rule


def _curves(all_shared: list[float], n: int = 5) -> np.ndarray:
    """(examples, types, layers): every example the same, all-shared as given, non-activated the rest."""
    shares = np.zeros((n, 4, len(all_shared)))
    shares[:, ALL] = all_shared
    shares[:, NON] = 1 - shares[:, ALL]
    return shares


# --- the pattern: the largest centred difference against the tolerance ------------------------------------------------

LARGER, SMALLER = _curves([0.5, 0.25, 0.25, 0.5]), _curves([0.25] * 4)  # centred difference +-0.125 at every layer


def test_the_pattern_difference_is_exact_and_its_interval_collapses() -> None:
    verdict = scale_pattern_rule(LARGER, SMALLER)
    assert verdict.effect == 0.125 and verdict.ci == (0.125, 0.125)
    assert verdict.measured["its relative depth"] == 0.125 and verdict.measured["layers (larger, smaller)"] == "4, 4"


def test_the_tolerance_is_strict_on_both_sides() -> None:
    """Supported needs the difference (and its interval) under the tolerance, refuted its interval above it: at the
    tolerance itself neither."""
    assert scale_pattern_rule(LARGER, SMALLER, tolerance=0.125).verdict == "inconclusive"
    assert scale_pattern_rule(LARGER, SMALLER, tolerance=np.nextafter(0.125, np.inf)).verdict == "supported"
    assert scale_pattern_rule(LARGER, SMALLER, tolerance=np.nextafter(0.125, -np.inf)).verdict == "refuted"


def test_the_pattern_needs_as_many_examples_as_asked_no_fewer() -> None:
    assert scale_pattern_rule(LARGER, SMALLER, tolerance=0.25, min_examples=5).verdict == "supported"
    fewer = scale_pattern_rule(LARGER, SMALLER, tolerance=0.25, min_examples=6)
    assert fewer.verdict == "inconclusive" and fewer.reason.startswith("only 5 examples (< 6); ")
    none = scale_pattern_rule(LARGER[:0], SMALLER[:0], tolerance=0.9)
    assert (none.reason, none.effect_name, none.params["tolerance"]) == ("no examples", "largest pattern difference",
                                                                         0.9)
    assert scale_pattern_rule(LARGER, SMALLER, tolerance=0.9).reason.endswith("must stay within 90 points")


def test_either_model_may_be_the_deeper_one() -> None:
    """Both are read at the shallower model's depths whichever comes first: swapping them flips the sign of the
    difference, not its size."""
    deep = _curves(list(0.25 + 0.25 * relative_depths(10)))  # a line over depth: read exactly between its ends
    shallow = _curves([0.25, 0.5, 0.25, 0.5, 0.25, 0.5])
    difference = 0.25 * relative_depths(6) - np.array([0.0, 0.25] * 3)  # all-shared; non-activated the opposite
    forward, backward = scale_pattern_rule(deep, shallow), scale_pattern_rule(shallow, deep)
    assert forward.effect == pytest.approx(np.abs(difference - difference.mean()).max())
    assert backward.effect == pytest.approx(forward.effect)
    assert forward.measured["its relative depth"] == backward.measured["its relative depth"]
    assert forward.measured["layers (larger, smaller)"] == "10, 6"


@pytest.mark.parametrize(("smaller", "shapes"), [(_curves([0.25] * 4, n=6), r"\(5, 4\) vs \(6, 4\)"),
                                                 (_curves([0.25] * 4)[:, :3], r"\(5, 4\) vs \(5, 3\)")])
def test_other_examples_or_types_are_one_clear_error(smaller: np.ndarray, shapes: str) -> None:
    with pytest.raises(ValueError, match=rf"the two sizes must be measured on the same examples and types: {shapes} "
                                         rf"\(examples, types\)"):
        scale_pattern_rule(LARGER, smaller)


# --- the upper layers: the larger model's non-activated share there minus the smaller's -------------------------------

def _dead(per_layer: list[float], n: int = 5) -> np.ndarray:
    """(examples, layers) non-activated shares, every example the same."""
    return np.tile(per_layer, (n, 1))


def test_a_layer_exactly_at_the_upper_bound_is_an_upper_layer() -> None:
    """Four layers sit at 0.125, 0.375, 0.625 and 0.875 of the depth: from 0.625 on, layers 2 and 3."""
    verdict = upper_sparser_rule(_dead([0.0, 0.0, 0.25, 0.5]), _dead([0.0] * 4), upper_from=0.625)
    assert verdict.effect == 0.375 and verdict.ci == (0.375, 0.375)
    assert verdict.measured["upper layers (larger, smaller)"] == "2, 2"


def test_the_minimum_difference_is_strict_on_both_sides() -> None:
    larger, smaller = _dead([0.0, 0.0, 0.25, 0.5]), _dead([0.0] * 4)
    assert upper_sparser_rule(larger, smaller, upper_from=0.625, min_difference=0.375).verdict == "inconclusive"
    assert upper_sparser_rule(larger, smaller, upper_from=0.625,
                              min_difference=np.nextafter(0.375, -np.inf)).verdict == "supported"
    assert upper_sparser_rule(larger, smaller, upper_from=0.625,
                              min_difference=np.nextafter(0.375, np.inf)).verdict == "refuted"


def test_the_upper_share_needs_as_many_examples_as_asked_no_fewer() -> None:
    larger, smaller = _dead([0.0, 0.0, 0.5, 0.5]), _dead([0.0] * 4)
    assert upper_sparser_rule(larger, smaller, min_examples=5).verdict == "supported"
    fewer = upper_sparser_rule(larger, smaller, min_examples=6)
    assert fewer.verdict == "inconclusive" and fewer.reason.startswith("only 5 examples (< 6); ")
    assert upper_sparser_rule(larger[:0], smaller[:0]).reason == "no examples"


@pytest.mark.parametrize("deep_first", [True, False])
def test_either_model_without_an_upper_layer_is_one_clear_error(deep_first: bool) -> None:
    """From 0.8 of the depth a 4-layer model has its last layer (0.875), a 2-layer model none (0.25, 0.75)."""
    four, two = _dead([0.0] * 4), _dead([0.0] * 2)
    with pytest.raises(ValueError, match=r"upper_from=0.8 leaves no upper layer in a model of 2 layers"):
        upper_sparser_rule(*((four, two) if deep_first else (two, four)), upper_from=0.8)
    with pytest.raises(ValueError, match=r"the two sizes must be measured on the same examples: 5 vs 6"):
        upper_sparser_rule(four, _dead([0.0] * 4, n=6))


def test_the_upper_share_interval_is_over_paired_examples_and_follows_the_seed() -> None:
    """Models that vary together from example to example differ by a constant: the interval is that constant. Noisy
    differences give intervals that depend on the bootstrap's seed."""
    smaller = np.linspace(0.0, 0.5, 5)[:, None] + np.zeros((5, 4))  # every example its own level
    verdict = upper_sparser_rule(smaller + 0.25, smaller)
    assert verdict.effect == verdict.ci[0] == verdict.ci[1] == 0.25
    noisy = np.random.default_rng(0).normal(0.0, 0.05, (12, 4))
    seeds = [upper_sparser_rule(noisy + 0.1, np.zeros((12, 4)), seed=seed).ci for seed in (0, 7)]
    assert seeds[0] != seeds[1]


def test_the_upper_share_reason_and_what_no_examples_keeps() -> None:
    verdict = upper_sparser_rule(_dead([0.0, 0.0, 0.25, 0.5]), _dead([0.0] * 4), upper_from=0.625, min_difference=0.9)
    assert verdict.reason == ("non-activated share of the upper layers (from 0.62 of the depth): larger minus smaller "
                              "+37.50 points [+37.50, +37.50]; must exceed 90 point(s)")
    none = upper_sparser_rule(_dead([0.0] * 4)[:0], _dead([0.0] * 4)[:0], min_examples=3)
    assert (none.effect_name, none.params) == ("upper-layer non-activated difference", {
        "upper_from": 2 / 3, "min_difference": 0.01, "min_examples": 3, "seed": 0,
        "share of": "a layer's neurons, mean over the upper layers and examples"})


def test_the_interval_ends_are_strict_when_the_examples_differ() -> None:
    """Noisy examples: the statistic lies inside its interval, so a limit at either end of the interval is decided
    by that end alone (supported needs the far end past the limit, refuted the near end)."""
    rng = np.random.default_rng(3)
    larger, smaller = _curves([0.5, 0.25, 0.25, 0.5], n=12), _curves([0.25] * 4, n=12)
    larger[:, ALL] += rng.normal(0.0, 0.02, (12, 4))
    ci = scale_pattern_rule(larger, smaller).ci
    assert scale_pattern_rule(larger, smaller, tolerance=ci[1]).verdict == "inconclusive"
    assert scale_pattern_rule(larger, smaller, tolerance=np.nextafter(ci[1], np.inf)).verdict == "supported"
    assert scale_pattern_rule(larger, smaller, tolerance=ci[0]).verdict == "inconclusive"
    assert scale_pattern_rule(larger, smaller, tolerance=np.nextafter(ci[0], -np.inf)).verdict == "refuted"
    dead = 0.2 + rng.normal(0.0, 0.05, (12, 4))
    upper = upper_sparser_rule(dead, np.zeros((12, 4)))
    low, high = upper.ci
    assert low < upper.effect < high
    assert upper_sparser_rule(dead, np.zeros((12, 4)), min_difference=low).verdict == "inconclusive"
    assert upper_sparser_rule(dead, np.zeros((12, 4)), min_difference=np.nextafter(low, -np.inf)).verdict == (
        "supported")
    assert upper_sparser_rule(dead, np.zeros((12, 4)), min_difference=high).verdict == "inconclusive"
    assert upper_sparser_rule(dead, np.zeros((12, 4)), min_difference=np.nextafter(high, np.inf)).verdict == (
        "refuted")
