"""neuron-claims: executable claims about multilingual neurons, checked against Hugging Face models.

The package's top level re-exports the paper-agnostic core only; each paper's own API is under harness.papers
(e.g. ``harness.papers.sharing_matters.neurons.classify_neurons``). The re-exports load on first use, so that
what needs no model (the report, its figure processes) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"contribution_scores": "harness.core.attribution", "effective_scores": "harness.core.attribution",
            "last_token_activations": "harness.core.capture", "convert": "harness.core.interventions",
            "deactivate": "harness.core.interventions", "fix": "harness.core.interventions",
            "LoadedModel": "harness.core.models", "load_model": "harness.core.models"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
