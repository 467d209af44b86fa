"""Decision rules of the claims on neuron types (shares per layer, examples, tasks, languages, thresholds, models),
as pure functions of measured arrays (unit-tested with hypothesis); the rules on accuracy and on attribution are
in harness.papers.sharing_matters.accuracy_rules and harness.papers.sharing_matters.attribution_rules.

Each returns a Verdict: supported when the paper's finding holds with its statistical condition, refuted
when it fails decisively, inconclusive otherwise (too few items, interval too wide). Parameters are named and
recorded with the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from harness.core.stats import bootstrap_ci, bootstrap_interval, bootstrap_support, mean_difference, ratio
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.density_rules import matched_layer_shares
from harness.papers.sharing_matters.neurons import NON, SPECIFIC, TYPES


def _relative_drop(before: np.ndarray, after: np.ndarray, axis: int = -1) -> np.ndarray:
    """(mean before - mean after) / mean before; 0 when before is 0."""
    b = before.mean(axis=axis)
    return np.where(b > 0, (b - after.mean(axis=axis)) / np.where(b > 0, b, 1), 0.0)


def share_increase_rule(ift: dict[str, np.ndarray], base: dict[str, np.ndarray], *,
                        matched: tuple[np.ndarray, np.ndarray] | None, min_difference: float = 0.005,
                        min_examples: int = 5, seed: int = 0) -> Verdict:
    """Instruction tuning raises the all-shared share and lowers the partial-shared share (§5.2), beyond what a
    denser model would show at the same activation density, and beyond what it raises on unrelated prompts (our
    controls).

    ift, base: per-example mean-over-layers shares (examples,), same examples, at the run's threshold:
    "all_shared" and "partial_shared" over the example's translations, "nonparallel_all_shared" over a tuple whose
    languages come from different examples (the same tuples in both models). matched: the IFT model's all-shared
    share at a per-layer threshold where its activation density equals the base model's, and the base model's
    all-shared share, both over the layers so matched (None when none is). A model that is only denser (pre-
    activations shifted up) has more all-shared neurons at any fixed threshold but none more at matched density. A
    model whose inputs all became more alike (one direction added to every input) gains all-shared neurons on
    unrelated prompts as on translations, which the paper's reading (multilingual alignment) does not explain: the
    rise on translations must exceed the rise on the non-parallel tuples by ``min_difference``.
    """
    params = {"min_difference": min_difference, "min_examples": min_examples, "seed": seed,
              "density control": "IFT all-shared share at a threshold matching the base model's activation density",
              "non-parallel control": "the rise on tuples of different examples' items, subtracted"}
    d_shared = float(ift["all_shared"].mean() - base["all_shared"].mean())
    d_partial = float(ift["partial_shared"].mean() - base["partial_shared"].mean())
    ci_shared = bootstrap_ci(mean_difference, ift["all_shared"], base["all_shared"], seed=seed)
    ci_partial = bootstrap_ci(mean_difference, ift["partial_shared"], base["partial_shared"], seed=seed)
    specific = [m["all_shared"] - m["nonparallel_all_shared"] for m in (ift, base)]  # per example, each model
    d_null = float(ift["nonparallel_all_shared"].mean() - base["nonparallel_all_shared"].mean())
    d_specific = d_shared - d_null
    ci_specific = bootstrap_ci(mean_difference, *specific, seed=seed)
    measured = {"all-shared share (IFT) %": 100 * float(ift["all_shared"].mean()),
                "all-shared share (base) %": 100 * float(base["all_shared"].mean()),
                "difference (points)": 100 * d_shared,
                "partial-shared share (IFT) %": 100 * float(ift["partial_shared"].mean()),
                "partial-shared share (base) %": 100 * float(base["partial_shared"].mean()),
                "partial-shared difference (points)": 100 * d_partial,
                "all-shared share on non-parallel tuples (IFT) %": 100 * float(ift["nonparallel_all_shared"].mean()),
                "all-shared share on non-parallel tuples (base) %":
                    100 * float(base["nonparallel_all_shared"].mean()),
                "difference on non-parallel tuples (points)": 100 * d_null,
                "difference specific to translations (points)": 100 * d_specific}
    reason = (f"IFT - base: all-shared {100 * d_shared:+.2f} points [{100 * ci_shared[0]:+.2f}, "
              f"{100 * ci_shared[1]:+.2f}], partial-shared {100 * d_partial:+.2f} [{100 * ci_partial[0]:+.2f}, "
              f"{100 * ci_partial[1]:+.2f}]")
    matched_ci = None
    if matched is not None:
        d_matched = float(matched[0].mean() - matched[1].mean())
        matched_ci = bootstrap_ci(mean_difference, *matched, seed=seed)
        measured["difference at matched density (points)"] = 100 * d_matched
        reason += (f"; all-shared at the base model's density {100 * d_matched:+.2f} [{100 * matched_ci[0]:+.2f}, "
                   f"{100 * matched_ci[1]:+.2f}] (must exceed {100 * min_difference:.1f})")
    else:
        reason += "; no threshold of the grid matches the base model's density"
    reason += (f"; on non-parallel tuples (each language from another example) all-shared {100 * d_null:+.2f}: "
               f"{100 * d_specific:+.2f} [{100 * ci_specific[0]:+.2f}, {100 * ci_specific[1]:+.2f}] specific to "
               f"translations (must exceed {100 * min_difference:.1f})")
    if len(ift["all_shared"]) < min_examples:
        return inconclusive(f"only {len(ift['all_shared'])} examples (< {min_examples}); {reason}",
                       "share difference (IFT - base)", d_shared, ci_shared, measured, params)
    holds = (d_shared > 0 and d_partial < 0 and matched_ci is not None and d_matched > min_difference
             and d_specific > min_difference)
    supported_if = (ci_shared[0] > 0 and ci_partial[1] < 0 and matched_ci is not None
                    and matched_ci[0] > min_difference and ci_specific[0] > min_difference)
    refuted_if = (ci_shared[1] <= 0 or ci_partial[0] > 0 or (matched_ci is not None and matched_ci[1] < min_difference)
                  or ci_specific[1] < min_difference)
    return Verdict(decide(holds, supported_if, refuted_if), reason, "share difference (IFT - base)", d_shared,
                   ci_shared, measured, params)


def density_matched_shares(thresholds: Sequence[float], density: np.ndarray, shares: np.ndarray,
                           target: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Per example, the mean over layers of ``shares`` at a per-layer threshold where the mean ``density`` meets
    ``target``, interpolated linearly between the grid's thresholds (``matched_layer_shares``).

    thresholds (thr,) rising; density, shares (examples, thr, layers); target (layers,). A layer still sparser
    than its target at the lowest threshold is read there: its all-shared share at the matching threshold, below
    the grid, is at least that (it can only fall as the threshold rises), and a sparser layer is no denser
    alternative. A layer still denser than its target at the highest threshold cannot be matched. Returns
    the per-example shares over the layers read (None when there are none) and the threshold read per layer (NaN
    where none).
    """
    per_layer, at = matched_layer_shares(thresholds, density, shares, target)  # (examples, layers)
    sparser = density.mean(axis=0)[0] < target  # (layers,) sparser than the target even at the lowest threshold
    per_layer[:, sparser], at[sparser] = shares[:, 0, sparser], thresholds[0]
    matched = np.isfinite(at)
    return (per_layer[:, matched].mean(axis=-1) if matched.any() else None), at


