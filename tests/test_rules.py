"""Decision rules and statistics on synthetic measurements.

A large all-shared drop is supported, a drop no larger than a control's is refuted, too little evidence is
inconclusive; the same three-way outcome for the share increase, the mid-layer peak and conversion (the rules on
type shares across examples, tasks, language counts and thresholds: test_rules_shares.py); McNemar against
a hand computation and the bootstrap's determinism and degenerate cases.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.rules import (
    ablation_rule,
    conversion_rule,
    mid_layer_peak_rule,
    peak_holds,
    share_increase_rule,
)
from harness.stats import bootstrap_ci, bootstrap_support, mcnemar
from harness.verdict import Verdict
from tests.strategies import collapsing_ablation, share_pairs

FAST = settings(max_examples=40, deadline=None)


def _controls(base: np.ndarray, **overrides: np.ndarray) -> dict[str, np.ndarray]:
    """Ablated outcomes with every control equal to the baseline unless overridden."""
    return {"specific": base.copy(), "partial_shared": base.copy(), "random": base.copy(), **overrides}


def _items(n: int, correct: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[:correct] = True
    return out


def _lose(correct: np.ndarray, n_lost: int, start: int = 0) -> np.ndarray:
    """A copy that loses the correct items start .. start + n_lost - 1 (items are correct first)."""
    out = correct.copy()
    out[start:start + n_lost] = False
    return out


def _contains(ci: tuple[float, float], value: float) -> bool:
    return ci[0] - 1e-12 <= value <= ci[1] + 1e-12


# --- ablation_rule --------------------------------------------------------------------------------------------


@FAST
@given(collapsing_ablation())
def test_large_all_shared_drop_with_untouched_controls_is_supported(data: tuple[np.ndarray, np.ndarray]) -> None:
    base, all_shared = data
    verdict = ablation_rule(base, _controls(base, all_shared=all_shared))
    n_correct, n_lost = int(base.sum()), int((base & ~all_shared).sum())
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(n_lost / n_correct)
    assert _contains(verdict.ci, verdict.effect)
    assert verdict.measured["baseline"] == pytest.approx(100 * n_correct / len(base))
    assert verdict.measured["w/o all_shared"] == pytest.approx(100 * (n_correct - n_lost) / len(base))


@FAST
@given(collapsing_ablation(min_items=100, lost_share=(0.0, 0.1)))
def test_small_drop_equal_to_random_control_is_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    """Identical all-shared and random outcomes with a small drop: the CI upper bound of the relative drop is
    below the threshold, which refutes."""
    base, all_shared = data
    verdict = ablation_rule(base, _controls(base, all_shared=all_shared, random=all_shared.copy()))
    assert verdict.verdict == "refuted"
    assert verdict.ci[1] < 0.5


@FAST
@given(collapsing_ablation(min_items=40, lost_share=(0.5, 0.6)))
def test_drop_smaller_than_a_significantly_larger_control_drop_is_refuted(
        data: tuple[np.ndarray, np.ndarray]) -> None:
    """The all-shared drop is large (>= half the correct items) but random deactivation loses every correct item:
    a control beats all-shared significantly (McNemar), which refutes."""
    base, all_shared = data
    random = np.zeros_like(base)
    verdict = ablation_rule(base, _controls(base, all_shared=all_shared, random=random))
    assert verdict.effect >= 0.5  # the relative drop alone would pass
    assert verdict.measured["McNemar p (w/o all-shared vs w/o random)"] < 0.05
    assert verdict.verdict == "refuted"


def test_large_drop_equal_to_random_control_is_refuted() -> None:
    base = _items(200, 150)
    all_shared = _lose(base, 130)
    verdict = ablation_rule(base, _controls(base, all_shared=all_shared, random=all_shared.copy()))
    assert verdict.verdict == "refuted"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 4), st.lists(st.booleans(), min_size=6, max_size=6))
def test_too_few_correct_items_are_inconclusive(n_correct: int, ablated_list: list[bool]) -> None:
    """6 items with at most 4 correct at baseline (< min_correct = 5): inconclusive whatever the ablation does."""
    base, ablated = _items(6, n_correct), np.array(ablated_list)
    verdict = ablation_rule(base, _controls(base, all_shared=ablated, random=ablated.copy()))
    assert verdict.verdict == "inconclusive"
    assert f"only {n_correct} items correct" in verdict.reason


def test_six_items_three_correct_all_lost_is_inconclusive() -> None:
    base = _items(6, 3)
    verdict = ablation_rule(base, _controls(base, all_shared=np.zeros(6, dtype=bool)))
    assert verdict.verdict == "inconclusive"
    assert verdict.effect == 1.0 and verdict.ci == (1.0, 1.0)  # both vectors are constant: no spread to resample


def test_large_but_not_significant_drop_is_inconclusive() -> None:
    """8 items, 5 correct, 3 lost: relative drop 0.6 >= 0.5 and above every control, but McNemar p = 0.25 and the
    interval is wide."""
    base = _items(8, 5)
    verdict = ablation_rule(base, _controls(base, all_shared=_lose(base, 3)))
    assert verdict.effect == pytest.approx(0.6)
    assert verdict.measured["McNemar p (baseline vs w/o all-shared)"] == pytest.approx(0.25)
    assert verdict.verdict == "inconclusive"
    assert verdict.ci[0] < 0.5 < verdict.ci[1]


def test_ablation_verdict_records_its_parameters() -> None:
    base = _items(40, 30)
    verdict = ablation_rule(base, _controls(base, all_shared=_lose(base, 28)), min_relative_drop=0.7, alpha=0.01,
                            min_correct=10, seed=7)
    assert isinstance(verdict, Verdict)
    assert verdict.params == {"min_relative_drop": 0.7, "alpha": 0.01, "min_correct": 10, "seed": 7}
    assert verdict.effect_name == "relative accuracy drop"
    assert verdict.verdict == "supported"
    stricter = ablation_rule(base, _controls(base, all_shared=_lose(base, 28)), min_relative_drop=0.95)
    assert stricter.verdict != "supported"  # 28 / 30 = 0.93 < 0.95: the threshold is used


def test_controls_that_drop_as_much_block_support() -> None:
    base = _items(100, 80)
    all_shared = _lose(base, 70)
    for control in ("specific", "partial_shared", "random"):
        verdict = ablation_rule(base, _controls(base, all_shared=all_shared, **{control: all_shared.copy()}))
        assert verdict.verdict != "supported", control


# --- share_increase_rule --------------------------------------------------------------------------------------


@FAST
@given(share_pairs(shift=(0.01, 0.2)))
def test_clear_share_increase_is_supported(data: tuple[np.ndarray, np.ndarray]) -> None:
    ift, base = data
    verdict = share_increase_rule(ift, base)
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(float(np.mean(ift - base)))
    assert 0 < verdict.ci[0] <= verdict.ci[1]


@FAST
@given(share_pairs(shift=(-0.2, -0.01)))
def test_clear_share_decrease_is_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    ift, base = data
    verdict = share_increase_rule(ift, base)
    assert verdict.verdict == "refuted"
    assert verdict.ci[1] <= 0


@FAST
@given(share_pairs(min_examples=1, max_examples=4, shift=(-0.2, 0.2)))
def test_fewer_than_min_examples_are_inconclusive(data: tuple[np.ndarray, np.ndarray]) -> None:
    ift, base = data
    verdict = share_increase_rule(ift, base)
    assert verdict.verdict == "inconclusive"
    assert f"only {len(ift)} examples" in verdict.reason


def test_noisy_difference_near_zero_is_inconclusive() -> None:
    base = np.full(8, 0.4)
    ift = base + np.array([0.2, -0.2, 0.15, -0.1, 0.1, -0.2, 0.05, 0.02])  # mean +0.0025
    verdict = share_increase_rule(ift, base)
    assert verdict.effect == pytest.approx(0.0025)
    assert verdict.ci[0] < 0 < verdict.ci[1]
    assert verdict.verdict == "inconclusive"


@FAST
@given(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=40))
def test_identical_shares_are_refuted_with_a_zero_interval(values: list[float]) -> None:
    shares = np.array(values)
    verdict = share_increase_rule(shares, shares.copy())
    assert verdict.verdict == "refuted"
    assert verdict.effect == 0.0 and verdict.ci == (0.0, 0.0)


def test_share_verdict_records_its_parameters() -> None:
    base = np.linspace(0.2, 0.4, 6)
    verdict = share_increase_rule(base + 0.1, base, min_examples=7, seed=3)
    assert verdict.params == {"min_examples": 7, "seed": 3}
    assert verdict.verdict == "inconclusive"  # 6 examples < 7
    assert verdict.effect == pytest.approx(0.1)
    assert verdict.measured["difference (points)"] == pytest.approx(10.0)


# --- mid_layer_peak_rule / peak_holds -------------------------------------------------------------------------


def _peaked(n_layers: int, peak: int, *, low: float = 0.1, high: float = 1.0) -> np.ndarray:
    curve = np.full(n_layers, low)
    curve[peak] = high
    return curve


@pytest.mark.parametrize(("n_layers", "interior"), [(10, range(1, 8)), (30, range(3, 24))])
def test_peak_edges_exclude_first_ten_and_last_twenty_percent(n_layers: int, interior: range) -> None:
    """10 layers: layer 0 is the first 10%, layers 8-9 the last 20%; 30 layers: 0-2 and 24-29."""
    for peak in range(n_layers):
        holds, found, fall = peak_holds(_peaked(n_layers, peak), edge_low=0.1, edge_high=0.2, min_fall=0.25)
        assert found == peak
        assert holds == (peak in interior), peak
        assert fall == pytest.approx(0.9 if peak < n_layers - 1 else 0.0)


def test_peak_fall_threshold_is_inclusive() -> None:
    curve = np.array([0.1, 0.5, 1.0, 0.9, 0.75, 0.8, 0.8, 0.8, 0.8, 0.8])
    assert peak_holds(curve, edge_low=0.1, edge_high=0.2, min_fall=0.25) == (True, 2, 0.25)
    curve[4] = 0.76
    holds, _, fall = peak_holds(curve, edge_low=0.1, edge_high=0.2, min_fall=0.25)
    assert not holds and fall == pytest.approx(0.24)


@pytest.mark.parametrize("curve", [np.full(10, 0.3), np.zeros(10), np.linspace(0.1, 1.0, 10)])
def test_flat_or_rising_curve_does_not_hold(curve: np.ndarray) -> None:
    holds, _, _ = peak_holds(curve, edge_low=0.1, edge_high=0.2, min_fall=0.25)
    assert not holds


def _examples(n_examples: int, n_layers: int, peak: int, seed: int, noise: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # a clear step down after the peak (0.15, far above the noise of a mean over examples), then a slow fall
    curve = np.concatenate([np.linspace(0.2, 1.0, peak + 2)[1:], np.linspace(0.85, 0.3, n_layers - peak - 1)])
    return np.clip(curve + rng.normal(0, noise, size=(n_examples, n_layers)), 0, None)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_interior_peak_with_fall_is_supported(data: st.DataObject) -> None:
    n_layers = data.draw(st.integers(10, 40))
    peak = data.draw(st.integers(math.ceil(0.1 * n_layers) + 1, n_layers - math.ceil(0.2 * n_layers) - 2))
    curves = _examples(data.draw(st.integers(5, 30)), n_layers, peak, data.draw(st.integers(0, 1000)))
    verdict = mid_layer_peak_rule(curves)
    assert verdict.verdict == "supported"
    assert verdict.measured["peak layer"] == peak
    assert verdict.effect == pytest.approx(peak / (n_layers - 1))
    assert verdict.ci[0] == verdict.ci[1] == verdict.measured["bootstrap support"] >= 0.95


@pytest.mark.parametrize(("n_layers", "peak"), [(10, 0), (30, 2), (10, 8), (30, 24), (30, 28)])
def test_peak_at_the_edges_is_refuted(n_layers: int, peak: int) -> None:
    verdict = mid_layer_peak_rule(_examples(20, n_layers, peak, seed=peak))
    assert verdict.measured["peak layer"] == peak
    assert verdict.verdict == "refuted"
    assert verdict.measured["bootstrap support"] <= 0.05


def test_flat_curves_are_refuted() -> None:
    rng = np.random.default_rng(0)
    curves = np.repeat(rng.uniform(0.2, 0.4, size=(15, 1)), 12, axis=1)  # each example flat at its own level
    verdict = mid_layer_peak_rule(curves)
    assert verdict.verdict == "refuted"
    assert verdict.measured["bootstrap support"] == 0.0


def test_split_examples_are_inconclusive() -> None:
    """Half the examples peak in the middle, half at layer 0 with the same height: resamples disagree."""
    middle, first = _peaked(10, 4, low=0.2), _peaked(10, 0, low=0.2)
    curves = np.stack([middle] * 10 + [first] * 10)
    curves[0, 4] += 1e-3  # break the tie of the mean curve in favour of the interior peak
    verdict = mid_layer_peak_rule(curves)
    assert 0.05 < verdict.measured["bootstrap support"] < 0.95
    assert verdict.verdict == "inconclusive"


def test_peak_rule_records_its_parameters_and_uses_them() -> None:
    curves = _examples(20, 10, 7, seed=1)  # peak at layer 7: interior only while the top edge stays at 20%
    default = mid_layer_peak_rule(curves)
    strict = mid_layer_peak_rule(curves, edge_low=0.2, edge_high=0.3, min_fall=0.5, min_support=0.9, seed=4)
    assert default.verdict == "supported"
    assert strict.verdict == "refuted"
    assert strict.params == {"edge_low": 0.2, "edge_high": 0.3, "min_fall": 0.5, "min_support": 0.9, "seed": 4}


# --- conversion_rule ------------------------------------------------------------------------------------------


def _accuracy_grid(n_examples: int, n_langs: int, accuracy: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n_examples, n_langs)) < accuracy


@settings(max_examples=25, deadline=None)
@given(st.integers(40, 150), st.integers(3, 12), st.integers(0, 10_000))
def test_improvement_in_every_language_is_supported(n_examples: int, n_langs: int, seed: int) -> None:
    base = _accuracy_grid(n_examples, n_langs, 0.5, seed)
    base[0] = False  # example 0 is wrong in every language and gets fixed: every language gains
    fixed = np.random.default_rng(seed + 1).random(base.shape) < 0.4
    fixed[0] = True
    converted = base | fixed  # no answer gets worse
    verdict = conversion_rule(base, converted)
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(float(converted.mean() - base.mean()))
    assert verdict.ci[0] > 0
    assert verdict.measured["languages not worse"] == 1.0


@FAST
@given(st.integers(1, 100), st.integers(1, 12), st.integers(0, 10_000))
def test_no_change_is_refuted(n_examples: int, n_langs: int, seed: int) -> None:
    base = _accuracy_grid(n_examples, n_langs, 0.5, seed)
    verdict = conversion_rule(base, base.copy())
    assert verdict.verdict == "refuted"
    assert verdict.effect == 0.0 and verdict.ci == (0.0, 0.0)


def _mixed(n_worse: int, n_langs: int = 6, n_examples: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Languages 0 .. n_worse - 1 lose 5 correct answers, the others gain 40."""
    base = np.zeros((n_examples, n_langs), dtype=bool)
    base[:45] = True
    converted = base.copy()
    converted[:5, :n_worse] = False
    converted[45:85, n_worse:] = True
    return base, converted


