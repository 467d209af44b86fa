"""Every comparison of the attribution rules (contribution, base rates, spans) at its exact boundary: a threshold set
to the very statistic (or interval bound) it is compared with, so that a strict comparison and an inclusive one give
different verdicts. Strict and inclusive are the rules' documented choices (docstrings, README); each test names the
one it pins."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.sharing_matters.attribution_rules import (
    contribution_rule,
    effective_span_rule,
    expected_shared,
    permutation_p,
)
from harness.papers.sharing_matters.neurons import ALL

# --- contribution and base rates --------------------------------------------------------------------------------------


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


def test_contribution_with_a_small_expected_count() -> None:
    cells = np.zeros((1, 1, 2, 4), dtype=int)
    cells[0, 0, 0] = [1, 1, 2, 1]  # expected 0.5
    cells[0, 0, 1] = [1, 1, 4, 1]  # expected 0.25
    verdict = contribution_rule(np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]), cells, permutations=50)
    assert verdict.effect == pytest.approx(2 / 0.75)
    assert verdict.measured["enrichment, lowest layer"] == pytest.approx(2.0)  # layer 0: 1 / 0.5


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


def test_permutation_p_counts_every_draw_once() -> None:
    """Observed 0 all-shared among the top: every null draw is at least as large, so p = 1 exactly, whatever the
    batching (5000 cells: 400 draws a batch, the last one smaller)."""
    rng = np.random.default_rng(7)
    active = rng.integers(3, 10, size=5000)
    cells = np.stack([np.zeros(5000, int), np.full(5000, 2), active, active - 1], axis=1)
    assert permutation_p(cells, permutations=1000) == 1.0


# --- spans ------------------------------------------------------------------------------------------------------------


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


def test_span_intervals_follow_the_seed() -> None:
    rng = np.random.default_rng(14)
    spans = np.abs(rng.normal(1.0, 0.5, (15, 3, 4)))
    spans[:, :, ALL] *= 1.6
    a, b = (effective_span_rule(spans, seed=s) for s in (0, 7))
    low = "span ratio CI low (mean over languages)"
    assert a.measured[low] != b.measured[low]


def test_permutation_p_defaults_and_an_observation_of_zero() -> None:
    cells = np.array([[1, 2, 6, 3], [0, 1, 4, 1], [2, 3, 9, 4]])
    assert permutation_p(cells) == permutation_p(cells, permutations=1000, seed=0)
    observed_zero = np.array([[0, 1, 3, 1], [0, 1, 2, 1]])
    assert permutation_p(observed_zero, permutations=10) == 1.0  # ten draws, each counted once
