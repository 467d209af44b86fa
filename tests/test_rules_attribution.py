"""Rules on attribution against their base-rate nulls, on synthetic summaries.

The shuffle null of the contribution rule is checked against shuffling types by hand; the effective-score span
rule against sets of different sizes drawn from one distribution (the extreme-value artefact).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.papers.sharing_matters.attribution_rules import (
    contribution_rule,
    effective_span_rule,
    expected_shared,
    permutation_p,
)
from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC

TOP_K = 4


def _row_summary(contribution: np.ndarray, codes: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The reducer's per row-layer summary from explicit neurons: (top shared & active, top active, active, shared)."""
    top = np.argsort(-contribution)[:TOP_K]
    return np.array([int(((codes[top] == ALL) & active[top]).sum()), int(active[top].sum()), int(active.sum()),
                     int((codes == ALL).sum())])


def _population(rng: np.random.Generator, n_rows: int, d_ff: int, shared_scale: float,
                shared_share: float = 0.6) -> np.ndarray:
    """(rows, 1 layer, 4) summaries of rows where a share of the neurons is all-shared (active, contributions
    scaled by ``shared_scale``), a quarter of the rest active partial-shared, the others inactive."""
    out = []
    for _ in range(n_rows):
        codes = np.where(rng.random(d_ff) < shared_share, ALL, np.where(rng.random(d_ff) < 0.25, PARTIAL, NON))
        active = codes != NON
        contribution = rng.exponential(size=d_ff) * np.where(codes == ALL, shared_scale, 1.0) * active
        out.append(_row_summary(contribution, codes, active))
    return np.array(out)[:, None]


def _by_examples(cells: np.ndarray, n_langs: int = 3) -> np.ndarray:
    """(rows, layers, 4) -> (examples, langs, layers, 4)."""
    return cells.reshape(-1, n_langs, *cells.shape[1:])


def test_expected_shared_is_the_mean_of_shuffled_types() -> None:
    """Shuffling types among a row's active neurons by hand: the mean all-shared count among the active top
    contributors approaches top active x shared / active."""
    rng = np.random.default_rng(0)
    d_ff = 30
    codes = np.where(rng.random(d_ff) < 0.4, ALL, np.where(rng.random(d_ff) < 0.5, SPECIFIC, NON))
    active = codes != NON
    contribution = rng.random(d_ff) + 2.0 * (codes == NON)  # inactive neurons contribute most: top active < k
    summary = _row_summary(contribution, codes, active)
    shuffled = []
    for _ in range(20_000):
        permuted = codes.copy()
        permuted[active] = rng.permutation(codes[active])
        shuffled.append(_row_summary(contribution, permuted, active)[0])
    assert summary[1] < TOP_K
    assert np.mean(shuffled) == pytest.approx(float(expected_shared(summary)), abs=0.02)


def test_permutation_p_matches_shuffling_by_hand() -> None:
    rng = np.random.default_rng(1)
    cells = np.array([[3, 4, 10, 5], [1, 3, 8, 2], [2, 2, 6, 4]])  # (cells, 4)
    observed = cells[:, 0].sum()
    by_hand = []
    for _ in range(20_000):
        total = 0
        for _top_shared, top_active, n_active, n_shared in cells:
            labels = rng.permutation(np.r_[np.ones(n_shared), np.zeros(n_active - n_shared)])
            total += labels[:top_active].sum()
        by_hand.append(total >= observed)
    assert permutation_p(cells, permutations=20_000) == pytest.approx(float(np.mean(by_hand)), abs=0.01)


def test_permutation_p_without_active_top_contributors_is_one() -> None:
    assert permutation_p(np.array([[0, 0, 5, 2]])) == 1.0


def test_enriched_all_shared_are_supported() -> None:
    cells = _population(np.random.default_rng(2), 60, 80, shared_scale=3.0)
    verdict = contribution_rule(np.array([[0.0], [0.0], [0.1], [0.9]]), _by_examples(cells))
    assert verdict.effect > 1.1 and verdict.ci[0] > 1.1
    assert verdict.measured["permutation p"] < 0.05
    assert verdict.verdict == "supported"