def test_worse_in_more_than_a_third_of_languages_is_refuted() -> None:
    base, converted = _mixed(n_worse=3)  # half the languages worse, though the mean rises a lot
    verdict = conversion_rule(base, converted)
    assert verdict.effect > 0 and verdict.ci[0] > 0
    assert verdict.measured["languages not worse"] == 0.5
    assert verdict.verdict == "refuted"


def test_worse_in_exactly_a_third_of_languages_is_still_supported() -> None:
    base, converted = _mixed(n_worse=2)
    verdict = conversion_rule(base, converted)
    assert verdict.measured["languages not worse"] == pytest.approx(2 / 3)
    assert verdict.verdict == "supported"


def test_conversion_verdict_records_its_parameters() -> None:
    base, converted = _mixed(n_worse=2)
    verdict = conversion_rule(base, converted, min_language_share=0.8, seed=5)
    assert verdict.params == {"min_language_share": 0.8, "seed": 5}
    assert verdict.verdict == "refuted"  # 4 of 6 languages not worse < 0.8


# --- stats ----------------------------------------------------------------------------------------------------


def _pair(lost: int, gained: int, same: int = 10) -> tuple[np.ndarray, np.ndarray]:
    before = np.array([True] * lost + [False] * gained + [True] * same)
    after = np.array([False] * lost + [True] * gained + [True] * same)
    return before, after


