"""Peak memory of a measurement, from the sizes of the tensors the code allocates (bytes; not timed, not sampled).

This module holds what every kind's formulas share: a model's shape, a forward pass's largest activations, and the
peak over phases. Each paper's kind has its own formulas beside its measurement
(harness.papers.sharing_matters.footprint, harness.papers.kojima.footprint); each returns the terms of every phase,
so a reader sees what dominates; the peak of a phase is the sum of its terms and the peak of a measurement the
largest phase. Weights are counted apart.

tests/test_footprint.py checks the formulas against the bytes of every tensor a run on a small model allocates
(counted through a dispatch hook), and bench/README.md gives them for bloomz-7b1's shape at ``--limit 1000``.
"""

from __future__ import annotations

from dataclasses import dataclass

Terms = dict[str, int]  # what is alive at a phase's peak -> bytes


@dataclass(frozen=True)
class ModelShape:
    """What the footprint depends on in a decoder: sizes and bytes per element of weights and caches."""

    n_layers: int
    hidden: int
    d_ff: int
    heads: int
    vocab: int
    parameters: int
    dtype_bytes: int  # weights, activations and the key/value cache

    @property
    def neurons(self) -> int:
        return self.n_layers * self.d_ff

    @property
    def weights(self) -> int:
        return self.parameters * self.dtype_bytes

    @classmethod
    def bloom(cls, hidden: int, n_layer: int, n_head: int, vocab_size: int, dtype_bytes: int) -> ModelShape:
        """A BLOOM's shape: d_ff = 4 x hidden; parameters from its weight matrices, biases and norms (the LM head is
        the embedding, tied)."""
        per_layer = 12 * hidden * hidden + 13 * hidden  # qkv, dense, h_to_4h, 4h_to_h with biases; two norms
        parameters = vocab_size * hidden + 4 * hidden + n_layer * per_layer  # embedding, its norm, final norm
        return cls(n_layer, hidden, 4 * hidden, n_head, vocab_size, parameters, dtype_bytes)


def forward_activations(shape: ModelShape, batch: int, tokens: int) -> int:
    """A BLOOM block's largest live activations for one batch: the attention scores, their softmax in float32
    and the probabilities (batch x heads x tokens^2), and the FFN's hidden (d_ff) and GELU temporaries."""
    attention = batch * shape.heads * tokens * tokens * (shape.dtype_bytes + 4 + shape.dtype_bytes)
    ffn = 3 * batch * tokens * shape.d_ff * shape.dtype_bytes
    return attention + ffn


def peak(phases: dict[str, Terms]) -> tuple[str, int]:
    """The phase with the most bytes alive at its peak, and that sum."""
    name = max(phases, key=lambda p: sum(phases[p].values()))
    return name, sum(phases[name].values())
