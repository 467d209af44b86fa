"""Statistics for verdicts: seeded bootstrap over examples (paired or not) and McNemar's exact test."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

N_BOOTSTRAP = 2000


def bootstrap_ci(statistic: Callable[..., np.ndarray], *samples: np.ndarray, seed: int = 0,
                 confidence: float = 0.95, paired: bool = True) -> tuple[float, float]:
    """Percentile CI of ``statistic`` over examples resampled with replacement: the same indices across
    ``samples`` when ``paired``, each sample on its own otherwise (different examples, e.g. two tasks).

    Each sample has examples on axis 0; ``statistic(*resampled, axis=-1)`` must be vectorised (scipy convention).
    """
    if min(len(s) for s in samples) < 2 or all(np.all(s == s[0]) for s in samples):
        value = float(statistic(*[s[None] for s in samples], axis=-1)[0])
        return value, value  # no spread to resample
    result = stats.bootstrap(samples, statistic, paired=paired, vectorized=True, n_resamples=N_BOOTSTRAP,
                             confidence_level=confidence, method="percentile", random_state=seed)
    low, high = result.confidence_interval
    return float(low), float(high)


def mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """mean(a) - mean(b) along ``axis``: the statistic of most paired bootstrap intervals."""
    return a.mean(axis=axis) - b.mean(axis=axis)


def _index_draws(n_examples: int, seed: int) -> np.ndarray:
    """(N_BOOTSTRAP // 4, n_examples) resamples of example indices, with replacement."""
    return np.random.default_rng(seed).integers(0, n_examples, size=(N_BOOTSTRAP // 4, n_examples))


def bootstrap_support(holds: Callable[[np.ndarray], bool], n_examples: int, *, seed: int = 0) -> float:
    """Share of bootstrap resamples of the examples (index arrays) on which a decision rule holds."""
    return float(np.mean([holds(indices) for indices in _index_draws(n_examples, seed)]))


def bootstrap_interval(statistic: Callable[[np.ndarray], float], n_examples: int, *, seed: int = 0,
                       confidence: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over resamples of the examples, for statistics of several
    arrays or shapes that ``bootstrap_ci`` does not vectorise (e.g. a maximum over layers of a spread over
    languages). One example: no spread to resample."""
    if n_examples < 2:
        value = float(statistic(np.arange(n_examples)))
        return value, value
    values = np.array([statistic(indices) for indices in _index_draws(n_examples, seed)], dtype=float)
    if np.isnan(values).all():
        return math.nan, math.nan
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar(before: np.ndarray, after: np.ndarray) -> float:
    """Two-sided exact sign test for paired outcomes (same items): McNemar's exact test for correctness vectors
    (bool); outcomes averaged over seeds (floats in [0, 1]) count an item by the sign of its difference."""
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    lost, gained = int(np.sum(before > after)), int(np.sum(before < after))
    if lost + gained == 0:
        return 1.0
    return float(stats.binomtest(min(lost, gained), lost + gained, 0.5).pvalue)


def above_chance(correct: int, n: int, chance: float) -> float:
    """One-sided exact binomial p-value that an accuracy of correct / n is above ``chance``."""
    if n == 0:
        return 1.0
    return float(stats.binomtest(correct, n, chance, alternative="greater").pvalue)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order): the family-wise error stays at alpha across the family,
    e.g. the languages of a per-language claim. Adjusted p_(i) = max over j <= i of min(1, (m - j) p_(j))."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted


def ratio(numerator: float, denominator: float, empty: float) -> float:
    """numerator / denominator as a float; ``empty`` where the denominator is not positive (nothing to divide by)."""
    return float(numerator / denominator) if denominator > 0 else empty
