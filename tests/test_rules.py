"""Decision rules and statistics on synthetic measurements.

The share increase under instruction tuning (with its density-matched control) and the mid-layer peak come out
supported, refuted or inconclusive as their evidence says (the rules on accuracy: test_rules_accuracy.py; on
attribution: test_rules_attribution.py; on type shares across examples, tasks, language counts and thresholds:
test_rules_shares.py); McNemar against a hand computation and the bootstrap's determinism and degenerate cases.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.stats import bootstrap_ci, bootstrap_support, mcnemar
from harness.papers.sharing_matters.rules import (
    density_matched_shares,
    mid_layer_peak_rule,
    peak_holds,
    share_increase_rule,
)
from tests.strategies import share_pairs

FAST = settings(max_examples=40, deadline=None)


def _contains(ci: tuple[float, float], value: float) -> bool:
    return ci[0] - 1e-12 <= value <= ci[1] + 1e-12


# --- share_increase_rule ------------------------------------------------------------------------------------


def _ift_pair(ift_shared: np.ndarray, base_shared: np.ndarray, partial_drop: float = 0.05,
              null_rise: float | np.ndarray = 0.0) -> tuple[dict, dict]:
    """IFT and base per-example shares; partial-shared falls by ``partial_drop`` under IFT; on the non-parallel
    tuples the base model has 0.1 all-shared, the IFT model ``null_rise`` more."""
    base = {"all_shared": base_shared, "partial_shared": np.full(len(base_shared), 0.3),
            "nonparallel_all_shared": np.full(len(base_shared), 0.1)}
    ift = {"all_shared": ift_shared, "partial_shared": base["partial_shared"] - partial_drop,
           "nonparallel_all_shared": base["nonparallel_all_shared"] + null_rise}
    return ift, base


@FAST
@given(share_pairs(shift=(0.01, 0.2)))
def test_clear_share_increase_that_survives_both_controls_is_supported(data: tuple[np.ndarray, np.ndarray]) -> None:
    ift, base = data
    verdict = share_increase_rule(*_ift_pair(ift, base), matched=(ift, base))
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(float(np.mean(ift - base)))
    assert 0 < verdict.ci[0] <= verdict.ci[1]
    assert verdict.measured["difference specific to translations (points)"] == pytest.approx(100 * np.mean(ift - base))


@FAST
@given(share_pairs(shift=(0.01, 0.2)))
def test_an_increase_that_matched_density_removes_is_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    """A model that is only denser: more all-shared neurons at the fixed threshold, as many at matched density."""
    ift, base = data
    verdict = share_increase_rule(*_ift_pair(ift, base), matched=(base.copy(), base))
    assert verdict.ci[0] > 0  # the comparison at a fixed threshold alone would support it
    assert verdict.verdict == "refuted"


@FAST
@given(share_pairs(shift=(0.01, 0.2)), st.floats(-0.004, 0.004))
def test_an_increase_as_large_on_unrelated_prompts_is_refuted(data: tuple[np.ndarray, np.ndarray],
                                                               alignment: float) -> None:
    """A model whose inputs all became more alike: the same rise on non-parallel tuples as on translations (up to
    less than the margin), at any density."""
    ift, base = data
    verdict = share_increase_rule(*_ift_pair(ift, base, null_rise=ift - base - alignment), matched=(ift, base))
    assert verdict.ci[0] > 0
    assert verdict.measured["difference on non-parallel tuples (points)"] == pytest.approx(
        100 * float(np.mean(ift - base) - alignment))
    assert verdict.verdict == "refuted"


@FAST
@given(share_pairs(shift=(0.01, 0.2)), st.floats(0.0, 1.0))
def test_part_of_the_rise_on_unrelated_prompts_is_allowed(data: tuple[np.ndarray, np.ndarray],
                                                         part: float) -> None:
    """Whatever part of the rise also shows on non-parallel tuples, the rest decides (here at least 1 point)."""
    ift, base = data
    rise = ift - base
    null = np.minimum(part * rise, rise - 0.01)
    verdict = share_increase_rule(*_ift_pair(ift, base, null_rise=null), matched=(ift, base))
    assert verdict.verdict == "supported"
    assert verdict.measured["difference specific to translations (points)"] == pytest.approx(
        100 * float(np.mean(rise - null)))


@FAST
@given(share_pairs(shift=(-0.2, -0.01)))
def test_clear_share_decrease_is_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    ift, base = data
    verdict = share_increase_rule(*_ift_pair(ift, base), matched=(ift, base))
    assert verdict.verdict == "refuted"
    assert verdict.ci[1] <= 0


def test_partial_shared_rising_under_ift_is_refuted_and_falling_is_required() -> None:
    base = np.linspace(0.2, 0.4, 20)
    assert share_increase_rule(*_ift_pair(base + 0.1, base, partial_drop=-0.05),
                               matched=(base + 0.1, base)).verdict == "refuted"
    assert share_increase_rule(*_ift_pair(base + 0.1, base, partial_drop=0.0),
                               matched=(base + 0.1, base)).verdict == "inconclusive"


def test_no_density_match_cannot_support() -> None:
    base = np.linspace(0.2, 0.4, 20)
    verdict = share_increase_rule(*_ift_pair(base + 0.1, base), matched=None)
    assert verdict.verdict == "inconclusive"
    assert "no threshold of the grid" in verdict.reason


@FAST
@given(share_pairs(min_examples=1, max_examples=4, shift=(-0.2, 0.2)))
def test_fewer_than_min_examples_are_inconclusive(data: tuple[np.ndarray, np.ndarray]) -> None:
    ift, base = data
    verdict = share_increase_rule(*_ift_pair(ift, base), matched=(ift, base))
    assert verdict.verdict == "inconclusive"
    assert f"only {len(ift)} examples" in verdict.reason


def test_noisy_difference_near_zero_is_inconclusive() -> None:
    base = np.full(8, 0.4)
    ift = base + np.array([0.2, -0.2, 0.15, -0.1, 0.1, -0.2, 0.05, 0.02])  # mean +0.0025
    verdict = share_increase_rule(*_ift_pair(ift, base), matched=(ift, base))
    assert verdict.effect == pytest.approx(0.0025)
    assert verdict.ci[0] < 0 < verdict.ci[1]
    assert verdict.verdict == "inconclusive"


def test_matched_difference_threshold_is_used_and_recorded() -> None:
    base = np.linspace(0.2, 0.4, 12)
    ift, base_shares = _ift_pair(base + 0.1, base)
    verdict = share_increase_rule(ift, base_shares, matched=(base + 0.004, base), min_examples=5, seed=3)
    assert verdict.params["min_difference"] == 0.005 and verdict.params["seed"] == 3
    assert verdict.verdict == "refuted"  # +0.4 points at matched density < 0.5
    assert share_increase_rule(ift, base_shares, matched=(base + 0.006, base)).verdict == "supported"
    assert verdict.measured["difference (points)"] == pytest.approx(10.0)


def test_the_matched_comparison_reads_the_base_model_over_the_same_layers() -> None:
    """The base model's share over the matched layers only: the IFT model 1 point above it there is supported,
    whatever the base model holds in the layers left out."""
    base = np.linspace(0.2, 0.4, 12)
    ift, base_shares = _ift_pair(base + 0.1, base)
    matched_layers = base - 0.15  # the base model over the layers that could be matched
    assert share_increase_rule(ift, base_shares, matched=(matched_layers + 0.01, matched_layers)).verdict \
        == "supported"


def test_the_rise_on_non_parallel_tuples_is_recorded_and_margin_applies() -> None:
    base = np.linspace(0.2, 0.4, 12)
    pair = _ift_pair(base + 0.1, base, null_rise=0.096)  # 0.4 points specific to translations < 0.5
    verdict = share_increase_rule(*pair, matched=(base + 0.1, base))
    assert verdict.verdict == "refuted"
    assert verdict.measured["difference on non-parallel tuples (points)"] == pytest.approx(9.6)
    assert verdict.measured["difference specific to translations (points)"] == pytest.approx(0.4)
    assert verdict.measured["all-shared share on non-parallel tuples (IFT) %"] == pytest.approx(19.6)
    assert "+0.40 [+0.40, +0.40] specific to translations (must exceed 0.5)" in verdict.reason
    assert share_increase_rule(*_ift_pair(base + 0.1, base, null_rise=0.094),
                               matched=(base + 0.1, base)).verdict == "supported"


def test_density_matching_interpolates_between_grid_thresholds() -> None:
    thresholds = [0.0, 0.1, 0.2]
    density = np.array([[[0.6, 0.5], [0.4, 0.5], [0.2, 0.1]]] * 3)  # (examples, thr, layers)
    shares = np.array([[[0.3, 0.2], [0.2, 0.2], [0.1, 0.0]]] * 3)
    matched, at = density_matched_shares(thresholds, density, shares, np.array([0.5, 0.3]))
    assert at == pytest.approx([0.05, 0.15])  # layer 0 halfway between 0 and 0.1; layer 1 halfway to 0.2
    assert matched == pytest.approx([(0.25 + 0.1) / 2] * 3)
    out_of_grid, at = density_matched_shares(thresholds, density, shares, np.array([0.05, 0.05]))
    assert out_of_grid is None and np.isnan(at).all()


def test_density_matching_reads_a_sparser_layer_at_the_lowest_threshold() -> None:
    """A layer of the IFT model sparser than the base model at every threshold of the grid: its all-shared share at
    the lowest threshold, a lower bound of its share at the (lower) matching threshold."""
    thresholds = [0.0, 0.1, 0.2]
    density = np.array([[[0.6, 0.5], [0.4, 0.5], [0.2, 0.1]]] * 3)  # (examples, thr, layers)
    shares = np.array([[[0.3, 0.2], [0.2, 0.2], [0.1, 0.0]]] * 3)
    matched, at = density_matched_shares(thresholds, density, shares, np.array([0.9, 0.05]))
    assert at[0] == 0.0 and np.isnan(at[1])
    assert matched == pytest.approx([0.3] * 3)


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
    strict = mid_layer_peak_rule(curves, edge_low=0.2, edge_high=0.3, min_fall=0.5, min_support=0.9,
                                 min_compared=0.5, seed=4)
    assert default.verdict == "supported"
    assert strict.verdict == "refuted"
    assert strict.params == {"edge_low": 0.2, "edge_high": 0.3, "min_fall": 0.5, "min_support": 0.9,
                             "min_compared": 0.5, "seed": 4}


@FAST
@given(st.data())
def test_layers_not_compared_keep_the_others_in_their_place(data: st.DataObject) -> None:
    """NaN layers (not read at the common density) are left out: the peak and the fall are found among the others,
    at their own depth, as on the curve without the left-out layers' values."""
    n_layers = data.draw(st.integers(8, 30))
    peak = data.draw(st.integers(math.ceil(0.1 * n_layers) + 1, n_layers - math.ceil(0.2 * n_layers) - 2))
    curves = _examples(data.draw(st.integers(5, 20)), n_layers, peak, data.draw(st.integers(0, 1000)))
    gaps = data.draw(st.sets(st.sampled_from([i for i in range(n_layers) if i != peak]),
                             max_size=n_layers - math.ceil(0.75 * n_layers)))
    holed = curves.copy()
    holed[:, sorted(gaps)] = np.nan
    verdict = mid_layer_peak_rule(holed)
    assert verdict.measured["peak layer"] == peak and verdict.measured["layers compared"] == n_layers - len(gaps)
    assert verdict.verdict == mid_layer_peak_rule(curves).verdict == "supported"


