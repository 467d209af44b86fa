"""Table 2's and Table 3's rows of one type (§6.3): deactivating the specific neurons alone or the partial-shared ones
alone, and converting either alone. Each is judged against a control sized to that type, per row and layer
(harness.papers.sharing_matters.conditions): for deactivation, as many active neurons of the other types; for
conversion, as many non-activated neurons raised the same way. What the four claims of those rows share: each
control's share of its target (one that falls short cannot pass the comparison), and for deactivation the same rule
under mean-ablation beside the paper's zeroing (harness.papers.sharing_matters.readings)."""

from __future__ import annotations

from typing import Any

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.accuracy_rules import TYPE_NAMES, conversion_rule, type_ablation_rule
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.paper_tables import (
    TABLE3_BLOOMZ_XNLI,
    ablation_table,
    conversion_summary,
    deactivation_summary,
)
from harness.papers.sharing_matters.readings import with_mean_ablation
from harness.papers.sharing_matters.views import accuracy_table, edits_table


def ablation_conditions(type_name: str) -> tuple[str, ...]:
    """What a one-type deactivation claim reads: the type, its own control and all-shared (which must cost more),
    and the two deactivations again by mean-ablation."""
    return ("all_shared", type_name, f"random_{type_name}", "all_shared_mean", f"{type_name}_mean")


def conversion_conditions(type_name: str) -> tuple[str, ...]:
    return (f"convert_{type_name}", f"convert_random_{type_name}")


def ablation_paper_numbers(type_name: str):
    """The paper's numbers for (model id, task, language) of a one-type deactivation claim: its table's row."""
    return lambda model_id, task, _language: deactivation_summary(ablation_table(model_id, task),
                                                                  f"w/o {TYPE_NAMES[type_name]}")


def conversion_paper_numbers(type_name: str):
    """The paper's numbers of a one-type conversion claim: Table 3's row (BLOOMZ XNLI, the only one)."""
    return lambda *_: conversion_summary(TABLE3_BLOOMZ_XNLI, f"co. {TYPE_NAMES[type_name]}")


def _paper_rows(table: dict[str, dict[str, float]], labels: tuple[str, ...]) -> dict[str, dict[str, float]]:
    return {label: table[label] for label in labels if label in table}


def ablation_verdict(m: Measurement, type_name: str, seed: int = 0) -> Verdict:
    """The one-type deactivation rule on a measurement, pooled over its languages, with its tables; by zeroing
    (the verdict), and by mean-ablation beside it where the measurement has it. The control is drawn and zeroed
    only, so the mean-ablation reading has none (it compares the type with all-shared)."""
    name = TYPE_NAMES[type_name]
    control = f"random_{type_name}"
    base = m.correct["baseline"].numpy()
    verdict = type_ablation_rule(base, m.correct[type_name].numpy(), m.outcome(control).numpy(),
                                 m.correct["all_shared"].numpy(), type_name=type_name, chance=float(m.chance.mean()),
                                 control_reach=m.reached_share(control), seed=seed)
    verdict.params["scoring"] = m.scoring["kind"]
    if m.seeds(f"{type_name}_mean"):
        mean = type_ablation_rule(base, m.correct[f"{type_name}_mean"].numpy(), base.astype(float),
                                  m.correct["all_shared_mean"].numpy(), type_name=type_name,
                                  chance=float(m.chance.mean()), seed=seed)
        verdict = with_mean_ablation(verdict, mean, claim=f"ablate-{name}", instance=m.label)
    paper = _paper_rows(ablation_table(str(m.model["model_id"]), m.task), ("baseline", f"w/o {name}",
                                                                            "w/o all-shared"))
    verdict.tables += [accuracy_table(m, f"ablation-{type_name}", f"Accuracy without the {name} neurons (Tables 2, "
                                      "5, 6 layout)", {"baseline": "baseline", type_name: f"w/o {name}",
                                                       control: f"w/o random (as many as {name}; control)",
                                                       "all_shared": "w/o all-shared",
                                                       f"{type_name}_mean": f"w/o {name} (mean-ablated)",
                                                       "all_shared_mean": "w/o all-shared (mean-ablated)"}, paper),
                       edits_table(m, f"ablation-{type_name}-edits", [type_name, control, "all_shared"])]
    return verdict


def conversion_verdict(m: Measurement, type_name: str, seed: int = 0, **limits: Any) -> Verdict:
    """The conversion rule on one type's conversion and its own control, with its tables; ``limits`` go to the rule
    (the claim's reading of its Table 3 row, e.g. ``min_language_share``)."""
    name = TYPE_NAMES[type_name]
    converted, control = conversion_conditions(type_name)
    verdict = conversion_rule(m.correct["baseline"].numpy(), m.correct[converted].numpy(),
                              m.outcome(control).numpy(), chance=float(m.chance.mean()),
                              control_reach=m.reached_share(control), seed=seed, **limits)
    verdict.params |= {"converted": name, "epsilon": m.config["epsilon"], "scoring": m.scoring["kind"]}
    paper = _paper_rows(TABLE3_BLOOMZ_XNLI, ("baseline", f"co. {name}"))
    verdict.tables += [accuracy_table(m, f"conversion-{type_name}", f"Accuracy after converting the {name} neurons "
                                      "(Table 3 layout)", {"baseline": "baseline", converted: f"co. {name}",
                                                           control: f"co. random non-activated (as many as {name}; "
                                                                    "control)"}, paper),
                       edits_table(m, f"conversion-{type_name}-edits", [converted, control])]
    return verdict
