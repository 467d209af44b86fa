"""Decision rules of Kojima et al.'s claims on synthetic measurements: layer concentration, overlap, tampering;
each with a supported, a refuted and an inconclusive case."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from harness.language_rules import edge_layers, layer_concentration_rule, overlap_rule, tampering_rule
from tests.strategies import generation_outcomes, layer_counts, overlaps

FAST = settings(max_examples=30, deadline=None)


def test_edge_layers() -> None:
    assert edge_layers(10, 0.1) == [0, 9]
    assert edge_layers(30, 0.1) == [0, 1, 2, 27, 28, 29]
    assert edge_layers(3, 0.1) == [0, 2]


# --- layer concentration ------------------------------------------------------------------------------------------


@FAST
@given(layer_counts(band_share=(0.6, 1.0)))
def test_neurons_mostly_in_the_first_and_last_layers_are_supported(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    share = counts[..., [0, 9]].sum() / counts.sum()
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(share / 0.2)
    assert verdict.ci[0] >= 2.0


@FAST
@given(layer_counts(band_share=(0.0, 0.3)))
def test_neurons_spread_like_a_random_set_are_refuted(data: tuple[np.ndarray, np.ndarray]) -> None:
    counts, boot = data
    verdict = layer_concentration_rule(counts, boot)
    assert verdict.verdict == "refuted" and verdict.ci[1] < 2.0


def test_an_interval_across_the_limit_is_inconclusive() -> None:
    counts = np.zeros((1, 2, 10), dtype=np.int64)
    counts[0, :, 0], counts[0, :, 5] = 5, 5  # half in the band: enrichment 2.5
    low = np.zeros((1, 1, 2, 10), dtype=np.int64)
    low[0, 0, :, 0], low[0, 0, :, 5] = 2, 8  # a resample with 20%: enrichment 1.0
    boot = np.concatenate([np.repeat(counts[None], 20, axis=0), np.repeat(low, 20, axis=0)])
    verdict = layer_concentration_rule(counts, boot)
    assert verdict.verdict == "inconclusive" and verdict.ci[0] < 2.0 <= verdict.effect


def test_too_few_layers_for_the_enrichment_is_inconclusive() -> None:
    counts = np.ones((2, 2, 3), dtype=np.int64)
    assert layer_concentration_rule(counts, counts[None]).verdict == "inconclusive"


# --- overlap ------------------------------------------------------------------------------------------------------


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
    overlap = np.zeros((2, 3, 3), dtype=np.int64)
    overlap[:, range(3), range(3)] = 100
    shared = overlap.copy()
    shared[0, 0, 1] = shared[0, 1, 0] = 9
    boot = np.stack([overlap] * 20 + [shared] * 20)
    verdict = overlap_rule(overlap, boot, 100, 10_000)
    assert verdict.verdict == "inconclusive" and verdict.ci[1] >= 0.05 > verdict.effect
    assert overlap_rule(overlap[:, :1, :1], boot[:, :, :1, :1], 100, 10_000).verdict == "inconclusive"


# --- tampering ----------------------------------------------------------------------------------------------------


@FAST
@given(generation_outcomes(tampered_rate=(0.7, 1.0), control_rate=(0.0, 0.3)))
def test_steering_far_above_the_random_control_is_supported(data: tuple[np.ndarray, ...]) -> None:
    tampered, control, baseline = data
    verdict = tampering_rule(tampered, control, baseline, 0.004, 1.0)
    assert verdict.verdict == "supported"
    assert verdict.effect == pytest.approx(tampered.mean() - control.mean())
    assert verdict.measured["target language, no fix %"] == pytest.approx(100 * baseline.mean())


@FAST
@given(generation_outcomes(tampered_rate=(0.0, 0.3), control_rate=(0.0, 0.3)))
def test_no_more_than_the_random_control_is_refuted(data: tuple[np.ndarray, ...]) -> None:
    _, control, baseline = data
    verdict = tampering_rule(control.copy(), control, baseline, 0.004, 1.0)  # fixing changes nothing
    assert verdict.verdict == "refuted" and verdict.effect == 0 and verdict.ci[1] < 0.2


def test_few_samples_too_many_neurons_or_a_weak_identifier_are_inconclusive() -> None:
    tampered = np.array([True] * 3 + [False] * 7)
    control = np.zeros(10, dtype=bool)
    assert tampering_rule(tampered, control, control, 0.004, 1.0).verdict == "inconclusive"  # p = 0.25
    steered = np.ones(100, dtype=bool)
    unmoved = np.zeros(100, dtype=bool)
    too_many = tampering_rule(steered, unmoved, unmoved, 0.02, 1.0)
    assert too_many.verdict == "inconclusive" and "under 1%" in too_many.reason
    weak = tampering_rule(steered, unmoved, unmoved, 0.004, 0.5)
    assert weak.verdict == "inconclusive" and "identifier" in weak.reason