def peak_holds(curve: np.ndarray, *, edge_low: float, edge_high: float, min_fall: float) -> tuple[bool, int, float]:
    """(rule holds, argmax layer, relative fall after the peak) for one per-layer share curve; NaN layers (not
    compared) are left out, keeping every other layer's place in the depth."""
    n = len(curve)
    if not np.isfinite(curve).any():
        return False, 0, 0.0
    peak = int(np.nanargmax(curve))
    interior = math.ceil(edge_low * n) <= peak < n - math.ceil(edge_high * n)
    after = curve[peak + 1:][np.isfinite(curve[peak + 1:])]
    fall = float((curve[peak] - after.min()) / curve[peak]) if len(after) and curve[peak] > 0 else 0.0
    return interior and fall >= min_fall, peak, fall


def mid_layer_peak_rule(example_curves: np.ndarray, *, edge_low: float = 0.1, edge_high: float = 0.2,
                        min_fall: float = 0.25, min_support: float = 0.95, min_compared: float = 0.75,
                        seed: int = 0) -> Verdict:
    """The all-shared share per layer peaks in an interior layer and falls after it.

    example_curves: (examples, layers) all-shared share per example, NaN in a layer that is not compared (the
    density control: one that cannot be read at the common density); the rule is applied to the mean curve and to
    bootstrap resamples of the examples (support = share of resamples where it holds). Inconclusive when under
    ``min_compared`` of the layers are compared.
    """
    params = {"edge_low": edge_low, "edge_high": edge_high, "min_fall": min_fall, "min_support": min_support,
              "min_compared": min_compared, "seed": seed}
    curve = example_curves.mean(axis=0)
    holds, peak, fall = peak_holds(curve, edge_low=edge_low, edge_high=edge_high, min_fall=min_fall)
    support = bootstrap_support(lambda idx: peak_holds(example_curves[idx].mean(axis=0), edge_low=edge_low,
                                                       edge_high=edge_high, min_fall=min_fall)[0],
                                len(example_curves), seed=seed)
    n_layers, compared = len(curve), int(np.isfinite(curve).sum())
    measured = {"peak layer": peak, "layers": n_layers, "peak share %": 100 * float(curve[peak]),
                "relative fall after peak": fall, "bootstrap support": support, "layers compared": compared}
    reason = (f"all-shared share peaks at layer {peak} of {n_layers} ({100 * curve[peak]:.1f}%), falls by "
              f"{100 * fall:.0f}% after it; rule holds in {100 * support:.0f}% of bootstrap resamples")
    effect = peak / max(n_layers - 1, 1)
    if compared < min_compared * n_layers:
        return inconclusive(f"only {compared} of {n_layers} layers compared (< {100 * min_compared:.0f}%); "
                            f"{reason}", "peak layer (fraction of depth)", effect, (support, support), measured,
                            params)
    if compared < n_layers:
        reason += f" ({compared} of {n_layers} layers compared)"
    verdict = decide(holds, support >= min_support, support <= 1 - min_support)
    return Verdict(verdict, reason, "peak layer (fraction of depth)", effect, (support, support), measured, params)


