"""neuron-claims: executable claims about multilingual neurons, checked against Hugging Face models."""

from harness.core.attribution import contribution_scores, effective_scores
from harness.core.capture import last_token_activations
from harness.core.interventions import convert, deactivate, fix
from harness.core.models import LoadedModel, load_model
from harness.papers.sharing_matters.neurons import classify_neurons

__all__ = ["LoadedModel", "classify_neurons", "contribution_scores", "convert", "deactivate", "effective_scores",
           "fix", "last_token_activations", "load_model"]
