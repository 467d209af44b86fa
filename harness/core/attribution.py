"""Neuron attribution: contribution scores (eq. 3) and effective scores E_r . (A_i v_i) (§3.2, App. A.1).

Both use the value vectors v_i (the down projection's columns), so they are defined for the site
``down_proj_input``. For encoder-decoders E is the decoder's output embedding for every layer.

Both apply to A as it is (the paper's reading) or to its deviations from each neuron's mean over a set of inputs
(``deviations``): sum_i (A_i - mean A_i) v_i is the layer's FFN output minus its mean over those inputs, and
(A_i - mean A_i) v_i what setting neuron i to its mean takes out of that output.
"""

from __future__ import annotations

import torch

from harness.core.models import LoadedModel


def _require_down_proj_site(lm: LoadedModel) -> None:
    if lm.site.name != "down_proj_input":
        raise ValueError(f"attribution needs the site 'down_proj_input' (A times v_i); this model uses "
                         f"{lm.site.name!r}")


@torch.inference_mode()
def value_norms(lm: LoadedModel) -> torch.Tensor:
    """||v_i|| per layer: (layers, d_ff), float32 on the output embedding's device."""
    _require_down_proj_site(lm)
    return torch.stack([lm.site.value_vectors(layer).float().norm(dim=-1).to(lm.device)
                        for layer in range(lm.n_layers)])


@torch.inference_mode()
def value_projections(lm: LoadedModel, token_ids: torch.Tensor | int) -> torch.Tensor:
    """E_r . v_i per layer for each token r: (layers, d_ff) for an int, (tokens, layers, d_ff) for a tensor."""
    _require_down_proj_site(lm)
    embedding = lm.model.get_output_embeddings().weight  # (vocab, d_model)
    rows = embedding[torch.as_tensor(token_ids, device=embedding.device).reshape(-1)].float()  # (tokens, d_model)
    proj = torch.stack([(rows.to(lm.site.value_vectors(layer).device) @ lm.site.value_vectors(layer).float().T)
                        .to(lm.device) for layer in range(lm.n_layers)], dim=1)  # (tokens, layers, d_ff)
    return proj[0] if isinstance(token_ids, int) else proj


def deviations(acts: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """A_i - mean A_i in float32: acts (..., layers, d_ff), means (layers, d_ff) -> like acts."""
    return acts.float() - means.to(acts.device).float()


def contribution_weights(acts: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """|A_i| ||v_i|| in float32: acts (..., layers, d_ff), norms (layers, d_ff) -> like acts."""
    return acts.float().abs() * norms.to(acts.device)


def contribution_scores(lm: LoadedModel, acts: torch.Tensor, norms: torch.Tensor | None = None) -> torch.Tensor:
    """C_i = |A_i| ||v_i|| / sum_j |A_j| ||v_j|| per layer; acts (..., layers, d_ff) -> same shape, rows sum to 1."""
    weight = contribution_weights(acts, value_norms(lm) if norms is None else norms)
    return weight / weight.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)


def effective_scores(lm: LoadedModel, acts: torch.Tensor, token_id: int | torch.Tensor,
                     projections: torch.Tensor | None = None) -> torch.Tensor:
    """E_r . (A_i v_i) = A_i (E_r . v_i); acts (..., layers, d_ff) with one token id, or per-row token ids (rows,)."""
    proj = value_projections(lm, token_id) if projections is None else projections
    return acts.float() * proj.to(acts.device)