def dead_across_tokens_rule(dead: np.ndarray, n_examples: int, *, max_dead: float = 0.008,
                            min_examples: int = 5) -> Verdict:
    """Few neurons stay inactive at every token of an input (§5.1.4, Fig. 6: under 0.8%).

    dead: (layers,) share of a layer's neurons inactive at every real token, averaged over inputs.
    """
    params = {"max_dead": max_dead, "min_examples": min_examples, "share of": "all neurons of a layer"}
    mean, worst = float(dead.mean()), int(np.argmax(dead))
    measured = {"dead across tokens % (mean over layers)": 100 * mean,
                "dead across tokens % (worst layer)": 100 * float(dead[worst]), "worst layer": worst}
    if n_examples < min_examples:
        return inconclusive(f"only {n_examples} examples (< {min_examples})", "dead share", mean,
                       (mean, mean), measured, params)
    reason = (f"{100 * mean:.2f}% of neurons are inactive at every token (mean over layers; worst layer {worst}: "
              f"{100 * dead[worst]:.2f}%), limit {100 * max_dead:.1f}%")
    return Verdict("supported" if mean < max_dead else "refuted", reason, "dead share", mean, (mean, mean),
                   measured, params)


def language_consistency_rule(activated: np.ndarray, *, max_spread: float = 0.35, min_active: float = 0.01,
                              max_skipped: float = 0.25, min_examples: int = 5, seed: int = 0) -> Verdict:
    """The share of activated neurons per layer hardly depends on the input's language (§5.1.2, Figs 2-4 right).

    activated: (examples, langs, layers) share of activated neurons per row. Spread of a layer = (max - min) over
    languages of the mean share, relative to the layer's mean over languages: scale-free, so a model that is only
    sparser has the same spread (absolute points shrink with density while languages still differ several-fold).
    Layers under ``min_active`` active are skipped (a few neurons make a relative spread there) and count against
    support: it needs at most ``max_skipped`` of the layers skipped. Statistic: the largest spread over the other
    layers, with a bootstrap interval over examples; refuted when its interval lies above ``max_spread`` (skipped
    layers do not save a layer that is read).
    """
    params = {"max_spread": max_spread, "min_active": min_active, "max_skipped": max_skipped,
              "min_examples": min_examples, "seed": seed,
              "spread": "(max - min) over languages of the activated share, relative to its mean over languages"}
    n_examples, _, n_layers = activated.shape
    layers = np.flatnonzero(activated.mean(axis=(0, 1)) >= min_active)

    def spreads(indices: np.ndarray) -> np.ndarray:
        mean = activated[indices][:, :, layers].mean(axis=0)  # (langs, kept layers)
        level = mean.mean(axis=0)  # (kept layers,) 0 only where a resample drew no active row: no spread
        return np.where(level > 0, mean.max(axis=0) - mean.min(axis=0), 0.0) / np.where(level > 0, level, 1.0)

    def largest_spread(indices: np.ndarray) -> float:
        return float(spreads(indices).max()) if len(layers) else 0.0

    spread = largest_spread(np.arange(n_examples))
    ci = bootstrap_interval(largest_spread, n_examples, seed=seed)
    worst = int(layers[np.argmax(spreads(np.arange(n_examples)))]) if len(layers) else -1
    mean = activated.mean(axis=0)  # (langs, layers)
    skipped = n_layers - len(layers)
    measured = {"largest relative spread across languages": spread, "layer of largest spread": worst,
                "largest ratio between languages in that layer": float(mean[:, worst].max() / mean[:, worst].min())
                if len(layers) and mean[:, worst].min() > 0 else None,
                "largest spread across languages (points)": 100 * float((mean.max(axis=0) - mean.min(axis=0)).max()),
                "layers skipped (under min_active)": skipped, "layers": n_layers}
    reason = (f"activated share differs across languages by at most {100 * spread:.0f}% [{100 * ci[0]:.0f}%, "
              f"{100 * ci[1]:.0f}%] of its mean (layer {worst}); limit {100 * max_spread:.0f}%; {skipped} of "
              f"{n_layers} layers under {100 * min_active:g}% active not read (at most {100 * max_skipped:.0f}%)")
    if n_examples < min_examples or not len(layers):
        return inconclusive(f"needs {min_examples} examples and a layer with {100 * min_active:g}% "
                            f"active; {reason}", "largest relative spread", spread, ci, measured, params)
    read_enough = skipped <= max_skipped * n_layers
    verdict = decide(spread <= max_spread and read_enough, ci[1] <= max_spread, ci[0] > max_spread)
    if verdict == "inconclusive" and not read_enough and ci[1] <= max_spread:
        reason = f"too few layers read to support it: {reason}"
    return Verdict(verdict, reason, "largest relative spread", spread, ci, measured, params)


