"""What several claims share: attribution needs the value vectors of the site ``down_proj_input``; the scale claims
read a family at two sizes."""

from __future__ import annotations

from harness.core.verdict import Verdict, inconclusive
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
