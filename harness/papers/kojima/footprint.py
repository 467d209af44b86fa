"""Peak memory of a ``language_neurons`` measurement (harness.papers.kojima.language_neurons): the pooled
responses, kept on the host; one layer's responses and its expertise temporaries on the device; the bootstrap's
candidates on the host; the tampering generation on the device (bytes, from the sizes of the tensors allocated)."""

from __future__ import annotations

import math

from harness.core.footprint import ModelShape, Terms, forward_activations
from harness.papers.kojima.expertise import CHUNK_ELEMENTS
from harness.papers.kojima.language_neurons import LanguageNeuronConfig


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
        device["expertise"]["levels so far (medians per language and overall, spreads)"] = 4 * (n_lang + 2) * neurons
        device["expertise"]["median sort of one class"] = 16 * per_class * c
        device["tampering"] = tampering_terms(shape, n_lang, config)
    return {"host": host, "device": device}


def tampering_terms(shape: ModelShape, languages: int, config: LanguageNeuronConfig) -> Terms:
    """Sampling under fixes: rows of ``generation_batch_size``, each with its key/value cache of every step."""
    conditions = 1 + 3 * languages
    rows = min(config.generation_batch_size, conditions * config.n_samples)
    steps = config.max_new_tokens + 1
    neurons = shape.neurons
    return {
        "key/value cache": 2 * shape.n_layers * rows * steps * shape.hidden * shape.dtype_bytes,
        "masks and values of the conditions": conditions * neurons * (1 + 4),
        "the batch's masks and values": rows * neurons * (1 + 4 + shape.dtype_bytes),
        "logits, noise and their sum (float32)": 4 * shape.vocab * (4 * rows + 3 * config.n_samples),
        "levels (medians per language and overall, spreads)": 4 * (languages + 2) * neurons,
    }