def test_too_few_layers_compared_is_inconclusive() -> None:
    curves = _examples(20, 10, 4, seed=2)
    curves[:, [0, 1, 8]] = np.nan  # 7 of 10 compared: under 75%
    verdict = mid_layer_peak_rule(curves)
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("only 7 of 10 layers compared (< 75%)")
    assert mid_layer_peak_rule(curves, min_compared=0.7).verdict == "supported"
    assert mid_layer_peak_rule(np.full((6, 10), np.nan)).verdict == "inconclusive"


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
    from harness.papers.sharing_matters.rules import dead_across_tokens_rule

    assert dead_across_tokens_rule(np.full(10, 0.002), 20).verdict == "supported"
    refuted = dead_across_tokens_rule(np.array([0.0] * 9 + [0.2]), 20)
    assert refuted.verdict == "refuted" and refuted.measured["worst layer"] == 9
    assert dead_across_tokens_rule(np.zeros(10), 3).verdict == "inconclusive"


def _activated(n_examples: int, spread: float, seed: int = 0) -> np.ndarray:
    """(examples, 9 langs, 10 layers) activated shares around a common curve; language 8 is ``spread`` times the
    layer's level higher in layer 5."""
    rng = np.random.default_rng(seed)
    level = np.linspace(0.3, 0.6, 10)
    out = np.tile(level, (n_examples, 9, 1)) * (1 + rng.normal(0, 0.01, (n_examples, 9, 10)))
    out[:, 8, 5] += spread * level[5]
    return out


