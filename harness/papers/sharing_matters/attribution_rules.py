"""Decision rules on attribution (§6.1-6.2), each against a base-rate null.

All-shared neurons are most of a row's active neurons in many models, so "the most frequent type among the top
contributors" holds by base rate alone, and the largest set of neurons has the widest range of scores by extreme
values alone. The rules therefore compare all-shared neurons with what their share of the active neurons predicts
(contribution) and at one sample size (effective scores).
"""

from __future__ import annotations

import math

import numpy as np

from harness.core.stats import bootstrap_interval, ratio
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.neurons import ALL

TOP_SHARED, TOP_ACTIVE, ACTIVE, SHARED = range(4)  # last axis of Measurement.base_rate


def expected_shared(base_rate: np.ndarray) -> np.ndarray:
    """Expected all-shared count among each row-layer's active top contributors if types were shuffled among the
    row's active neurons: top active x shared / active. base_rate (..., 4) -> (...)."""
    active = base_rate[..., ACTIVE].astype(float)
    return np.where(active > 0, base_rate[..., TOP_ACTIVE] * base_rate[..., SHARED] / np.maximum(active, 1), 0.0)


def permutation_p(base_rate: np.ndarray, *, permutations: int = 1000, seed: int = 0) -> float:
    """One-sided p-value of the observed all-shared count among the top contributors (summed over every row and
    layer) under the shuffle null: per row-layer the count is hypergeometric (shared among active, drawn top
    active), independently, so the null sum is drawn exactly."""
    cells = base_rate.reshape(-1, 4).astype(np.int64)
    cells = cells[cells[:, TOP_ACTIVE] > 0]
    observed = int(cells[:, TOP_SHARED].sum())
    if len(cells) == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    good, bad = cells[:, SHARED], cells[:, ACTIVE] - cells[:, SHARED]
    hits, step = 0, max(1, 2_000_000 // len(cells))  # bounded memory: draws x cells per batch
    for done in range(0, permutations, step):
        draws = rng.hypergeometric(good, bad, cells[:, TOP_ACTIVE], size=(min(step, permutations - done), len(cells)))
        hits += int((draws.sum(axis=1) >= observed).sum())
    return (1 + hits) / (1 + permutations)


def contribution_rule(top_types: np.ndarray, base_rate: np.ndarray, *, min_layer_share: float = 2 / 3,
                      min_enrichment: float = 1.1, alpha: float = 0.05, permutations: int = 1000,
                      seed: int = 0) -> Verdict:
    """All-shared neurons are the top contributors (eq. 3) at every layer (§6.1), beyond their base rate.

    top_types (T, layers): share of the top-5% contributors of each type (the paper's statistic);
    base_rate (examples, langs, layers, 4): per row and layer, all-shared and active among the top contributors,
    active and all-shared in the row. Enrichment = all-shared among the active top contributors / what their share
    of the active neurons predicts, pooled; interval over examples; p from the shuffle null.
    """
    params = {"min_layer_share": min_layer_share, "min_enrichment": min_enrichment, "alpha": alpha,
              "permutations": permutations, "seed": seed, "top": "5% of neurons per layer",
              "null": "types shuffled among each row's active neurons, per layer"}
    leading = float((top_types.argmax(axis=0) == ALL).mean())
    observed = base_rate[..., TOP_SHARED].sum(axis=(1, 2)).astype(float)  # (examples,)
    expected = expected_shared(base_rate).sum(axis=(1, 2))

    def enrichment_of(indices: np.ndarray) -> float:
        return ratio(observed[indices].sum(), expected[indices].sum(), math.nan)

    enrichment = enrichment_of(np.arange(len(observed)))
    ci = bootstrap_interval(enrichment_of, len(observed), seed=seed)
    p = permutation_p(base_rate, permutations=permutations, seed=seed)
    by_layer = base_rate[..., TOP_SHARED].sum(axis=(0, 1)) / np.maximum(expected_shared(base_rate).sum(axis=(0, 1)),
                                                                         1e-12)
    measured = {"layers led by all-shared": leading,
                "all-shared share of top 5% (mean over layers) %": 100 * float(top_types[ALL].mean()),
                "enrichment over base rate": enrichment, "permutation p": p,
                "enrichment, lowest layer": float(by_layer.min())}
    reason = (f"all-shared neurons lead the top-5% contributors in {100 * leading:.0f}% of layers (needs "
              f"{100 * min_layer_share:.0f}%); among the active top contributors they are {enrichment:.2f} "
              f"[{ci[0]:.2f}, {ci[1]:.2f}] times their share of the active neurons (needs {min_enrichment}), "
              f"permutation p={p:.2g}")
    if not math.isfinite(enrichment):
        return inconclusive(f"no all-shared neuron among the active ones; {reason}", "enrichment over "
                       "base rate", enrichment, ci, measured, params)
    holds = leading >= min_layer_share and enrichment > min_enrichment
    verdict = decide(holds, ci[0] > min_enrichment and p < alpha,
                     leading <= 1 - min_layer_share or ci[1] < min_enrichment)
    return Verdict(verdict, reason, "enrichment over base rate", enrichment, ci, measured, params)


def _span_ratio(spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """spans (examples, T) -> all-shared span and the widest other type's, per example with both (NaN dropped)."""
    others = np.delete(spans, ALL, axis=-1)
    widest_other = np.where(np.isnan(others).all(axis=-1), np.nan,
                            np.nanmax(np.where(np.isnan(others), -np.inf, others), axis=-1))
    keep = np.isfinite(spans[:, ALL]) & np.isfinite(widest_other)
    return spans[keep, ALL], widest_other[keep]


def effective_span_rule(spans: np.ndarray, *, min_ratio: float = 1.5, min_language_share: float = 2 / 3,
                        min_examples: int = 5, seed: int = 0) -> Verdict:
    """All-shared neurons have the widest span (max - min) of effective scores (§6.2, Tables 1 and 4), compared
    at one sample size.

    spans (examples, langs, T): per row, the span of a random subsample of the same number of neurons of each type
    (NaN where a type has fewer). Per language: ratio of the mean all-shared span to the mean span of the widest
    other type, over the examples where both exist, with a bootstrap interval. Supported when the interval is
    above ``min_ratio`` in at least ``min_language_share`` of the languages, refuted when it is below in more
    than the rest.
    """
    params = {"min_ratio": min_ratio, "min_language_share": min_language_share, "min_examples": min_examples,
              "seed": seed, "compared": "spans of equal-size random subsamples of each type, per row"}
    ratios, lows, highs, usable = [], [], [], []
    for lang in range(spans.shape[1]):
        shared, other = _span_ratio(spans[:, lang])
        if len(shared) < min_examples or other.mean() <= 0:
            continue
        usable.append(lang)
        ratios.append(float(shared.mean() / other.mean()))
        low, high = bootstrap_interval(lambda i, s=shared, o=other: float(s[i].mean() / max(o[i].mean(), 1e-300)),
                                       len(shared), seed=seed)
        lows.append(low)
        highs.append(high)
    measured = {"languages compared": len(usable),
                "span ratio all-shared / widest other (mean over languages)": float(np.mean(ratios)) if ratios
                else None}
    if not usable:
        return inconclusive(f"in no language do {min_examples} examples have rows where all-shared and "
                       "another type each have enough neurons for the sample (too few all-shared neurons?)",
                       "share of languages", measured=measured, params=params)
    wider, narrower = float(np.mean(np.array(lows) > min_ratio)), float(np.mean(np.array(highs) < min_ratio))
    share = float(np.mean(np.array(ratios) > min_ratio))
    measured |= {"languages where all-shared span is widest": wider, "languages where it is not": narrower,
                 "span ratio CI low (mean over languages)": float(np.mean(lows)),
                 "span ratio CI high (mean over languages)": float(np.mean(highs))}
    reason = (f"at equal sample size, the all-shared span is over {min_ratio}x the widest other type's in "
              f"{100 * wider:.0f}% of {len(usable)} languages (needs {100 * min_language_share:.0f}%) and below it "
              f"in {100 * narrower:.0f}%; mean ratio {np.mean(ratios):.2f}")
    verdict = decide(share >= min_language_share, wider >= min_language_share, narrower > 1 - min_language_share)
    return Verdict(verdict, reason, "share of languages", wider, (wider, wider), measured, params)
