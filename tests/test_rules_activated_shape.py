"""The rules of the lowest layer's non-activated share (§5.1.1) and of the activated count's early peak, fall and
rise at the top (§5.1.2): outcomes, boundaries and the recorded numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.papers.sharing_matters.shares_rules import (
    activated_early_peak_rule,
    early_peak_shape,
    lowest_layer_non_activated_rule,
)

SHAPE = {"early": 0.25, "top": 0.2, "min_fall": 0.1, "min_rise": 0.05}
EARLY = np.array([0.5, 0.6, 0.7, 0.65, 0.6, 0.55, 0.5, 0.5, 0.55, 0.65])  # peak at 2 of 10, fall, rise


def _curves(curve: np.ndarray, n: int = 12, langs: int = 4, noise: float = 0.005, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(curve + noise * rng.standard_normal((n, langs, len(curve))), 0, 1)


def test_the_lowest_layer_decides_not_the_others() -> None:
    shares = np.tile([0.99, 0.4, 0.4], (10, 1))
    verdict = lowest_layer_non_activated_rule(shares)
    assert verdict.verdict == "supported" and verdict.effect == pytest.approx(0.99)
    assert verdict.measured["non-activated % (mean over the other layers)"] == pytest.approx(40.0)
    assert lowest_layer_non_activated_rule(np.tile([0.5, 0.99, 0.99], (10, 1))).verdict == "refuted"


def test_lowest_layer_at_the_limit_is_neither() -> None:
    exactly = np.full((10, 3), 0.9)
    assert lowest_layer_non_activated_rule(exactly).verdict == "inconclusive"
    assert lowest_layer_non_activated_rule(exactly + 1e-9).verdict == "supported"
    assert lowest_layer_non_activated_rule(exactly - 1e-9).verdict == "refuted"
    assert lowest_layer_non_activated_rule(exactly, min_share=0.8).verdict == "supported"


def test_lowest_layer_with_too_few_examples_is_inconclusive() -> None:
    verdict = lowest_layer_non_activated_rule(np.full((4, 3), 0.99))
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("only 4 examples")


@given(st.floats(0.0, 1.0), st.integers(5, 20))
def test_constant_lowest_layers_decide_by_their_side_of_the_limit(value: float, n: int) -> None:
    verdict = lowest_layer_non_activated_rule(np.full((n, 2), value)).verdict
    share = float(np.full(n, value).mean())  # the float mean: 7 x 0.9 averages to 0.9000000000000001
    assert verdict == ("supported" if share > 0.9 else "refuted" if share < 0.9 else "inconclusive")


def test_early_peak_fall_and_rise_is_the_shape() -> None:
    holds, peak, fall, rise = early_peak_shape(EARLY, **SHAPE)
    assert holds and peak == 2
    assert fall == pytest.approx(0.2 / 0.7) and rise == pytest.approx(0.15 / 0.7)


@pytest.mark.parametrize(("curve", "why"), [
    (np.linspace(0.1, 0.9, 10), "a monotone rise peaks in the top band"),
    (np.array([0.5, 0.55, 0.6, 0.7, 0.65, 0.6, 0.55, 0.5, 0.55, 0.65]),
     "a peak at layer 3 is not in the first quarter"),
    (np.array([0.5, 0.6, 0.7, 0.69, 0.68, 0.67, 0.66, 0.65, 0.66, 0.69]), "a fall under 10% of the peak"),
    (np.array([0.5, 0.6, 0.7, 0.65, 0.6, 0.55, 0.5, 0.5, 0.51, 0.5]), "no rise at the top"),
    (np.zeros(10), "nothing active")])
def test_other_shapes_are_not_it(curve: np.ndarray, why: str) -> None:
    assert not early_peak_shape(curve, **SHAPE)[0], why


def test_shape_boundaries_are_inclusive_at_the_limits() -> None:
    _, _, fall, rise = early_peak_shape(EARLY, **SHAPE)
    assert early_peak_shape(EARLY, **{**SHAPE, "min_fall": fall, "min_rise": rise})[0]
    assert not early_peak_shape(EARLY, **{**SHAPE, "min_fall": np.nextafter(fall, 1)})[0]
    assert not early_peak_shape(EARLY, **{**SHAPE, "min_rise": np.nextafter(rise, 1)})[0]
    assert not early_peak_shape(EARLY, **{**SHAPE, "early": 0.2})[0]  # the first 2 layers end before the peak


def test_every_language_must_show_the_shape() -> None:
    curves = _curves(EARLY)
    assert activated_early_peak_rule(curves).verdict == "supported"
    curves[:, 1] = np.linspace(0.4, 0.8, 10)  # one language rises monotonely
    verdict = activated_early_peak_rule(curves)
    assert verdict.verdict == "refuted" and verdict.effect == pytest.approx(0.75)
    assert verdict.measured["languages where it holds"] == 3 and verdict.measured["latest peak layer"] == 7


def test_a_shape_lost_in_the_noise_is_inconclusive() -> None:
    verdict = activated_early_peak_rule(_curves(EARLY, n=6, noise=0.15, seed=3))
    assert verdict.verdict == "inconclusive" and 0.05 < verdict.measured["bootstrap support"] < 0.95


def test_a_monotone_rise_is_refuted_and_parameters_are_recorded() -> None:
    verdict = activated_early_peak_rule(_curves(np.linspace(0.3, 0.7, 10)), min_fall=0.2)
    assert verdict.verdict == "refuted" and verdict.params["min_fall"] == 0.2 and verdict.effect == 0.0
