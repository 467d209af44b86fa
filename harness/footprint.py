"""Peak memory of a measurement, from the sizes of the tensors the code allocates (bytes; not timed, not sampled).

``language_neurons`` follows harness.language_neurons (Kojima et al.): the pooled responses, kept on the host;
one layer's responses and its expertise temporaries on the device; the bootstrap's candidates on the host; the
tampering generation on the device. ``types`` follows harness.measure per chunk of rows: the captured activations
and what the reducers and the controls derive from them, and the kept prefixes (harness.prefixes). Each returns
the terms of every phase, so a reader sees what dominates; the peak of a phase is the sum of its terms and the
peak of a measurement the largest phase. Weights are counted apart.

tests/test_footprint.py checks the formulas against the bytes of every tensor a run on a small model allocates
(counted through a dispatch hook), and bench/README.md gives them for bloomz-7b1's shape at ``--limit 1000``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.expertise import CHUNK_ELEMENTS
from harness.language_neurons import LanguageNeuronConfig
from harness.measure import MeasureConfig, expand_conditions
from harness.prefixes import CPU_BUDGET

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


def ap_temporaries(texts: int, columns: int, classes: int) -> int:
    """Peak bytes inside ``average_precision`` on (texts, columns) scores: its output (8 bytes per class and
    column) and, per chunk of r columns, the chunk (4 rT) plus the peak inside ``_at_or_above`` (ranked 4, order 8,
    tie ends 1, and two 8-byte rank tensors at once: 37 rT), which the per-class passes (12 rT + 41 rT/classes)
    stay under from two classes on."""
    r = min(columns, max(1, CHUNK_ELEMENTS // texts))
    return 8 * classes * columns + 41 * r * texts


def language_neurons(shape: ModelShape, texts: int, languages: int, config: LanguageNeuronConfig, *,
                     text_tokens: int, tampering: bool = True) -> dict[str, dict[str, Terms]]:
    """Terms per phase of ``measure_language_neurons`` on ``texts`` texts of at most ``text_tokens`` tokens;
    ``{"host": {phase: terms}, "device": {phase: terms}}``. On a CPU model both are the same memory."""
    t, c, n_lang, neurons = texts, shape.d_ff, languages, shape.neurons
    n = config.n_selected(neurons)
    k = min(n, c)
    per_class = math.ceil(t / n_lang)
    responses = 4 * t * neurons
    candidates = 16 * 2 * config.n_bootstrap * n_lang * shape.n_layers * k  # AP (float64) and index (int64)
    b, s = config.batch_size, text_tokens
    host = {
        "pooling": {"responses": responses},
        "expertise": {"responses": responses},
        "bootstrap": {"responses": responses, "candidates": candidates},
    }
    selection = 8 * n_lang * neurons + 2 * 8 * n_lang * neurons  # AP; the sorts top and bottom keep views of
    device = {
        "pooling": {"forward activations of a batch": forward_activations(shape, b, s),
                    "float32 copy of a layer's A for pooling": 4 * b * s * c},
        "expertise": {"one layer's responses": 4 * t * c, "AP temporaries": ap_temporaries(t, c, n_lang),
                      "AP of every neuron": 8 * n_lang * neurons},
        "bootstrap": {"one layer's responses": 4 * t * c, "resampled copy": 4 * t * c,
                      "AP temporaries": ap_temporaries(t, c, n_lang), "selection": selection},
    }
    if tampering:
        device["expertise"]["medians so far"] = 4 * n_lang * neurons
        device["expertise"]["median sort of one class"] = 16 * per_class * c
        device["tampering"] = tampering_terms(shape, n_lang, config)
    return {"host": host, "device": device}


def forward_activations(shape: ModelShape, batch: int, tokens: int) -> int:
    """A BLOOM block's largest live activations for one batch: the attention scores, their softmax in float32
    and the probabilities (batch x heads x tokens^2), and the FFN's hidden (d_ff) and GELU temporaries."""
    attention = batch * shape.heads * tokens * tokens * (shape.dtype_bytes + 4 + shape.dtype_bytes)
    ffn = 3 * batch * tokens * shape.d_ff * shape.dtype_bytes
    return attention + ffn


def tampering_terms(shape: ModelShape, languages: int, config: LanguageNeuronConfig) -> Terms:
    """Sampling under fixes: rows of ``generation_batch_size``, each with its key/value cache of every step."""
    conditions = 1 + 2 * languages
    rows = min(config.generation_batch_size, conditions * config.n_samples)
    steps = config.max_new_tokens + 1
    neurons = shape.neurons
    return {
        "key/value cache": 2 * shape.n_layers * rows * steps * shape.hidden * shape.dtype_bytes,
        "masks and values of the conditions": conditions * neurons * (1 + 4),
        "the batch's masks and values": rows * neurons * (1 + 4 + shape.dtype_bytes),
        "logits, noise and their sum (float32)": 4 * shape.vocab * (4 * rows + 3 * config.n_samples),
        "medians": 4 * languages * neurons,
    }


def types(shape: ModelShape, items: int, languages: int, config: MeasureConfig, *, prompt_tokens: float,
          prefix_budget: int = CPU_BUDGET) -> dict[str, dict[str, Terms]]:
    """Terms of a ``measure`` chunk's peak: ``chunk_rows`` rows (whole examples) of every neuron, and the
    prefixes kept for the intervention passes (each row's prompt but its last token, under ``prefix_budget``)."""
    rows = max(1, max(config.chunk_rows, config.batch_size) // languages) * languages
    rows = min(rows, items * languages)
    cells = rows * shape.neurons  # (row, neuron) pairs of one chunk
    kept = min(prefix_budget, int(2 * shape.n_layers * rows * (prompt_tokens - 1) * shape.hidden * shape.dtype_bytes))
    runs = len(expand_conditions(("all_shared", "specific", "partial_shared", "random", "matched", "convert",
                                  "convert_random"), config.control_seeds))
    device = {
        "reducers": {  # Reducers.update at its largest moment: the expected span of one type's effective scores
            "captured A": cells * shape.dtype_bytes, "float32: contribution and one more": 2 * 4 * cells,
            "float64: row codes (int64), effective scores and their negation, and the span's masked copy, sorted "
            "values, ranks, log weights, weights and product": 9 * 8 * cells,
            "masks (bool): active, active at any token, the type's members, the usable ranks and others": 8 * cells,
            "kept prefixes": kept},
        "conditions": {  # a seeded control's draw over the chunk, RowState besides
            "captured A": cells * shape.dtype_bytes, "row state: codes, active, weight": cells * (1 + 1 + 4),
            "random scores and their sort (values, int64 indices)": cells * (4 + 4 + 8 + 8),
            "mask": cells, "kept prefixes": kept,
            "forward of one batch from kept prefixes": forward_activations(shape, config.batch_size, 1)},
    }
    return {"host": {"outcomes": {"correct and edits per condition": rows * runs * 16}}, "device": device}


def peak(phases: dict[str, Terms]) -> tuple[str, int]:
    """The phase with the most bytes alive at its peak, and that sum."""
    name = max(phases, key=lambda p: sum(phases[p].values()))
    return name, sum(phases[name].values())