def non_repeating_rule(overlap: np.ndarray, shares: np.ndarray, null_now: np.ndarray, null_later: np.ndarray,
                       n_examples: int, *, later_examples: int = 1000, max_active_overlap: float = 0.01,
                       max_inactive_repeat: float = 0.10, min_examples: int = 20) -> Verdict:
    """Almost no neuron keeps its type across examples, and under 10% of non-activated neurons stay so (§5.1.3-5.1.4,
    over the whole test set).

    overlap (T, layers): share of a layer's neurons with type t in every one of the ``n_examples`` examples;
    shares (T, layers): mean share of each type. Overlap can only fall as examples are added, so below the limits
    now is below them on any larger set. Above them, part of it is chance: null_now and null_later (T, layers) are
    the overlaps expected if every neuron were active independently at its own per-language rate, over
    ``n_examples`` and over ``later_examples`` examples. The overlap expected on ``later_examples`` examples is the
    observed excess over chance plus chance there: max(overlap - null_now, 0) + null_later. Neurons that never
    changed (rates 0 or 1) count fully in both.
    """
    params = {"max_active_overlap": max_active_overlap, "max_inactive_repeat": max_inactive_repeat,
              "min_examples": min_examples, "later_examples": later_examples,
              "null": "independent activity at each neuron's per-language rate"}
    projected = np.maximum(overlap - null_now, 0) + null_later  # (T, layers)

    def metrics(o: np.ndarray) -> tuple[float, float]:
        active = float(o[SPECIFIC:].sum(axis=0).mean())  # neurons keeping one active type, mean over layers
        inactive = ratio(o[NON].sum(), shares[NON].sum(), 0.0)
        return active, inactive

    (active_now, inactive_now), (active_later, inactive_later) = metrics(overlap), metrics(projected)
    measured = {"non-activated neurons that stay so in every example %": 100 * inactive_now,
                "neurons keeping an active type in every example % (mean over layers)": 100 * active_now,
                f"non-activated that stay so, expected over {later_examples} examples %": 100 * inactive_later,
                f"keeping an active type, expected over {later_examples} examples %": 100 * active_later,
                "examples": n_examples,
                **{f"overlap {name.replace('_', '-')} % (mean over layers)": 100 * float(overlap[t].mean())
                   for t, name in enumerate(TYPES)}}
    below_now = active_now < max_active_overlap and inactive_now < max_inactive_repeat
    below_later = active_later < max_active_overlap and inactive_later < max_inactive_repeat
    reason = (f"{100 * inactive_now:.1f}% of non-activated neurons stay so in all {n_examples} examples "
              f"({100 * inactive_later:.1f}% expected over {later_examples}; limit {100 * max_inactive_repeat:.0f}%); "
              f"{100 * active_now:.2f}% of neurons keep an active type in every example ({100 * active_later:.2f}% "
              f"expected; limit {100 * max_active_overlap:.0f}%)")
    if n_examples < min_examples and not below_now:
        reason += f"; only {n_examples} examples (< {min_examples}): overlap may still fall with more"
    # below the limits now holds on any larger set; otherwise the expectation over later_examples decides
    verdict = decide(below_now or below_later, below_now or n_examples >= min_examples, n_examples >= min_examples)
    return Verdict(verdict, reason, "share of non-activated neurons that repeat", inactive_now,
                   (inactive_later, inactive_now), measured, params)