def test_language_consistency_rule() -> None:
    from harness.papers.sharing_matters.rules import language_consistency_rule

    assert language_consistency_rule(_activated(20, 0.0)).verdict == "supported"
    refuted = language_consistency_rule(_activated(20, 0.8))
    assert refuted.verdict == "refuted" and refuted.measured["layer of largest spread"] == 5
    assert language_consistency_rule(_activated(2, 0.0)).verdict == "inconclusive"
    near = language_consistency_rule(_activated(20, 0.36))  # relative spread 0.36 / (1 + 0.36 / 9) = 0.346
    assert near.ci[0] <= 0.35 < near.ci[1] and near.verdict == "inconclusive"


@FAST
@given(st.floats(0.04, 1.0), st.floats(0.0, 1.5), st.integers(0, 100))
def test_language_consistency_is_scale_free(scale: float, spread: float, seed: int) -> None:
    """A model that is only sparser (every layer's shares times the same factor, none falling under 1% active) gets
    the same spreads and the same verdict: the old absolute spread shrank with the factor."""
    from harness.papers.sharing_matters.rules import language_consistency_rule

    activated = _activated(12, spread, seed)
    full, sparser = language_consistency_rule(activated), language_consistency_rule(activated * scale)
    assert sparser.verdict == full.verdict
    assert sparser.effect == pytest.approx(full.effect) and sparser.ci == pytest.approx(full.ci)


