"""Sharing Matters (Wang et al., arXiv 2406.09265) as a registered paper: its kind of measurement, ``types``
(neuron types, attribution, interventions), and its planted models (decoder-only ones, and the encoder-decoders
of App. A.3.2)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from harness.core.papers import Kind, Paper
from harness.core.store import MeasureOptions
from harness.papers.sharing_matters.measurement import CONDITIONS, MeasureConfig, Measurement, measure
from harness.papers.sharing_matters.planted import PLANTED
from harness.papers.sharing_matters.planted_seq2seq import PLANTED_SEQ2SEQ


def settings(options: Any) -> MeasureConfig:
    """The run's options as this paper's settings; a whole MeasureConfig (tests, benchmarks) is taken as it is."""
    if isinstance(options, MeasureConfig):
        return options
    return MeasureConfig(**{f.name: getattr(options, f.name) for f in fields(MeasureOptions)})


TYPES = Kind("types", settings, measure, CONDITIONS, Measurement.from_state)
PAPER = Paper("sharing_matters", kinds=(TYPES,), planted=(*PLANTED.values(), *PLANTED_SEQ2SEQ.values()))
