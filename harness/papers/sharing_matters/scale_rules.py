"""Decision rules of App. A.3.5, one model family at two sizes (pure functions of measured arrays).

Two sizes of a family differ in depth (BLOOMZ-560m has 24 layers, BLOOMZ-7b1 30), so their curves are compared
over relative depth: layer l of L sits at (l + 0.5) / L, and the deeper model's curves are interpolated linearly
at the shallower model's layers.
"""

from __future__ import annotations

import numpy as np

from harness.core.stats import bootstrap_interval
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.neurons import TYPES


def relative_depths(n_layers: int) -> np.ndarray:
    """(layers,) each layer's middle as a share of the model's depth."""
    return (np.arange(n_layers) + 0.5) / n_layers


def at_depths(curves: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """curves (..., layers) read at relative ``depths`` by linear interpolation between layer middles (the ends
    held flat): (..., len(depths))."""
    own = relative_depths(curves.shape[-1])
    weights = np.stack([np.interp(depths, own, column) for column in np.eye(len(own))], axis=-1)  # (depths, layers)
    return curves @ weights.T


def scale_pattern_rule(larger: np.ndarray, smaller: np.ndarray, *, tolerance: float = 0.10, min_examples: int = 5,
                       seed: int = 0) -> Verdict:
    """The four types' curves over depth do not depend on the model's size (App. A.3.5: "no identifiable pattern
    difference can be observed to indicate a scale law effect", Fig. 20).

    larger, smaller: (examples, types, layers) each type's share of a layer's neurons per example, the same examples
    in the same order (paired); the layer counts may differ. Both are read at the shallower model's relative depths
    and each curve is centred on its mean over depth, so that a model that is only sparser or denser throughout
    (the paper's larger model has more non-activated neurons) keeps its pattern. Statistic: the largest absolute
    difference between the two models' centred mean curves, over types and depths, with a paired bootstrap interval
    over examples; supported when the interval lies under ``tolerance`` (points of a layer's neurons), refuted when
    above it. "Identifiable" is the paper's word; ``tolerance`` is our reading of it.
    """
    effect_name = "largest pattern difference"
    params = {"tolerance": tolerance, "min_examples": min_examples, "seed": seed,
              "difference of": "a type's share of a layer's neurons over relative depth, each curve centred on its "
                               "mean over depth"}
    if larger.shape[0] != smaller.shape[0] or larger.shape[1] != smaller.shape[1]:
        raise ValueError(f"the two sizes must be measured on the same examples and types: {larger.shape[:2]} vs "
                         f"{smaller.shape[:2]} (examples, types)")
    depths = relative_depths(min(larger.shape[-1], smaller.shape[-1]))
    a, b = at_depths(larger, depths), at_depths(smaller, depths)  # (examples, types, depths)
    n_examples = a.shape[0]
    if not n_examples:
        return inconclusive("no examples", effect_name, params=params)

    def centred_difference(idx: np.ndarray) -> np.ndarray:  # (types, depths)
        diff = a[idx].mean(axis=0) - b[idx].mean(axis=0)
        return diff - diff.mean(axis=-1, keepdims=True)

    difference = centred_difference(np.arange(n_examples))
    effect = float(np.abs(difference).max())
    ci = bootstrap_interval(lambda idx: float(np.abs(centred_difference(idx)).max()), n_examples, seed=seed)
    t, g = np.unravel_index(int(np.abs(difference).argmax()), difference.shape)
    aligned = min(larger.shape[-1], smaller.shape[-1])
    by_index = larger[:, :, :aligned].mean(axis=0) - smaller[:, :, :aligned].mean(axis=0)
    measured = {"largest pattern difference (points)": 100 * effect,
                "its type": TYPES[t], "its relative depth": round(float(depths[g]), 3),
                "layers (larger, smaller)": f"{larger.shape[-1]}, {smaller.shape[-1]}",
                "largest difference of means over layers (points)":
                    100 * float(np.abs(larger.mean(axis=(0, 2)) - smaller.mean(axis=(0, 2))).max()),
                "largest centred difference by layer index (points)":
                    100 * float(np.abs(by_index - by_index.mean(axis=-1, keepdims=True)).max())}
    reason = (f"the largest difference between the two sizes' centred curves is {100 * difference[t, g]:+.1f} "
              f"points [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}] ({TYPES[t]} at relative depth {depths[g]:.2f}); must "
              f"stay within {100 * tolerance:.0f} points")
    if n_examples < min_examples:
        return inconclusive(f"only {n_examples} examples (< {min_examples}); {reason}", effect_name, effect, ci,
                            measured, params)
    return Verdict(decide(effect < tolerance, ci[1] < tolerance, ci[0] > tolerance), reason, effect_name, effect, ci,
                   measured, params)


def upper_sparser_rule(larger: np.ndarray, smaller: np.ndarray, *, upper_from: float = 2 / 3,
                       min_difference: float = 0.01, min_examples: int = 5, seed: int = 0) -> Verdict:
    """The larger model has more non-activated neurons in its upper layers (App. A.3.5: "More non-activated
    neurons in the upper layers of BLOOMZ-7.1b", Fig. 20).

    larger, smaller: (examples, layers) share of a layer's neurons inactive in every language of the example, the
    same examples (paired). Upper layers: those whose middle lies at ``upper_from`` of the depth or above. Statistic:
    the larger model's mean share there minus the smaller's, with a paired bootstrap interval over examples;
    supported when the interval lies above ``min_difference``, refuted when below it. Shares, not counts: a larger
    model has more neurons, so more non-activated ones at any share; and the upper layers, not the whole network.
    """
    effect_name = "upper-layer non-activated difference"
    params = {"upper_from": upper_from, "min_difference": min_difference, "min_examples": min_examples,
              "seed": seed, "share of": "a layer's neurons, mean over the upper layers and examples"}
    if larger.shape[0] != smaller.shape[0]:
        raise ValueError(f"the two sizes must be measured on the same examples: {larger.shape[0]} vs "
                         f"{smaller.shape[0]}")
    upper_l, upper_s = (relative_depths(x.shape[-1]) >= upper_from for x in (larger, smaller))
    if not upper_l.any() or not upper_s.any():
        raise ValueError(f"upper_from={upper_from} leaves no upper layer in a model of "
                         f"{min(larger.shape[-1], smaller.shape[-1])} layers")
    per_example = larger[:, upper_l].mean(axis=-1) - smaller[:, upper_s].mean(axis=-1)  # (examples,)
    n_examples = len(per_example)
    if not n_examples:
        return inconclusive("no examples", effect_name, params=params)
    effect = float(per_example.mean())
    ci = bootstrap_interval(lambda idx: float(per_example[idx].mean()), n_examples, seed=seed)
    n_larger, n_smaller = int(upper_l.sum()), int(upper_s.sum())
    measured = {"upper non-activated % (larger)": 100 * float(larger[:, upper_l].mean()),
                "upper non-activated % (smaller)": 100 * float(smaller[:, upper_s].mean()),
                "upper layers (larger, smaller)": f"{n_larger}, {n_smaller}",
                "non-activated % over all layers (larger)": 100 * float(larger.mean()),
                "non-activated % over all layers (smaller)": 100 * float(smaller.mean())}
    reason = (f"non-activated share of the upper layers (from {upper_from:.2f} of the depth): larger minus smaller "
              f"{100 * effect:+.2f} points [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]; must exceed "
              f"{100 * min_difference:.0f} point(s)")
    if n_examples < min_examples:
        return inconclusive(f"only {n_examples} examples (< {min_examples}); {reason}", effect_name, effect, ci,
                            measured, params)
    return Verdict(decide(effect > min_difference, ci[0] > min_difference, ci[1] < min_difference), reason,
                   effect_name, effect, ci, measured, params)
