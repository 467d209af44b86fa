"""neuron-claims: executable claims about multilingual neurons, checked against Hugging Face models."""

from harness.attribution import contribution_scores, effective_scores
from harness.capture import last_token_activations
from harness.interventions import convert, deactivate, fix
from harness.models import LoadedModel, load_model
from harness.neurons import classify_neurons

__all__ = ["LoadedModel", "classify_neurons", "contribution_scores", "convert", "deactivate", "effective_scores",
           "fix", "last_token_activations", "load_model"]
