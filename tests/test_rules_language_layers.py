"""Kojima et al.'s layer rules on synthetic measurements: the edge bands, layer concentration (each end on its own)
and the pattern in each language. Supported, refuted and inconclusive cases, properties over drawn measurements,
and examples at the exact boundary of every comparison (so that flipping one comparison, or `all` and `any`, is
caught)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from harness.papers.kojima.rules import (
    edge_bands,
    layer_concentration_rule,
    layers_each_language_rule,
)
from tests.strategies import band_counts

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
    decided = layers_each_language_rule(one, resampled(one), ["en"], max_exceptions=0)
    assert decided.verdict == "supported"
    assert (verdict.effect_name, verdict.effect, verdict.ci) == (decided.effect_name, 1.0, (1.0, 1.0))
    assert verdict.measured == decided.measured | {"languages needed": 0}
    assert verdict.params == decided.params | {"max_exceptions": 1}
    three = counts_in(3, {0: 1, 2: 1}, n_langs=3)
    few = layers_each_language_rule(three, resampled(three), ["en", "de", "fr"])
    assert few.verdict == "inconclusive" and few.reason.startswith("too few layers (3) for both ends to reach an "
                                                                   "enrichment of 2.0; both ends enriched")


def test_language_names_must_match_the_counts() -> None:
    with pytest.raises(ValueError, match="2 language names for counts of 9 languages"):
        layers_each_language_rule(mixed_counts(0), resampled(mixed_counts(0)), ["en", "de"])
