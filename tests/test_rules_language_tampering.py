"""Kojima et al.'s tampering rule on synthetic generations: the ceiling, the gain over the random control's
headroom, Holm across languages. Supported, refuted and inconclusive cases, properties over drawn outcomes, and the
exact boundary of every comparison."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from harness.core.stats import bootstrap_ci, holm, mcnemar
from harness.papers.kojima.rules import (
    headroom_gain,
    tampering_rule,
)
from tests.strategies import generation_families, generation_outcomes

FAST = settings(max_examples=30, deadline=None)


def hits(n: int, k: int, start: int = 0) -> np.ndarray:
    """(n,) bool: samples start .. start + k - 1 identified as the target language."""
    out = np.zeros(n, dtype=bool)
    out[start:start + k] = True
    return out


def test_headroom_gain() -> None:
    assert headroom_gain(hits(4, 3), hits(4, 2)) == 0.5  # (3/4 - 1/2) / (1 - 1/2)
    assert headroom_gain(hits(8, 1), hits(8, 2)) == pytest.approx(-1 / 6)
    assert headroom_gain(hits(4, 2), hits(4, 4)) == 0.0  # no headroom: nothing to gain
    assert headroom_gain(hits(4, 4), hits(4, 4)) == 0.0
    rows = headroom_gain(np.stack([hits(4, 3), hits(4, 4)]), np.stack([hits(4, 2), hits(4, 0)]))
    assert rows.tolist() == [0.5, 1.0]  # along the last axis, row by row (the bootstrap's batches)


@FAST
@given(generation_families(n_langs=(1, 1), min_samples=2, max_samples=40))
def test_headroom_gain_is_the_exact_fraction(data: tuple[np.ndarray, ...]) -> None:
    tampered, control, _, _ = data
    t, c = Fraction(int(tampered.sum()), tampered.size), Fraction(int(control.sum()), control.size)
    expected = (t - c) / (1 - c) if c < 1 else 0
    assert headroom_gain(tampered[0], control[0]) == pytest.approx(float(expected))


@FAST
@given(generation_outcomes(tampered_rate=(0.7, 1.0), control_rate=(0.0, 0.3)))
def test_steering_far_above_the_random_control_is_supported(data: tuple[np.ndarray, ...]) -> None:
    tampered, control, baseline = data
    verdict = tampering_rule(tampered, control, baseline, 0.004, 1.0)
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx((tampered.mean() - control.mean()) / (1 - control.mean()))
    assert verdict.measured["target language, no fix %"] == pytest.approx(100 * baseline.mean())


@FAST
@given(generation_outcomes(tampered_rate=(0.0, 0.3), control_rate=(0.0, 0.3)))
def test_no_more_than_the_random_control_is_refuted(data: tuple[np.ndarray, ...]) -> None:
    _, control, baseline = data
    verdict = tampering_rule(control.copy(), control, baseline, 0.004, 1.0)  # fixing changes nothing
    assert verdict.verdict == "refuted" and verdict.effect == 0 and verdict.ci[1] < 0.2


@FAST
@given(generation_families())
def test_the_verdict_follows_the_decision_table(data: tuple[np.ndarray, ...]) -> None:
    """Over whole families: the measured p values are McNemar's and Holm's of every language; supported exactly
    when below the ceiling, gain >= 20% and adjusted p < 0.05; refuted exactly when below the ceiling, gain < 20%
    and the interval's top < 20%; a language at the ceiling (no fix or random set) is never refuted."""
    tampered, control, baseline, target = data
    verdict = tampering_rule(tampered, control, baseline, 0.004, 1.0, target=target)
    raw = [mcnemar(c, t) for t, c in zip(tampered, control, strict=True)]
    assert verdict.measured["McNemar p (fixed vs random)"] == raw[target]
    assert verdict.measured["McNemar p, Holm-adjusted over languages"] == holm(np.array(raw))[target]
    assert verdict.measured["languages in the Holm family"] == len(raw)
    gain = headroom_gain(tampered[target], control[target])
    assert verdict.effect == gain
    assert verdict.ci == bootstrap_ci(headroom_gain, tampered[target], control[target], seed=0)
    room = baseline[target].mean() < 0.8 and control[target].mean() < 0.8
    significant = holm(np.array(raw))[target] < 0.05
    assert (verdict.verdict == "supported") == (room and gain >= 0.2 and significant)
    assert (verdict.verdict == "refuted") == (room and gain < 0.2 and verdict.ci[1] < 0.2)


def test_a_language_at_the_ceiling_is_inconclusive() -> None:
    at_ceiling = hits(100, 80)  # the model writes the language in 80% of generations without a fix
    verdict = tampering_rule(hits(100, 81), at_ceiling, at_ceiling, 0.004, 1.0)
    assert verdict.verdict == "inconclusive"
    assert verdict.reason.startswith("the model already writes the language in 80% of generations with no fix "
                                     "(ceiling 80%)")
    just_under = tampering_rule(hits(100, 80), hits(100, 79), hits(100, 79), 0.004, 1.0)
    assert just_under.verdict == "refuted"  # +1 of the 21 points of headroom
    assert tampering_rule(hits(100, 81), at_ceiling, at_ceiling, 0.004, 1.0, ceiling=0.81).verdict == "refuted"


