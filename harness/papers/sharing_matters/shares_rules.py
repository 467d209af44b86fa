"""Decision rules of the findings on non-activated neurons and on the shape of the activated count
(pure functions of measured arrays, as in harness.papers.sharing_matters.rules, which holds the other type-share
rules)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from harness.core.stats import bootstrap_interval, bootstrap_support
from harness.core.verdict import Verdict, decide
from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC, TYPES


def non_activated_majority_rule(non_activated: np.ndarray, *, min_share: float = 0.5, min_examples: int = 5,
                                seed: int = 0) -> Verdict:
    """Over half of the neurons are non-activated (§5.1.4: "more than 50% of neurons having a zero or negative
    activation value across layers", Figs 2-4 left).

    non_activated: (examples, layers) share of a layer's neurons inactive in every language of the example.
    Statistic: the mean over layers and examples, with a bootstrap interval over examples; supported when the
    interval lies above ``min_share``, refuted when it lies below. The layers under ``min_share`` are recorded.
    """
    params = {"min_share": min_share, "min_examples": min_examples, "seed": seed,
              "share of": "a layer's neurons, mean over layers and examples"}
    n_examples, n_layers = non_activated.shape
    share = float(non_activated.mean()) if non_activated.size else float("nan")
    ci = bootstrap_interval(lambda idx: float(non_activated[idx].mean()), n_examples, seed=seed) \
        if n_examples else (share, share)
    per_layer = non_activated.mean(axis=0) if n_examples else np.zeros(n_layers)
    below = [int(i) for i in np.flatnonzero(per_layer <= min_share)]
    measured = {"non-activated % (mean over layers)": 100 * share,
                "non-activated % (lowest layer)": 100 * float(per_layer[0]) if n_layers else None,
                "layers at or under the limit": len(below), "layers": n_layers}
    reason = (f"{100 * share:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] of the neurons are non-activated (mean "
              f"over layers); {len(below)} of {n_layers} layers at or under {100 * min_share:.0f}%; must exceed "
              f"{100 * min_share:.0f}%")
    if n_examples < min_examples:
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples}); {reason}",
                       "non-activated share", share, ci, measured, params)
    verdict = decide(share > min_share, ci[0] > min_share, ci[1] < min_share)
    return Verdict(verdict, reason, "non-activated share", share, ci, measured, params)


def lowest_layer_non_activated_rule(non_activated: np.ndarray, *, min_share: float = 0.9, min_examples: int = 5,
                                    seed: int = 0) -> Verdict:
    """The lowest layer is almost entirely non-activated (§5.1.1: "nearly 99% of the neurons are non-activated in
    the first layer for XNLI and KE", which the paper ties to the prompts' last token, a punctuation mark).

    non_activated: (examples, layers) share of a layer's neurons inactive in every language of the example.
    Statistic: layer 0's share, mean over examples, with a bootstrap interval over examples; supported when the
    interval lies above ``min_share``, refuted when it lies below. The mean over the other layers is recorded.
    """
    params = {"min_share": min_share, "min_examples": min_examples, "seed": seed,
              "share of": "the lowest layer's neurons, mean over examples"}
    n_examples, n_layers = non_activated.shape
    lowest = non_activated[:, 0] if n_layers else np.zeros(n_examples)
    share = float(lowest.mean()) if n_examples else float("nan")
    ci = bootstrap_interval(lambda idx: float(lowest[idx].mean()), n_examples, seed=seed) \
        if n_examples else (share, share)
    others = float(non_activated[:, 1:].mean()) if n_examples and n_layers > 1 else None
    measured = {"non-activated % (lowest layer)": 100 * share,
                "non-activated % (mean over the other layers)": None if others is None else 100 * others}
    reason = (f"{100 * share:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] of the lowest layer's neurons are "
              f"non-activated; must exceed {100 * min_share:.0f}%")
    if n_examples < min_examples or not n_layers:
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples}); {reason}",
                       "non-activated share (lowest layer)", share, ci, measured, params)
    verdict = decide(share > min_share, ci[0] > min_share, ci[1] < min_share)
    return Verdict(verdict, reason, "non-activated share (lowest layer)", share, ci, measured, params)


def early_peak_shape(curve: np.ndarray, *, early: float, top: float, min_fall: float,
                     min_rise: float) -> tuple[bool, int, float, float]:
    """(shape holds, peak layer, relative fall after it, relative rise at the top) of one per-layer curve.

    The top band is the last ``top`` of the layers (at least one); the peak is the largest value below it, which
    must lie in the first ``early`` of the layers; the curve must then fall to a trough (below the top band) by
    ``min_fall`` of the peak and rise from the trough to the last layer by ``min_rise`` of the peak."""
    n = len(curve)
    body = n - max(1, math.ceil(top * n))
    if body < 2 or curve[:body].max() <= 0:
        return False, 0, 0.0, 0.0
    peak = int(np.argmax(curve[:body]))
    after = curve[peak + 1:body]
    trough = float(after.min()) if len(after) else float(curve[peak])
    fall = (float(curve[peak]) - trough) / float(curve[peak])
    rise = (float(curve[-1]) - trough) / float(curve[peak])
    return peak < math.ceil(early * n) and fall >= min_fall and rise >= min_rise, peak, fall, rise


def activated_early_peak_rule(activated: np.ndarray, *, early: float = 0.25, top: float = 0.2,
                              min_fall: float = 0.1, min_rise: float = 0.05, min_support: float = 0.95,
                              seed: int = 0) -> Verdict:
    """Every language's activated count per layer peaks early, falls, and rises again at the top (§5.1.2: "reaches
    the peak at around the 6-th layer and then declining ... at an upper layer (i.e., 28-th layer), the number of
    active neurons commences to pick up", of 30 layers).

    activated: (examples, langs, layers) share of a layer's neurons activated per row. The shape
    (``early_peak_shape``) must hold for every language's mean curve; support is the share of bootstrap resamples
    of the examples where it does. Supported when it holds with support >= ``min_support``, refuted when support
    <= 1 - ``min_support``. Effect: the share of languages where it holds.
    """
    params = {"early": early, "top": top, "min_fall": min_fall, "min_rise": min_rise, "min_support": min_support,
              "seed": seed, "shape": "peak below the top band in the first `early` of the layers, a fall of "
                                     "`min_fall` of the peak, a rise to the last layer of `min_rise` of the peak"}

    def shapes(indices: np.ndarray) -> list[tuple[bool, int, float, float]]:
        mean = activated[indices].mean(axis=0)  # (langs, layers)
        return [early_peak_shape(c, early=early, top=top, min_fall=min_fall, min_rise=min_rise) for c in mean]

    n_examples, n_langs, n_layers = activated.shape
    every = shapes(np.arange(n_examples))
    holding = sum(s[0] for s in every)
    support = bootstrap_support(lambda idx: all(s[0] for s in shapes(idx)), n_examples, seed=seed)
    peaks = [s[1] for s in every]
    measured = {"languages where it holds": holding, "languages": n_langs, "layers": n_layers,
                "latest peak layer": max(peaks), "smallest fall after the peak": min(s[2] for s in every),
                "smallest rise at the top": min(s[3] for s in every), "bootstrap support": support}
    reason = (f"the shape holds in {holding} of {n_langs} languages (peak layers {min(peaks)}-{max(peaks)} of "
              f"{n_layers}, early means under layer {math.ceil(early * n_layers)}; falls by at least "
              f"{100 * measured['smallest fall after the peak']:.0f}%, rises by at least "
              f"{100 * measured['smallest rise at the top']:.0f}% of the peak); in every language in "
              f"{100 * support:.0f}% of bootstrap resamples")
    verdict = decide(holding == n_langs, support >= min_support, support <= 1 - min_support)
    return Verdict(verdict, reason, "share of languages with the shape", holding / n_langs, (support, support),
                   measured, params)


def upper_partial_dominance_rule(shares: np.ndarray, *, upper: float = 1 / 3, min_active: float = 0.01,
                                 min_examples: int = 5, seed: int = 0) -> Verdict:
    """Partial-shared neurons outnumber each other activated type in the upper layers (§5.1.1: partial-shared
    neurons "tend to outnumber all other neurons moving towards upper layers"; fact probing, Fig. 4).

    shares: (examples, T, layers) share of each type (TYPES order) per example. The upper band is the last
    ``upper`` of the layers (at least one). Statistic: the partial-shared share minus the larger of the all-shared
    and specific shares, averaged over the band and the examples, with a bootstrap interval over examples;
    supported when the interval lies above 0, refuted when below. Inconclusive when the band's activated neurons
    (all but non-activated) are under ``min_active`` of its neurons: nearly empty layers rank nothing.
    """
    params = {"upper": upper, "min_active": min_active, "min_examples": min_examples, "seed": seed,
              "compared with": "the larger of the all-shared and specific shares, per layer of the band"}
    n_examples, _, n_layers = shares.shape
    band = shares[:, :, n_layers - max(1, math.ceil(upper * n_layers)):]  # (examples, T, band layers)
    margin = band[:, PARTIAL] - np.maximum(band[:, ALL], band[:, SPECIFIC])  # (examples, band layers)
    effect = float(margin.mean()) if n_examples else float("nan")
    ci = bootstrap_interval(lambda idx: float(margin[idx].mean()), n_examples, seed=seed) \
        if n_examples else (effect, effect)
    active = float(1 - band[:, NON].mean()) if n_examples else 0.0
    mean = band.mean(axis=(0, 2)) if n_examples else np.zeros(shares.shape[1])
    measured = {"upper layers": band.shape[2], "layers": n_layers, "activated % (upper layers)": 100 * active,
                "partial-shared % (upper layers)": 100 * float(mean[PARTIAL]),
                "all-shared % (upper layers)": 100 * float(mean[ALL]),
                "specific % (upper layers)": 100 * float(mean[SPECIFIC])}
    reason = (f"in the top {band.shape[2]} of {n_layers} layers partial-shared are {100 * mean[PARTIAL]:.1f}% of the "
              f"neurons, all-shared {100 * mean[ALL]:.1f}%, specific {100 * mean[SPECIFIC]:.1f}%; partial-shared "
              f"minus the larger other: {100 * effect:+.1f} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}] points")
    effect_name = "partial-shared minus the largest other activated type (upper layers)"
    if n_examples < min_examples:
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples}); {reason}", effect_name,
                       effect, ci, measured, params)
    if active < min_active:
        return Verdict("inconclusive", f"only {100 * active:.2f}% of the upper layers' neurons are activated "
                                       f"(< {100 * min_active:.0f}%): nothing to rank; {reason}", effect_name,
                       effect, ci, measured, params)
    return Verdict(decide(effect > 0, ci[0] > 0, ci[1] < 0), reason, effect_name, effect, ci, measured, params)


def shots_invariance_rule(shares: Mapping[int, np.ndarray], *, tolerance: float = 0.05, min_examples: int = 5,
                          seed: int = 0) -> Verdict:
    """In-context demonstrations leave the type shares unchanged (App. A.3.6: 0, 2, 4 and 6 demonstrations,
    "four types of neurons in scope have almost identical behaviors across various few-shot examples", Fig. 21).

    shares: demonstration count -> (examples, types, layers) each type's share of a layer's neurons per example,
    the same examples in the same order at every count (paired). Statistic: the largest absolute difference, over
    types, layers and counts, between a count's mean share and the fewest-demonstration count's (the reference),
    with a paired bootstrap interval over examples (the maximum recomputed in every resample); supported when the
    interval lies under ``tolerance`` (points of a layer's neurons), refuted when it lies above it. Per layer, not
    averaged over layers: demonstrations that move some layers' shares up and others' down leave the mean over
    layers where it was.
    """
    counts = sorted(shares)
    params = {"tolerance": tolerance, "min_examples": min_examples, "seed": seed, "shot counts": counts,
              "reference": counts[0] if counts else None,
              "difference of": "a type's share of a layer's neurons, mean over examples, against the reference's"}
    if len(counts) < 2:
        return Verdict("inconclusive", f"only {len(counts)} demonstration count(s); the rule compares at least two",
                       "largest share change", math.nan, (math.nan, math.nan), {}, params)
    reference = shares[counts[0]]
    if any(shares[k].shape != reference.shape for k in counts):
        raise ValueError("shares at every demonstration count must have the same (examples, types, layers) shape: "
                         + ", ".join(f"{k}: {shares[k].shape}" for k in counts))
    differences = np.stack([shares[k] - reference for k in counts[1:]])  # (counts - 1, examples, types, layers)
    n_examples = differences.shape[1]

    def largest(idx: np.ndarray) -> float:
        return float(np.abs(differences[:, idx].mean(axis=1)).max())

    if not n_examples:
        return Verdict("inconclusive", "no examples", "largest share change", math.nan, (math.nan, math.nan), {},
                       params)
    mean = differences.mean(axis=1)  # (counts - 1, types, layers)
    effect = float(np.abs(mean).max())
    ci = bootstrap_interval(largest, n_examples, seed=seed)
    at, t, layer = np.unravel_index(int(np.abs(mean).argmax()), mean.shape)
    measured: dict[str, float | None] = {f"largest change at {k} shots (points)": 100 * float(np.abs(mean[i]).max())
                                         for i, k in enumerate(counts[1:])}
    measured |= {"largest change (points)": 100 * effect, "its layer": int(layer),
                 "its shot count": counts[1 + at],
                 "largest change of a mean over layers (points)": 100 * float(np.abs(mean.mean(axis=-1)).max())}
    reason = (f"the largest change of a type's share of a layer against {counts[0]} shots is "
              f"{100 * mean[at, t, layer]:+.1f} points [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] ({TYPES[t]}, layer "
              f"{int(layer)}, {counts[1 + at]} shots); must stay within {100 * tolerance:.0f} points")
    if n_examples < min_examples:
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples}); {reason}",
                       "largest share change", effect, ci, measured, params)
    verdict = decide(effect < tolerance, ci[1] < tolerance, ci[0] > tolerance)
    return Verdict(verdict, reason, "largest share change", effect, ci, measured, params)
