"""Sharing Matters' plot and table specs for the report, built from its measurements (the report draws whatever
specs it gets)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.papers.sharing_matters.contribution_rules import layer_averages
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import ALL, TYPES
from harness.papers.sharing_matters.paper_tables import CORRECT_OUTPUT_SHARE
from harness.papers.sharing_matters.reducers import ACTIVE, CONTRIBUTION, NEURONS, PUSH
from harness.papers.sharing_matters.scale_rules import at_depths, relative_depths

TYPE_LABELS = {"all_shared": "all-shared", "partial_shared": "partial-shared", "specific": "specific",
               "non_activated": "non-activated"}


def type_shares_plot(m: Measurement, *, versus: Measurement | None = None, versus_label: str = "base",
                     note: str = "") -> dict[str, Any]:
    """Figs 2-4 left: the share of each type per layer; with ``versus``, its curves dashed beside (Fig. 7)."""
    series = {TYPE_LABELS[t]: m.shares[i].tolist() for i, t in enumerate(TYPES)}
    if versus is not None:
        series |= {f"{TYPE_LABELS[t]} ({versus_label})": versus.shares[i].tolist() for i, t in enumerate(TYPES)}
    suffix = f" vs {versus_label}" if versus is not None else ""
    return {"id": f"shares-{m.model['model']}-{m.task}{suffix.replace(' ', '-')}", "kind": "lines",
            "title": f"Share of neuron types per layer: {m.model['model']} {m.task}{suffix}", "x_label": "layer",
            "y_label": "share of neurons", "x": list(range(len(m.shares[0]))), "series": series, "paper_note": note,
            "versus_suffix": f" ({versus_label})"}


def matched_density_plot(m: Measurement, matched: np.ndarray, density: float) -> dict[str, Any]:
    """The all-shared share per layer at the run's threshold and with every layer at one activation density
    (``matched``: (examples, T, layers), NaN in a layer not compared)."""
    at_density = matched[:, ALL].mean(axis=0)  # NaN where the layer is not compared (in every example alike)
    return {"id": f"matched-density-{m.model['model']}-{m.task}", "kind": "lines",
            "title": f"All-shared share per layer at the run's threshold and at matched density: {m.model['model']} "
                     f"{m.task}", "x_label": "layer", "y_label": "share of neurons",
            "x": list(range(matched.shape[-1])),
            "series": {"all-shared": m.shares[ALL].tolist(),
                       f"all-shared, every layer at {100 * density:.1f}% active": [
                           None if np.isnan(v) else float(v) for v in at_density]},
            "paper_note": "a peak that is a layer's density alone is gone at matched density"}


def activated_plot(m: Measurement) -> dict[str, Any]:
    return {"id": f"activated-{m.model['model']}-{m.task}", "kind": "lines",
            "title": f"Activated neurons per language and layer: {m.model['model']} {m.task}", "x_label": "layer",
            "y_label": "share activated", "x": list(range(m.activated.shape[1])),
            "series": {lang: m.activated[i].tolist() for i, lang in enumerate(m.languages)},
            "paper_note": "Figs 2-4 right: rises to a peak near layer 6 of 30, falls, rises again at the top"}


def accuracy_table(m: Measurement, table_id: str, title: str, conditions: dict[str, str],
                   paper: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Rows per condition (ours, in %), then the paper's rows under them; columns are languages."""
    columns = list(m.languages) + [lang for row in paper.values() for lang in row if lang not in m.languages]
    columns = list(dict.fromkeys(columns))
    rows = []
    for condition, label in conditions.items():
        if condition != "baseline" and not m.seeds(condition):
            continue  # not run (e.g. the contribution-matched control without value vectors)
        acc = dict(zip(m.languages, (100 * m.accuracy(condition)).tolist(), strict=True))
        rows.append({"label": label, "source": "ours", "values": [acc.get(c) for c in columns]})
    for label, values in paper.items():
        rows.append({"label": label, "source": "paper", "values": [values.get(c) for c in columns]})
    return {"id": f"{table_id}-{m.model['model']}-{m.task}", "title": f"{title}: {m.model['model']} {m.task}",
            "columns": columns, "rows": rows}