def test_a_random_set_at_the_ceiling_is_inconclusive() -> None:
    verdict = tampering_rule(hits(100, 100), hits(100, 80), hits(100, 10), 0.004, 1.0)
    assert verdict.verdict == "inconclusive"
    assert verdict.reason.startswith("the model already writes the language in 80% of generations with random "
                                     "neurons fixed (ceiling 80%)")
    assert tampering_rule(hits(100, 100), hits(100, 79), hits(100, 10), 0.004, 1.0).verdict == "supported"


def test_a_gain_of_exactly_the_minimum_with_significance_is_supported() -> None:
    nothing = np.zeros(100, dtype=bool)
    verdict = tampering_rule(hits(100, 20), nothing, nothing, 0.004, 1.0)  # gain 20/100 over a control at 0
    assert verdict.effect == 0.2 and verdict.verdict == "supported"
    assert tampering_rule(hits(100, 20), nothing, nothing, 0.004, 1.0, min_gain=0.21).verdict == "inconclusive"


def test_significance_is_strictly_under_alpha() -> None:
    nothing = np.zeros(40, dtype=bool)
    p = mcnemar(nothing, hits(40, 10))
    assert tampering_rule(hits(40, 10), nothing, nothing, 0.004, 1.0, alpha=p).verdict == "inconclusive"
    assert tampering_rule(hits(40, 10), nothing, nothing, 0.004, 1.0, alpha=np.nextafter(p, 1)).verdict == (
        "supported")


def test_refuted_only_when_the_interval_is_under_the_minimum() -> None:
    control = hits(100, 30)
    tampered = control | hits(100, 7, start=50)  # +7 samples: gain 10% of the headroom
    ci = tampering_rule(tampered, control, control, 0.004, 1.0).ci
    assert tampering_rule(tampered, control, control, 0.004, 1.0, min_gain=ci[1]).verdict == "inconclusive"
    assert tampering_rule(tampered, control, control, 0.004, 1.0, min_gain=np.nextafter(ci[1], 1)).verdict == (
        "refuted")


def test_significance_is_holm_adjusted_across_the_languages() -> None:
    """8 gained samples of 40 (raw p = 0.0078) pass alone, not among 9 languages whose others show nothing."""
    steered, unmoved = hits(40, 8), np.zeros(40, dtype=bool)
    alone = tampering_rule(steered, unmoved, unmoved, 0.004, 1.0)
    assert alone.verdict == "supported" and alone.measured["McNemar p, Holm-adjusted over languages"] == 2 * 0.5 ** 8
    family = np.stack([steered] + [unmoved] * 8)
    nine = tampering_rule(family, np.zeros_like(family), np.zeros_like(family), 0.004, 1.0)
    assert nine.verdict == "inconclusive"
    assert nine.measured["McNemar p (fixed vs random)"] == 2 * 0.5 ** 8
    assert nine.measured["McNemar p, Holm-adjusted over languages"] == 9 * 2 * 0.5 ** 8


def test_the_target_row_is_the_instance_language() -> None:
    family = np.stack([hits(50, 40), hits(50, 1)])
    none = np.zeros_like(family)
    assert tampering_rule(family, none, none, 0.004, 1.0, target=0).verdict == "supported"
    second = tampering_rule(family, none, none, 0.004, 1.0, target=1)
    assert second.verdict == "refuted" and second.effect == 0.02


def test_too_many_neurons_or_a_weak_identifier_are_inconclusive() -> None:
    steered, unmoved = np.ones(100, dtype=bool), np.zeros(100, dtype=bool)
    assert tampering_rule(steered, unmoved, unmoved, 0.01, 1.0).verdict == "supported"  # exactly 1% is allowed
    too_many = tampering_rule(steered, unmoved, unmoved, 0.0101, 1.0)
    assert too_many.verdict == "inconclusive" and too_many.reason.startswith("1.01% of neurons fixed, the finding "
                                                                             "is about under 1%")
    assert tampering_rule(steered, unmoved, unmoved, 0.0101, 1.0, max_share=0.02).verdict == "supported"
    assert tampering_rule(steered, unmoved, unmoved, 0.004, 0.8).verdict == "supported"  # exactly 80% recall
    weak = tampering_rule(steered, unmoved, unmoved, 0.004, 0.79)
    assert weak.verdict == "inconclusive" and weak.reason.startswith("the identifier recognises 79% of held-out "
                                                                     "texts of the language (< 80%)")
    assert tampering_rule(steered, unmoved, unmoved, 0.004, float("nan")).verdict == "inconclusive"
    assert tampering_rule(steered, unmoved, unmoved, 0.004, 0.79, min_recall=0.7).verdict == "supported"


def test_few_samples_are_inconclusive() -> None:
    nothing = np.zeros(10, dtype=bool)
    assert tampering_rule(hits(10, 3), nothing, nothing, 0.004, 1.0).verdict == "inconclusive"  # p = 0.25


