"""The layer-shape rules and the template control as they were before issue 27's round of alternatives (kept verbatim,
for tests/test_adversarial_shapes.py only): each adversarial planted model there fools one of them and not the rule
that replaced it.

- ``mid_layer_peak_rule`` read the all-shared share at the run's threshold only: a layer made uniformly denser makes
  a peak there.
- ``language_consistency_rule`` compared absolute spreads (points of a layer's neurons) and skipped layers under 1%
  active without counting them: a uniformly sparser model passes while its languages differ several-fold.
- ``with_content_control`` kept the last token's verdict whatever the content end gave: a finding on the shared
  template tail alone was supported.
"""

from __future__ import annotations

import math

import numpy as np

from harness.core.stats import bootstrap_interval, bootstrap_support
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.template_control import CONTENT_END, control_table


def peak_holds(curve: np.ndarray, *, edge_low: float, edge_high: float, min_fall: float) -> tuple[bool, int, float]:
    """(rule holds, argmax layer, relative fall after the peak) for one per-layer share curve."""
    n = len(curve)
    peak = int(np.argmax(curve))
    interior = math.ceil(edge_low * n) <= peak < n - math.ceil(edge_high * n)
    after = curve[peak + 1:]
    fall = float((curve[peak] - after.min()) / curve[peak]) if len(after) and curve[peak] > 0 else 0.0
    return interior and fall >= min_fall, peak, fall


def mid_layer_peak_rule(example_curves: np.ndarray, *, edge_low: float = 0.1, edge_high: float = 0.2,
                        min_fall: float = 0.25, min_support: float = 0.95, seed: int = 0) -> Verdict:
    """The all-shared share per layer peaks in an interior layer and falls after it.

    example_curves: (examples, layers) all-shared share per example; the rule is applied to the mean curve and
    to bootstrap resamples of the examples (support = share of resamples where it holds).
    """
    params = {"edge_low": edge_low, "edge_high": edge_high, "min_fall": min_fall, "min_support": min_support,
              "seed": seed}
    curve = example_curves.mean(axis=0)
    holds, peak, fall = peak_holds(curve, edge_low=edge_low, edge_high=edge_high, min_fall=min_fall)
    support = bootstrap_support(lambda idx: peak_holds(example_curves[idx].mean(axis=0), edge_low=edge_low,
                                                       edge_high=edge_high, min_fall=min_fall)[0],
                                len(example_curves), seed=seed)
    n_layers = len(curve)
    measured = {"peak layer": peak, "layers": n_layers, "peak share %": 100 * float(curve[peak]),
                "relative fall after peak": fall, "bootstrap support": support}
    verdict = decide(holds, support >= min_support, support <= 1 - min_support)
    reason = (f"all-shared share peaks at layer {peak} of {n_layers} ({100 * curve[peak]:.1f}%), falls by "
              f"{100 * fall:.0f}% after it; rule holds in {100 * support:.0f}% of bootstrap resamples")
    return Verdict(verdict, reason, "peak layer (fraction of depth)", peak / max(n_layers - 1, 1),
                   (support, support), measured, params)


def language_consistency_rule(activated: np.ndarray, *, max_spread: float = 0.05, min_active: float = 0.01,
                              min_examples: int = 5, seed: int = 0) -> Verdict:
    """The share of activated neurons per layer hardly depends on the input's language (§5.1.2, Figs 2-4 right).

    activated: (examples, langs, layers) share of activated neurons per row. Spread of a layer = max - min over
    languages of the mean share (points of the layer's neurons, not relative: a relative spread explodes in a
    layer where almost nothing is active); layers under ``min_active`` active are skipped. Statistic: the largest
    spread over the other layers, with a bootstrap interval over examples.
    """
    params = {"max_spread": max_spread, "min_active": min_active, "min_examples": min_examples, "seed": seed,
              "spread": "max - min over languages of the activated share, in points of the layer's neurons"}
    layers = np.flatnonzero(activated.mean(axis=(0, 1)) >= min_active)

    def largest_spread(indices: np.ndarray) -> float:
        mean = activated[indices][:, :, layers].mean(axis=0)  # (langs, kept layers)
        return float((mean.max(axis=0) - mean.min(axis=0)).max()) if len(layers) else 0.0

    n_examples = len(activated)
    spread = largest_spread(np.arange(n_examples))
    ci = bootstrap_interval(largest_spread, n_examples, seed=seed)
    mean = activated.mean(axis=0)
    per_layer = mean.max(axis=0) - mean.min(axis=0)
    worst = int(layers[np.argmax(per_layer[layers])]) if len(layers) else -1
    measured = {"largest spread across languages (points)": 100 * spread, "layer of largest spread": worst,
                "layers skipped (under min_active)": int(activated.shape[-1] - len(layers))}
    reason = (f"activated share differs across languages by at most {100 * spread:.2f} [{100 * ci[0]:.2f}, "
              f"{100 * ci[1]:.2f}] points (layer {worst}); limit {100 * max_spread:.0f} points")
    if n_examples < min_examples or not len(layers):
        return inconclusive(f"needs {min_examples} examples and a layer with {100 * min_active:.0f}% "
                       f"active; {reason}", "largest spread", spread, ci, measured, params)
    verdict = decide(spread <= max_spread, ci[1] <= max_spread, ci[0] > max_spread)
    return Verdict(verdict, reason, "largest spread", spread, ci, measured, params)


def with_content_control(at_last: Verdict, at_content: Verdict, *, claim: str, instance: str) -> Verdict:
    """``at_last`` (the claim's verdict) with the rule's verdict at the content end beside it: in ``controls``, in
    a measured number, in the reason and in a table of the report."""
    at_last.controls[CONTENT_END] = {"verdict": at_content.verdict, "reason": at_content.reason,
                                     "effect_name": at_content.effect_name, "effect": at_content.effect,
                                     "ci": list(at_content.ci)}
    at_last.measured[f"{at_content.effect_name} at the content end"] = at_content.effect
    if at_last.verdict == at_content.verdict:
        at_last.reason += f"; survives at the end of the translated content ({at_content.reason})"
    elif at_last.verdict == "supported":
        at_last.reason += (f"; holds only at the shared English tail: at the end of the translated content it is "
                           f"{at_content.verdict} ({at_content.reason})")
    else:
        at_last.reason += f"; at the end of the translated content it is {at_content.verdict} ({at_content.reason})"
    at_last.tables.append(control_table(at_last, at_content, claim=claim, instance=instance))
    return at_last
