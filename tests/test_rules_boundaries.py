"""Every comparison of the rules at its exact boundary: a threshold set to the very statistic (or interval bound) it
is compared with, so that a strict comparison and an inclusive one give different verdicts. Strict and inclusive
are the rules' documented choices (docstrings, README); each test names the one it pins."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.sharing_matters.accuracy_rules import ablation_rule, conversion_rule, inability
from harness.papers.sharing_matters.attribution_rules import (
    contribution_rule,
    effective_span_rule,
    expected_shared,
    permutation_p,
)
from harness.papers.sharing_matters.neurons import ALL
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


def _items(n: int, correct: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[:correct] = True
    return out


# --- ability and ablation -----------------------------------------------------------------------------------------


def test_inability_passes_its_alpha_and_counts_on() -> None:
    base = _items(30, 15)  # 50% against chance 1/3: binomial p = 0.043
    assert inability(base, 1 / 3) is None
    assert inability(base, 1 / 3, alpha=0.04) is not None  # p = 0.043 >= 0.04
    assert inability(_items(3, 3), 0.0, min_correct=3) is None


def _ablated(base: np.ndarray, lost: int, **controls: np.ndarray) -> dict[str, np.ndarray]:
    all_shared = base.copy()
    all_shared[:lost] = False
    return {"all_shared": all_shared, "specific": base.copy(), "partial_shared": base.copy(),
            "random": base.astype(float), "matched": base.astype(float), **controls}


def test_ablation_significance_is_strict_for_the_baseline_and_the_controls() -> None:
    base = _items(40, 30)
    ablated = _ablated(base, 28)
    small = {"specific": 0.001, "partial_shared": 0.001, "random": 0.001, "matched": 0.001}
    at_alpha = ablation_rule(base, ablated, floor=0.0, chance=0.0, adjusted={"baseline": 0.05, **small})
    assert at_alpha.verdict == "inconclusive"  # p = alpha is not below alpha
    control_at_alpha = ablation_rule(base, ablated, floor=0.0, chance=0.0,
                                     adjusted={"baseline": 0.001, **small, "matched": 0.05})
    assert control_at_alpha.verdict == "inconclusive"
    assert ablation_rule(base, ablated, floor=0.0, chance=0.0,
                         adjusted={"baseline": 0.001, **small}).verdict == "supported"


def test_ablation_refutes_only_below_the_drop_threshold() -> None:
    base = _items(40, 20)
    ablated = _ablated(base, 8)  # relative drop 0.4 with a spread interval
    first = ablation_rule(base, ablated, floor=0.0, chance=0.0)
    assert first.ci[0] < first.effect < first.ci[1]
    at_high = ablation_rule(base, ablated, floor=0.0, chance=0.0, min_relative_drop=first.ci[1])
    assert at_high.verdict == "inconclusive"  # the interval reaches the threshold: not below it


def test_ablation_passes_its_gate_parameters() -> None:
    base = _items(30, 15)  # binomial p = 0.043 against 1/3
    ablated = _ablated(base, 14)
    assert "cannot do the task" in ablation_rule(base, ablated, floor=0.0, chance=1 / 3, alpha=0.04).reason
    assert "cannot do the task" in ablation_rule(base, ablated, floor=0.0, chance=0.0, min_correct=16).reason


def test_two_controls_costing_as_much_are_both_named() -> None:
    base = _items(60, 50)
    ablated = _ablated(base, 45)
    ablated |= {"random": ablated["all_shared"].astype(float), "matched": ablated["all_shared"].astype(float)}
    verdict = ablation_rule(base, ablated, floor=0.0, chance=0.0)
    assert verdict.reason.endswith("; random, matched costs at least as much")


def test_ablation_intervals_follow_the_seed() -> None:
    base = _items(40, 20)
    ablated = _ablated(base, 8, random=np.where(base, 0.5, 0.0))
    seeded = [ablation_rule(base, ablated, floor=0.0, chance=0.0, seed=s) for s in (0, 7)]
    assert seeded[0].ci != seeded[1].ci
    assert seeded[0].measured == seeded[1].measured  # the point values do not depend on the seed


# --- conversion -----------------------------------------------------------------------------------------------------


def _proportional(share: float, n: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the examples gain in every language under conversion; the control recovers ``share`` of each gain."""
    base = np.zeros((n, 3), dtype=bool)
    base[n // 2:] = True
    converted = np.ones_like(base)
    return base, converted, np.where(base, 1.0, share)


def test_conversion_control_share_at_the_limit_refutes() -> None:
    base, converted, control = _proportional(0.25)
    verdict = conversion_rule(base, converted, control, chance=0.0, max_control_share=0.25)
    assert verdict.measured["control's share of the gain"] == 0.25
    assert verdict.verdict == "refuted"  # recovering exactly the limit is not under it


def test_conversion_supports_only_when_the_share_interval_is_under_the_limit() -> None:
    rng = np.random.default_rng(0)
    base, converted, _ = _proportional(0.0, n=40)
    control = np.where(base, 1.0, rng.choice([0.0, 0.6], size=base.shape))
    first = conversion_rule(base, converted, control, chance=0.0)
    assert first.verdict == "supported"
    share_ci = [float(x) for x in first.reason.split("the control recovers ")[1].split("[")[1].split("]")[0]
                .split(", ")]
    assert share_ci[0] < share_ci[1]
    at_high = conversion_rule(base, converted, control, chance=0.0,
                              max_control_share=first.measured["control's share of the gain"] + 1e-9)
    assert at_high.verdict in ("inconclusive", "supported")


def test_conversion_needs_the_change_interval_above_zero() -> None:
    """10 examples, 3 gain: 2.8% of resamples draw none of them, so the interval's low end is exactly 0."""
    base = np.zeros((10, 3), dtype=bool)
    base[3:6] = True
    converted = base.copy()
    converted[:3] = True
    verdict = conversion_rule(base, converted, base.astype(float), chance=0.0, min_correct=3, min_wrong=3)
    assert verdict.ci[0] == 0.0 and verdict.effect > 0
    assert verdict.verdict == "inconclusive"


def test_conversion_that_hurts_has_no_control_share() -> None:
    base = np.ones((20, 3), dtype=bool)
    base[:10] = False
    converted = base.copy()
    converted[10:15] = False
    verdict = conversion_rule(base, converted, base.astype(float), chance=0.0)
    assert np.isnan(verdict.measured["control's share of the gain"])
    assert verdict.verdict == "refuted"


def test_conversion_reason_states_its_limits() -> None:
    base, converted, control = _proportional(0.1)
    converted[:, 0] = base[:, 0]  # language 0 unchanged, language 1 loses 3 answers: not worse in 2 of 3
    converted[:, 1] = base[:, 1]
    converted[-3:, 1] = False
    verdict = conversion_rule(base, converted, control, chance=0.0, min_language_share=0.75)
    assert "not worse in 67% of languages (needs 75%)" in verdict.reason
    assert verdict.verdict == "refuted"


def test_conversion_passes_its_gate_parameters() -> None:
    base, converted, control = _proportional(0.1, n=12)
    assert conversion_rule(base, converted, control, chance=0.0).verdict == "supported"
    assert "no room" in conversion_rule(base, converted, control, chance=0.0, min_wrong=19).reason
    assert "cannot do the task" in conversion_rule(base, converted, control, chance=0.0, min_correct=19).reason
    assert "cannot do the task" in conversion_rule(base, converted, control, chance=0.45, alpha=0.3).reason


# --- attribution ----------------------------------------------------------------------------------------------------


def _cells(seed: int, n_examples: int = 20, scale: float = 3.0) -> np.ndarray:
    """(examples, 3 langs, 3 layers, 4) base-rate summaries, all-shared contributions scaled by ``scale``."""
    rng, out = np.random.default_rng(seed), []
    for _ in range(n_examples * 9):
        codes = np.where(rng.random(30) < 0.5, ALL, np.where(rng.random(30) < 0.5, 2, 0))
        active = codes != 0
        contribution = rng.exponential(size=30) * np.where(codes == ALL, scale, 1.0) * active
        top = np.argsort(-contribution)[:3]
        out.append([((codes[top] == ALL) & active[top]).sum(), active[top].sum(), active.sum(), (codes == ALL).sum()])
    return np.array(out).reshape(n_examples, 3, 3, 4)


LED_TWO_OF_THREE = np.array([[0.0] * 3, [0.0] * 3, [0.2, 0.2, 0.6], [0.8, 0.8, 0.4]])  # all-shared lead 2 of 3


def test_contribution_leading_share_is_inclusive_at_two_thirds() -> None:
    verdict = contribution_rule(LED_TWO_OF_THREE, _cells(1), permutations=100)
    assert verdict.measured["layers led by all-shared"] == pytest.approx(2 / 3)
    assert verdict.verdict == "supported"


def test_contribution_refutes_at_exactly_the_complement_of_the_leading_share() -> None:
    led = np.zeros((4, 4))
    led[ALL, 0], led[2, 1:] = 1.0, 1.0  # all-shared lead 1 of 4 layers = 1 - 0.75
    cells = np.concatenate([_cells(2)] * 2, axis=2)[:, :, :4]
    assert contribution_rule(led, cells, min_layer_share=0.75, permutations=100).verdict == "refuted"
    led[ALL, 1], led[2, 1] = 1.0, 0.0  # 2 of 4: neither side
    assert contribution_rule(led, cells, min_layer_share=0.75, permutations=100).verdict == "inconclusive"


def test_contribution_interval_bounds_are_strict() -> None:
    cells = _cells(3)
    first = contribution_rule(LED_TWO_OF_THREE, cells, permutations=100)
    low, high = first.ci
    assert low < first.effect < high
    assert contribution_rule(LED_TWO_OF_THREE, cells, min_enrichment=low, permutations=100).verdict == "inconclusive"
    between = (low + first.effect) / 2
    assert contribution_rule(LED_TWO_OF_THREE, cells, min_enrichment=between, permutations=100).verdict \
        == "inconclusive"  # the interval reaches below it
    above = contribution_rule(LED_TWO_OF_THREE, cells, min_enrichment=high, permutations=100)
    assert above.verdict == "inconclusive"  # the interval reaches the threshold: not below it


def test_contribution_needs_the_permutation_p_below_alpha() -> None:
    cells = _cells(4)
    first = contribution_rule(LED_TWO_OF_THREE, cells, permutations=100)
    p = first.measured["permutation p"]
    assert contribution_rule(LED_TWO_OF_THREE, cells, alpha=p, permutations=100).verdict == "inconclusive"
    assert first.verdict == "supported"


def test_contribution_reason_states_its_leading_share() -> None:
    verdict = contribution_rule(LED_TWO_OF_THREE, _cells(5), min_layer_share=0.75, permutations=100)
    assert "(needs 75%)" in verdict.reason


def test_expected_shared_and_lowest_layer_with_a_single_active_neuron() -> None:
    cell = np.array([1, 1, 1, 1])  # the one active neuron is all-shared and among the top
    assert expected_shared(cell) == 1.0
    cells = np.zeros((6, 1, 2, 4), dtype=int)
    cells[:, :, 0] = [1, 1, 2, 1]  # expected 0.5 per row-layer: a small total
    cells[:, :, 1] = [1, 1, 4, 1]
    verdict = contribution_rule(np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]), cells, permutations=50)
    assert verdict.effect == pytest.approx(12 / 4.5)
    assert verdict.measured["enrichment, lowest layer"] == pytest.approx(2.0)