def edits_table(m: Measurement, table_id: str, families: list[str]) -> dict[str, Any]:
    """Neurons each condition edits per row (all layers, mean over examples; a seeded control: over its seeds too),
    and the share of its target each drawn control reached, per language (pooled over its seeds and rows)."""
    rows = []
    for family in families:
        runs = m.seeds(family)
        if not runs:
            continue
        edits = torch.stack([m.edits[c].double() for c in runs]).mean(dim=(0, 1))  # (langs,)
        rows.append({"label": f"{family}: neurons edited per row", "source": "ours", "values": edits.tolist()})
        if runs[0] in m.reach:
            unit = "summed contribution" if family == "matched" else "neurons"
            rows.append({"label": f"{family}: share of its target reached ({unit})", "source": "ours",
                         "values": [m.reached_share(family, lang) for lang in m.languages]})
    return {"id": f"{table_id}-{m.model['model']}-{m.task}", "columns": list(m.languages), "rows": rows,
            "title": f"Neurons edited per row (example x language): {m.model['model']} {m.task}"}


def contribution_plot(m: Measurement) -> dict[str, Any]:
    """Figs 8-9: which types the top 5% contributors (eq. 3) belong to, per layer."""
    return {"id": f"contribution-{m.model['model']}-{m.task}", "kind": "lines",
            "title": f"Types of the top-5% contributing neurons per layer: {m.model['model']} {m.task}",
            "x_label": "layer", "y_label": "share of the top 5%", "x": list(range(m.top_contribution.shape[1])),
            "series": {TYPE_LABELS[t]: m.top_contribution[i].tolist() for i, t in enumerate(TYPES)},
            "paper_note": "Figs 8-9, 23-26: all-shared neurons are the top contributors at every layer"}


def stack_shares_plots(m: Measurement) -> list[dict[str, Any]]:
    """Figs 14-15 (mT0's encoder, mT0's decoder): the share of each type per layer, one plot per stack, the layers
    of each stack as the measurement records them (``model["stacks"]``)."""
    plots = []
    for stack, first, end in m.model["stacks"]:
        note = {"encoder": "Fig. 14 (mT0-encoder): more all-shared neurons than the decoder's (App. A.3.2)",
                "decoder": "Fig. 15 (mT0-decoder): fewer all-shared neurons than the encoder's (App. A.3.2)"}
        plots.append({"id": f"shares-{stack}-{m.model['model']}-{m.task}", "kind": "lines",
                      "title": f"Share of neuron types per {stack} layer: {m.model['model']} {m.task}",
                      "x_label": f"{stack} layer", "y_label": "share of neurons", "x": list(range(end - first)),
                      "series": {TYPE_LABELS[t]: m.shares[i, first:end].tolist() for i, t in enumerate(TYPES)},
                      "paper_note": note.get(stack, "")})
    return plots


def contribution_by_type_plot(m: Measurement, statistic: str) -> dict[str, Any]:
    """Fig. 9: the ``average`` contribution score (eq. 3) per neuron of each type per layer, pooled over rows, or
    its ``sum`` over the type's neurons, mean over rows (``Measurement.contribution_sum``)."""
    if statistic == "average":
        rows = m.type_rows.double().flatten(0, 1).numpy()  # (rows, T, layers, fields)
        values = layer_averages(rows[..., CONTRIBUTION], rows[..., NEURONS])
        note = "Fig. 9 (left): the all-shared average significantly exceeds the other three types'"
    else:
        values = m.contribution_sum.numpy()
        note = "Fig. 9 (right): in the upper layers the all-shared sum equals the non-activated one (XNLI)"
    return {"id": f"contribution-{statistic}-{m.model['model']}-{m.task}", "kind": "lines",
            "title": f"{statistic.capitalize()} contribution score by type per layer: {m.model['model']} {m.task}",
            "x_label": "layer", "y_label": f"{statistic} contribution score", "x": list(range(values.shape[1])),
            "series": {TYPE_LABELS[t]: [None if v != v else float(v) for v in values[i]]
                       for i, t in enumerate(TYPES)}, "paper_note": note}


def push_share_table(m: Measurement) -> dict[str, Any]:
    """Per language: the all-shared share of the push toward the gold token (positive effective scores), of the
    neurons and of the active neurons, in %; the paper's German XNLI numbers beside."""
    rows = m.type_rows.double()  # (examples, langs, T, layers, fields)

    def share(field: int) -> list[float | None]:
        total = rows[..., field].sum(dim=(0, 2, 3))
        part = rows[:, :, ALL, :, field].sum(dim=(0, 2))
        return [float(100 * p / t) if t > 0 else None for p, t in zip(part, total, strict=True)]

    table_rows = [{"label": label, "source": "ours", "values": share(field)} for label, field in (
        ("all-shared share of the push toward the gold token %", PUSH), ("all-shared share of the neurons %", NEURONS),
        ("all-shared share of the active neurons %", ACTIVE))]
    for label in ("all-shared share of the push toward the gold token %", "all-shared share of the neurons %"):
        table_rows.append({"label": label, "source": "paper", "values": [
            CORRECT_OUTPUT_SHARE.get((m.task, lang), {}).get(label) for lang in m.languages]})
    return {"id": f"push-share-{m.model['model']}-{m.task}", "columns": list(m.languages), "rows": table_rows,
            "title": f"All-shared share of the contribution to the correct output: {m.model['model']} {m.task}"}


