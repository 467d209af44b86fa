"""Rules of the ablation and contribution claims as they were before issue 27's controls (kept verbatim, for
tests/test_adversarial.py only): ``planted-offset`` fools the ablation rule, which counted controls that fell far
short of their target, and ``planted-cancelling`` fools the contribution to the correct output, read from A as it
is without asking whether the credited neurons matter. The rules that replaced them must not be fooled.
"""

from __future__ import annotations

import math

import numpy as np

from harness.core.stats import bootstrap_ci, mean_difference, ratio
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.sharing_matters.accuracy_rules import (
    ABLATION_CONTROLS,
    ABLATION_LABELS,
    CONTROL_NAMES,
    ablation_tests,
    inability,
    relative_drop,
)
from harness.papers.sharing_matters.contribution_rules import _draws, _push_statistics
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.reducers import ACTIVE, CONTRIBUTION, NEURONS


def ablation_rule(base: np.ndarray, ablated: dict[str, np.ndarray], *, floor: float, chance: float,
                  adjusted: dict[str, float] | None = None, min_relative_drop: float = 0.5, alpha: float = 0.05,
                  min_correct: int = 5, seed: int = 0) -> Verdict:
    """Deactivating the active all-shared neurons collapses accuracy, more than specific, partial-shared, a random
    same-size set of active neurons and a contribution-matched set (§6.3, Tables 2, 5, 6).

    base (items,) bool; ablated[c] (items,) correctness under condition c, paired (a seeded control: the share of
    its seeds that were correct). ``floor``: where accuracy ends when the model collapses (0 for generated
    answers, chance under forced choice); ``chance``: the best constant answer, for the ability gate.
    ``adjusted``: p-values adjusted across the languages of the claim (Holm), keyed as ``ablation_tests``.
    """
    params = {"min_relative_drop": min_relative_drop, "alpha": alpha, "min_correct": min_correct, "seed": seed,
              "floor": floor, "chance": chance,
              "p-values": "Holm-adjusted across languages" if adjusted is not None else "raw"}
    base = base.astype(bool)
    controls = [c for c in ABLATION_CONTROLS if c in ablated]
    acc = {"baseline": float(base.mean()), **{c: float(v.mean()) for c, v in ablated.items()}}
    relative = float(relative_drop(base, ablated["all_shared"], floor))
    ci = bootstrap_ci(lambda b, a, axis=-1: relative_drop(b, a, floor, axis), base.astype(float),
                      ablated["all_shared"].astype(float), seed=seed)
    raw = ablation_tests(base, ablated)
    p = raw if adjusted is None else adjusted
    # accuracy(control) - accuracy(all-shared) = how much more all-shared costs, paired per item
    margins = {c: acc[c] - acc["all_shared"] for c in controls}
    margin_ci = {c: bootstrap_ci(mean_difference, ablated[c].astype(float), ablated["all_shared"].astype(float),
                                 seed=seed) for c in controls}
    measured = {"baseline": 100 * acc["baseline"], **{ABLATION_LABELS[c]: 100 * acc[c] for c in ablated},
                "relative drop (all-shared)": relative, "accuracy floor": 100 * floor,
                "p (baseline vs w/o all-shared)": raw["baseline"],
                **{f"p (w/o all-shared vs {ABLATION_LABELS[c]})": raw[c] for c in controls}}
    if adjusted is not None:
        measured |= {"Holm p (baseline vs w/o all-shared)": adjusted["baseline"],
                     **{f"Holm p (w/o all-shared vs {ABLATION_LABELS[c]})": adjusted[c] for c in controls}}
    reason = (f"relative drop {relative:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] vs {min_relative_drop}; all-shared costs "
              + ", ".join(f"{100 * margins[c]:+.1f} [{100 * margin_ci[c][0]:+.1f}, {100 * margin_ci[c][1]:+.1f}] "
                          f"points more than {CONTROL_NAMES[c]}" for c in controls) + f"; p={p['baseline']:.2g}")
    unable = inability(base, chance, alpha=alpha, min_correct=min_correct)
    if unable:
        return inconclusive(f"{unable}; {reason}", "relative accuracy drop", relative, ci, measured, params)
    holds = relative >= min_relative_drop and all(m > 0 for m in margins.values())
    significant = p["baseline"] < alpha and all(p[c] < alpha for c in controls)
    beaten_by = [c for c in controls if margin_ci[c][1] <= 0]  # a control confidently costs at least as much
    verdict = decide(holds, significant, ci[1] < min_relative_drop or bool(beaten_by))
    if beaten_by:
        reason += f"; {', '.join(CONTROL_NAMES[c] for c in beaten_by)} costs at least as much"
    return Verdict(verdict, reason, "relative accuracy drop", relative, ci, measured, params)



def correct_output_rule(rows: np.ndarray, *, min_share: float = 0.5, min_enrichment: float = 1.5,
                        min_examples: int = 5, seed: int = 0) -> Verdict:
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
    """
    params = {"min_share": min_share, "min_enrichment": min_enrichment, "min_examples": min_examples, "seed": seed,
              "contribution to the correct output": "positive effective scores toward the gold reference token",
              "control": "push per active all-shared neuron over push per other active neuron (Mantel-Haenszel rate "
                         "ratio over row-layers)"}
    effect_name = "push per active all-shared neuron over per other active neuron"
    n_examples = len(rows)
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
    return Verdict(verdict, reason, effect_name, enrichment, ci, measured, params)