def test_permutation_p_counts_every_batch_and_single_draw_cells() -> None:
    rng = np.random.default_rng(6)
    active = rng.integers(2, 12, size=5000)
    shared = rng.integers(0, active + 1)
    top = np.minimum(rng.integers(1, 4, size=5000), active)
    drawn = rng.hypergeometric(shared, active - shared, top)
    cells = np.stack([drawn, top, active, shared], axis=1)
    p = permutation_p(cells, permutations=1000)  # 400 draws a batch: three batches
    assert 0.05 < p < 0.95  # a sum drawn from the null itself
    ones = np.array([[1, 1, 2, 1]] * 50)  # a single active top contributor per cell
    assert permutation_p(ones, permutations=400) < 0.01


def test_span_rule_boundaries() -> None:
    rng = np.random.default_rng(8)
    scale = np.array([1.0, 1.0, 1.0, 2.0])
    spans = np.abs(rng.normal(size=(20, 4, 4))) * scale + 1.0
    first = effective_span_rule(spans)
    ratio = first.measured["span ratio all-shared / widest other (mean over languages)"]
    assert effective_span_rule(spans, min_ratio=ratio).verdict != first.verdict or ratio <= 1.5
    four = effective_span_rule(spans, min_language_share=0.75)
    assert "(needs 75%)" in four.reason


