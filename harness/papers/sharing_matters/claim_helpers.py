"""What several claims share: attribution needs the value vectors of the site ``down_proj_input``; the scale claims
read a family at two sizes; the layer-shape claims read every layer at one activation density."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.core.verdict import Verdict, inconclusive
from harness.papers.sharing_matters.density_rules import common_density, matched_layer_shares
from harness.papers.sharing_matters.measurement import Measurement


def unavailable(m: Measurement, effect_name: str) -> Verdict | None:
    """An inconclusive verdict when the measurement has no attribution (the site ``gate``), else None."""
    if m.attribution:
        return None
    return inconclusive(f"attribution needs |A| ||v|| of the down projection's input; the site "
                        f"{m.model['site']!r} has no value vectors of its own", effect_name,
                        params={"site": m.model["site"]})


def ffn_neurons(m: Measurement) -> int:
    """The model's size as the scale claims read it: its FFN neurons (layers x d_ff)."""
    return int(m.model["n_layers"]) * int(m.model["d_ff"])


def by_size(m: Measurement, other: Measurement) -> tuple[Measurement, Measurement]:
    """(larger, smaller) of two sizes of one family, measured on the same examples; a clear error otherwise."""
    if m.model["model_type"] != other.model["model_type"]:
        raise ValueError(f"the scale claims compare one family at two sizes: {m.model['model']} is "
                         f"{m.model['model_type']}, {other.model['model']} {other.model['model_type']}")
    if ffn_neurons(m) == ffn_neurons(other):
        raise ValueError(f"{m.model['model']} and {other.model['model']} have the same size ({ffn_neurons(m)} FFN "
                         "neurons); --scale-model names a model of another size")
    if m.example_ids != other.example_ids:
        raise ValueError("the two sizes were measured on different examples")
    return (m, other) if ffn_neurons(m) > ffn_neurons(other) else (other, m)


@dataclass(frozen=True)
class MatchedDensity:
    """Type shares with every read layer at one activation density (harness.papers.sharing_matters.density_rules)."""

    shares: np.ndarray  # (examples, T, layers) NaN in a layer not compared (under min_active, or beyond the grid)
    thresholds: np.ndarray  # (layers,) the threshold each layer is read at (NaN: not compared)
    density: float  # the common density: the sparsest read layer's share of active (neuron, language) pairs

    def measured(self) -> dict[str, float | None]:
        read = np.isfinite(self.thresholds)
        return {"common density %": 100 * self.density,
                "matched threshold (mean over compared layers)": float(self.thresholds[read].mean())
                if read.any() else None, "layers compared at matched density": int(read.sum())}


def at_matched_density(m: Measurement, *, min_active: float = 0.01) -> MatchedDensity:
    """``m``'s type shares with every layer of at least ``min_active`` active at the sparsest such layer's density,
    read on the measured threshold grid at or above the run's threshold (a layer is never made denser)."""
    threshold = m.config["threshold"]
    keep = [i for i, t in enumerate(m.thresholds) if t >= threshold]
    grid = [m.thresholds[i] for i in keep]
    density = m.threshold_density[:, keep].numpy()  # (examples, thresholds, layers)
    target = common_density(density[:, grid.index(threshold)], min_active=min_active)
    shares, at = matched_layer_shares(grid, density, m.threshold_shares[:, keep].numpy(), target)
    read = np.isfinite(target)
    return MatchedDensity(shares, at, float(target[read][0]) if read.any() else float("nan"))
