"""Every comparison of the type-share rules (instruction tuning, density, layers, examples, tasks, languages,
thresholds) at its exact boundary: a threshold set to the very statistic (or interval bound) it is compared with, so
that a strict comparison and an inclusive one give different verdicts. Strict and inclusive are the rules'
documented choices (docstrings, README); each test names the one it pins."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.sharing_matters.rules import (
    dead_across_tokens_rule,
    density_matched_shares,
    language_consistency_rule,
    language_count_rule,
    mid_layer_peak_rule,
    non_repeating_rule,
    share_increase_rule,
    task_dependence_rule,
    threshold_sweep_rule,
)

# --- instruction tuning and density -----------------------------------------------------------------------------------


def _base(n: int = 10) -> dict[str, np.ndarray]:
    return {"all_shared": np.full(n, 0.25), "partial_shared": np.full(n, 0.5),
            "nonparallel_all_shared": np.full(n, 0.25)}


def _ift(d_shared: float, d_partial: float, n: int = 10, d_null: float = 0.0) -> tuple[dict, dict]:
    base = _base(n)
    return {"all_shared": base["all_shared"] + d_shared, "partial_shared": base["partial_shared"] + d_partial,
            "nonparallel_all_shared": base["nonparallel_all_shared"] + d_null}, base


def _matched(d_matched: float | np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, 0.25) + d_matched, np.full(n, 0.25)


def test_ift_boundaries_on_exact_differences() -> None:
    """Constant differences (dyadic, so exact): zero all-shared gain refutes; a matched gain, or a gain specific to
    translations, exactly at the margin is neither more nor confidently less than it."""
    assert share_increase_rule(*_ift(0.0, -0.125), matched=_matched(0.25),
                               min_difference=0.125).verdict == "refuted"
    assert share_increase_rule(*_ift(0.25, -0.125), matched=_matched(0.125),
                               min_difference=0.125).verdict == "inconclusive"
    assert share_increase_rule(*_ift(0.25, 0.0), matched=_matched(0.25),
                               min_difference=0.125).verdict == "inconclusive"
    assert share_increase_rule(*_ift(0.25, -0.125, d_null=0.125), matched=_matched(0.25),
                               min_difference=0.125).verdict == "inconclusive"
    assert share_increase_rule(*_ift(0.25, -0.125, d_null=0.125 + 2 ** -10), matched=_matched(0.25),
                               min_difference=0.125).verdict == "refuted"
    assert share_increase_rule(*_ift(0.25, -0.125, d_null=0.125 - 2 ** -10), matched=_matched(0.25),
                               min_difference=0.125).verdict == "supported"
    assert share_increase_rule(*_ift(0.25, -0.125), matched=_matched(0.25),
                               min_difference=0.125).verdict == "supported"


def test_ift_intervals_follow_the_seed() -> None:
    rng = np.random.default_rng(1)
    ift = {"all_shared": 0.3 + rng.normal(0, 0.02, 12), "partial_shared": 0.3 + rng.normal(0, 0.02, 12),
           "nonparallel_all_shared": 0.2 + rng.normal(0, 0.02, 12)}
    base = {"all_shared": np.full(12, 0.25), "partial_shared": np.full(12, 0.35),
            "nonparallel_all_shared": np.full(12, 0.2)}
    matched = (0.3 + rng.normal(0, 0.02, 12), base["all_shared"])
    a, b = (share_increase_rule(ift, base, matched=matched, seed=s) for s in (0, 7))
    assert a.ci != b.ci and a.reason != b.reason


def test_ift_interval_boundaries() -> None:
    """Ten examples where three carry the whole difference: 2.8% of resamples draw none of them, so an interval's
    bound sits exactly on the mean difference of the other seven."""
    few = np.zeros(10)
    few[:3] = 0.25
    base = _base()

    def rule(d_shared: np.ndarray, d_partial: np.ndarray, d_matched: np.ndarray, d_specific: np.ndarray | float = 0.5,
             **kwargs: float) -> str:
        """``d_specific``: the part of the rise that the non-parallel tuples do not show."""
        ift = {"all_shared": base["all_shared"] + d_shared, "partial_shared": base["partial_shared"] + d_partial,
               "nonparallel_all_shared": base["nonparallel_all_shared"] + d_shared - d_specific}
        return share_increase_rule(ift, base, matched=_matched(d_matched), **kwargs).verdict

    steady = np.full(10, 0.125)
    assert rule(steady, -steady, 0.25 + few, min_difference=0.25) == "inconclusive"  # matched low = margin
    assert rule(few, -steady, steady, min_difference=0.0625) == "inconclusive"  # all-shared low = 0
    assert rule(steady, -few, steady, min_difference=0.0625) == "inconclusive"  # partial-shared high = 0
    assert rule(steady, -steady, 0.5, 0.25 + few, min_difference=0.25) == "inconclusive"  # specific low = margin
    assert rule(steady, -steady, 0.5, 0.25 - few, min_difference=0.25) == "inconclusive"  # specific high = margin
    rng = np.random.default_rng(2)
    noisy = rng.normal(0.0, 0.05, 10)
    noisy -= noisy.mean() - 0.01  # mean +0.01 with an interval across 0
    assert rule(noisy, -steady, steady, min_difference=0.0625) == "inconclusive"
    assert rule(steady, noisy - 0.02, steady, min_difference=0.0625) == "inconclusive"  # partial up, not surely
    assert rule(steady, -steady, 0.0625 + noisy, min_difference=0.0625) == "inconclusive"
    assert rule(steady, -steady, steady, 0.0625 + noisy, min_difference=0.0625) == "inconclusive"
    assert rule(steady, -steady, steady, min_difference=0.0625) == "supported"
    assert "(must exceed 25.0)" in share_increase_rule(
        {"all_shared": base["all_shared"] + steady, "partial_shared": base["partial_shared"] - steady,
         "nonparallel_all_shared": base["nonparallel_all_shared"]}, base,
        matched=_matched(steady), min_difference=0.25).reason


def test_ift_partial_shared_rising_unsurely_is_not_refuted() -> None:
    base = _base()
    noise = np.random.default_rng(2).normal(0.0, 0.05, 10)
    noise -= noise.mean() - 0.01  # partial-shared up by 1 point, with an interval across 0
    ift = {"all_shared": base["all_shared"] + 0.125, "partial_shared": base["partial_shared"] + noise,
           "nonparallel_all_shared": base["nonparallel_all_shared"]}
    verdict = share_increase_rule(ift, base, matched=_matched(0.125), min_difference=0.0625)
    assert verdict.verdict == "inconclusive"


def test_density_matching_at_the_grid_ends() -> None:
    thresholds = [0.0, 0.5, 1.0, 2.0]
    density = np.array([[[0.8], [0.6], [0.4], [0.2]]] * 2)  # (examples, thr, 1 layer)
    shares = np.array([[[0.4], [0.3], [0.2], [0.1]]] * 2)
    for target, at, share in ((0.8, 0.0, 0.4), (0.2, 2.0, 0.1), (0.6, 0.5, 0.3), (0.5, 0.75, 0.25)):
        matched, where = density_matched_shares(thresholds, density, shares, np.array([target]))
        assert where[0] == pytest.approx(at) and matched == pytest.approx([share] * 2)
    two_layers = np.concatenate([density, density], axis=2)
    matched, where = density_matched_shares(thresholds, two_layers, np.concatenate([shares, shares], axis=2),
                                            np.array([0.1, 0.6]))  # layer 0 out of the grid, layer 1 matched
    assert np.isnan(where[0]) and where[1] == pytest.approx(0.5) and matched == pytest.approx([0.3] * 2)
    flat = np.array([[[0.6], [0.6], [0.4], [0.2]]] * 2)
    _, where = density_matched_shares(thresholds, flat, shares, np.array([0.6]))
    assert where[0] == pytest.approx(0.5)  # on a flat stretch: the highest threshold still at the target
    matched, where = density_matched_shares(thresholds, density, shares, np.array([0.8 + 2 ** -10]))
    assert where[0] == 0.0 and matched == pytest.approx([0.4] * 2)  # sparser at every threshold: read at the lowest
    matched, where = density_matched_shares(thresholds, density, shares, np.array([0.2 - 2 ** -10]))
    assert np.isnan(where[0]) and matched is None  # denser at every threshold: none


def test_density_matching_picks_the_neighbouring_grid_points() -> None:
    thresholds = [0.0, 0.5, 1.0, 2.0]
    density = np.array([[[0.8], [0.6], [0.5], [0.2]]] * 2)
    shares = np.array([[[0.4], [0.3], [0.2], [0.1]]] * 2)
    _, at = density_matched_shares(thresholds, density, shares, np.array([0.7]))
    assert at[0] == pytest.approx(0.25)  # between the first two points, not extrapolated from the next two
    flat_end = np.array([[[0.6], [0.4], [0.2], [0.2]]] * 2)
    matched, at = density_matched_shares(thresholds, flat_end, shares, np.array([0.2]))
    assert at[0] == pytest.approx(1.0) and matched == pytest.approx([0.2] * 2)


# --- layers, examples, tasks, languages, thresholds -------------------------------------------------------------------


@pytest.mark.parametrize(("support", "holds", "expected"), [
    (0.75, True, "supported"), (0.7, True, "inconclusive"),  # at least min_support: inclusive
    (0.25, False, "refuted"), (0.3, False, "inconclusive"),  # at most 1 - min_support: inclusive
])
def test_peak_support_boundaries(monkeypatch: pytest.MonkeyPatch, support: float, holds: bool,
                                 expected: str) -> None:
    """The bootstrap support fixed (dyadic, so 1 - 0.75 is exactly 0.25) on a curve where the rule holds or not."""
    import harness.papers.sharing_matters.rules

    monkeypatch.setattr(harness.papers.sharing_matters.rules, "bootstrap_support", lambda *_args, **_kwargs: support)
    peak = np.array([0.1, 0.3, 0.9, 0.6, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1])
    curves = np.stack([peak if holds else np.sort(peak)] * 4)
    assert mid_layer_peak_rule(curves, min_support=0.75).verdict == expected


def test_peak_effect_is_the_fraction_of_depth() -> None:
    peak = np.array([0.1, 0.3, 0.9, 0.6, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1])
    assert mid_layer_peak_rule(np.stack([peak] * 2), seed=7).effect == pytest.approx(2 / 9)
    assert mid_layer_peak_rule(np.stack([[0.2, 0.9]] * 2)).effect == 1.0  # two layers: depth 1


def test_a_curve_of_zeros_falls_by_nothing() -> None:
    from harness.papers.sharing_matters.rules import peak_holds

    assert peak_holds(np.zeros(6), edge_low=0.1, edge_high=0.2, min_fall=0.25) == (False, 0, 0.0)
    assert peak_holds(np.full(6, np.nan), edge_low=0.1, edge_high=0.2, min_fall=0.25) == (False, 0, 0.0)


def test_layers_compared_boundary() -> None:
    """6 of 8 layers compared: at min_compared = 0.75 exactly (inclusive)."""
    peak = np.array([0.1, 0.3, 0.9, 0.6, 0.4, 0.3, 0.2, 0.1])
    curves = np.stack([peak] * 4)
    curves[:, [0, 7]] = np.nan
    assert mid_layer_peak_rule(curves, min_compared=0.75).verdict == "supported"
    assert mid_layer_peak_rule(curves, min_compared=0.875).verdict == "inconclusive"


def test_dead_boundaries() -> None:
    assert dead_across_tokens_rule(np.full(4, 0.25), 5, max_dead=0.25).verdict == "refuted"  # strict
    assert dead_across_tokens_rule(np.full(4, 0.25), 5, min_examples=5).verdict == "refuted"  # enough examples
    assert "limit 50.0%" in dead_across_tokens_rule(np.full(4, 0.25), 5, max_dead=0.5).reason


def test_language_consistency_boundaries() -> None:
    activated = np.zeros((5, 2, 4))
    activated[:, 0, :] = 0.375
    activated[:, 1, :] = 0.625  # a spread of exactly half the mean (0.5) in every layer, no sampling spread
    assert language_consistency_rule(activated, max_spread=0.5).verdict == "supported"  # inclusive
    assert language_consistency_rule(activated, max_spread=0.25).verdict == "refuted"
    assert language_consistency_rule(activated, min_active=0.5).verdict == "refuted"  # the mean: not skipped
    skipped = language_consistency_rule(activated, min_active=0.625)
    assert skipped.verdict == "inconclusive" and skipped.measured["layer of largest spread"] == -1
    assert skipped.effect == 0.0
    assert "a layer with 62.5% active" in skipped.reason
    assert language_consistency_rule(activated, max_spread=0.5, min_examples=5).verdict == "supported"
    assert "limit 50%" in language_consistency_rule(activated, max_spread=0.5).reason


def test_skipped_layers_boundaries() -> None:
    """One of four layers under min_active: a quarter skipped is allowed (inclusive), more is not."""
    activated = np.zeros((5, 2, 4))
    activated[:, :, 1:] = 0.5
    activated[:, :, 0] = 0.0078125
    assert language_consistency_rule(activated, max_skipped=0.25).verdict == "supported"  # 1 of 4: inclusive
    few = language_consistency_rule(activated, max_skipped=0.125)
    assert few.verdict == "inconclusive" and few.reason.startswith("too few layers read to support it")
    assert language_consistency_rule(activated, min_active=0.0078125, max_skipped=0.0).verdict == "supported"


def test_interval_bounds_of_the_share_rules() -> None:
    rng = np.random.default_rng(11)
    activated = np.clip(0.3 + rng.normal(0, 0.03, (12, 3, 4)), 0, 1)
    first = language_consistency_rule(activated)
    assert language_consistency_rule(activated, max_spread=first.ci[0]).verdict == "inconclusive"
    noisy = ((0.6 + rng.normal(0, 0.05, 8), 0.2 + rng.normal(0, 0.05, 9)),
             (0.1 + rng.normal(0, 0.05, 8), 0.3 + rng.normal(0, 0.05, 9)))
    tasks = task_dependence_rule(*noisy)
    low, high = (tasks.measured[f"partial-shared difference CI {end}"] / 100 for end in ("low", "high"))
    assert tasks.ci[0] > (low + high) / 2
    assert task_dependence_rule(*noisy, min_difference=(low + high) / 2).verdict == "inconclusive"


def test_non_repeating_limits_are_strict() -> None:
    shares = np.full((4, 2), 0.25)
    overlap = np.zeros_like(shares)
    overlap[1] = 0.25  # 25% of neurons keep an active type in every example
    at_limit = non_repeating_rule(overlap, shares, overlap, overlap, 30, max_active_overlap=0.25)
    assert at_limit.verdict == "refuted"
    projected = non_repeating_rule(overlap, shares, overlap, overlap * 0.5, 30, max_active_overlap=0.25)
    assert projected.verdict == "supported"
    assert non_repeating_rule(overlap, shares, overlap, overlap, 20, max_active_overlap=0.25).verdict == "refuted"
    assert "limit 50%" in non_repeating_rule(overlap, shares, overlap, overlap, 30, max_active_overlap=0.5,
                                             max_inactive_repeat=0.5).reason


def test_non_repeating_notes_few_examples_only_below_the_minimum() -> None:
    shares = np.full((4, 2), 0.25)
    overlap = shares.copy()
    assert "may still fall" not in non_repeating_rule(overlap, shares, overlap, overlap, 20).reason
    assert "may still fall" in non_repeating_rule(overlap, shares, overlap, overlap, 19).reason


def test_task_dependence_boundaries() -> None:
    def tasks(d_shared: float, d_partial: float, n: int = 6) -> tuple:
        return ((np.full(n, 0.25 + d_shared), np.full(n, 0.25)), (np.full(n, 0.25), np.full(n, 0.25 + d_partial)))

    # exactly at the margin: not above it, and not confidently below it either
    assert task_dependence_rule(*tasks(0.125, 0.25), min_difference=0.125).verdict == "inconclusive"
    assert task_dependence_rule(*tasks(0.25, 0.125), min_difference=0.125).verdict == "inconclusive"
    assert task_dependence_rule(*tasks(0.0, 0.25), min_difference=0.125).verdict == "refuted"
    assert task_dependence_rule(*tasks(0.25, 0.25), min_difference=0.125).verdict == "supported"
    assert task_dependence_rule(*tasks(0.25, 0.25, n=5), min_examples=5).verdict == "supported"
    assert "(each must exceed 50 point)" in task_dependence_rule(*tasks(0.25, 0.25), min_difference=0.5).reason
    rng = np.random.default_rng(3)
    noisy = ((0.4 + rng.normal(0, 0.05, 8), 0.2 + rng.normal(0, 0.05, 9)),
             (0.1 + rng.normal(0, 0.05, 8), 0.3 + rng.normal(0, 0.05, 9)))
    a, b = (task_dependence_rule(*noisy, seed=s) for s in (0, 7))
    assert a.ci != b.ci
    first = task_dependence_rule(*noisy)
    low = min(first.ci[0], first.measured["partial-shared difference CI low"] / 100)
    assert first.verdict == "supported"
    assert task_dependence_rule(*noisy, min_difference=low).verdict == "inconclusive"  # the bound is not above it


def test_task_dependence_needs_both_low_ends_above_the_margin() -> None:
    rng = np.random.default_rng(3)
    noisy = ((0.6 + rng.normal(0, 0.05, 8), 0.2 + rng.normal(0, 0.05, 9)),
             (0.1 + rng.normal(0, 0.05, 8), 0.3 + rng.normal(0, 0.05, 9)))
    first = task_dependence_rule(*noisy)
    low = first.measured["partial-shared difference CI low"] / 100
    point = first.measured["partial-shared difference (points)"] / 100
    assert first.ci[0] > point > low
    assert task_dependence_rule(*noisy, min_difference=(low + point) / 2).verdict == "inconclusive"


def test_language_count_boundaries() -> None:
    shared = np.stack([np.full(6, 0.5), np.full(6, 0.375)], axis=1)  # falls by exactly 25%
    partial = np.stack([np.full(6, 0.25), np.full(6, 0.5)], axis=1)  # rises by exactly 0.25
    counts = [3, 9]
    # exactly at a limit: not under (over) it, and not confidently beyond it either
    assert language_count_rule(shared, partial, counts, max_relative_drop=0.25).verdict == "inconclusive"
    assert language_count_rule(shared, partial, counts, min_rise=0.25).verdict == "inconclusive"
    assert language_count_rule(shared, partial, counts, max_relative_drop=0.125).verdict == "refuted"
    assert language_count_rule(shared, partial, counts, min_rise=0.125, max_relative_drop=0.5).verdict == "supported"
    assert language_count_rule(shared[:5], partial[:5], counts, min_examples=5).verdict == "supported"
    assert language_count_rule(shared[:, :1], partial[:, :1], [9]).verdict == "inconclusive"
    three = language_count_rule(np.stack([shared[:, 0]] * 3, axis=1), np.stack([partial[:, 0], partial[:, 0],
                                                                                partial[:, 1]], axis=1), [3, 5, 9])
    assert three.verdict == "supported" and three.measured["all-shared % (5 languages)"] == 50.0
    assert "(must rise over 50 point)" in language_count_rule(shared, partial, counts, min_rise=0.5).reason
    rng = np.random.default_rng(4)
    noisy_shared = shared + rng.normal(0, 0.02, shared.shape)
    a, b = (language_count_rule(noisy_shared, partial + rng.normal(0, 0.02, shared.shape), counts, seed=s)
            for s in (0, 7))
    assert a.ci != b.ci
    drop_high = a.measured["all-shared relative drop CI high"]
    assert "%]" in a.reason and f"{100 * drop_high:.0f}%]" in a.reason


def test_language_count_interval_bounds() -> None:
    few = np.zeros(10)
    few[:3] = 0.25
    shared = np.stack([np.full(10, 0.5), np.full(10, 0.375)], axis=1)  # falls by 25% in every example
    partial = np.stack([np.full(10, 0.25), 0.25 + 0.125 + few], axis=1)  # rises by 0.125, more in three
    assert language_count_rule(shared, partial, [3, 9], min_rise=0.125).verdict == "inconclusive"  # low = margin
    falling = shared.copy()
    falling[:, 1] = 0.375 - few / 2  # falls by 25% and more in three examples
    assert language_count_rule(shared * 0 + falling[:, :1], partial, [3, 9]).verdict != "refuted"
    rng = np.random.default_rng(12)
    drop = shared.copy()
    drop[:, 1] = 0.5 * (1 - (0.3 + rng.normal(0, 0.05, 10)))  # falls by about 30%
    first = language_count_rule(drop, partial, [3, 9], min_rise=0.0625)
    high = first.measured["all-shared relative drop CI high"]
    assert language_count_rule(drop, partial, [3, 9], min_rise=0.0625, max_relative_drop=high).verdict \
        == "inconclusive"  # the high end reaches the limit
    low = first.measured["all-shared relative drop CI low"]
    middle = (low + high) / 2
    assert first.effect > 0 and low < middle < high
    assert language_count_rule(drop, partial, [3, 9], min_rise=0.0625, max_relative_drop=middle).verdict \
        == "inconclusive"  # the drop's interval straddles the limit: neither


def test_threshold_sweep_boundaries() -> None:
    def sweep(lower: list[float], upper: list[float], n: int = 6) -> np.ndarray:
        return np.stack([np.stack([np.full(n, lo), np.full(n, up)], axis=1) for lo, up in zip(lower, upper,
                                                                                               strict=True)], axis=1)

    assert threshold_sweep_rule(sweep([0.5, 0.25, 0.125], [0.5, 0.375, 0.25]), [0.0, 0.1, 0.2]).verdict == "supported"
    # no gap at the first raised threshold: not all gaps are above 0
    assert threshold_sweep_rule(sweep([0.5, 0.25, 0.125], [0.5, 0.25, 0.25]), [0.0, 0.1, 0.2]).verdict \
        == "inconclusive"
    # gaps above 0 but the upper half keeps exactly as much of its active neurons: retention 0 is not above 0
    assert threshold_sweep_rule(sweep([0.25, 0.125], [0.5, 0.25]), [0.0, 0.2]).verdict == "inconclusive"
    # gaps above 0, retention below 0: refuted by retention alone
    assert threshold_sweep_rule(sweep([0.25, 0.125], [0.5, 0.1875]), [0.0, 0.2]).verdict == "refuted"
    # gaps below 0 at one threshold, retention above 0: refuted by the gap alone
    assert threshold_sweep_rule(sweep([0.5, 0.375, 0.125], [0.5, 0.25, 0.5]), [0.0, 0.1, 0.2]).verdict == "refuted"
    assert threshold_sweep_rule(sweep([0.5, 0.25, 0.125], [0.5, 0.375, 0.25], n=5), [0.0, 0.1, 0.2],
                                min_examples=5).verdict == "supported"
    zero_lower = threshold_sweep_rule(sweep([0.0, 0.0], [0.5, 0.25]), [0.0, 0.2])
    assert zero_lower.measured["kept at threshold 0.2: upper - lower"] == 0.5
    rng = np.random.default_rng(5)
    noisy = sweep([0.5, 0.25, 0.125], [0.5, 0.375, 0.25], n=10) + rng.normal(0, 0.01, (10, 3, 2))
    a, b = (threshold_sweep_rule(noisy, [0.0, 0.1, 0.2], seed=s) for s in (0, 7))
    assert a.ci != b.ci


def test_threshold_sweep_interval_bounds() -> None:
    def sweep(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:  # (examples, 2 thresholds) each -> (ex, 2, 2)
        return np.stack([lower, upper], axis=-1)

    n = 10
    few = np.zeros(n)
    few[:3] = 0.125
    base = np.full(n, 0.5)
    assert threshold_sweep_rule(sweep(np.stack([base, np.full(n, 0.125)], axis=1),
                                      np.stack([base, 0.125 + few], axis=1)), [0.0, 0.2]).verdict == "inconclusive"
    rng = np.random.default_rng(13)
    gap = rng.normal(0, 0.03, n)
    gap -= gap.mean() - 0.005
    assert threshold_sweep_rule(sweep(np.stack([base, np.full(n, 0.25)], axis=1),
                                      np.stack([base, 0.25 + gap], axis=1)), [0.0, 0.2]).verdict == "inconclusive"
    kept = rng.normal(0, 0.3, n)
    kept -= kept.mean() - 0.01
    lower0, upper0 = np.full(n, 0.5), np.full(n, 0.55)
    upper_t = upper0 * (0.5 + kept)
    lower_t = lower0 * 0.5 - 0.02
    verdict = threshold_sweep_rule(sweep(np.stack([lower0, lower_t], axis=1), np.stack([upper0, upper_t], axis=1)),
                                   [0.0, 0.2])
    assert verdict.measured["kept: upper - lower CI low"] < 0 < verdict.measured["kept: upper - lower CI high"]
    assert verdict.verdict == "inconclusive"


def test_threshold_sweep_interval_bounds_one_at_a_time() -> None:
    n = 10
    few = np.zeros(n)
    few[:3] = 0.125
    rng = np.random.default_rng(21)

    def rule(lower: tuple[np.ndarray, np.ndarray], upper: tuple[np.ndarray, np.ndarray]) -> str:
        active = np.stack([np.stack(lower, axis=1), np.stack(upper, axis=1)], axis=-1)  # (examples, 2, 2 halves)
        return threshold_sweep_rule(active, [0.0, 0.2]).verdict

    half = np.full(n, 0.5)
    # the gap's interval touches 0 from above while the upper half surely keeps more: not surely above 0
    assert rule((half, np.full(n, 0.1)), (np.full(n, 0.4), 0.1 + few)) == "inconclusive"
    noise = rng.normal(0, 0.03, n)
    noise -= noise.mean() - 0.005
    # the gap's interval straddles 0, the retention is surely positive
    assert rule((half, np.full(n, 0.25)), (np.full(n, 0.3), 0.25 + noise)) == "inconclusive"
    spread = rng.normal(0, 0.1, n)
    spread -= spread.mean() - 0.01
    # gaps surely positive, the retention's interval straddles 0
    assert rule((np.full(n, 0.2), np.full(n, 0.1)), (np.full(n, 0.6), 0.3 * (1 + spread))) == "inconclusive"
    # gaps surely positive, the retention's interval touches 0 from above
    assert rule((np.full(n, 0.2), np.full(n, 0.1)), (np.full(n, 0.6), 0.3 + 0.6 * few)) == "inconclusive"


def test_reasons_print_their_limits() -> None:
    activated = np.zeros((5, 2, 3))
    activated[:, 0, :], activated[:, 1, :] = 0.25, 0.5
    assert "limit 75%" in language_consistency_rule(activated, max_spread=0.75).reason
    assert "a layer with 75% active" in language_consistency_rule(activated, min_active=0.75).reason
    assert "(at most 75%)" in language_consistency_rule(activated, max_skipped=0.75).reason
    shares = np.full((4, 2), 0.25)
    verdict = non_repeating_rule(shares * 0, shares, shares * 0, shares * 0, 30, max_active_overlap=0.75,
                                 max_inactive_repeat=0.75)
    assert verdict.reason.count("limit 75%") == 2
    tasks = ((np.full(6, 0.5), np.full(6, 0.25)), (np.full(6, 0.25), np.full(6, 0.5)))
    assert "(each must exceed 75 point)" in task_dependence_rule(*tasks, min_difference=0.75).reason
    shared = np.stack([np.full(6, 0.5), np.full(6, 0.2775)], axis=1)  # falls by 44.5%: printed as 44%
    partial = np.stack([np.full(6, 0.25), np.full(6, 0.5)], axis=1)
    verdict = language_count_rule(shared, partial, [3, 9], min_rise=0.75)
    assert "(must rise over 75 point)" in verdict.reason and "[44%, 44%]" in verdict.reason


def test_language_count_drops_without_room() -> None:
    """An all-shared share of zero has nothing to fall from, nor has one that rises."""
    partial = np.stack([np.full(6, 0.25), np.full(6, 0.5)], axis=1)
    flat = language_count_rule(np.zeros((6, 2)), partial, [3, 9])
    assert flat.measured["all-shared relative drop"] == 0.0
    rising = language_count_rule(np.stack([np.zeros(6), np.full(6, 0.25)], axis=1), partial, [3, 9])
    assert rising.measured["all-shared relative drop"] == 0.0


def test_a_threshold_sweep_keeps_nothing_of_nothing() -> None:
    lower = np.stack([np.zeros(6), np.full(6, 0.25)], axis=1)  # (examples, 2 thresholds): no active lower layer at 0
    upper = np.stack([np.full(6, 0.5), np.full(6, 0.25)], axis=1)
    sweep = threshold_sweep_rule(np.stack([lower, upper], axis=-1), [0.0, 0.2])
    assert sweep.measured["kept at threshold 0.2: upper - lower"] == 0.5  # the lower half keeps nothing of nothing
