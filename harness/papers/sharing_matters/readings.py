"""Two readings of one claim beside each other, where a real model can fool the paper's reading: the verdict is
one, the other is recorded (``Verdict.controls``, a measured number, the reason and a table of the report).

- Contribution claims (§6.1-6.2): the verdict reads contributions centred on each neuron's mean over the task's
  inputs, (A_i - mean A_i) v_i (``centred``), and the paper's reading of A as it is is recorded (``PAPER``).
  Outputs that are the same for every input (an always-on neuron, or pairs whose outputs cancel) change nothing
  the model computes, yet the paper's reading credits them.
- Ablation claims (§6.3): the verdict reads the paper's zeroing, since the finding is stated with it, and
  mean-ablation (each deactivated neuron set to its mean over the task's inputs) is recorded (``MEAN_ABLATION``).
  Zeroing can move a neuron far from every value it takes on the task: a collapse that vanishes under
  mean-ablation is said so.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import CENTRED, Measurement

PAPER = "uncentred (paper)"
MEAN_ABLATION = "mean-ablation"


def centred(m: Measurement) -> Measurement:
    """The measurement with its attribution summaries read from A centred on each neuron's mean (reducers'
    ``READING_FIELDS``); everything else as measured. A clear error where it was not measured."""
    if not m.centred:
        raise ValueError(f"{m.label} has no centred attribution: measure it with the condition {CENTRED!r}")
    return dataclasses.replace(m, **m.centred)


def with_paper_reading(ours: Verdict, paper: Verdict, *, claim: str, instance: str) -> Verdict:
    """``ours`` (the centred reading: the claim's verdict) with the paper's uncentred reading beside it."""
    note = "the paper's reading of A as it is"
    if paper.verdict == "supported" and ours.verdict != "supported":
        note += " credits outputs that are the same for every input, which change nothing the model computes"
    return _beside(ours, paper, control=PAPER, note=note, claim=claim, instance=instance,
                   columns=("verdict, centred on the mean (ours)", "verdict, A as it is (paper)"))


def with_mean_ablation(zeroed: Verdict, mean: Verdict, *, claim: str, instance: str) -> Verdict:
    """``zeroed`` (the paper's zeroing: the claim's verdict) with the same rule under mean-ablation beside it."""
    note = "under mean-ablation (each neuron set to its mean over the task's inputs)"
    if zeroed.verdict != "refuted" and mean.verdict == "refuted":
        note = ("what zeroing shows vanishes under mean-ablation (each neuron set to its mean over the task's "
                "inputs): zeroing moves the neurons off the values they take on the task")
    return _beside(zeroed, mean, control=MEAN_ABLATION, note=note, claim=claim, instance=instance,
                   columns=("verdict, zeroed (paper)", "verdict, mean-ablated (ours)"))


def _beside(verdict: Verdict, other: Verdict, *, control: str, note: str, claim: str, instance: str,
            columns: tuple[str, str]) -> Verdict:
    verdict.controls[control] = {"verdict": other.verdict, "reason": other.reason, "effect_name": other.effect_name,
                                 "effect": other.effect, "ci": list(other.ci)}
    verdict.measured[f"{other.effect_name} ({control})"] = other.effect
    verdict.reason += f"; {note}: {other.verdict} ({other.reason})"
    verdict.tables.append(_table(verdict, other, control=control, claim=claim, instance=instance, columns=columns))
    return verdict


def _table(verdict: Verdict, other: Verdict, *, control: str, claim: str, instance: str,
           columns: tuple[str, str]) -> dict[str, Any]:
    """One row per instance: both readings' verdicts and effects."""
    return {"id": f"{control.split()[0]}-reading-{claim}", "title": f"Both readings: {columns[0]} and {columns[1]}",
            "columns": [*columns, f"{verdict.effect_name}: {columns[0].split(', ')[1]}",
                        f"{other.effect_name}: {columns[1].split(', ')[1]}"],
            "rows": [{"label": instance, "source": "ours",
                      "values": [verdict.verdict, other.verdict, verdict.effect, other.effect]}]}