def effective_maxima_plot(m: Measurement) -> dict[str, Any]:
    """Fig. 10: the largest effective score of each type per layer (over examples and languages), and the
    all-shared neurons' expected maximum at a fixed number of neurons per row and layer (mean over rows)."""
    maxima = m.layer_effective_max.double()  # (langs, T, layers)
    finite = torch.where(maxima.isnan(), -torch.inf, maxima).amax(dim=0)  # (T, layers)
    series = {TYPE_LABELS[t]: [None if v == -torch.inf else float(v) for v in finite[i]]
              for i, t in enumerate(TYPES)}
    sampled = m.layer_sample_max.double().nanmean(dim=(0, 1))
    series[f"all-shared, {m.config['span_sample']} drawn per row"] = [None if v != v else float(v) for v in sampled]
    return {"id": f"effective-maxima-{m.model['model']}-{m.task}", "kind": "lines",
            "title": f"Largest effective score by type per layer: {m.model['model']} {m.task}", "x_label": "layer",
            "y_label": "effective score E_r . (A v)", "x": list(range(maxima.shape[-1])), "series": series,
            "paper_note": "Fig. 10 (KE EN->ALL): the all-shared maxima are largest at the first layer and the upper "
                          "layers"}


def shares_by_shots_plot(by_shots: dict[int, Measurement], *, note: str = "") -> dict[str, Any]:
    """Fig. 21: the share of each type per layer after each number of in-context demonstrations."""
    first = by_shots[min(by_shots)]
    series = {f"{TYPE_LABELS[t]} ({shots} shots)": m.shares[i].tolist()
              for shots, m in sorted(by_shots.items()) for i, t in enumerate(TYPES)}
    return {"id": f"shares-by-shots-{first.model['model']}-{first.task}", "kind": "lines",
            "title": f"Share of neuron types per layer by in-context demonstrations: {first.model['model']} "
                     f"{first.task}", "x_label": "layer", "y_label": "share of neurons",
            "x": list(range(len(first.shares[0]))), "series": series, "paper_note": note}


def shares_by_depth_plot(larger: Measurement, smaller: Measurement, *, note: str = "") -> dict[str, Any]:
    """Fig. 20: the share of each type over relative depth for two sizes of a family, the larger model's curves
    read at the smaller's layers (what the scale rules compare), the smaller's dashed beside them."""
    big, small = larger.model["model"], smaller.model["model"]
    depths = relative_depths(smaller.shares.shape[-1])
    read = at_depths(larger.shares.numpy(), depths)  # (types, depths)
    series = {TYPE_LABELS[t]: read[i].tolist() for i, t in enumerate(TYPES)}
    series |= {f"{TYPE_LABELS[t]} ({small})": smaller.shares[i].tolist() for i, t in enumerate(TYPES)}
    return {"id": f"shares-by-depth-{big}-vs-{small}-{larger.task}", "kind": "lines",
            "title": f"Share of neuron types over relative depth: {big} (solid) vs {small} {larger.task}",
            "x_label": "relative depth", "y_label": "share of neurons", "x": [round(float(d), 3) for d in depths],
            "series": series, "paper_note": note, "versus_suffix": f" ({small})"}


def nonparallel_rise_table(ift: Measurement, base: Measurement) -> dict[str, Any]:
    """The all-shared share (mean over examples and layers) of both models on translations and on non-parallel
    tuples (each language from another example), at the last prompt token and at the content end, and its rise."""
    rows = []
    for position, fields in (("last prompt token", ("example_shares", "nonparallel_shares")),
                             ("content end", ("content_shares", "content_nonparallel_shares"))):
        for tuples, field in zip(("translations", "non-parallel tuples"), fields, strict=True):
            ift_share, base_share = (100 * float(getattr(m, field)[:, ALL].mean()) for m in (ift, base))
            rows.append({"label": f"{tuples}, {position}", "source": "ours",
                         "values": [ift_share, base_share, ift_share - base_share]})
    return {"id": f"nonparallel-rise-{ift.model['model']}-{base.model['model']}-{ift.task}",
            "columns": ["all-shared % (IFT)", "all-shared % (base)", "rise (points)"], "rows": rows,
            "title": f"All-shared share on translations and on non-parallel tuples: {ift.model['model']} over "
                     f"{base.model['model']}, {ift.task}"}