def task_dependence_rule(shared: tuple[np.ndarray, np.ndarray], partial: tuple[np.ndarray, np.ndarray], *,
                         min_difference: float = 0.01, min_examples: int = 5, seed: int = 0) -> Verdict:
    """Task A (XNLI, KE) has more all-shared neurons than task B (fact probing), and B more partial-shared (§5.1.1).

    shared, partial: (per-example share in task A (examples_a,), in task B (examples_b,)), each the mean over
    layers. The tasks' examples differ, so the intervals resample each task on its own. Supported when both
    differences are above ``min_difference`` with their intervals, refuted when either interval is below it.
    """
    params = {"min_difference": min_difference, "min_examples": min_examples, "seed": seed}
    d_shared = float(shared[0].mean() - shared[1].mean())
    d_partial = float(partial[1].mean() - partial[0].mean())
    ci_shared = bootstrap_ci(mean_difference, *shared, seed=seed, paired=False)
    ci_partial = bootstrap_ci(mean_difference, partial[1], partial[0], seed=seed, paired=False)
    measured = {"all-shared % (task)": 100 * float(shared[0].mean()), "all-shared % (fact probing)":
                100 * float(shared[1].mean()), "partial-shared % (task)": 100 * float(partial[0].mean()),
                "partial-shared % (fact probing)": 100 * float(partial[1].mean()),
                "all-shared difference (points)": 100 * d_shared, "partial-shared difference (points)": 100 * d_partial,
                "partial-shared difference CI low": 100 * ci_partial[0],
                "partial-shared difference CI high": 100 * ci_partial[1]}
    reason = (f"all-shared {100 * d_shared:+.2f} points [{100 * ci_shared[0]:+.2f}, {100 * ci_shared[1]:+.2f}] over "
              f"fact probing; partial-shared {100 * d_partial:+.2f} points [{100 * ci_partial[0]:+.2f}, "
              f"{100 * ci_partial[1]:+.2f}] under it (each must exceed {100 * min_difference:.0f} point)")
    if min(len(shared[0]), len(shared[1])) < min_examples:
        return inconclusive(f"too few examples (< {min_examples}); {reason}", "all-shared difference",
                       d_shared, ci_shared, measured, params)
    holds = d_shared > min_difference and d_partial > min_difference
    verdict = decide(holds, min(ci_shared[0], ci_partial[0]) > min_difference,
                     min(ci_shared[1], ci_partial[1]) < min_difference)
    return Verdict(verdict, reason, "all-shared difference (task - fact probing)", d_shared, ci_shared, measured,
                   params)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x.mean(axis=axis)


