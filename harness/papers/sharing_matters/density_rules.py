"""The density control of the layer-shape claims (pure functions of measured arrays).

A layer in which more neurons fire, every pre-activation raised alike and no neuron's preference among the languages
changed, has more all-shared neurons at any fixed threshold (and a different mix of the other types): a shape of
type shares over the layers can be a shape of activation density. The control reads every layer at one density,
the sparsest read layer's: each layer at the threshold of the measured grid where its share of active (neuron,
language) pairs equals it. Only thresholds at or above the run's own are used, so a layer is never made denser
(under GELU a negative threshold counts every switched-off neuron as active). Layers under ``min_active`` active are
not compared: a near-empty layer would set every layer's density to almost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.core.verdict import Verdict

MATCHED_DENSITY = "matched density"


def matched_layer_shares(thresholds: Sequence[float], density: np.ndarray, shares: np.ndarray,
                         target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, ``shares`` at the threshold where the mean ``density`` meets ``target``, interpolated linearly
    between the grid's thresholds.

    thresholds (thr,) rising; density (examples, thr, layers), falling as the threshold rises; shares (examples, thr,
    ..., layers); target (layers,), NaN for a layer not to be matched. Returns the shares (examples, ..., layers) and
    the matched threshold per layer (layers,), both NaN where the target is NaN or outside the grid's densities.
    """
    mean = density.mean(axis=0)  # (thr, layers)
    grid = np.asarray(thresholds, dtype=float)
    matched = np.full(shares[:, 0].shape, np.nan)
    at = np.full(mean.shape[1], np.nan)
    for layer in range(mean.shape[1]):
        curve = mean[:, layer]
        if not curve[-1] <= target[layer] <= curve[0]:  # False for a NaN target
            continue
        below = int(np.searchsorted(-curve, -target[layer], side="right"))  # first grid point under the target
        j = min(max(below, 1), len(grid) - 1)
        span = curve[j - 1] - curve[j] if j else 0.0
        w = 0.0 if span <= 0 else (curve[j - 1] - target[layer]) / span  # between grid points j - 1 and j
        at[layer] = grid[j - 1] + w * (grid[j] - grid[j - 1]) if j else grid[0]
        matched[..., layer] = (1 - w) * shares[:, max(j - 1, 0), ..., layer] + w * shares[:, j, ..., layer]
    return matched, at


def common_density(density: np.ndarray, *, min_active: float = 0.01) -> np.ndarray:
    """The density every layer is read at: the sparsest read layer's mean density, for each layer with at least
    ``min_active`` of its (neuron, language) pairs active (NaN for the others, which are not compared).

    density: (examples, layers) share of a layer's (neuron, language) pairs active at the run's threshold."""
    mean = density.mean(axis=0)
    read = mean >= min_active
    return np.where(read, mean[read].min() if read.any() else np.nan, np.nan)


def density_controlled(paper: Verdict, matched: Verdict) -> Verdict:
    """``paper`` (the rule at the run's threshold, the paper's reading) judged together with ``matched`` (the same
    rule with every layer at one density): supported when both are, refuted when either is (a shape that is gone at
    matched density is the density's), inconclusive otherwise. Both are recorded: the control in ``controls``, a
    measured number and the reason."""
    paper.controls[MATCHED_DENSITY] = {"verdict": matched.verdict, "reason": matched.reason,
                                       "effect_name": matched.effect_name, "effect": matched.effect,
                                       "ci": list(matched.ci)}
    paper.measured[f"{matched.effect_name} at matched density"] = matched.effect
    verdicts = {paper.verdict, matched.verdict}
    combined = ("supported" if verdicts == {"supported"} else "refuted" if "refuted" in verdicts
                else "inconclusive")
    if combined == paper.verdict:
        paper.reason += f"; at matched density {matched.verdict} ({matched.reason})"
    else:
        why = "and either reading refutes" if combined == "refuted" else "and supported needs both"
        paper.reason = (f"{paper.verdict} at the run's threshold but {matched.verdict} with every layer at one "
                        f"activation density, {why}: at the run's threshold {paper.reason}; at matched density "
                        f"{matched.reason}")
        paper.verdict = combined
    return paper
