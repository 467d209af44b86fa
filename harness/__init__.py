"""neuron-claims: executable claims about multilingual neurons, checked against Hugging Face models.

The package's top level re-exports the paper-agnostic core only; each paper's own API is under harness.papers
(e.g. ``harness.papers.sharing_matters.neurons.classify_neurons``)."""

from harness.core.attribution import contribution_scores, effective_scores
from harness.core.capture import last_token_activations
from harness.core.interventions import convert, deactivate, fix
from harness.core.models import LoadedModel, load_model

__all__ = ["LoadedModel", "contribution_scores", "convert", "deactivate", "effective_scores", "fix",
           "last_token_activations", "load_model"]