def test_span_rule_skips_languages_without_data_and_keeps_going() -> None:
    spans = np.abs(np.random.default_rng(9).normal(size=(12, 3, 4))) * np.array([1, 1, 1, 0.1]) + 0.1
    spans[:, :, ALL] += 5.0
    spans[:, 0, :3] = np.nan  # language 0: no other type to compare with
    spans[:, 1, :3] = 0.0  # language 1: the other types' spans are all zero
    verdict = effective_span_rule(spans)
    assert verdict.measured["languages compared"] == 1
    assert verdict.verdict == "supported"


def test_span_ratio_of_small_spans_is_not_floored() -> None:
    spans = np.full((10, 2, 4), 0.01)
    spans[:, :, ALL] = 0.05  # five times wider, all below 1
    verdict = effective_span_rule(spans)
    assert verdict.measured["span ratio all-shared / widest other (mean over languages)"] == pytest.approx(5.0)
    assert verdict.verdict == "supported"


def test_span_rule_language_share_boundaries() -> None:
    """4 languages: all-shared 3x as wide in 3, half as wide in 1."""
    spans = np.ones((10, 4, 4))
    spans[:, :3, ALL] = 3.0
    spans[:, 3, ALL] = 0.5
    assert effective_span_rule(spans, min_language_share=0.75).verdict == "supported"  # 3 of 4 >= 0.75
    spans[:, 2, ALL] = 0.5  # 2 of 4 narrower: 0.5 > 1 - 0.75
    assert effective_span_rule(spans, min_language_share=0.75).verdict == "refuted"
    spans[:, 2, ALL] = 1.5  # exactly 1.5x in language 2: not over it
    verdict = effective_span_rule(spans, min_language_share=0.75)
    assert verdict.measured["languages where all-shared span is widest"] == 0.5
    assert verdict.measured["languages where it is not"] == 0.25  # exactly 1 - 0.75: not more than the rest
    assert verdict.verdict == "inconclusive"


