"""Decision rules of Kojima et al.'s claims on synthetic measurements: layer concentration (each end on its own, and in
each language), the shuffled-label null, overlap, tampering (ceiling, gain over the control's headroom, Holm across
languages). Each rule has supported, refuted and inconclusive cases, properties over drawn measurements, and examples at
the exact boundary of every comparison it makes (so that flipping one comparison, or `all` and `any`, is caught)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from harness.core.stats import bootstrap_ci, holm, mcnemar
from harness.papers.kojima.rules import (
    beats_shuffled_labels_rule,
    edge_bands,
    headroom_gain,
    layer_concentration_rule,
    layers_each_language_rule,
    overlap_rule,
    tampering_rule,
)
from tests.strategies import band_counts, generation_families, generation_outcomes, overlaps

FAST = settings(max_examples=30, deadline=None)


def test_edge_bands() -> None:
    assert edge_bands(10, 0.1) == ([0], [9])
    assert edge_bands(30, 0.1) == ([0, 1, 2], [27, 28, 29])
    assert edge_bands(10, 0.25) == ([0, 1, 2], [7, 8, 9])  # ceil(2.5)
    assert edge_bands(3, 0.1) == ([0], [2])
    assert edge_bands(10, 0.0) == ([0], [9])  # at least one layer each


# --- layer concentration ------------------------------------------------------------------------------------------


def counts_in(n_layers: int, per_layer: dict[int, int], n_langs: int = 1) -> np.ndarray:
    """(L, 2, layers): every language's top and bottom neurons, ``per_layer[layer]`` of them in each layer."""
    counts = np.zeros((n_langs, 2, n_layers), dtype=np.int64)
    for layer, n in per_layer.items():
        counts[..., layer] = n
    return counts


def resampled(*counts: np.ndarray, each: int = 20) -> np.ndarray:
    """(R, L, 2, layers): ``each`` bootstrap resamples equal to each of ``counts``."""
    return np.concatenate([np.repeat(c[None], each, axis=0) for c in counts])


def enrichment(counts: np.ndarray, band: list[int]) -> float:
    """Reference: share of each language's selected neurons in the band, mean over languages, over the band's share
    of the layers; a loop over languages."""
    shares = [counts[lang][:, band].sum() / counts[lang].sum() for lang in range(len(counts))]
    return float(np.mean(shares)) / (len(band) / counts.shape[-1])


