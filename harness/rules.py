"""Decision rules of the claims, as pure functions of measured arrays (unit-tested with hypothesis).

Each returns a Verdict: supported when the paper's finding holds with its statistical condition, refuted
when it fails decisively, inconclusive otherwise (too few items, interval too wide). Parameters are named and
recorded with the verdict.
"""

from __future__ import annotations

import math

import numpy as np

from harness.stats import bootstrap_ci, bootstrap_support, mcnemar, mean_difference
from harness.verdict import Verdict, decide

ABLATION_CONTROLS = ("specific", "partial_shared", "random")


def _relative_drop(base: np.ndarray, ablated: np.ndarray, axis: int = -1) -> np.ndarray:
    before = base.mean(axis=axis)
    return np.where(before > 0, (before - ablated.mean(axis=axis)) / np.where(before > 0, before, 1), 0.0)


def ablation_rule(base: np.ndarray, ablated: dict[str, np.ndarray], *, min_relative_drop: float = 0.5,
                  alpha: float = 0.05, min_correct: int = 5, seed: int = 0) -> Verdict:
    """Deactivating all-shared neurons collapses accuracy, more than specific, partial-shared or random.

    base and ablated[c]: per-item correctness (items,) bool, paired; ablated has "all_shared" and the controls.
    """
    params = {"min_relative_drop": min_relative_drop, "alpha": alpha, "min_correct": min_correct, "seed": seed}
    base = base.astype(bool)
    acc = {"baseline": base.mean(), **{c: v.mean() for c, v in ablated.items()}}
    drops = {c: acc["baseline"] - acc[c] for c in ablated}
    relative = float(_relative_drop(base, ablated["all_shared"]))
    ci = bootstrap_ci(_relative_drop, base.astype(float), ablated["all_shared"].astype(float), seed=seed)
    p_base = mcnemar(base, ablated["all_shared"])
    p_controls = {c: mcnemar(ablated[c], ablated["all_shared"]) for c in ABLATION_CONTROLS if c in ablated}
    # CI of (drop of all-shared - drop of control) = accuracy(control) - accuracy(all-shared), paired per item
    margin_ci = {c: bootstrap_ci(mean_difference, ablated[c].astype(float), ablated["all_shared"].astype(float),
                                 seed=seed) for c in p_controls}
    measured = {"baseline": 100 * acc["baseline"], **{f"w/o {c}": 100 * acc[c] for c in ablated},
                "relative drop (all-shared)": relative, "McNemar p (baseline vs w/o all-shared)": p_base,
                **{f"McNemar p (w/o all-shared vs w/o {c})": p for c, p in p_controls.items()}}
    if int(base.sum()) < min_correct:
        return Verdict("inconclusive", f"only {int(base.sum())} items correct at baseline (< {min_correct})",
                       "relative accuracy drop", relative, ci, measured, params)
    larger = all(drops["all_shared"] > drops[c] for c in p_controls)
    holds = relative >= min_relative_drop and larger
    significant = p_base < alpha and all(p < alpha for p in p_controls.values())
    beaten_by = [c for c in p_controls if margin_ci[c][1] <= 0]  # a control confidently drops at least as much
    verdict = decide(holds, significant, ci[1] < min_relative_drop or bool(beaten_by))
    reason = (f"relative drop {relative:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] vs {min_relative_drop}; all-shared drop "
              f"{drops['all_shared']:.3f} vs " + ", ".join(f"{c} {drops[c]:.3f}" for c in p_controls)
              + f"; McNemar p={p_base:.2g}")
    return Verdict(verdict, reason, "relative accuracy drop", relative, ci, measured, params)


def share_increase_rule(ift: np.ndarray, base: np.ndarray, *, min_examples: int = 5, seed: int = 0) -> Verdict:
    """The instruction-tuned model has a larger all-shared share than its base (paired per example).

    ift, base: per-example mean-over-layers all-shared share (examples,), same examples.
    """
    params = {"min_examples": min_examples, "seed": seed}
    diff = float(ift.mean() - base.mean())
    ci = bootstrap_ci(mean_difference, ift, base, seed=seed)
    measured = {"all-shared share (IFT) %": 100 * float(ift.mean()), "all-shared share (base) %": 100 * float(base.mean()),
                "difference (points)": 100 * diff}
    if len(ift) < min_examples:
        return Verdict("inconclusive", f"only {len(ift)} examples (< {min_examples})", "share difference", diff, ci,
                       measured, params)
    verdict = decide(diff > 0, ci[0] > 0, ci[1] <= 0)
    reason = f"IFT - base all-shared share {100 * diff:.2f} points, 95% CI [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"
    return Verdict(verdict, reason, "share difference (IFT - base)", diff, ci, measured, params)


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


