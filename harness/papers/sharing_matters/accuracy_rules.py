"""Decision rules on accuracy under interventions (§6.3): deactivation and conversion, against their controls.

A rule on accuracy means something only where the model can do the task: each one first asks whether the baseline
has enough correct items and (for tasks with verbalizers) is significantly above chance, the accuracy of always
giving the most common answer; otherwise the verdict is inconclusive with that reason, never refuted.

A drawn control that falls well short of its target (under ``min_reach`` of its neurons, or of the contribution
for the matched control) cannot pass the comparison: it removed less than the set it stands for, so beating it
says nothing, and a verdict that would be supported is inconclusive, saying so. It can still refute: a smaller
control that costs as much is evidence against the finding all the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from harness.core.stats import above_chance, bootstrap_ci, bootstrap_interval, mcnemar, mean_difference, ratio
from harness.core.verdict import Verdict, decide, inconclusive

ABLATION_LABELS = {"all_shared": "w/o all-shared", "specific": "w/o specific", "partial_shared": "w/o partial-shared",
                   "random": "w/o random (same size)", "matched": "w/o matched (same contribution)"}
ABLATION_CONTROLS = ("specific", "partial_shared", "random", "matched")
CONTROL_NAMES = {"specific": "specific", "partial_shared": "partial-shared", "random": "random", "matched": "matched"}


def inability(correct: np.ndarray, chance: float, *, alpha: float = 0.05, min_correct: int = 5,
              min_wrong: int = 0) -> str | None:
    """Why the model cannot do the task on these items (baseline correctness, any shape), or None if it can.

    Too few correct items; not significantly above ``chance`` (one-sided binomial test; chance 0 skips it);
    or, with ``min_wrong``, too few wrong items to leave room for an improvement.
    """
    n, k = correct.size, int(correct.sum())
    if k < min_correct:
        return f"the model cannot do the task here: {k} of {n} items correct at baseline (< {min_correct})"
    if chance > 0 and (p := above_chance(k, n, chance)) >= alpha:
        return (f"the model cannot do the task here: baseline {100 * k / n:.1f}% is not above chance "
                f"{100 * chance:.1f}% (binomial p={p:.2g} >= {alpha})")
    if n - k < min_wrong:
        return f"no room to improve: {n - k} of {n} items wrong at baseline (< {min_wrong})"
    return None


def short_controls(reach: Mapping[str, float], min_reach: float, names: Mapping[str, str]) -> str | None:
    """Why the controls that reached under ``min_reach`` of their target cannot pass the comparison, or None."""
    short = [f"the {names[c]} control reached {100 * share:.0f}% of its target "
             f"{'contribution' if c == 'matched' else 'count'}" for c, share in reach.items() if share < min_reach]
    if not short:
        return None
    return (f"{' and '.join(short)} (needs {100 * min_reach:.0f}%): a control that falls short cannot pass the "
            "comparison")


def relative_drop(base: np.ndarray, ablated: np.ndarray, floor: float, axis: int = -1) -> np.ndarray:
    """(baseline - ablated) / (baseline - floor) of mean accuracies: 1 is a collapse to the floor (0 for generated
    answers, chance under forced choice), 0 no change."""
    before = base.mean(axis=axis)
    room = before - floor
    return np.where(room > 0, (before - ablated.mean(axis=axis)) / np.where(room > 0, room, 1), 0.0)


def ablation_tests(base: np.ndarray, ablated: dict[str, np.ndarray]) -> dict[str, float]:
    """Raw two-sided p-values of one language: baseline vs all-shared, and all-shared vs each control present."""
    return {"baseline": mcnemar(base, ablated["all_shared"]),
            **{c: mcnemar(ablated[c], ablated["all_shared"]) for c in ABLATION_CONTROLS if c in ablated}}


def ablation_rule(base: np.ndarray, ablated: dict[str, np.ndarray], *, floor: float, chance: float,
                  adjusted: dict[str, float] | None = None, reach: Mapping[str, float] | None = None,
                  min_relative_drop: float = 0.5, alpha: float = 0.05, min_correct: int = 5, min_reach: float = 0.9,
                  seed: int = 0) -> Verdict:
    """Deactivating the active all-shared neurons collapses accuracy, more than specific, partial-shared, a random
    same-size set of active neurons and a contribution-matched set (§6.3, Tables 2, 5, 6).

    base (items,) bool; ablated[c] (items,) correctness under condition c, paired (a seeded control: the share of
    its seeds that were correct). ``floor``: where accuracy ends when the model collapses (0 for generated
    answers, chance under forced choice); ``chance``: the best constant answer, for the ability gate.
    ``adjusted``: p-values adjusted across the languages of the claim (Holm), keyed as ``ablation_tests``.
    ``reach``: the share of its target each drawn control (``random``, ``matched``) reached; one under
    ``min_reach`` makes a verdict that would be supported inconclusive.
    """
    params = {"min_relative_drop": min_relative_drop, "alpha": alpha, "min_correct": min_correct, "seed": seed,
              "floor": floor, "chance": chance, "min_reach": min_reach,
              "p-values": "Holm-adjusted across languages" if adjusted is not None else "raw"}
    reach = {c: float(share) for c, share in (reach or {}).items() if c in ablated}
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
    measured |= {f"{CONTROL_NAMES[c]} control: share of its target reached": share for c, share in reach.items()}
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
    if short := short_controls(reach, min_reach, CONTROL_NAMES):
        reason += f"; {short}"
        verdict = "inconclusive" if verdict == "supported" else verdict
    return Verdict(verdict, reason, "relative accuracy drop", relative, ci, measured, params)


TYPE_NAMES = {"specific": "specific", "partial_shared": "partial-shared"}


def type_ablation_rule(base: np.ndarray, ablated: np.ndarray, control: np.ndarray, all_shared: np.ndarray, *,
                       type_name: str, chance: float, control_reach: float = 1.0, min_language_share: float = 2 / 3,
                       max_control_share: float = 0.5, alpha: float = 0.05, min_correct: int = 5,
                       min_reach: float = 0.9, seed: int = 0) -> Verdict:
    """Deactivating the active neurons of one other type alone (specific, or partial-shared) also lowers accuracy,
    less than deactivating the all-shared ones (§6.3, Table 2's rows), through the neurons it deactivates: as many
    random active neurons of the other types (our control) cost under ``max_control_share`` of its drop, so the drop
    is not what removing any that many active neurons costs.

    base, ablated, all_shared (examples, langs) bool: baseline, without the type's active neurons, without the
    all-shared ones; control (examples, langs) the share of the control's seeds that were correct. Pooled over
    languages, as the paper states it: the mean drop over languages, not higher in ``min_language_share`` of them
    (the paper: 8 of 9 for specific, 7 of 9 for partial-shared). Intervals are over examples, each keeping its
    languages: of the mean drop, of the control's drop as a share of the type's, and of how much more all-shared
    costs than the type. ``control_reach``: the share of its target count the control reached; under
    ``min_reach`` a verdict that would be supported is inconclusive.
    """
    name = TYPE_NAMES[type_name]
    params = {"type": name, "min_language_share": min_language_share, "max_control_share": max_control_share,
              "alpha": alpha, "min_correct": min_correct, "min_reach": min_reach, "seed": seed, "chance": chance,
              "control": f"as many active neurons as the {name} ones, drawn from the other types, per row and layer"}
    drops_by_language = base.mean(axis=0) - ablated.mean(axis=0)  # (langs,)
    share_not_up = float(np.mean(drops_by_language >= 0))
    drop = float(drops_by_language.mean())
    per_example = {key: x.astype(float).mean(axis=1) for key, x in
                   (("base", base), ("ablated", ablated), ("control", control), ("all_shared", all_shared))}
    drops = {key: per_example["base"] - per_example[key] for key in ("ablated", "control")}  # (examples,)

    def control_share(indices: np.ndarray) -> float:
        return ratio(drops["control"][indices].mean(), drops["ablated"][indices].mean(), math.nan)

    ci = bootstrap_ci(mean_difference, per_example["base"], per_example["ablated"], seed=seed)
    share = control_share(np.arange(len(base)))
    share_ci = bootstrap_interval(control_share, len(base), seed=seed)
    margin = float(per_example["ablated"].mean() - per_example["all_shared"].mean())  # all-shared costs this more
    margin_ci = bootstrap_ci(mean_difference, per_example["ablated"], per_example["all_shared"], seed=seed)
    measured = {"baseline": 100 * float(base.mean()), f"w/o {name}": 100 * float(ablated.mean()),
                f"w/o random (as many as {name})": 100 * float(control.mean()),
                "w/o all-shared": 100 * float(all_shared.mean()), "mean drop (points)": 100 * drop,
                "languages not higher": share_not_up, "control's share of the drop": share,
                "control's share CI low": share_ci[0], "control's share CI high": share_ci[1],
                f"all-shared costs more than {name} (points)": 100 * margin,
                "p (baseline vs ablated, pooled)": mcnemar(base.ravel(), ablated.ravel()),
                "control: share of its target reached": control_reach}
    reason = (f"mean drop {100 * drop:+.2f} points [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}], not higher in "
              f"{100 * share_not_up:.0f}% of languages (needs {100 * min_language_share:.0f}%); as many random "
              f"active neurons of other types cost {share:.2f} [{share_ci[0]:.2f}, {share_ci[1]:.2f}] of the drop "
              f"(must stay under {max_control_share}); all-shared costs {100 * margin:+.2f} "
              f"[{100 * margin_ci[0]:+.2f}, {100 * margin_ci[1]:+.2f}] points more than {name}")
    unable = inability(base, chance, alpha=alpha, min_correct=min_correct)
    if unable:
        return inconclusive(f"{unable}; {reason}", "mean accuracy drop", drop, ci, measured, params)
    holds = drop > 0 and share_not_up >= min_language_share and share < max_control_share and margin > 0
    failed = [why for why, bad in (("no drop", ci[1] <= 0),
                                   ("raised in too many languages", share_not_up < min_language_share),
                                   ("the control costs as much", share_ci[0] >= max_control_share),
                                   ("costs at least as much as all-shared", margin_ci[1] <= 0)) if bad]
    verdict = decide(holds, ci[0] > 0 and share_ci[1] < max_control_share and margin_ci[0] > 0, bool(failed))
    if verdict == "refuted":
        reason += "; " + ", ".join(failed)
    if short := short_controls({"random": control_reach}, min_reach, {"random": f"random (as many as {name})"}):
        reason += f"; {short}"
        verdict = "inconclusive" if verdict == "supported" else verdict
    return Verdict(verdict, reason, "mean accuracy drop", drop, ci, measured, params)


def conversion_rule(base: np.ndarray, converted: np.ndarray, control: np.ndarray, *, chance: float,
                    control_reach: float = 1.0, min_language_share: float = 2 / 3, max_control_share: float = 0.5,
                    alpha: float = 0.05, min_correct: int = 5, min_wrong: int = 5, min_reach: float = 0.9,
                    seed: int = 0) -> Verdict:
    """Converting specific and partial-shared neurons to all-shared raises accuracy in most languages (§6.3,
    Table 3), through the neurons it converts: raising as many random non-activated neurons the same way (our
    control) recovers less than ``max_control_share`` of its gain. Table 3's rows of one type (either alone) are
    judged by the same rule, on that type's conversion and its own control.

    base, converted (examples, langs) bool; control (examples, langs) share of the control's seeds correct.
    Intervals are over examples (each keeps its languages): of the mean change over languages, and of the control's
    gain as a share of the conversion's. ``control_reach``: the share of its target count the control reached;
    under ``min_reach`` a verdict that would be supported is inconclusive.
    """
    params = {"min_language_share": min_language_share, "max_control_share": max_control_share, "alpha": alpha,
              "min_correct": min_correct, "min_wrong": min_wrong, "min_reach": min_reach, "seed": seed,
              "chance": chance,
              "control": "as many non-activated neurons raised to threshold + epsilon, per row and layer"}
    change = converted.mean(axis=0) - base.mean(axis=0)  # (langs,)
    share_up = float(np.mean(change >= 0))
    mean_change = float(change.mean())
    gains = {name: x.astype(float).mean(axis=1) - base.astype(float).mean(axis=1)
             for name, x in (("converted", converted), ("control", control))}  # per example (examples,)

    def control_share(indices: np.ndarray) -> float:
        gain = gains["converted"][indices].mean()
        return ratio(gains["control"][indices].mean(), gain, math.nan)

    ci = bootstrap_ci(mean_difference, converted.astype(float).mean(axis=1), base.astype(float).mean(axis=1),
                      seed=seed)
    share = control_share(np.arange(len(base)))
    share_ci = bootstrap_interval(control_share, len(base), seed=seed)
    measured = {"mean change (points)": 100 * mean_change, "languages not worse": share_up,
                "control mean change (points)": 100 * float(gains["control"].mean()),
                "control's share of the gain": share, "control's share CI low": share_ci[0],
                "control's share CI high": share_ci[1],
                "p (baseline vs converted, pooled)": mcnemar(base.ravel(), converted.ravel()),
                "control: share of its target reached": control_reach}
    reason = (f"mean change {100 * mean_change:+.2f} points [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}], not worse in "
              f"{100 * share_up:.0f}% of languages (needs {100 * min_language_share:.0f}%); the control recovers "
              f"{share:.2f} [{share_ci[0]:.2f}, {share_ci[1]:.2f}] of the gain (must stay under {max_control_share})")
    unable = inability(base, chance, alpha=alpha, min_correct=min_correct, min_wrong=min_wrong)
    if unable:
        return inconclusive(f"{unable}; {reason}", "mean accuracy change", mean_change, ci, measured,
                       params)
    holds = share_up >= min_language_share and mean_change > 0 and share < max_control_share
    verdict = decide(holds, ci[0] > 0 and share_ci[1] < max_control_share,
                     ci[1] <= 0 or share_up < min_language_share or share_ci[0] >= max_control_share)
    if short := short_controls({"random": control_reach}, min_reach, {"random": "random non-activated"}):
        reason += f"; {short}"
        verdict = "inconclusive" if verdict == "supported" else verdict
    return Verdict(verdict, reason, "mean accuracy change", mean_change, ci, measured, params)