# --- instruction tuning and density ---------------------------------------------------------------------------------


def _ift(d_shared: float, d_partial: float, n: int = 10) -> tuple[dict, dict]:
    base = {"all_shared": np.full(n, 0.25), "partial_shared": np.full(n, 0.5)}
    return {"all_shared": base["all_shared"] + d_shared, "partial_shared": base["partial_shared"] + d_partial}, base


def test_ift_boundaries_on_exact_differences() -> None:
    """Constant differences (dyadic, so exact): zero all-shared gain refutes; a matched gain exactly at the margin is
    neither more nor confidently less than it."""
    assert share_increase_rule(*_ift(0.0, -0.125), matched_shared=np.full(10, 0.5),
                               min_difference=0.125).verdict == "refuted"
    assert share_increase_rule(*_ift(0.125, -0.125), matched_shared=np.full(10, 0.375),
                               min_difference=0.125).verdict == "inconclusive"
    assert share_increase_rule(*_ift(0.125, 0.0), matched_shared=np.full(10, 0.5),
                               min_difference=0.125).verdict == "inconclusive"
    assert share_increase_rule(*_ift(0.125, -0.125), matched_shared=np.full(10, 0.5),
                               min_difference=0.125).verdict == "supported"


def test_ift_intervals_follow_the_seed() -> None:
    rng = np.random.default_rng(1)
    ift = {"all_shared": 0.3 + rng.normal(0, 0.02, 12), "partial_shared": 0.3 + rng.normal(0, 0.02, 12)}
    base = {"all_shared": np.full(12, 0.25), "partial_shared": np.full(12, 0.35)}
    matched = 0.3 + rng.normal(0, 0.02, 12)
    a, b = (share_increase_rule(ift, base, matched_shared=matched, seed=s) for s in (0, 7))
    assert a.ci != b.ci and a.reason != b.reason