def test_most_frequent_by_base_rate_only_is_refuted() -> None:
    """All-shared are 60% of the neurons and lead the top contributors by number, with contributions drawn like
    everyone else's: the paper's statistic says they dominate, the base rate says they carry their share."""
    cells = _population(np.random.default_rng(3), 90, 80, shared_scale=0.8)
    top_types = np.array([[0.0], [0.0], [0.3], [0.7]])  # all-shared lead every layer
    verdict = contribution_rule(top_types, _by_examples(cells))
    assert verdict.measured["layers led by all-shared"] == 1.0
    assert verdict.ci[1] < 1.1
    assert verdict.verdict == "refuted"


def test_all_shared_not_leading_is_refuted() -> None:
    cells = _population(np.random.default_rng(4), 30, 80, shared_scale=3.0)
    top_types = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.6, 0.6, 0.6], [0.4, 0.4, 0.4]])
    verdict = contribution_rule(top_types, _by_examples(np.repeat(cells, 3, axis=1)))
    assert verdict.measured["layers led by all-shared"] == 0.0
    assert verdict.verdict == "refuted"


def test_contribution_rule_boundaries_are_recorded() -> None:
    cells = _population(np.random.default_rng(5), 60, 80, shared_scale=3.0)
    top = np.array([[0.0], [0.0], [0.1], [0.9]])
    strict = contribution_rule(top, _by_examples(cells), min_enrichment=100.0)
    assert strict.verdict == "refuted" and strict.params["min_enrichment"] == 100.0
    no_shared = _by_examples(np.zeros((6, 1, 4), dtype=int))
    assert contribution_rule(top, no_shared).verdict == "inconclusive"


# --- effective_span_rule --------------------------------------------------------------------------------------


def _spans(rng: np.random.Generator, n_examples: int, n_langs: int, shared_scale: float,
           sample: int = 32) -> np.ndarray:
    """Per row, spans of ``sample`` draws from each type's score distribution (all-shared scaled)."""
    scale = np.ones(4)
    scale[ALL] = shared_scale
    draws = rng.normal(size=(n_examples, n_langs, 4, sample)) * scale[:, None]
    return draws.max(axis=-1) - draws.min(axis=-1)


@settings(max_examples=20, deadline=None)
@given(st.integers(5, 40), st.integers(1, 10), st.integers(0, 1000))
def test_wider_all_shared_at_equal_size_is_supported(n: int, langs: int, seed: int) -> None:
    verdict = effective_span_rule(_spans(np.random.default_rng(seed), n, langs, shared_scale=3.0))
    assert verdict.verdict == "supported" and verdict.effect == 1.0


def test_the_extreme_value_artefact_is_refuted() -> None:
    """All-shared scores drawn 0.8x as wide as the others' but from 20x as many neurons: the raw max - min over
    each type is widest for all-shared, the equal-size spans are not."""
    rng = np.random.default_rng(6)
    raw_shared = 0.8 * rng.normal(size=20_000)
    raw_other = rng.normal(size=1_000)
    assert np.ptp(raw_shared) > np.ptp(raw_other)  # what the rule compared before
    verdict = effective_span_rule(_spans(rng, 30, 9, shared_scale=0.8))
    assert verdict.measured["languages where it is not"] == 1.0
    assert verdict.verdict == "refuted"


def test_span_rule_needs_rows_with_both_types() -> None:
    spans = _spans(np.random.default_rng(7), 10, 3, shared_scale=3.0)
    spans[:, :, [NON, SPECIFIC, PARTIAL]] = np.nan
    assert effective_span_rule(spans).verdict == "inconclusive"
    spans = _spans(np.random.default_rng(7), 4, 3, shared_scale=3.0)  # fewer than min_examples = 5
    assert effective_span_rule(spans).verdict == "inconclusive"


def test_span_ratio_threshold_is_used() -> None:
    spans = _spans(np.random.default_rng(8), 30, 6, shared_scale=2.0)
    assert effective_span_rule(spans, min_ratio=1.5).verdict == "supported"
    assert effective_span_rule(spans, min_ratio=2.5).verdict == "refuted"