def language_count_rule(shared: np.ndarray, partial: np.ndarray, counts: list[int], *, min_rise: float = 0.01,
                        max_relative_drop: float = 1 / 3, min_examples: int = 5, seed: int = 0) -> Verdict:
    """More languages: the partial-shared share rises and the all-shared share falls only slightly (App. A.3.4).

    shared, partial: (examples, counts) per-example share (mean over layers) of each type when neurons are
    classified over k languages (averaged over random subsets of k), k = ``counts`` in rising order. Compared: the
    fewest against the most
    languages, paired per example. Supported when the partial-shared rise exceeds ``min_rise`` and the all-shared
    relative drop stays under ``max_relative_drop``, each with its interval.
    """
    params = {"min_rise": min_rise, "max_relative_drop": max_relative_drop, "min_examples": min_examples,
              "seed": seed, "languages": "random subsets of k of the task's languages, several draws"}
    rise = float(partial[:, -1].mean() - partial[:, 0].mean())
    drop = float(_relative_drop(shared[:, 0], shared[:, -1], axis=0))
    rise_ci = bootstrap_ci(mean_difference, partial[:, -1], partial[:, 0], seed=seed)
    drop_ci = bootstrap_ci(_relative_drop, shared[:, 0], shared[:, -1], seed=seed)
    measured = {**{f"all-shared % ({k} languages)": 100 * float(v)
                   for k, v in zip(counts, shared.mean(axis=0), strict=True)},
                **{f"partial-shared % ({k} languages)": 100 * float(v)
                   for k, v in zip(counts, partial.mean(axis=0), strict=True)},
                "partial-shared rise (points)": 100 * rise, "all-shared relative drop": drop,
                "all-shared relative drop CI low": drop_ci[0], "all-shared relative drop CI high": drop_ci[1]}
    reason = (f"from {counts[0]} to {counts[-1]} languages: partial-shared {100 * rise:+.2f} points "
              f"[{100 * rise_ci[0]:+.2f}, {100 * rise_ci[1]:+.2f}] (must rise over {100 * min_rise:.0f} point), "
              f"all-shared falls by {100 * drop:.0f}% [{100 * drop_ci[0]:.0f}%, {100 * drop_ci[1]:.0f}%] of its "
              f"share (must stay under {100 * max_relative_drop:.0f}%)")
    if len(counts) < 2 or len(shared) < min_examples:
        return inconclusive(f"needs two language counts and {min_examples} examples; {reason}",
                       "partial-shared rise", rise, rise_ci, measured, params)
    holds = rise > min_rise and drop < max_relative_drop
    verdict = decide(holds, rise_ci[0] > min_rise and drop_ci[1] < max_relative_drop,
                     rise_ci[1] < min_rise or drop_ci[0] > max_relative_drop)
    return Verdict(verdict, reason, "partial-shared rise (most - fewest languages)", rise, rise_ci, measured,
                   params)