def conversion_rule(base: np.ndarray, converted: np.ndarray, *, min_language_share: float = 2 / 3,
                    seed: int = 0) -> Verdict:
    """Converting specific and partial-shared neurons to all-shared raises accuracy in most languages.

    base, converted: correctness (examples, langs) bool, paired. The CI is over examples of the mean change.
    """
    params = {"min_language_share": min_language_share, "seed": seed}
    change = converted.mean(axis=0) - base.mean(axis=0)  # (langs,)
    share_up = float(np.mean(change >= 0))
    mean_change = float(change.mean())
    per_example_base = base.astype(float).mean(axis=1)
    per_example_conv = converted.astype(float).mean(axis=1)
    ci = bootstrap_ci(mean_difference, per_example_conv, per_example_base, seed=seed)
    measured = {"mean change (points)": 100 * mean_change, "languages not worse": share_up,
                "McNemar p (pooled)": mcnemar(base.ravel(), converted.ravel())}
    holds = share_up >= min_language_share and mean_change > 0
    verdict = decide(holds, ci[0] > 0, ci[1] <= 0 or share_up < min_language_share)
    reason = (f"mean change {100 * mean_change:+.2f} points [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}], "
              f"not worse in {100 * share_up:.0f}% of languages (needs {100 * min_language_share:.0f}%)")
    return Verdict(verdict, reason, "mean accuracy change", mean_change, ci, measured, params)


def effective_span_rule(effective: np.ndarray, *, min_language_share: float = 2 / 3) -> Verdict:
    """All-shared neurons have the widest span (max - min) of effective scores (§6.2, Tables 1 and 4).

    effective: (langs, 4 types in TYPES order, 3 = max/min/mean); NaN where a type had no neuron.
    """
    params = {"min_language_share": min_language_share}
    span = effective[:, :, 0] - effective[:, :, 1]  # (langs, types)
    others = np.nan_to_num(np.delete(span, 3, axis=1), nan=-np.inf).max(axis=1)
    widest = np.nan_to_num(span[:, 3], nan=-np.inf) > others
    share = float(widest.mean())
    measured = {"languages where all-shared span is widest": share,
                "all-shared span (mean over languages)": float(np.nanmean(span[:, 3])),
                "largest other span (mean over languages)": float(np.mean(others[np.isfinite(others)]))
                if np.isfinite(others).any() else None}
    verdict = decide(share >= min_language_share, True, share <= 1 - min_language_share)
    reason = (f"all-shared neurons have the widest effective-score span in {100 * share:.0f}% of languages "
              f"(needs {100 * min_language_share:.0f}%)")
    return Verdict(verdict, reason, "share of languages", share, (share, share), measured, params)


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
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples})", "dead share", mean,
                       (mean, mean), measured, params)
    reason = (f"{100 * mean:.2f}% of neurons are inactive at every token (mean over layers; worst layer {worst}: "
              f"{100 * dead[worst]:.2f}%), limit {100 * max_dead:.1f}%")
    return Verdict("supported" if mean < max_dead else "refuted", reason, "dead share", mean, (mean, mean),
                   measured, params)


def language_consistency_rule(activated: np.ndarray, n_examples: int, *, max_spread: float = 0.35,
                              min_examples: int = 5) -> Verdict:
    """The share of activated neurons per layer hardly depends on the input's language (§5.1.2, Figs 2-4 right).

    activated: (langs, layers) mean share of activated neurons. Spread of a layer = (max - min) / mean over
    languages; the finding holds when the largest spread over layers stays within ``max_spread``.
    """
    params = {"max_spread": max_spread, "min_examples": min_examples}
    mean = activated.mean(axis=0)
    spread = np.where(mean > 0, (activated.max(axis=0) - activated.min(axis=0)) / np.where(mean > 0, mean, 1), 0)
    worst = int(np.argmax(spread))
    measured = {"largest spread across languages": float(spread[worst]), "layer of largest spread": worst,
                "mean spread": float(spread.mean())}
    if n_examples < min_examples:
        return Verdict("inconclusive", f"only {n_examples} examples (< {min_examples})", "largest spread",
                       float(spread[worst]), (float(spread[worst]),) * 2, measured, params)
    reason = (f"activated share differs across languages by at most {100 * spread[worst]:.0f}% of its mean "
              f"(layer {worst}); limit {100 * max_spread:.0f}%")
    return Verdict("supported" if spread[worst] <= max_spread else "refuted", reason, "largest spread",
                   float(spread[worst]), (float(spread[worst]),) * 2, measured, params)


def contribution_rule(top_types: np.ndarray, *, min_layer_share: float = 2 / 3) -> Verdict:
    """All-shared neurons are the most frequent type among the top-5% contributors (eq. 3) per layer (§6.1).

    top_types: (4 types in TYPES order, layers) share of the top contributors that are of each type.
    """
    params = {"min_layer_share": min_layer_share, "top": "5% of neurons per layer"}
    leading = top_types.argmax(axis=0) == 3  # (layers,)
    share = float(leading.mean())
    measured = {"layers led by all-shared": share,
                "all-shared share of top 5% (mean over layers) %": 100 * float(top_types[3].mean())}
    verdict = decide(share >= min_layer_share, True, share <= 1 - min_layer_share)
    reason = (f"all-shared neurons are the most frequent type among the top-5% contributors in "
              f"{100 * share:.0f}% of layers (needs {100 * min_layer_share:.0f}%)")
    return Verdict(verdict, reason, "share of layers", share, (share, share), measured, params)


