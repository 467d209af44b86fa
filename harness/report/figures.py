"""Draw the generic plot specs of claim results as deterministic SVG data URIs.

The SVG is embedded as an ``<img>`` data URI rather than inlined: the markup stays opaque to the HTML parser (text
from data cannot become markup, element ids of several figures cannot clash) and the page still works offline.
"""

from __future__ import annotations

import base64
import io
import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from harness.core.cores import available_cores

BASE_SUFFIX = " (base)"  # the default twin suffix; a spec may name its own ("versus_suffix", e.g. " (facts)")
# Fixed salt and path-rendered text: the same spec gives byte-identical SVG on every run.
_RC = {"svg.hashsalt": "neuron-claims", "svg.fonttype": "path", "font.size": 9}
PLOTS_PER_PROCESS = 12  # a process of its own pays for only this many plots or more (its start imports matplotlib)


def draw_plots(specs: Sequence[dict[str, Any]]) -> list[tuple[str | None, str | None]]:
    """Each spec drawn (``plot_data_uri``) as (URI, None), or as (None, why not) where it cannot be drawn. Many
    plots are drawn in parallel processes, one per core: matplotlib draws on one core, about 0.1-0.3 s a plot."""
    processes = min(available_cores(), len(specs) // PLOTS_PER_PROCESS)
    if processes < 2:
        return [_drawn(spec) for spec in specs]
    # spawn: a fresh interpreter, nothing forked from a process that may hold torch's threads
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_drawn, specs, chunksize=max(1, len(specs) // (4 * processes))))


def _drawn(spec: dict[str, Any]) -> tuple[str | None, str | None]:
    try:
        return plot_data_uri(spec), None
    except (ValueError, TypeError) as error:
        return None, f"cannot draw plot {spec.get('id')!r}: {error}"


def plot_data_uri(spec: dict[str, Any]) -> str:
    """Render one plot spec (kind ``lines`` or ``bars``) to a ``data:image/svg+xml;base64,...`` URI.

    Series named with the spec's ``versus_suffix`` are drawn dashed (hatched) in their twin's colour.

    Raises ValueError or TypeError for a spec that cannot be drawn (unknown kind, series not matching x).
    """
    kind = spec.get("kind")
    x = list(spec.get("x") or [])
    series = spec.get("series") or {}
    suffix = str(spec.get("versus_suffix") or BASE_SUFFIX)
    if not isinstance(series, dict):
        raise TypeError("plot series must be an object of name -> values")
    for name, values in series.items():
        if len(values or []) != len(x):
            raise ValueError(f"series {name!r} has {len(values or [])} values for {len(x)} x values")
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.4, 3.4))
        ax = fig.add_subplot()
        if kind == "lines":
            _draw_lines(ax, x, series, suffix)
        elif kind == "bars":
            _draw_bars(ax, x, series, suffix)
        else:
            raise ValueError(f"unsupported plot kind {kind!r}")
        ax.set_title(_plain(spec.get("title", "")))
        ax.set_xlabel(_plain(spec.get("x_label", "")))
        ax.set_ylabel(_plain(spec.get("y_label", "")))
        ax.grid(True, alpha=0.3)
        if series:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        fig.set_layout_engine(None)  # laid out once: savefig then draws once instead of twice
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plain(text: Any, limit: int = 80) -> str:
    """Shorten long labels and escape ``$`` so that text from data is never parsed as mathtext (which can raise)."""
    text = str(text if text is not None else "")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _colours(names: list[str], suffix: str) -> dict[str, str]:
    """One colour per series, shared by a series and its ``suffix`` twin so an overlay (Fig. 7) pairs up."""
    stems: list[str] = []
    for name in names:
        stem = name.removesuffix(suffix)
        if stem not in stems:
            stems.append(stem)
    return {name: f"C{stems.index(name.removesuffix(suffix)) % 10}" for name in names}


def _draw_lines(ax: Any, x: list[Any], series: dict[str, list[Any]], suffix: str) -> None:
    colours = _colours(list(series), suffix)
    for name, values in series.items():
        dashed = name.endswith(suffix)
        ax.plot(x, [_num(v) for v in values], label=_plain(name, 32), color=colours[name],
                linestyle="--" if dashed else "-", marker="o", markersize=3)


def _draw_bars(ax: Any, x: list[Any], series: dict[str, list[Any]], suffix: str) -> None:
    names = list(series)
    width = 0.8 / max(len(names), 1)
    colours = _colours(names, suffix)
    for i, name in enumerate(names):
        points = [(pos + (i - (len(names) - 1) / 2) * width, float(v))
                  for pos, v in enumerate(series[name]) if v is not None]
        ax.bar([p for p, _ in points], [v for _, v in points], width=width, label=_plain(name, 32),
               color=colours[name], hatch="//" if name.endswith(suffix) else None)
    labels = [_plain(c, 24) for c in x]
    long_labels = any(len(label) > 8 for label in labels)
    ax.set_xticks(range(len(x)), labels, rotation=25 if long_labels else 0, ha="right" if long_labels else "center")
