"""Decision rules of the claims, as pure functions of measured arrays (unit-tested with hypothesis).

Each returns a Verdict: supported when the paper's finding holds with its statistical condition, refuted
when it fails decisively, inconclusive otherwise (too few items, interval too wide). Parameters are named and
recorded with the verdict.
"""

from __future__ import annotations

import math

import numpy as np

from harness.stats import bootstrap_ci, bootstrap_support, mcnemar
from harness.verdict import Verdict, decide

ABLATION_CONTROLS = ("specific", "partial_shared", "random")


def _relative_drop(base: np.ndarray, ablated: np.ndarray, axis: int = -1) -> np.ndarray:
    before = base.mean(axis=axis)
    return np.where(before > 0, (before - ablated.mean(axis=axis)) / np.where(before > 0, before, 1), 0.0)


def _mean_change(converted: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    return converted.mean(axis=axis) - base.mean(axis=axis)


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
    margin_ci = {c: bootstrap_ci(_mean_change, ablated[c].astype(float), ablated["all_shared"].astype(float),
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


def _mean_diff(ift: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    return ift.mean(axis=axis) - base.mean(axis=axis)


def share_increase_rule(ift: np.ndarray, base: np.ndarray, *, min_examples: int = 5, seed: int = 0) -> Verdict:
    """The instruction-tuned model has a larger all-shared share than its base (paired per example).

    ift, base: per-example mean-over-layers all-shared share (examples,), same examples.
    """
    params = {"min_examples": min_examples, "seed": seed}
    diff = float(ift.mean() - base.mean())
    ci = bootstrap_ci(_mean_diff, ift, base, seed=seed)
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
    ci = bootstrap_ci(_mean_change, per_example_conv, per_example_base, seed=seed)
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
    ci_shared = bootstrap_ci(_mean_diff, *shared, seed=seed, paired=False)
    ci_partial = bootstrap_ci(_mean_diff, partial[1], partial[0], seed=seed, paired=False)
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


# --- Kojima et al. (arXiv 2404.02431): language-specific neurons ---------------------------------------------------


def _interval(point: float, resampled: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of a statistic over bootstrap resamples (the point itself when there are none)."""
    if len(resampled) == 0:
        return point, point
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return float(low), float(high)


def edge_layers(n_layers: int, edge_share: float) -> list[int]:
    """The first and the last ceil(edge_share x layers) layers (at least one at each end)."""
    k = max(1, math.ceil(edge_share * n_layers))
    return sorted(set(range(k)) | set(range(n_layers - k, n_layers)))


def _band_share(counts: np.ndarray, band: list[int]) -> np.ndarray:
    """counts (..., L, sides, layers) -> (...,) share of the selected neurons in the band, mean over languages."""
    per_language = counts[..., band].sum(axis=(-2, -1)) / counts.sum(axis=(-2, -1))
    return per_language.mean(axis=-1)


def layer_concentration_rule(counts: np.ndarray, boot_counts: np.ndarray, *, edge_share: float = 0.1,
                             min_enrichment: float = 2.0, confidence: float = 0.95) -> Verdict:
    """Language-specific neurons sit in the first and last layers (Kojima et al. §4, Fig. 2).

    counts (L languages, 2 sides (top, bottom), layers): where each language's top-N and bottom-N neurons are;
    boot_counts (R, L, 2, layers): the same on bootstrap resamples of the examples. The band is the first and the
    last ``edge_share`` of the layers; a random same-size neuron set (the control) puts the band's share of the
    layers in it. Enrichment = share of the selected neurons in the band (mean over languages) / that control share.
    Supported when the interval of the enrichment is above ``min_enrichment``, refuted when below it.
    """
    n_layers = counts.shape[-1]
    band = edge_layers(n_layers, edge_share)
    control = len(band) / n_layers
    params = {"edge_share": edge_share, "min_enrichment": min_enrichment, "confidence": confidence,
              "band layers": ",".join(map(str, band)), "control": "random same-size neuron set (expected share)"}
    share = float(_band_share(counts, band))
    enrichment = share / control
    ci = tuple(v / control for v in _interval(share, _band_share(boot_counts, band), confidence))
    per_side = counts[:, :, band].sum(axis=(0, 2)) / counts.sum(axis=(0, 2))
    measured = {"share in first/last layers %": 100 * share, "band's share of layers % (random control)": 100 * control,
                "enrichment": enrichment, "top-N in band %": 100 * float(per_side[0]),
                "bottom-N in band %": 100 * float(per_side[1]), "bootstrap resamples": len(boot_counts)}
    reason = (f"{100 * share:.0f}% of the language-specific neurons sit in layers {params['band layers']} of "
              f"{n_layers} ({100 * control:.0f}% of the layers): enrichment {enrichment:.2f} [{ci[0]:.2f}, "
              f"{ci[1]:.2f}], needs {min_enrichment}")
    if control * min_enrichment > 1:
        return Verdict("inconclusive", f"too few layers ({n_layers}) for an enrichment of {min_enrichment}; {reason}",
                       "enrichment in first/last layers", enrichment, ci, measured, params)
    verdict = decide(enrichment >= min_enrichment, ci[0] >= min_enrichment, ci[1] < min_enrichment)
    return Verdict(verdict, reason, "enrichment in first/last layers", enrichment, ci, measured, params)


def _largest_overlap(overlap: np.ndarray, n_selected: int) -> np.ndarray:
    """overlap (..., sides, L, L) shared neurons -> (...,) largest share of N two languages share, over pairs and
    sides (top with top, bottom with bottom)."""
    n_langs = overlap.shape[-1]
    upper = np.triu(np.ones((n_langs, n_langs), dtype=bool), k=1)
    return overlap[..., upper].max(axis=(-2, -1)) / n_selected


def overlap_rule(overlap: np.ndarray, boot_overlap: np.ndarray, n_selected: int, n_neurons: int, *,
                 max_overlap: float = 0.05, confidence: float = 0.95) -> Verdict:
    """Different languages' language-specific neurons hardly overlap: under 5% for every pair (Kojima et al. §4).

    overlap (2 sides, L, L): neurons the top-N (bottom-N) sets of two languages share; boot_overlap (R, 2, L, L) on
    bootstrap resamples. Statistic: the largest pairwise share of N. Control: two random same-size sets share
    N / all neurons of N in expectation.
    """
    params = {"max_overlap": max_overlap, "confidence": confidence, "N": n_selected,
              "statistic": "largest share of N shared by two languages (top with top, bottom with bottom)"}
    n_langs = overlap.shape[-1]
    control = n_selected / n_neurons
    if n_langs < 2:
        return Verdict("inconclusive", "one language: no pair to compare", "largest pairwise overlap", math.nan,
                       (math.nan, math.nan), {}, params)
    largest = float(_largest_overlap(overlap, n_selected))
    ci = _interval(largest, _largest_overlap(boot_overlap, n_selected), confidence)
    mean_pairs = overlap[:, np.triu(np.ones((n_langs, n_langs), dtype=bool), k=1)].mean() / n_selected
    measured = {"largest pairwise overlap %": 100 * largest, "mean pairwise overlap %": 100 * float(mean_pairs),
                "random same-size sets (expected) %": 100 * control, "bootstrap resamples": len(boot_overlap)}
    verdict = decide(largest < max_overlap, ci[1] < max_overlap, ci[0] >= max_overlap)
    reason = (f"two languages share at most {100 * largest:.1f}% of their {n_selected} neurons [{100 * ci[0]:.1f}, "
              f"{100 * ci[1]:.1f}] (limit {100 * max_overlap:.0f}%; random sets: {100 * control:.2f}%)")
    return Verdict(verdict, reason, "largest pairwise overlap", largest, ci, measured, params)


def tampering_rule(tampered: np.ndarray, control: np.ndarray, baseline: np.ndarray, fixed_share: float,
                   identifier_recall: float, *, min_increase: float = 0.2, alpha: float = 0.05,
                   max_share: float = 0.01, min_recall: float = 0.8, seed: int = 0) -> Verdict:
    """Fixing under 1% of the neurons (a language's own) makes that language occur far more often in generated text
    than fixing a random same-size set (Kojima et al. §5).

    tampered, control, baseline: per generated sample (samples,) bool, "identified as the target language", paired
    (the same sampling noise in every condition). Supported when the increase over the control is at least
    ``min_increase`` and McNemar's test is significant; refuted when its interval stays below ``min_increase``;
    inconclusive when more than ``max_share`` of the neurons were fixed or the identifier recognises fewer than
    ``min_recall`` of the language's held-out texts.
    """
    params = {"min_increase": min_increase, "alpha": alpha, "max_share": max_share, "min_recall": min_recall,
              "seed": seed, "control": "random same-size neuron set fixed at its own medians"}
    tampered, control, baseline = (np.asarray(x, dtype=bool) for x in (tampered, control, baseline))
    increase = float(tampered.mean() - control.mean())
    ci = bootstrap_ci(_mean_change, tampered.astype(float), control.astype(float), seed=seed)
    p = mcnemar(control, tampered)
    measured = {"target language, no fix %": 100 * float(baseline.mean()),
                "target language, its neurons fixed %": 100 * float(tampered.mean()),
                "target language, random neurons fixed %": 100 * float(control.mean()),
                "McNemar p (fixed vs random)": p, "neurons fixed %": 100 * fixed_share,
                "identifier held-out recall %": 100 * identifier_recall, "samples": len(tampered)}
    reason = (f"target language in {100 * tampered.mean():.0f}% of generations with {100 * fixed_share:.2f}% of "
              f"neurons fixed, {100 * control.mean():.0f}% with a random set, {100 * baseline.mean():.0f}% without: "
              f"+{100 * increase:.0f} points [{100 * ci[0]:+.0f}, {100 * ci[1]:+.0f}], McNemar p={p:.2g}")
    if fixed_share > max_share:
        return Verdict("inconclusive", f"{100 * fixed_share:.2f}% of neurons fixed, the finding is about under "
                       f"{100 * max_share:.0f}%; {reason}", "increase over random control", increase, ci, measured,
                       params)
    if not identifier_recall >= min_recall:
        return Verdict("inconclusive", f"the identifier recognises {100 * identifier_recall:.0f}% of held-out texts "
                       f"of the language (< {100 * min_recall:.0f}%); {reason}", "increase over random control",
                       increase, ci, measured, params)
    verdict = decide(increase >= min_increase, p < alpha, ci[1] < min_increase)
    return Verdict(verdict, reason, "increase over random control", increase, ci, measured, params)
