"""Decision rules on the contribution of each type over all neurons (§6.1, Fig. 9 and the German XNLI number),
each against the alternative that all-shared neurons stand out only because they are active in every row, and on
where the largest effective scores of all-shared neurons sit (§6.2, Fig. 10), against the alternative that they
sit where all-shared neurons are most numerous.

All-shared neurons are active in every language by definition; a partial-shared or specific neuron is inactive in
some rows, and a non-activated one in all, so any type that is always active has a higher average contribution and
carries more of the push toward the answer than its share of all neurons. The rules therefore read the paper's
statistic and the same statistic against the neurons active in the row.

Inputs are ``Measurement.type_rows`` (examples, langs, T, layers, fields), fields in
``harness.papers.sharing_matters.reducers.TYPE_ROW_FIELDS`` order, of either reading of A (the paper's, or ours
centred on each neuron's mean: ``Measurement.centred``); the rules do not depend on which.

Credit is not consequence: neurons whose outputs cancel each other are credited with what they write and change
nothing. The contribution to the correct output therefore also asks that setting the all-shared neurons to their
means (mean-ablation) lowers accuracy.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from harness.core.stats import N_BOOTSTRAP, bootstrap_ci, ratio
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.accuracy_rules import inability, relative_drop
from harness.papers.sharing_matters.neurons import ALL, PARTIAL, SPECIFIC
from harness.papers.sharing_matters.reducers import (
    ACTIVE,
    ACTIVE_CONTRIBUTION,
    ACTIVE_PUSH,
    CONTRIBUTION,
    NEURONS,
    PUSH,
)

OTHERS = [t for t in range(4) if t != ALL]


def _draws(n_examples: int, seed: int) -> np.ndarray:
    """(resamples, n_examples) example indices drawn with replacement (the bootstrap of harness.core.stats)."""
    return np.random.default_rng(seed).integers(0, n_examples, size=(N_BOOTSTRAP // 4, n_examples))


def layer_averages(summed: np.ndarray, neurons: np.ndarray) -> np.ndarray:
    """Average per neuron of each type and layer, pooled over rows: summed / neurons along the example axis.
    summed, neurons (..., examples, T, layers) -> (..., T, layers); NaN where a type has no neuron."""
    total = neurons.sum(axis=-3)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed.sum(axis=-3) / np.where(total > 0, total, 1), np.nan)


def _lead_ratio(averages: np.ndarray, others: list[int]) -> np.ndarray:
    """All-shared average over the largest average of ``others`` per layer: (..., T, layers) -> (..., layers);
    inf where the others contribute nothing, NaN where all-shared or every other type has no neuron."""
    other = np.nanmax(np.where(np.isnan(averages[..., others, :]), -np.inf, averages[..., others, :]), axis=-2)
    other = np.where(np.isinf(other), np.nan, other)
    with np.errstate(invalid="ignore", divide="ignore"):
        return averages[..., ALL, :] / other


def _reading(summed: np.ndarray, neurons: np.ndarray, others: list[int], layers: np.ndarray, min_ratio: float,
             seed: int) -> dict[str, float]:
    """One reading of the average rule: per compared layer, the lead ratio and its bootstrap interval over
    examples; summed, neurons (examples, T, layers)."""
    point = _lead_ratio(layer_averages(summed, neurons), others)[layers]
    idx = _draws(len(summed), seed)
    resampled = _lead_ratio(layer_averages(summed[idx], neurons[idx]), others)[:, layers]  # (resamples, layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a layer without a ratio in any resample: NaN, not led
        # inf (the others contribute nothing) as the largest float, so that percentiles do not interpolate to NaN
        low, high = np.nanpercentile(np.minimum(resampled, np.finfo(float).max), [2.5, 97.5], axis=0)
    known = point[~np.isnan(point)]
    return {"holds": float(np.mean(np.where(np.isnan(point), -np.inf, point) > min_ratio)),
            "led": float(np.mean(low > min_ratio)), "not led": float(np.mean(high < min_ratio)),
            "median ratio": float(np.median(known)) if len(known) else math.nan}


def average_contribution_rule(type_rows: np.ndarray, *, min_ratio: float = 1.25, min_layer_share: float = 2 / 3,
                              min_examples: int = 5, seed: int = 0) -> Verdict:
    """All-shared neurons have the highest average contribution score (eq. 3) per neuron (§6.1, Fig. 9 left).

    Per layer, each type's average contribution per neuron, pooled over the rows (example x language): the
    paper's reading over all of a type's neurons, and the activity-matched control over the neurons active in the
    row (all-shared ones are always active; partial-shared and specific ones only in some rows; non-activated ones
    never, so they have no active average). In each reading, all-shared lead a layer when the bootstrap interval
    (over examples) of their average over the largest other type's lies above ``min_ratio``, and fail it when the
    interval lies below. Supported when all-shared lead at least ``min_layer_share`` of the layers in both
    readings; refuted when they fail more than the rest in either. Layers to which no neuron contributes (nothing
    written) are not compared. Whether partial-shared are second is recorded, not decided (the paper states that
    rank for the top contributors of KE, Fig. 8, not for Fig. 9's averages).
    """
    params = {"min_ratio": min_ratio, "min_layer_share": min_layer_share, "min_examples": min_examples,
              "seed": seed, "average": "contribution score per neuron of the type, pooled over rows, per layer",
              "control": "the same average over the neurons active in the row (partial-shared and specific)"}
    by_example = type_rows.sum(axis=1)  # (examples, T, layers, fields): rows of an example pooled
    n_examples = len(by_example)
    layers = np.flatnonzero(by_example[..., CONTRIBUTION].sum(axis=(0, 1)) > 0)
    measured: dict[str, float | None] = {"layers compared": len(layers), "examples": n_examples}
    effect_name = "share of layers led by all-shared (both readings)"
    if n_examples < min_examples:
        return inconclusive(f"only {n_examples} examples (< {min_examples})", effect_name, measured=measured,
                            params=params)
    shared = by_example[..., ALL, :, NEURONS].sum(axis=0)[layers] if len(layers) else np.zeros(0)
    if not len(layers) or not (shared > 0).any():
        return inconclusive("no layer has both contributing neurons and all-shared ones", effect_name,
                            measured=measured, params=params)
    paper = _reading(by_example[..., CONTRIBUTION], by_example[..., NEURONS], OTHERS, layers, min_ratio, seed)
    control = _reading(by_example[..., ACTIVE_CONTRIBUTION], by_example[..., ACTIVE], [PARTIAL, SPECIFIC], layers,
                       min_ratio, seed)
    averages = layer_averages(by_example[..., CONTRIBUTION], by_example[..., NEURONS])[:, layers]
    ranked = np.argsort(-np.where(np.isnan(averages), -np.inf, averages), axis=0)  # (T, layers) types by average
    measured |= {"layers led (paper's average)": paper["led"], "layers not led (paper's average)": paper["not led"],
                 "layers led (activity-matched)": control["led"],
                 "layers not led (activity-matched)": control["not led"],
                 "all-shared / next type, median over layers (paper's average)": paper["median ratio"],
                 "all-shared / next active type, median over layers (activity-matched)": control["median ratio"],
                 "layers where partial-shared are second (paper's average)": float(np.mean(ranked[1] == PARTIAL))}
    effect = min(paper["led"], control["led"])
    reason = (f"all-shared neurons' average contribution is over {min_ratio}x every other type's in "
              f"{100 * paper['led']:.0f}% of {len(layers)} layers and under it in {100 * paper['not led']:.0f}%; "
              f"over {min_ratio}x the active partial-shared and specific neurons' in {100 * control['led']:.0f}% "
              f"and under it in {100 * control['not led']:.0f}% (activity-matched; needs "
              f"{100 * min_layer_share:.0f}% in both)")
    if paper["led"] >= min_layer_share and control["not led"] > 1 - min_layer_share:
        reason += "; the lead is that of any active neuron over neurons inactive in the row"
    holds = paper["holds"] >= min_layer_share and control["holds"] >= min_layer_share
    verdict = decide(holds, paper["led"] >= min_layer_share and control["led"] >= min_layer_share,
                     paper["not led"] > 1 - min_layer_share or control["not led"] > 1 - min_layer_share)
    return Verdict(verdict, reason, effect_name, effect, (effect, effect), measured, params)


def _push_statistics(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per example: all-shared push, total push, and the two sums of the Mantel-Haenszel rate ratio of push per
    active neuron, all-shared against the other active neurons, stratified by row-layer (numerator: all-shared push
    x other active neurons / active neurons; denominator: other active push x all-shared neurons / active neurons).
    rows (examples, T, layers, fields) -> four (examples,)."""
    active = rows[..., ACTIVE].sum(axis=1)  # (examples, layers)
    shared_n = rows[:, ALL, :, ACTIVE]
    shared_push = rows[:, ALL, :, ACTIVE_PUSH]
    other_push = rows[..., ACTIVE_PUSH].sum(axis=1) - shared_push
    weight = np.where(active > 0, 1 / np.where(active > 0, active, 1), 0.0)
    return (shared_push.sum(axis=-1), rows[..., PUSH].sum(axis=(1, 2)),
            (shared_push * (active - shared_n) * weight).sum(axis=-1), (other_push * shared_n * weight).sum(axis=-1))


def mean_ablation_check(base: np.ndarray, without: np.ndarray, *, chance: float, floor: float, alpha: float = 0.05,
                        min_correct: int = 5, seed: int = 0) -> tuple[str, str, dict[str, float]]:
    """Whether the neurons a reading credits matter: accuracy with them set to their means (``without``) against
    the baseline, both (items,) bool. "supported" when the relative drop's bootstrap interval lies above 0,
    "refuted" when it lies at or below 0 (no answer lost), else "inconclusive" (also where the model cannot do
    the task); with a reason and the measured numbers."""
    drop = float(relative_drop(base, without, floor))
    ci = bootstrap_ci(lambda b, a, axis=-1: relative_drop(b, a, floor, axis), base.astype(float),
                      without.astype(float), seed=seed)
    measured = {"accuracy with all-shared mean-ablated": 100 * float(without.mean()),
                "relative drop with all-shared mean-ablated": drop,
                "relative drop with all-shared mean-ablated CI low": ci[0],
                "relative drop with all-shared mean-ablated CI high": ci[1]}
    reason = (f"setting the all-shared neurons to their means lowers accuracy by {drop:.2f} [{ci[0]:.2f}, "
              f"{ci[1]:.2f}] of the baseline")
    if unable := inability(base.astype(bool), chance, alpha=alpha, min_correct=min_correct):
        return "inconclusive", f"{reason}, not a test of them: {unable}", measured
    outcome = "supported" if ci[0] > 0 else "refuted" if ci[1] <= 0 else "inconclusive"
    return outcome, reason + (": they change no answer" if outcome == "refuted" else ""), measured


def correct_output_rule(rows: np.ndarray, base: np.ndarray | None = None, without_shared: np.ndarray | None = None,
                        *, chance: float = 0.0, floor: float = 0.0, min_share: float = 0.5,
                        min_enrichment: float = 1.5, min_examples: int = 5, seed: int = 0) -> Verdict:
    """All-shared neurons carry most of the contribution to the correct output, far beyond their share of the
    neurons (§1: German XNLI, "less than 30% of the neurons, but they contribute 91.6%").

    rows (examples, T, layers, fields): one language's ``type_rows``. The contribution to the correct output is
    the push toward the gold answer's reference token: the positive effective scores E_r . (A_i v_i), summed over
    a type's neurons and the layers, pooled over examples (docs/design.md). Statistics: the all-shared share of the
    push, which must exceed ``min_share`` ("most"), and its enrichment, the control: the push per active
    all-shared neuron over the push per other active neuron, a rate ratio stratified by row and layer
    (Mantel-Haenszel), 1 when all-shared neurons push as any active neuron does. The paper's comparison, the push
    share over the share of all neurons, is recorded: non-activated neurons push little whatever they are, so a
    type that is most of the active neurons passes it. Supported when both bootstrap intervals (over examples) lie
    above their limits, refuted when either lies below.

    With ``base`` and ``without_shared`` (examples,) bool, correctness at baseline and with every all-shared neuron
    set to its mean (``chance``, ``floor`` as in harness.papers.sharing_matters.accuracy_rules), the credit must
    also matter (``mean_ablation_check``): supported needs the check supported too, and a refuted check refutes.
    """
    params = {"min_share": min_share, "min_enrichment": min_enrichment, "min_examples": min_examples, "seed": seed,
              "contribution to the correct output": "positive effective scores toward the gold reference token",
              "control": "push per active all-shared neuron over push per other active neuron (Mantel-Haenszel rate "
                         "ratio over row-layers)",
              "credit check": "none" if base is None else "accuracy with every all-shared neuron at its mean"}
    effect_name = "push per active all-shared neuron over per other active neuron"
    n_examples = len(rows)
    if base is not None and without_shared is not None and not len(base) == len(without_shared) == n_examples:
        raise ValueError(f"the mean-ablation check needs one outcome per example: {n_examples} examples, "
                         f"{len(base)} baseline and {len(without_shared)} mean-ablated outcomes")
    shared, total, numerator, denominator = _push_statistics(rows)
    neuron_share = ratio(rows[:, ALL, :, NEURONS].sum(), rows[..., NEURONS].sum(), math.nan)
    push_share = ratio(shared.sum(), total.sum(), math.nan)
    enrichment = ratio(numerator.sum(), denominator.sum(), math.inf if numerator.sum() > 0 else math.nan)
    measured: dict[str, float | None] = {
        "all-shared share of the push toward the gold token %": 100 * push_share,
        "all-shared share of the neurons %": 100 * neuron_share,
        "all-shared share of the active neurons %": 100 * ratio(rows[:, ALL, :, ACTIVE].sum(),
                                                                 rows[..., ACTIVE].sum(), math.nan),
        "push over share of all neurons (paper's comparison)": ratio(push_share, neuron_share, math.nan),
        "push per active all-shared neuron over per other active neuron (control)": enrichment,
        "all-shared share of the contribution scores (eq. 3) %": 100 * ratio(
            rows[:, ALL, :, CONTRIBUTION].sum(), rows[..., CONTRIBUTION].sum(), math.nan), "examples": n_examples}
    if n_examples < min_examples:
        return inconclusive(f"only {n_examples} examples (< {min_examples})", effect_name, measured=measured,
                            params=params)
    if not total.sum() > 0 or not numerator.sum() + denominator.sum() > 0:
        return inconclusive("no neuron pushes toward the gold token, or no row has active all-shared neurons and "
                            "other active ones: nothing to compare", effect_name, measured=measured, params=params)
    idx = _draws(n_examples, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = shared[idx].sum(axis=1) / total[idx].sum(axis=1)
        enrichments = numerator[idx].sum(axis=1) / denominator[idx].sum(axis=1)
    share_ci = tuple(float(v) for v in np.nanpercentile(shares, [2.5, 97.5]))
    ci = tuple(float(v) for v in np.nanpercentile(np.minimum(enrichments, np.finfo(float).max), [2.5, 97.5]))
    measured |= {"push share CI low %": 100 * share_ci[0], "push share CI high %": 100 * share_ci[1]}
    reason = (f"all-shared neurons carry {100 * push_share:.1f}% [{100 * share_ci[0]:.1f}, {100 * share_ci[1]:.1f}] "
              f"of the push toward the gold token (needs over {100 * min_share:.0f}%) while being "
              f"{100 * neuron_share:.1f}% of the neurons; an active all-shared neuron pushes {enrichment:.2f} "
              f"[{ci[0]:.2f}, {ci[1]:.2f}] times what another active neuron does (needs {min_enrichment})")
    if push_share > min_share and ci[1] < min_enrichment:
        reason += ": the majority of an always-active type, not more per active neuron"
    verdict = decide(push_share > min_share and enrichment > min_enrichment,
                     share_ci[0] > min_share and ci[0] > min_enrichment,
                     share_ci[1] < min_share or ci[1] < min_enrichment)
    if base is not None and without_shared is not None:
        check, why, numbers = mean_ablation_check(base, without_shared, chance=chance, floor=floor, seed=seed)
        measured |= numbers
        reason += f"; {why}"
        verdict = "refuted" if "refuted" in (verdict, check) else verdict if verdict == check else "inconclusive"
    return Verdict(verdict, reason, effect_name, enrichment, ci, measured, params)


def layer_bands(n_layers: int, first_share: float, upper_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``first_share`` and the top ``upper_share`` of the layers (at least one each) and the layers
    between them, as index arrays."""
    n_first, n_upper = max(1, round(first_share * n_layers)), max(1, round(upper_share * n_layers))
    layers = np.arange(n_layers)
    return layers[:n_first], layers[n_layers - n_upper:], layers[n_first:max(n_first, n_layers - n_upper)]


def _ends_ratio(profile: np.ndarray, bands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """min(mean over the first band, mean over the upper band) / mean over the middle band, along the last axis;
    NaN where a band has no value or the middle's mean is not positive."""
    first, upper, middle = (np.nanmean(profile[..., band], axis=-1) for band in bands)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(middle > 0, np.minimum(first, upper) / np.where(middle > 0, middle, 1), np.nan)


def effective_layers_rule(layer_max: np.ndarray, sample_max: np.ndarray, *, first_share: float = 0.1,
                          upper_share: float = 0.3, min_ratio: float = 1.25, min_examples: int = 5,
                          seed: int = 0) -> Verdict:
    """The largest effective scores of all-shared neurons sit in the first and the upper layers (§6.2, Fig. 10:
    "all-shared neurons aggregates at the first layer and upper layers").

    layer_max (langs, layers): the all-shared neurons' largest effective score per layer (the paper's maxima);
    sample_max (examples, langs, layers): per row and layer, the expected maximum of a fixed number of all-shared
    neurons drawn at random (NaN where fewer): the control, since the maximum over more neurons is larger by
    extreme values alone. Per profile over layers (the maxima over languages; the sample's mean over rows), the
    ends ratio is the smaller of the means over the first ``first_share`` and the top ``upper_share`` of the
    layers over the mean of the layers between. Supported when the paper's maxima give a ratio over ``min_ratio``
    and the control's bootstrap interval (over examples) lies above it; refuted when either lies below it.
    """
    params = {"first_share": first_share, "upper_share": upper_share, "min_ratio": min_ratio,
              "min_examples": min_examples, "seed": seed,
              "control": "expected maximum of a fixed number of all-shared neurons drawn per row and layer"}
    effect_name = "ends over middle layers, sampled all-shared maxima"
    n_examples, _, n_layers = sample_max.shape
    bands = layer_bands(n_layers, first_share, upper_share)
    measured: dict[str, float | None] = {"layers": n_layers, "first band": len(bands[0]),
                                        "upper band": len(bands[1]), "examples": n_examples}
    if not len(bands[2]):
        return inconclusive(f"{n_layers} layers leave none between the first and the upper band", effect_name,
                            measured=measured, params=params)
    if n_examples < min_examples:
        return inconclusive(f"only {n_examples} examples (< {min_examples})", effect_name, measured=measured,
                            params=params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN layers (no all-shared neuron, or too few)
        maxima = np.nanmax(layer_max, axis=0)  # (layers,)
        by_example = np.nanmean(sample_max, axis=1)  # (examples, layers)
        sampled = np.nanmean(by_example, axis=0)
        paper = float(_ends_ratio(maxima, bands))
        control = float(_ends_ratio(sampled, bands))
        resampled = _ends_ratio(np.nanmean(by_example[_draws(n_examples, seed)], axis=1), bands)
        ci = tuple(float(v) for v in np.nanpercentile(resampled, [2.5, 97.5])) if np.isfinite(resampled).any() \
            else (math.nan, math.nan)
    measured |= {"ends over middle (paper's maxima)": paper, "ends over middle (sampled maxima)": control,
                 "layer of the largest maximum": int(np.nanargmax(maxima)) if np.isfinite(maxima).any() else None}
    if not (math.isfinite(paper) and math.isfinite(control)):
        return inconclusive("a band of layers has no all-shared maximum, too few all-shared neurons for the sample, "
                            "or maxima not positive in the middle layers", effect_name, control, ci, measured, params)
    reason = (f"the all-shared maxima of the first and the upper layers are {paper:.2f}x those of the middle layers "
              f"(paper's maxima), {control:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]x at a fixed number of neurons per layer "
              f"(needs {min_ratio} in both)")
    if paper > min_ratio and ci[1] < min_ratio:
        reason += ": the ends hold more all-shared neurons, not larger scores"
    verdict = decide(paper > min_ratio and control > min_ratio, ci[0] > min_ratio,
                     paper < min_ratio or ci[1] < min_ratio)
    return Verdict(verdict, reason, effect_name, control, ci, measured, params)