def test_language_consistency_skips_near_empty_layers_and_counts_them() -> None:
    """A layer where 0.1% of the neurons fire in one language and none in the others: a relative spread of 9 times
    its mean; under 1% active, it is not read. Every layer not read counts against support: at most a quarter may
    be skipped, and a read layer refutes however many are."""
    from harness.papers.sharing_matters.rules import language_consistency_rule

    activated = _activated(20, 0.0)
    activated[:, :, 5] = 0.0
    activated[:, 8, 5] = 0.001
    verdict = language_consistency_rule(activated)
    assert verdict.measured["layers skipped (under min_active)"] == 1 and verdict.verdict == "supported"
    activated[:, :, :3] = 0.005  # 4 of 10 layers skipped
    sparse = language_consistency_rule(activated)
    assert sparse.verdict == "inconclusive" and sparse.reason.startswith("too few layers read to support it")
    assert language_consistency_rule(activated, max_skipped=0.4).verdict == "supported"
    activated[:, 8, 7] *= 2  # a read layer where one language has twice the others' share
    assert language_consistency_rule(activated).verdict == "refuted"


def test_language_consistency_reads_several_fold_differences_in_a_sparse_layer() -> None:
    """3.6% of a layer's neurons active in one language, 0.2% in the others: 3.4 points (the old absolute limit was
    5), 4.6 times the layer's mean."""
    from harness.papers.sharing_matters.rules import language_consistency_rule

    activated = np.full((12, 9, 4), 0.002) * (1 + np.random.default_rng(3).normal(0, 0.01, (12, 9, 4)))
    activated[:, :, 1] = 0.02
    activated[:, 0, 0] = 0.036
    verdict = language_consistency_rule(activated, min_active=0.005)
    assert verdict.verdict == "refuted" and verdict.measured["layer of largest spread"] == 0
    assert verdict.measured["largest spread across languages (points)"] == pytest.approx(3.4, abs=0.05)