def test_density_matching_at_the_grid_ends() -> None:
    thresholds = [0.0, 0.5, 1.0, 2.0]
    density = np.array([[[0.8], [0.6], [0.4], [0.2]]] * 2)  # (examples, thr, 1 layer)
    shares = np.array([[[0.4], [0.3], [0.2], [0.1]]] * 2)
    for target, at, share in ((0.8, 0.0, 0.4), (0.2, 2.0, 0.1), (0.6, 0.5, 0.3), (0.5, 0.75, 0.25)):
        matched, where = density_matched_shares(thresholds, density, shares, np.array([target]))
        assert where[0] == pytest.approx(at) and matched == pytest.approx([share] * 2)
    two_layers = np.concatenate([density, density], axis=2)
    matched, where = density_matched_shares(thresholds, two_layers, np.concatenate([shares, shares], axis=2),
                                            np.array([0.9, 0.6]))  # layer 0 out of the grid, layer 1 matched
    assert np.isnan(where[0]) and where[1] == pytest.approx(0.5) and matched == pytest.approx([0.3] * 2)
    flat = np.array([[[0.6], [0.6], [0.4], [0.2]]] * 2)
    _, where = density_matched_shares(thresholds, flat, shares, np.array([0.6]))
    assert where[0] == pytest.approx(0.5)  # on a flat stretch: the highest threshold still at the target


# --- layers, examples, tasks, languages, thresholds -----------------------------------------------------------------


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


def test_dead_boundaries() -> None:
    assert dead_across_tokens_rule(np.full(4, 0.25), 5, max_dead=0.25).verdict == "refuted"  # strict
    assert dead_across_tokens_rule(np.full(4, 0.25), 5, min_examples=5).verdict == "refuted"  # enough examples
    assert "limit 50.0%" in dead_across_tokens_rule(np.full(4, 0.25), 5, max_dead=0.5).reason


def test_language_consistency_boundaries() -> None:
    activated = np.zeros((5, 2, 3))
    activated[:, 0, :] = 0.25
    activated[:, 1, :] = 0.5  # a spread of exactly 0.25 in every layer, no sampling spread
    assert language_consistency_rule(activated, max_spread=0.25).verdict == "supported"  # inclusive
    assert language_consistency_rule(activated, max_spread=0.125).verdict == "refuted"
    assert language_consistency_rule(activated, min_active=0.375).verdict == "refuted"  # the mean: not skipped
    skipped = language_consistency_rule(activated, min_active=0.5)
    assert skipped.verdict == "inconclusive" and skipped.measured["layer of largest spread"] == -1
    assert skipped.effect == 0.0
    assert "a layer with 50% active" in skipped.reason
    assert language_consistency_rule(activated, max_spread=0.25, min_examples=5).verdict == "supported"
    assert "limit 25 points" in language_consistency_rule(activated, max_spread=0.25).reason


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


# --- what the first rounds of mutation testing left standing ---------------------------------------------------


def test_gate_and_null_defaults() -> None:
    assert inability(_items(20, 5), 0.0) is None  # 5 correct: the default minimum
    p = float(np.round(inability.__defaults__[0] if inability.__defaults__ else 0.05, 2))
    assert p == 0.05
    base = _items(30, 15)
    from harness.core.stats import above_chance

    at = above_chance(15, 30, 1 / 3)
    assert inability(base, 1 / 3, alpha=at) is not None  # p equal to alpha: not above chance
    cells = np.array([[1, 2, 6, 3], [0, 1, 4, 1], [2, 3, 9, 4]])
    assert permutation_p(cells) == permutation_p(cells, permutations=1000, seed=0)


def test_permutation_p_counts_every_draw_once() -> None:
    """Observed 0 all-shared among the top: every null draw is at least as large, so p = 1 exactly, whatever the
    batching (5000 cells: 400 draws a batch, the last one smaller)."""
    rng = np.random.default_rng(7)
    active = rng.integers(3, 10, size=5000)
    cells = np.stack([np.zeros(5000, int), np.full(5000, 2), active, active - 1], axis=1)
    assert permutation_p(cells, permutations=1000) == 1.0


def test_relative_drops_without_room() -> None:
    from harness.papers.sharing_matters.accuracy_rules import relative_drop
    from harness.papers.sharing_matters.rules import language_count_rule as count

    assert relative_drop(_items(30, 10), _items(30, 5), 1 / 3) == 0.0  # at the floor: no room, no drop
    zero = np.zeros((6, 2))
    verdict = count(zero, np.stack([np.full(6, 0.25), np.full(6, 0.5)], axis=1), [3, 9])
    assert verdict.measured["all-shared relative drop"] == 0.0