def non_repeating_rule(overlap: np.ndarray, shares: np.ndarray, n_examples: int, *, max_active_overlap: float = 0.01,
                       max_inactive_repeat: float = 0.10, min_examples: int = 20) -> Verdict:
    """Almost no neuron keeps its type across examples, and under 10% of non-activated neurons stay so (§5.1.3-5.1.4).

    overlap: (4 types in TYPES order, layers) share of a layer's neurons that have type t in every example;
    shares: (4, layers) mean share of each type. Active overlap = neurons keeping one active type (specific,
    partial- or all-shared) in every example, mean over layers; inactive repeat = overlap / mean share of
    non-activated neurons (summed over layers). Overlap can only fall as examples are added, so a rule that holds
    on few examples holds on more; a failure on fewer than ``min_examples`` examples is inconclusive.
    """
    params = {"max_active_overlap": max_active_overlap, "max_inactive_repeat": max_inactive_repeat,
              "min_examples": min_examples}
    active = overlap[1:].sum(axis=0)  # (layers,)
    active_mean, worst = float(active.mean()), int(np.argmax(active))
    inactive = float(overlap[0].sum() / shares[0].sum()) if shares[0].sum() > 0 else 0.0
    measured = {"non-activated neurons that stay so in every example %": 100 * inactive,
                "neurons keeping an active type in every example % (mean over layers)": 100 * active_mean,
                "neurons keeping an active type in every example % (worst layer)": 100 * float(active[worst]),
                "worst layer": worst, "examples": n_examples,
                **{f"overlap {name} % (mean over layers)": 100 * float(overlap[t].mean())
                   for t, name in enumerate(("non-activated", "specific", "partial-shared", "all-shared"))}}
    holds = active_mean < max_active_overlap and inactive < max_inactive_repeat
    verdict = decide(holds, True, n_examples >= min_examples)
    reason = (f"{100 * inactive:.1f}% of non-activated neurons stay so in all {n_examples} examples (limit "
              f"{100 * max_inactive_repeat:.0f}%); {100 * active_mean:.2f}% of neurons keep an active type in every "
              f"example (limit {100 * max_active_overlap:.0f}%)")
    if not holds and n_examples < min_examples:
        reason += f"; only {n_examples} examples (< {min_examples}): overlap may still fall with more"
    return Verdict(verdict, reason, "share of non-activated neurons that repeat", inactive, (inactive, inactive),
                   measured, params)


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
        return Verdict("inconclusive", f"too few examples (< {min_examples}); {reason}", "all-shared difference",
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
    classified over the first k languages, k = ``counts`` in rising order. Compared: the fewest against the most
    languages, paired per example. Supported when the partial-shared rise exceeds ``min_rise`` and the all-shared
    relative drop stays under ``max_relative_drop``, each with its interval.
    """
    params = {"min_rise": min_rise, "max_relative_drop": max_relative_drop, "min_examples": min_examples,
              "seed": seed, "languages": "first k of the task's languages (nested)"}
    rise = float(partial[:, -1].mean() - partial[:, 0].mean())
    drop = float(_relative_drop(shared[:, 0], shared[:, -1], axis=0))
    rise_ci = bootstrap_ci(mean_difference, partial[:, -1], partial[:, 0], seed=seed)
    drop_ci = bootstrap_ci(_relative_drop, shared[:, 0], shared[:, -1], seed=seed)
    measured = {**{f"all-shared % ({k} languages)": 100 * float(v) for k, v in zip(counts, shared.mean(axis=0), strict=True)},
                **{f"partial-shared % ({k} languages)": 100 * float(v) for k, v in zip(counts, partial.mean(axis=0), strict=True)},
                "partial-shared rise (points)": 100 * rise, "all-shared relative drop": drop,
                "all-shared relative drop CI low": drop_ci[0], "all-shared relative drop CI high": drop_ci[1]}
    reason = (f"from {counts[0]} to {counts[-1]} languages: partial-shared {100 * rise:+.2f} points "
              f"[{100 * rise_ci[0]:+.2f}, {100 * rise_ci[1]:+.2f}] (must rise over {100 * min_rise:.0f} point), "
              f"all-shared falls by {100 * drop:.0f}% [{100 * drop_ci[0]:.0f}%, {100 * drop_ci[1]:.0f}%] of its "
              f"share (must stay under {100 * max_relative_drop:.0f}%)")
    if len(counts) < 2 or len(shared) < min_examples:
        return Verdict("inconclusive", f"needs two language counts and {min_examples} examples; {reason}",
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
        return Verdict("inconclusive", f"needs a raised threshold, two layers and {min_examples} examples (got "
                       f"{n_thresholds} thresholds, {n_layers} layers, {n_examples} examples)",
                       "upper - lower active share", math.nan, (math.nan, math.nan), {}, params)
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
