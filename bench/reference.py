"""The reference notebooks' approach, re-implemented faithfully minus their bugs, for comparison.

One example and one language at a time, fp32; a forward hook on each BLOOM layer's ``mlp.gelu_impl`` (registered
once, not per call) copies the WHOLE sequence's activations to the host as NumPy, then the last token is picked;
the four types come from Python sets per layer (eq. 4-7) and the contribution scores (eq. 3) from NumPy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from harness.papers.sharing_matters.neurons import TYPES

LayerTypes = dict[str, set[int]]  # type name -> neuron indices, for one layer


@contextmanager
def full_sequence_hooks(model: nn.Module) -> Iterator[dict[int, np.ndarray]]:
    """Per layer, the last forward's activations copied to the host: layer -> (1, seq, d_ff) float32."""
    store: dict[int, np.ndarray] = {}

    def hook(layer: int):
        def copy(_module: nn.Module, _args: object, output: torch.Tensor) -> None:
            store[layer] = output.detach().float().cpu().numpy()
        return copy

    handles = [block.mlp.gelu_impl.register_forward_hook(hook(i)) for i, block in enumerate(model.transformer.h)]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def value_norms(model: nn.Module) -> np.ndarray:
    """||v_i||: norms of dense_4h_to_h's columns, (layers, d_ff)."""
    weights = [block.mlp.dense_4h_to_h.weight.detach().float().cpu().numpy() for block in model.transformer.h]
    return np.stack([np.linalg.norm(w, axis=0) for w in weights])  # each w (d_model, d_ff)


def last_token(model: nn.Module, tokenizer: PreTrainedTokenizerBase, store: dict[int, np.ndarray],
               text: str) -> np.ndarray:
    """One sentence through the model (no batching, no padding); A at its last token, (layers, d_ff)."""
    inputs = tokenizer(text, return_tensors="pt").to(next(model.parameters()).device)
    with torch.no_grad():
        model(**inputs)
    return np.stack([store[layer][0, -1] for layer in range(len(store))])


def classify(acts: Sequence[np.ndarray], threshold: float = 0.0) -> list[LayerTypes]:
    """Eq. 4-7 with sets, per layer; acts: one (layers, d_ff) array per language."""
    layers, d_ff = acts[0].shape
    out = []
    for layer in range(layers):
        active = [set(np.flatnonzero(a[layer] > threshold).tolist()) for a in acts]
        count = Counter(i for s in active for i in s)
        specific = {i for i, c in count.items() if c == 1}  # one language: every active neuron is specific
        all_shared = set.intersection(*active) - specific
        union = set.union(*active)
        out.append({"all_shared": all_shared, "specific": specific, "partial_shared": union - all_shared - specific,
                    "non_activated": set(range(d_ff)) - union})
    return out


def contribution(acts: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Eq. 3 per layer: |A_i| ||v_i|| / sum_j |A_j| ||v_j||; acts (..., layers, d_ff)."""
    weight = np.abs(acts) * norms
    return weight / weight.sum(axis=-1, keepdims=True)


def type_codes(types: list[LayerTypes], d_ff: int) -> np.ndarray:
    """Sets -> the harness's codes (index in TYPES), (layers, d_ff) int8."""
    codes = np.full((len(types), d_ff), -1, dtype=np.int8)
    for layer, sets in enumerate(types):
        for code, name in enumerate(TYPES):
            codes[layer, sorted(sets[name])] = code
    return codes


def run_reference(model: nn.Module, tokenizer: PreTrainedTokenizerBase, examples: Sequence[dict[str, str]],
                  threshold: float = 0.0) -> tuple[list[list[LayerTypes]], np.ndarray]:
    """Per example: types per layer, and contributions (examples, langs, layers, d_ff)."""
    norms = value_norms(model)
    types, scores = [], []
    with full_sequence_hooks(model) as store:
        for prompts in examples:
            acts = [last_token(model, tokenizer, store, text) for text in prompts.values()]
            types.append(classify(acts, threshold))
            scores.append(np.stack([contribution(a, norms) for a in acts]))
    return types, np.stack(scores)