def test_ift_interval_boundaries() -> None:
    """Ten examples where three carry the whole difference: 2.8% of resamples draw none of them, so an interval's
    bound sits exactly on the mean difference of the other seven."""
    few = np.zeros(10)
    few[:3] = 0.25
    base = {"all_shared": np.full(10, 0.25), "partial_shared": np.full(10, 0.5)}

    def rule(d_shared: np.ndarray, d_partial: np.ndarray, d_matched: np.ndarray, **kwargs: float) -> str:
        ift = {"all_shared": base["all_shared"] + d_shared, "partial_shared": base["partial_shared"] + d_partial}
        return share_increase_rule(ift, base, matched_shared=base["all_shared"] + d_matched, **kwargs).verdict

    steady = np.full(10, 0.125)
    assert rule(steady, -steady, 0.25 + few, min_difference=0.25) == "inconclusive"  # matched low = margin
    assert rule(few, -steady, steady, min_difference=0.0625) == "inconclusive"  # all-shared low = 0
    assert rule(steady, -few, steady, min_difference=0.0625) == "inconclusive"  # partial-shared high = 0
    rng = np.random.default_rng(2)
    noisy = rng.normal(0.0, 0.05, 10)
    noisy -= noisy.mean() - 0.01  # mean +0.01 with an interval across 0
    assert rule(noisy, -steady, steady, min_difference=0.0625) == "inconclusive"
    assert rule(steady, noisy - 0.02, steady, min_difference=0.0625) == "inconclusive"  # partial up, not surely
    assert rule(steady, -steady, 0.0625 + noisy, min_difference=0.0625) == "inconclusive"
    assert rule(steady, -steady, steady, min_difference=0.0625) == "supported"
    assert "(must exceed 25.0)" in share_increase_rule(
        {"all_shared": base["all_shared"] + steady, "partial_shared": base["partial_shared"] - steady}, base,
        matched_shared=base["all_shared"] + steady, min_difference=0.25).reason


def test_density_matching_picks_the_neighbouring_grid_points() -> None:
    thresholds = [0.0, 0.5, 1.0, 2.0]
    density = np.array([[[0.8], [0.6], [0.5], [0.2]]] * 2)
    shares = np.array([[[0.4], [0.3], [0.2], [0.1]]] * 2)
    _, at = density_matched_shares(thresholds, density, shares, np.array([0.7]))
    assert at[0] == pytest.approx(0.25)  # between the first two points, not extrapolated from the next two
    flat_end = np.array([[[0.6], [0.4], [0.2], [0.2]]] * 2)
    matched, at = density_matched_shares(thresholds, flat_end, shares, np.array([0.2]))
    assert at[0] == pytest.approx(1.0) and matched == pytest.approx([0.2] * 2)


def test_a_curve_of_zeros_falls_by_nothing() -> None:
    from harness.papers.sharing_matters.rules import peak_holds

    assert peak_holds(np.zeros(6), edge_low=0.1, edge_high=0.2, min_fall=0.25) == (False, 0, 0.0)


def test_reasons_print_their_limits() -> None:
    activated = np.zeros((5, 2, 3))
    activated[:, 0, :], activated[:, 1, :] = 0.25, 0.5
    assert "limit 75 points" in language_consistency_rule(activated, max_spread=0.75).reason
    assert "a layer with 75% active" in language_consistency_rule(activated, min_active=0.75).reason
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


def test_non_repeating_notes_few_examples_only_below_the_minimum() -> None:
    shares = np.full((4, 2), 0.25)
    overlap = shares.copy()
    assert "may still fall" not in non_repeating_rule(overlap, shares, overlap, overlap, 20).reason
    assert "may still fall" in non_repeating_rule(overlap, shares, overlap, overlap, 19).reason


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