def _exact_mcnemar(lost: int, gained: int) -> float:
    n, k = lost + gained, min(lost, gained)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


@pytest.mark.parametrize(("lost", "gained", "expected"), [
    (8, 1, 20 / 512),  # 2 * (C(9,0) + C(9,1)) / 2^9
    (10, 0, 2 / 1024),
    (3, 3, 1.0),
    (0, 0, 1.0),  # no discordant pairs
    (1, 0, 1.0),
])
def test_mcnemar_by_hand(lost: int, gained: int, expected: float) -> None:
    before, after = _pair(lost, gained)
    assert mcnemar(before, after) == pytest.approx(expected)
    assert mcnemar(after, before) == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80))
def test_mcnemar_matches_exact_binomial_formula(pairs: list[tuple[bool, bool]]) -> None:
    before, after = (np.array(x) for x in zip(*pairs, strict=True))
    lost, gained = int(np.sum(before & ~after)), int(np.sum(~before & after))
    assert mcnemar(before, after) == pytest.approx(_exact_mcnemar(lost, gained))


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x.mean(axis=axis)


@FAST
@given(st.lists(st.integers(-100, 100), min_size=2, max_size=60).filter(lambda v: len(set(v)) > 1),
       st.integers(0, 2 ** 16))
def test_bootstrap_ci_is_seeded_and_contains_the_mean(values: list[int], seed: int) -> None:
    sample = np.array(values, dtype=float)
    ci = bootstrap_ci(_mean, sample, seed=seed)
    assert ci == bootstrap_ci(_mean, sample, seed=seed)
    assert ci[0] <= ci[1]
    assert _contains(ci, float(sample.mean()))
    assert sample.min() <= ci[0] and ci[1] <= sample.max()