def test_tampering_measurements_parameters_and_reason() -> None:
    tampered, control, baseline = hits(20, 15), hits(20, 5), hits(20, 4)
    verdict = tampering_rule(tampered, control, baseline, 0.004, 0.9, seed=3)
    p = mcnemar(control, tampered)
    ci = bootstrap_ci(headroom_gain, tampered, control, seed=3)
    assert verdict.verdict == "supported" and verdict.effect == pytest.approx(10 / 15) and verdict.ci == ci
    assert verdict.measured == pytest.approx({
        "target language, its neurons fixed %": 75.0, "target language, random neurons fixed %": 25.0,
        "target language, no fix %": 20.0, "gain over the control's headroom %": 100 * 10 / 15,
        "increase over random control (points)": 50.0, "McNemar p (fixed vs random)": p,
        "McNemar p, Holm-adjusted over languages": p, "languages in the Holm family": 1, "neurons fixed %": 0.4,
        "identifier held-out recall %": 90.0, "samples": 20})
    assert verdict.params == {"ceiling": 0.8, "min_gain": 0.2, "alpha": 0.05, "max_share": 0.01, "min_recall": 0.8,
                              "seed": 3, "control": "random same-size neuron set fixed at its own medians",
                              "multiple comparisons": "Holm over the languages of the measurement"}
    assert verdict.reason == (f"target language in 75% of generations with 0.40% of neurons fixed, 25% with a random "
                              f"set, 20% without: gain 67% of the control's headroom [{100 * ci[0]:.0f}, "
                              f"{100 * ci[1]:.0f}] (needs 20%), McNemar p={p:.2g}, Holm-adjusted over 1 languages "
                              f"p={p:.2g}")


def test_tampering_reads_zeros_and_ones_as_booleans() -> None:
    tampered, control = hits(30, 20), hits(30, 4)
    as_bool = tampering_rule(tampered, control, control, 0.004, 1.0)
    for kind in (int, float):
        other = tampering_rule(tampered.astype(kind), control.astype(kind), control.astype(kind), 0.004, 1.0)
        assert (other.verdict, other.effect, other.ci, other.measured) == (
            as_bool.verdict, as_bool.effect, as_bool.ci, as_bool.measured)


def test_tampering_reasons_round_what_they_show() -> None:
    everything, nothing = np.ones(100, dtype=bool), np.zeros(100, dtype=bool)
    verdict = tampering_rule(everything, nothing, hits(100, 70), 0.0099, 1.0, min_gain=0.7)
    p = mcnemar(nothing, everything)
    assert verdict.ci == (1.0, 1.0) and verdict.effect_name == "gain over random control (share of its headroom)"
    assert verdict.reason == ("target language in 100% of generations with 0.99% of neurons fixed, 0% with a random "
                              "set, 70% without: gain 100% of the control's headroom [100, 100] (needs 70%), McNemar "
                              f"p={p:.2g}, Holm-adjusted over 1 languages p={p:.2g}")
    random_at_70 = tampering_rule(everything, hits(100, 70), nothing, 0.004, 1.0)
    assert ", 70% with a random set, 0% without: gain 100%" in random_at_70.reason
    too_many = tampering_rule(everything, nothing, nothing, 0.006, 1.0, max_share=0.005)
    assert too_many.reason.startswith("0.60% of neurons fixed, the finding is about under 0.5%; target language")


def test_an_inconclusive_gate_reports_what_a_decided_verdict_would() -> None:
    """Each gate (too many neurons, a weak identifier, the ceiling) keeps the effect, interval, measurements and the
    decided verdict's reason; relaxing its parameter gives the decided verdict."""
    tampered, control = hits(50, 30), hits(50, 5)
    usual = {"baseline": control, "fixed_share": 0.004, "identifier_recall": 1.0}
    gates = (({"fixed_share": 0.02}, {"max_share": 0.05}), ({"identifier_recall": 0.5}, {"min_recall": 0.4}),
             ({"baseline": hits(50, 45)}, {"ceiling": 0.95}))
    for cause, relief in gates:
        args = usual | cause
        inconclusive = tampering_rule(tampered, control, args["baseline"], args["fixed_share"],
                                      args["identifier_recall"])
        decided = tampering_rule(tampered, control, args["baseline"], args["fixed_share"], args["identifier_recall"],
                                 **relief)
        assert inconclusive.verdict == "inconclusive" != decided.verdict
        assert (inconclusive.effect_name, inconclusive.effect, inconclusive.ci, inconclusive.measured) == (
            decided.effect_name, decided.effect, decided.ci, decided.measured)
        defaults = {"max_share": 0.01, "min_recall": 0.8, "ceiling": 0.8}
        assert inconclusive.params == decided.params | {name: defaults[name] for name in relief}
        assert inconclusive.reason.endswith(f"; {decided.reason}")


def test_outcomes_of_different_shapes_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"one shape \(languages, samples\), got \(2, 10\), \(1, 10\), \(1, 10\)"):
        tampering_rule(np.zeros((2, 10), dtype=bool), hits(10, 1), hits(10, 1), 0.004, 1.0)