def test_conversion_interval_boundaries() -> None:
    base, converted, _ = _proportional(0.0, n=40)
    rng = np.random.default_rng(0)
    control = np.where(base, 1.0, rng.choice([0.0, 0.6], size=base.shape))
    first = conversion_rule(base, converted, control, chance=0.0)
    high = first.measured["control's share CI high"]
    assert first.measured["control's share of the gain"] < high
    assert conversion_rule(base, converted, control, chance=0.0, max_control_share=high).verdict == "inconclusive"
    # 2 of 3 languages not worse (language 0 unchanged, 1 worse, 2 better) and a control recovering about half:
    # the language share sits exactly at its limit, which does not refute
    mixed = converted.copy()
    mixed[:, 0] = base[:, 0]
    mixed[:, 1] = base[:, 1]
    mixed[-2:, 1] = False
    over = np.where(base, 1.0, np.where(mixed, rng.choice([0.1, 1.0], size=base.shape), 0.0))
    verdict = conversion_rule(base, mixed, over, chance=0.0)
    assert verdict.measured["languages not worse"] == pytest.approx(2 / 3)
    assert verdict.measured["control's share CI low"] < 0.5 <= verdict.measured["control's share of the gain"]
    assert verdict.verdict == "inconclusive"
    able = conversion_rule(base[14:26], converted[14:26], control[14:26], chance=0.45, alpha=0.5)
    assert "cannot do the task" not in able.reason


def test_contribution_with_a_small_expected_count() -> None:
    cells = np.zeros((1, 1, 2, 4), dtype=int)
    cells[0, 0, 0] = [1, 1, 2, 1]  # expected 0.5
    cells[0, 0, 1] = [1, 1, 4, 1]  # expected 0.25
    verdict = contribution_rule(np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]), cells, permutations=50)
    assert verdict.effect == pytest.approx(2 / 0.75)
    assert verdict.measured["enrichment, lowest layer"] == pytest.approx(2.0)  # layer 0: 1 / 0.5


def test_span_intervals_follow_the_seed() -> None:
    rng = np.random.default_rng(14)
    spans = np.abs(rng.normal(1.0, 0.5, (15, 3, 4)))
    spans[:, :, ALL] *= 1.6
    a, b = (effective_span_rule(spans, seed=s) for s in (0, 7))
    low = "span ratio CI low (mean over languages)"
    assert a.measured[low] != b.measured[low]


def test_the_last_survivors_of_mutation_testing() -> None:
    """Pure-function inputs that a measurement never produces but a rule must still handle as documented."""
    from harness.papers.sharing_matters.rules import language_count_rule as count

    assert inability(np.zeros(10, dtype=bool), 0.0, min_correct=0) is None  # no chance to beat: no binomial test
    rising = count(np.stack([np.zeros(6), np.full(6, 0.25)], axis=1),
                   np.stack([np.full(6, 0.25), np.full(6, 0.5)], axis=1), [3, 9])
    assert rising.measured["all-shared relative drop"] == 0.0  # nothing to fall from
    lower = np.stack([np.zeros(6), np.full(6, 0.25)], axis=1)  # (examples, 2 thresholds): no active lower layer at 0
    upper = np.stack([np.full(6, 0.5), np.full(6, 0.25)], axis=1)
    sweep = threshold_sweep_rule(np.stack([lower, upper], axis=-1), [0.0, 0.2])
    assert sweep.measured["kept at threshold 0.2: upper - lower"] == 0.5  # the lower half keeps nothing of nothing
    observed_zero = np.array([[0, 1, 3, 1], [0, 1, 2, 1]])
    assert permutation_p(observed_zero, permutations=10) == 1.0  # ten draws, each counted once


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


def test_task_dependence_needs_both_low_ends_above_the_margin() -> None:
    rng = np.random.default_rng(3)
    noisy = ((0.6 + rng.normal(0, 0.05, 8), 0.2 + rng.normal(0, 0.05, 9)),
             (0.1 + rng.normal(0, 0.05, 8), 0.3 + rng.normal(0, 0.05, 9)))
    first = task_dependence_rule(*noisy)
    low = first.measured["partial-shared difference CI low"] / 100
    point = first.measured["partial-shared difference (points)"] / 100
    assert first.ci[0] > point > low
    assert task_dependence_rule(*noisy, min_difference=(low + point) / 2).verdict == "inconclusive"


def test_ift_partial_shared_rising_unsurely_is_not_refuted() -> None:
    base = {"all_shared": np.full(10, 0.25), "partial_shared": np.full(10, 0.5)}
    noise = np.random.default_rng(2).normal(0.0, 0.05, 10)
    noise -= noise.mean() - 0.01  # partial-shared up by 1 point, with an interval across 0
    ift = {"all_shared": base["all_shared"] + 0.125, "partial_shared": base["partial_shared"] + noise}
    verdict = share_increase_rule(ift, base, matched_shared=base["all_shared"] + 0.125, min_difference=0.0625)
    assert verdict.verdict == "inconclusive"
