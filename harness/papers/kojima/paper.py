"""Kojima et al. 2024 (NAACL, arXiv 2404.02431) as a registered paper: its kind of measurement,
``language_neurons`` (expertise, language-specific neurons, tampering), and its planted models."""

from __future__ import annotations

from typing import Any

from harness.core.papers import Kind, Paper
from harness.papers.kojima.language_neurons import (
    LANGUAGE_CONDITIONS,
    LanguageNeuronConfig,
    LanguageNeurons,
    measure_language_neurons,
)
from harness.papers.kojima.planted import LANGUAGE_PLANTED


def settings(options: Any) -> LanguageNeuronConfig:
    """The paper's defaults with the run's seed and batch size."""
    return LanguageNeuronConfig(seed=options.seed, batch_size=options.batch_size)


LANGUAGE_NEURONS = Kind("language_neurons", settings, measure_language_neurons, LANGUAGE_CONDITIONS,
                        LanguageNeurons.from_state)
PAPER = Paper("kojima", kinds=(LANGUAGE_NEURONS,), planted=tuple(LANGUAGE_PLANTED.values()))
