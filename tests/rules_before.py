"""The decision rules and the random control as they were before the verdicts were checked against the
alternatives a real model offers (kept verbatim, for tests/test_adversarial.py only): each adversarial planted
model must fool one of them and not the rule that replaced it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from harness.core.stats import bootstrap_ci, mcnemar, mean_difference
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.neurons import ALL

ABLATION_CONTROLS = ("specific", "partial_shared", "random")


def random_control(codes: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """Per example and layer, as many neurons as are all-shared, drawn uniformly from the other neurons.

    codes (examples, layers, d_ff) -> mask of the same shape; one seeded generator per example.
    """
    shared = codes == ALL
    k = shared.sum(dim=-1, keepdim=True)  # (examples, layers, 1)
    scores = torch.stack([torch.rand(codes.shape[1:], generator=g) for g in generators]).to(codes.device)
    scores = scores.masked_fill(shared, 2.0)  # all-shared neurons are never drawn
    rank = scores.argsort(dim=-1).argsort(dim=-1)
    return rank < k


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
    measured = {"all-shared share (IFT) %": 100 * float(ift.mean()),
                "all-shared share (base) %": 100 * float(base.mean()),
                "difference (points)": 100 * diff}
    if len(ift) < min_examples:
        return Verdict("inconclusive", f"only {len(ift)} examples (< {min_examples})", "share difference", diff, ci,
                       measured, params)
    verdict = decide(diff > 0, ci[0] > 0, ci[1] <= 0)
    reason = f"IFT - base all-shared share {100 * diff:.2f} points, 95% CI [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"
    return Verdict(verdict, reason, "share difference (IFT - base)", diff, ci, measured, params)


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


# --- instruction tuning with the density control, before the non-parallel null (and before the density grid
# lost its negative thresholds and compared the base model over the matched layers only)


def matched_share_increase_rule(ift: dict[str, np.ndarray], base: dict[str, np.ndarray], *,
                                matched_shared: np.ndarray | None, min_difference: float = 0.005,
                                min_examples: int = 5, seed: int = 0) -> Verdict:
    """Instruction tuning raises the all-shared share and lowers the partial-shared share (§5.2), beyond what a
    denser model would show at the same activation density (our control).

    ift, base: "all_shared" and "partial_shared" per-example mean-over-layers shares (examples,), same examples,
    at the run's threshold; matched_shared: the IFT model's all-shared share at a per-layer threshold where its
    activation density equals the base model's (None when no threshold of the grid reaches it). A model that is
    only denser (pre-activations shifted up) has more all-shared neurons at any fixed threshold but none more at
    matched density.
    """
    params = {"min_difference": min_difference, "min_examples": min_examples, "seed": seed,
              "control": "IFT all-shared share at a threshold matching the base model's activation density"}
    d_shared = float(ift["all_shared"].mean() - base["all_shared"].mean())
    d_partial = float(ift["partial_shared"].mean() - base["partial_shared"].mean())
    ci_shared = bootstrap_ci(mean_difference, ift["all_shared"], base["all_shared"], seed=seed)
    ci_partial = bootstrap_ci(mean_difference, ift["partial_shared"], base["partial_shared"], seed=seed)
    measured = {"all-shared share (IFT) %": 100 * float(ift["all_shared"].mean()),
                "all-shared share (base) %": 100 * float(base["all_shared"].mean()),
                "difference (points)": 100 * d_shared,
                "partial-shared share (IFT) %": 100 * float(ift["partial_shared"].mean()),
                "partial-shared share (base) %": 100 * float(base["partial_shared"].mean()),
                "partial-shared difference (points)": 100 * d_partial}
    reason = (f"IFT - base: all-shared {100 * d_shared:+.2f} points [{100 * ci_shared[0]:+.2f}, "
              f"{100 * ci_shared[1]:+.2f}], partial-shared {100 * d_partial:+.2f} [{100 * ci_partial[0]:+.2f}, "
              f"{100 * ci_partial[1]:+.2f}]")
    matched_ci = None
    if matched_shared is not None:
        d_matched = float(matched_shared.mean() - base["all_shared"].mean())
        matched_ci = bootstrap_ci(mean_difference, matched_shared, base["all_shared"], seed=seed)
        measured["difference at matched density (points)"] = 100 * d_matched
        reason += (f"; all-shared at the base model's density {100 * d_matched:+.2f} [{100 * matched_ci[0]:+.2f}, "
                   f"{100 * matched_ci[1]:+.2f}] (must exceed {100 * min_difference:.1f})")
    else:
        reason += "; no threshold of the grid matches the base model's density"
    if len(ift["all_shared"]) < min_examples:
        return inconclusive(f"only {len(ift['all_shared'])} examples (< {min_examples}); {reason}",
                       "share difference (IFT - base)", d_shared, ci_shared, measured, params)
    holds = d_shared > 0 and d_partial < 0 and matched_ci is not None and d_matched > min_difference
    supported_if = ci_shared[0] > 0 and ci_partial[1] < 0 and matched_ci is not None and matched_ci[0] > min_difference
    refuted_if = ci_shared[1] <= 0 or ci_partial[0] > 0 or (matched_ci is not None and matched_ci[1] < min_difference)
    return Verdict(decide(holds, supported_if, refuted_if), reason, "share difference (IFT - base)", d_shared,
                   ci_shared, measured, params)


def density_matched_shares(thresholds: Sequence[float], density: np.ndarray, shares: np.ndarray,
                           target: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Per example, the mean over layers of ``shares`` at a per-layer threshold where the mean ``density`` meets
    ``target``, interpolated linearly between the grid's thresholds.

    thresholds (thr,) rising; density, shares (examples, thr, layers); target (layers,). Returns the per-example
    shares (None when no layer can be matched) and the matched threshold per layer (NaN where out of the grid).
    """
    mean = density.mean(axis=0)  # (thr, layers), falls as the threshold rises
    grid = np.asarray(thresholds, dtype=float)
    matched, at = [], np.full(mean.shape[1], np.nan)
    for layer in range(mean.shape[1]):
        curve = mean[:, layer]
        if not curve[-1] <= target[layer] <= curve[0]:
            continue
        above = int(np.searchsorted(-curve, -target[layer], side="right"))  # first grid point below the target
        j = min(max(above, 1), len(grid) - 1)
        span = curve[j - 1] - curve[j]
        w = 0.0 if span <= 0 else (curve[j - 1] - target[layer]) / span  # position between grid points j-1, j
        at[layer] = grid[j - 1] + w * (grid[j] - grid[j - 1])
        matched.append((1 - w) * shares[:, j - 1, layer] + w * shares[:, j, layer])
    return (np.mean(matched, axis=0) if matched else None), at