def test_bootstrap_ci_depends_on_the_seed_and_confidence() -> None:
    sample = np.random.default_rng(0).normal(size=50)
    assert bootstrap_ci(_mean, sample, seed=0) != bootstrap_ci(_mean, sample, seed=1)
    narrow = bootstrap_ci(_mean, sample, seed=0, confidence=0.5)
    wide = bootstrap_ci(_mean, sample, seed=0)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize("samples", [
    (np.full(10, 0.3),),
    (np.array([2.5]),),
    (np.ones(7), np.zeros(7)),
])
def test_degenerate_samples_give_a_zero_width_interval(samples: tuple[np.ndarray, ...]) -> None:
    def statistic(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return sum(x.mean(axis=axis) for x in xs)

    expected = float(sum(s.mean() for s in samples))
    assert bootstrap_ci(statistic, *samples) == (pytest.approx(expected), pytest.approx(expected))
    low, high = bootstrap_ci(statistic, *samples)
    assert low == high


def test_bootstrap_support_is_seeded_and_a_share() -> None:
    def holds(indices: np.ndarray) -> bool:
        return bool(np.mean(indices < 5) > 0.5)

    support = bootstrap_support(holds, 10, seed=3)
    assert support == bootstrap_support(holds, 10, seed=3)
    assert 0.0 < support < 1.0
    assert bootstrap_support(lambda _: True, 10) == 1.0
    assert bootstrap_support(lambda _: False, 10) == 0.0


def test_dead_across_tokens_rule() -> None:
    from harness.rules import dead_across_tokens_rule

    assert dead_across_tokens_rule(np.full(10, 0.002), 20).verdict == "supported"
    refuted = dead_across_tokens_rule(np.array([0.0] * 9 + [0.2]), 20)
    assert refuted.verdict == "refuted" and refuted.measured["worst layer"] == 9
    assert dead_across_tokens_rule(np.zeros(10), 3).verdict == "inconclusive"


def test_language_consistency_rule() -> None:
    from harness.rules import language_consistency_rule

    even = np.tile(np.linspace(0.3, 0.6, 10), (9, 1))
    assert language_consistency_rule(even, 20).verdict == "supported"
    skewed = even.copy()
    skewed[8, 5] += 0.4
    refuted = language_consistency_rule(skewed, 20)
    assert refuted.verdict == "refuted" and refuted.measured["layer of largest spread"] == 5
    assert language_consistency_rule(even, 2).verdict == "inconclusive"


def test_contribution_rule() -> None:
    from harness.rules import contribution_rule

    led = np.tile(np.array([[0.1], [0.1], [0.2], [0.6]]), (1, 10))  # (types, layers): all-shared leads
    assert contribution_rule(led).verdict == "supported"
    assert contribution_rule(led[[0, 1, 3, 2]]).verdict == "refuted"  # partial-shared leads instead
    half = led.copy()
    half[:, :5] = led[[0, 1, 3, 2], :5]
    assert contribution_rule(half).verdict == "inconclusive"