def _retention_gap(upper_0: np.ndarray, upper_t: np.ndarray, lower_0: np.ndarray, lower_t: np.ndarray,
                   axis: int = -1) -> np.ndarray:
    """Share of the upper half's active neurons kept at threshold t, minus the lower half's (ratio of means)."""
    def kept(at_0: np.ndarray, at_t: np.ndarray) -> np.ndarray:
        before = at_0.mean(axis=axis)
        return np.where(before > 0, at_t.mean(axis=axis) / np.where(before > 0, before, 1), 0.0)
    return kept(upper_0, upper_t) - kept(lower_0, lower_t)


def threshold_sweep_rule(active: np.ndarray, thresholds: list[float], *, min_examples: int = 5,
                         seed: int = 0) -> Verdict:
    """Above a threshold > 0 the upper layers keep more active neurons than the lower ones (App. A.3.7, Fig. 22).

    active: (examples, thresholds, layers) share of a layer's neurons active in at least one language, at each
    threshold (rising, the first one the baseline, e.g. 0). Lower half = the first floor(layers / 2) layers, upper
    half = the last floor(layers / 2). Two conditions, each with a paired bootstrap interval over examples: at every
    threshold above the first, the upper half has the larger active share; and at the highest threshold the upper
    half keeps a larger part of its baseline active neurons (its activations are larger).
    """
    n_examples, n_thresholds, n_layers = active.shape
    half = n_layers // 2
    params = {"min_examples": min_examples, "seed": seed, "lower half": f"layers 0-{half - 1}",
              "upper half": f"layers {n_layers - half}-{n_layers - 1}", "active": "in at least one language"}
    if n_thresholds < 2 or half == 0 or n_examples < min_examples:
        return inconclusive(f"needs a raised threshold, two layers and {min_examples} examples (got "
                       f"{n_thresholds} thresholds, {n_layers} layers, {n_examples} examples)",
                       "upper - lower active share", params=params)
    lower, upper = active[..., :half].mean(axis=-1), active[..., -half:].mean(axis=-1)  # (examples, thresholds)
    gaps = upper[:, 1:] - lower[:, 1:]  # (examples, raised thresholds)
    gap_cis = [bootstrap_ci(_mean, gaps[:, i], seed=seed) for i in range(gaps.shape[1])]
    retention = float(_retention_gap(upper[:, 0], upper[:, -1], lower[:, 0], lower[:, -1], axis=0))
    retention_ci = bootstrap_ci(_retention_gap, upper[:, 0], upper[:, -1], lower[:, 0], lower[:, -1], seed=seed)
    measured = {**{f"active % upper - lower (threshold {t})": 100 * float(g)
                   for t, g in zip(thresholds, upper.mean(axis=0) - lower.mean(axis=0), strict=True)},
                f"kept at threshold {thresholds[-1]}: upper - lower": retention,
                "kept: upper - lower CI low": retention_ci[0], "kept: upper - lower CI high": retention_ci[1]}
    gap = float(gaps[:, -1].mean())
    reason = ("upper - lower active share " + ", ".join(
        f"{100 * gaps[:, i].mean():+.1f} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}] points at {t}"
        for i, (t, ci) in enumerate(zip(thresholds[1:], gap_cis, strict=True))) +
        f"; upper half keeps {100 * retention:+.0f} [{100 * retention_ci[0]:+.0f}, {100 * retention_ci[1]:+.0f}] "
        f"points more of its active neurons at {thresholds[-1]}")
    holds = all(gaps.mean(axis=0) > 0) and retention > 0
    verdict = decide(holds, all(ci[0] > 0 for ci in gap_cis) and retention_ci[0] > 0,
                     any(ci[1] < 0 for ci in gap_cis) or retention_ci[1] < 0)
    return Verdict(verdict, reason, f"upper - lower active share at threshold {thresholds[-1]}", gap, gap_cis[-1],
                   measured, params)