@FAST
@given(band_counts(first=(0.4, 0.5), last=(0.4, 0.5)))
def test_neurons_at_both_ends_are_supported(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    first, last = enrichment(counts, [0]), enrichment(counts, [9])
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(min(first, last))
    assert verdict.measured["first layers: enrichment"] == pytest.approx(first)
    assert verdict.measured["last layers: enrichment"] == pytest.approx(last)
    assert verdict.ci[0] >= 2.0


@FAST
@given(band_counts(first=(0.6, 1.0), last=(0.0, 0.1)))
def test_neurons_in_the_first_layers_only_are_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    assert verdict.verdict == "refuted"
    assert verdict.measured["first layers: enrichment low"] >= 2.0 > verdict.measured["last layers: enrichment high"]
    assert verdict.effect == pytest.approx(enrichment(counts, [9]))  # the weaker end


@FAST
@given(band_counts(first=(0.0, 0.1), last=(0.6, 1.0)))
def test_neurons_in_the_last_layers_only_are_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    assert verdict.verdict == "refuted" and verdict.effect == pytest.approx(enrichment(counts, [0]))


@FAST
@given(band_counts(first=(0.0, 0.15), last=(0.0, 0.15)))
def test_neurons_spread_like_a_random_set_are_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    assert verdict.verdict == "refuted" and verdict.ci[1] < 2.0


@FAST
@given(band_counts(first=(0.0, 0.6), last=(0.0, 0.6), n_layers=30, resamples=10))
def test_reversing_the_layers_swaps_the_ends_and_keeps_the_verdict(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    mirrored = layer_concentration_rule(counts[..., ::-1], boot[..., ::-1])
    assert mirrored.verdict == verdict.verdict and mirrored.effect == pytest.approx(verdict.effect)
    for name in ("share %", "enrichment", "enrichment low", "enrichment high", "top-N %", "bottom-N %"):
        assert mirrored.measured[f"first layers: {name}"] == pytest.approx(verdict.measured[f"last layers: {name}"])


def test_both_ends_exactly_at_the_minimum_are_supported() -> None:
    counts = counts_in(4, {0: 10, 3: 10})  # half in each end, each end a quarter of the layers: enrichment 2.0
    verdict = layer_concentration_rule(counts, resampled(counts), edge_share=0.25)
    assert verdict.verdict == "supported"
    assert (verdict.effect, verdict.ci) == (2.0, (2.0, 2.0))
    # four layers are just enough: 2 ends x 1 layer x enrichment 2 = 4 layers
    assert layer_concentration_rule(counts, resampled(counts), edge_share=0.25, min_enrichment=2.5).verdict == (
        "inconclusive")


def test_an_end_whose_interval_reaches_the_minimum_is_not_refuted() -> None:
    point = counts_in(4, {0: 10, 3: 8, 1: 2})  # last end: 40% of the neurons, enrichment 1.6
    high = counts_in(4, {0: 10, 3: 10})  # a resample with 50%: enrichment 2.0
    verdict = layer_concentration_rule(point, resampled(point, high), edge_share=0.25)
    assert verdict.verdict == "inconclusive" and verdict.ci == (1.6, 2.0)
    assert layer_concentration_rule(point, resampled(point), edge_share=0.25).verdict == "refuted"


def test_an_end_whose_interval_dips_below_the_minimum_is_not_supported() -> None:
    counts = counts_in(4, {0: 10, 3: 10})
    low = counts_in(4, {0: 10, 3: 8, 2: 2})
    verdict = layer_concentration_rule(counts, resampled(counts, low), edge_share=0.25)
    assert verdict.verdict == "inconclusive"
    assert verdict.measured["last layers: enrichment low"] == pytest.approx(1.6)
    assert verdict.effect == 2.0 and verdict.ci == pytest.approx((1.6, 2.0))  # a tie: the end with the lower interval
    flipped = layer_concentration_rule(counts[..., ::-1], resampled(counts, low)[..., ::-1], edge_share=0.25)
    assert flipped.verdict == "inconclusive" and flipped.measured["first layers: enrichment low"] == pytest.approx(1.6)
    assert flipped.ci == pytest.approx((1.6, 2.0))


def test_one_end_enriched_is_refuted_even_when_the_two_ends_pooled_are_enriched() -> None:
    counts = counts_in(10, {0: 12, 5: 8})  # 60% in layer 0, none in layer 9: pooled over both ends 3.0
    verdict = layer_concentration_rule(counts, resampled(counts))
    assert verdict.verdict == "refuted" and verdict.effect == 0.0
    assert verdict.measured["first layers: enrichment"] == pytest.approx(6.0)


def test_too_few_layers_for_both_ends_is_inconclusive() -> None:
    counts = counts_in(7, {0: 5, 1: 5, 5: 5, 6: 5})  # 2 layers per end of 7: both at 2 need 8 layers
    verdict = layer_concentration_rule(counts, resampled(counts), edge_share=0.25)
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("too few layers (7)")
    assert layer_concentration_rule(counts_in(3, {0: 1, 2: 1}), resampled(counts_in(3, {0: 1, 2: 1}))).verdict == (
        "inconclusive")
    eight = counts_in(8, {0: 5, 1: 5, 6: 5, 7: 5})  # 2 layers per end of 8: just enough
    assert layer_concentration_rule(eight, resampled(eight), edge_share=0.25).verdict == "supported"


def test_the_minimum_enrichment_is_a_parameter() -> None:
    counts = counts_in(10, {0: 6, 9: 6, 4: 8})  # 30% in each end: enrichment 3
    assert layer_concentration_rule(counts, resampled(counts)).verdict == "supported"
    assert layer_concentration_rule(counts, resampled(counts), min_enrichment=3.5).verdict == "refuted"


def test_layer_measurements_parameters_and_reason() -> None:
    counts = counts_in(10, {0: 6, 9: 4, 5: 10}, n_langs=2)
    counts[1, 1] = [10, 0, 0, 0, 0, 10, 0, 0, 0, 0]  # the second language's bottom-N: half in layer 0, none in 9
    boot = resampled(counts, counts_in(10, {0: 2, 9: 2, 5: 16}, n_langs=2), each=10)
    verdict = layer_concentration_rule(counts, boot, confidence=0.5)
    first_share = (0.3 + (6 + 10) / 40) / 2  # per language, then the mean
    last_share = (0.2 + 4 / 40) / 2
    first_ci = np.percentile(np.r_[[first_share] * 10, [0.1] * 10], [25, 75]) / 0.1
    last_ci = np.percentile(np.r_[[last_share] * 10, [0.1] * 10], [25, 75]) / 0.1
    assert verdict.measured == pytest.approx({
        "first layers: share %": 100 * first_share, "first layers: enrichment": first_share / 0.1,
        "first layers: enrichment low": first_ci[0], "first layers: enrichment high": first_ci[1],
        "first layers: top-N %": 30.0, "first layers: bottom-N %": 100 * 16 / 40,
        "last layers: share %": 100 * last_share, "last layers: enrichment": last_share / 0.1,
        "last layers: enrichment low": last_ci[0], "last layers: enrichment high": last_ci[1],
        "last layers: top-N %": 20.0, "last layers: bottom-N %": 100 * 4 / 40,
        "band's share of layers % (random control)": 10.0, "bootstrap resamples": 20})
    assert verdict.params == {"edge_share": 0.1, "min_enrichment": 2.0, "confidence": 0.5,
                              "first band layers": "0", "last band layers": "9",
                              "control": "random same-size neuron set (expected share, per band)"}
    assert verdict.effect == pytest.approx(last_share / 0.1) and verdict.ci == pytest.approx(tuple(last_ci))
    assert verdict.reason == (
        f"first layers (0): {100 * first_share:.0f}% of the language-specific neurons, enrichment "
        f"{first_share / 0.1:.2f} [{first_ci[0]:.2f}, {first_ci[1]:.2f}]; last layers (9): {100 * last_share:.0f}% "
        f"of the language-specific neurons, enrichment {last_share / 0.1:.2f} [{last_ci[0]:.2f}, {last_ci[1]:.2f}] "
        "(each band 10% of 10 layers); both ends need 2.0")
    wide = layer_concentration_rule(counts_in(30, {0: 1, 1: 1, 2: 1, 29: 1, 15: 1}),
                                    resampled(counts_in(30, {0: 1, 1: 1, 2: 1, 29: 1, 15: 1})))
    assert (wide.params["first band layers"], wide.params["last band layers"]) == ("0,1,2", "27,28,29")


def test_intervals_are_the_percentiles_of_the_resamples() -> None:
    counts = counts_in(10, {0: 40, 9: 30, 5: 30})
    boot = np.stack([counts_in(10, {0: 20 + r, 9: 30, 5: 50 - r}) for r in range(40)])  # 20% .. 59% in layer 0
    shares = (20 + np.arange(40)) / 100
    for confidence, tails in ((0.95, [2.5, 97.5]), (0.9, [5, 95])):
        verdict = layer_concentration_rule(counts, boot, confidence=confidence)
        low, high = np.percentile(shares, tails) / 0.1
        assert verdict.measured["first layers: enrichment low"] == pytest.approx(low, abs=0, rel=1e-12)
        assert verdict.measured["first layers: enrichment high"] == pytest.approx(high, abs=0, rel=1e-12)
        assert verdict.effect_name == "enrichment of the weaker end (first or last layers)"


def test_too_few_layers_reports_what_a_decided_verdict_would() -> None:
    counts = counts_in(3, {0: 2, 1: 1, 2: 2})
    boot = resampled(counts, counts_in(3, {0: 1, 1: 2, 2: 2}))
    too_few = layer_concentration_rule(counts, boot)
    decided = layer_concentration_rule(counts, boot, min_enrichment=1.4)  # 2 ends x 1 layer x 1.4 <= 3 layers
    assert too_few.verdict == "inconclusive" and decided.verdict != "inconclusive"
    assert (too_few.effect_name, too_few.effect, too_few.ci, too_few.measured) == (
        decided.effect_name, decided.effect, decided.ci, decided.measured)
    assert too_few.params == decided.params | {"min_enrichment": 2.0}
    assert too_few.reason == (
        "too few layers (3) for both ends to reach an enrichment of 2.0; first layers (0): 40% of the "
        f"language-specific neurons, enrichment 1.20 [{too_few.measured['first layers: enrichment low']:.2f}, 1.20]; "
        "last layers (2): 40% of the language-specific neurons, enrichment 1.20 [1.20, 1.20] (each band 33% of 3 "
        "layers); both ends need 2.0")


def test_without_resamples_the_interval_is_the_point() -> None:
    counts = counts_in(10, {0: 6, 9: 4})
    verdict = layer_concentration_rule(counts, np.zeros((0, *counts.shape), dtype=np.int64))
    assert verdict.verdict == "supported" and verdict.ci == (4.0, 4.0)
    assert verdict.measured["first layers: enrichment low"] == verdict.measured["first layers: enrichment high"]
    assert verdict.measured["first layers: enrichment high"] == pytest.approx(6.0)


# --- overlap ------------------------------------------------------------------------------------------------------


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


# --- tampering ----------------------------------------------------------------------------------------------------


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


# --- the pattern in each language ---------------------------------------------------------------------------------

LANGS9 = ["en", "de", "es", "fr", "ru", "th", "tr", "vi", "zh"]


def mixed_counts(n_moved: int, n_langs: int = 9) -> np.ndarray:
    """(L, 2, 10): every language's 5 top and 5 bottom neurons in layers 0 and 9 (3 and 2), the last ``n_moved``
    languages' in layers 4 and 5 instead."""
    counts = counts_in(10, {0: 3, 9: 2}, n_langs=n_langs)
    if n_moved:
        counts[-n_moved:] = counts_in(10, {4: 3, 5: 2})[0]
    return counts


def test_every_language_at_both_ends_is_supported() -> None:
    counts = mixed_counts(0)
    verdict = layers_each_language_rule(counts, resampled(counts), LANGS9)
    assert verdict.verdict == "supported" and verdict.effect == 1.0 and verdict.ci == (1.0, 1.0)
    assert verdict.measured["languages supported"] == 9 and verdict.measured["zh: last layers enrichment"] == 4.0


def test_the_average_can_show_what_only_some_languages_carry() -> None:
    """3 of 9 languages in the middle layers: the mean over languages is enriched at both ends (the averaged rule
    supports it), the languages are not."""
    counts = mixed_counts(3)
    assert layer_concentration_rule(counts, resampled(counts)).verdict == "supported"
    verdict = layers_each_language_rule(counts, resampled(counts), LANGS9)
    assert verdict.verdict == "refuted" and verdict.effect == pytest.approx(6 / 9)
    assert (verdict.measured["languages supported"], verdict.measured["languages refuted"]) == (6, 3)
    assert "zh 0.0/0.0 refuted" in verdict.reason


def test_exceptions_are_a_parameter_with_an_exact_boundary() -> None:
    one = mixed_counts(1)
    assert layers_each_language_rule(one, resampled(one), LANGS9).verdict == "supported"  # all but one
    assert layers_each_language_rule(one, resampled(one), LANGS9, max_exceptions=0).verdict == "refuted"
    two = mixed_counts(2)
    assert layers_each_language_rule(two, resampled(two), LANGS9).verdict == "refuted"
    assert layers_each_language_rule(two, resampled(two), LANGS9, max_exceptions=2).verdict == "supported"


def test_languages_neither_supported_nor_refuted_leave_it_inconclusive() -> None:
    point = mixed_counts(0)
    point[-2:] = counts_in(10, {0: 2, 9: 2, 5: 1})[0]  # two languages: 40% per end on the point, none in half
    low = point.copy()
    low[-2:] = counts_in(10, {9: 1, 5: 4})[0]
    verdict = layers_each_language_rule(point, resampled(point, low), LANGS9)
    assert verdict.verdict == "inconclusive" and verdict.ci == (7 / 9, 1.0)
    assert verdict.measured["languages refuted"] == 0 and verdict.measured["languages supported"] == 7


def test_each_language_rule_is_the_averaged_rule_on_one_language() -> None:
    counts = mixed_counts(4)
    boot = resampled(counts, mixed_counts(5))
    verdict = layers_each_language_rule(counts, boot, LANGS9, edge_share=0.2, min_enrichment=1.5, confidence=0.9)
    for i, lang in enumerate(LANGS9):
        alone = layer_concentration_rule(counts[[i]], boot[:, [i]], edge_share=0.2, min_enrichment=1.5,
                                         confidence=0.9)
        assert verdict.measured[f"{lang}: first layers enrichment"] == alone.measured["first layers: enrichment"]
        assert f"{lang} {alone.measured['first layers: enrichment']:.1f}/" in verdict.reason
    assert verdict.params["max_exceptions"] == 1 and verdict.params["first band layers"] == "0,1"


def test_too_few_languages_or_layers_are_inconclusive() -> None:
    one = mixed_counts(0, n_langs=1)
    verdict = layers_each_language_rule(one, resampled(one), ["en"])
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("1 language(s) and 1 allowed exception")
    assert layers_each_language_rule(one, resampled(one), ["en"], max_exceptions=0).verdict == "supported"
    three = counts_in(3, {0: 1, 2: 1}, n_langs=3)
    few = layers_each_language_rule(three, resampled(three), ["en", "de", "fr"])
    assert few.verdict == "inconclusive" and few.reason.startswith("too few layers (3)")


def test_language_names_must_match_the_counts() -> None:
    with pytest.raises(ValueError, match="2 language names for counts of 9 languages"):
        layers_each_language_rule(mixed_counts(0), resampled(mixed_counts(0)), ["en", "de"])


# --- against shuffled labels --------------------------------------------------------------------------------------


def null_of(levels: list[float], n_perm: int = 100, spread: float = 0.02, seed: int = 0) -> np.ndarray:
    """(P, L): each language's null around its level (clipped to [0, 1])."""
    rng = np.random.default_rng(seed)
    return np.clip(np.array(levels)[None] + spread * rng.standard_normal((n_perm, len(levels))), 0, 1)


def test_far_above_the_shuffled_labels_is_supported() -> None:
    null = null_of([0.3, 0.25, 0.3])
    verdict = beats_shuffled_labels_rule(np.ones(3), null, ["en", "de", "zh"])
    assert verdict.verdict == "supported"
    high = np.quantile(null, 0.99, axis=0)
    assert verdict.effect == pytest.approx(float(np.min(1 - high)))
    assert verdict.measured["en: permutation p"] == 1 / 101 and verdict.measured["languages supported"] == 3


def test_no_better_than_shuffled_labels_is_refuted_even_in_one_language() -> None:
    null = null_of([0.85, 0.85, 0.85])
    observed = np.array([1.0, 1.0, float(np.median(null[:, 2]))])  # zh exactly at the null's median
    verdict = beats_shuffled_labels_rule(observed, null, ["en", "de", "zh"])
    assert verdict.verdict == "refuted" and verdict.measured["languages refuted"] == 1
    assert "zh" in verdict.reason and "(refuted)" in verdict.reason
    above = observed.copy()
    above[2] = np.nextafter(observed[2], 2)
    assert beats_shuffled_labels_rule(above, null, ["en", "de", "zh"]).verdict == "inconclusive"


def test_the_observed_ap_must_exceed_the_high_quantile_strictly() -> None:
    null = null_of([0.5, 0.5])
    high = np.quantile(null, 0.99, axis=0)
    at = beats_shuffled_labels_rule(high.copy(), null, ["en", "de"])
    assert at.verdict == "inconclusive" and at.effect == 0.0
    over = beats_shuffled_labels_rule(np.nextafter(high, 2), null, ["en", "de"])
    assert over.verdict == "supported"
    assert beats_shuffled_labels_rule(np.nextafter(high, 2), null, ["en", "de"], quantile=1.0).verdict == (
        "inconclusive")  # the maximum of the shuffles is higher than the 99% quantile


def test_a_null_at_ap_one_cannot_tell() -> None:
    """Two texts per language and thousands of neurons: chance alone gives N neurons of AP 1."""
    null = np.ones((100, 3))
    verdict = beats_shuffled_labels_rule(np.ones(3), null, ["en", "de", "zh"])
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("chance alone reaches AP 1 in every")
    partly = null.copy()
    partly[:, 0] = null_of([0.5])[:, 0]
    mixed = beats_shuffled_labels_rule(np.ones(3), partly, ["en", "de", "zh"])
    assert mixed.verdict == "inconclusive" and mixed.measured["languages with the null at AP 1"] == 2
    assert "null at AP 1" in mixed.reason


def test_too_few_shuffles_are_inconclusive() -> None:
    assert beats_shuffled_labels_rule(np.ones(2), null_of([0.3, 0.3], n_perm=99), ["en", "de"]).verdict == (
        "inconclusive")
    assert beats_shuffled_labels_rule(np.ones(2), null_of([0.3, 0.3], n_perm=100), ["en", "de"]).verdict == (
        "supported")
    assert beats_shuffled_labels_rule(np.ones(2), null_of([0.3, 0.3], n_perm=20), ["en", "de"],
                                      quantile=0.95).verdict == "supported"
    none = beats_shuffled_labels_rule(np.ones(2), np.zeros((0, 2)), ["en", "de"])
    assert none.verdict == "inconclusive" and none.reason == "no label shuffles in the measurement"


def test_shuffled_null_measurements_and_parameters() -> None:
    null = null_of([0.4, 0.6], n_perm=200, seed=3)
    verdict = beats_shuffled_labels_rule(np.array([0.9, 0.62]), null, ["en", "de"], quantile=0.95,
                                         refute_quantile=0.4)
    assert verdict.measured["de: null median"] == pytest.approx(float(np.median(null[:, 1])))
    assert verdict.measured["de: null 95% quantile"] == pytest.approx(float(np.quantile(null[:, 1], 0.95)))
    assert verdict.measured["de: permutation p"] == pytest.approx((1 + (null[:, 1] >= 0.62).sum()) / 201)
    assert verdict.params == {"quantile": 0.95, "refute_quantile": 0.4,
                              "control": "language labels shuffled within each example (the same responses and "
                                         "selection)"}
    with pytest.raises(ValueError, match="must match the null's 2 languages"):
        beats_shuffled_labels_rule(np.ones(3), null, ["en", "de", "zh"])
