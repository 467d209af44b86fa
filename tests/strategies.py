"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st


@st.composite
def activations(draw: st.DrawFn, *, min_langs: int = 1, max_langs: int = 6) -> torch.Tensor:
    """Activation tensors (n_langs, layers, d_ff) with exact zeros and ties mixed in."""
    n_langs = draw(st.integers(min_langs, max_langs))
    layers = draw(st.integers(1, 4))
    d_ff = draw(st.integers(1, 12))
    values = draw(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.0, 0.3, 1.0, 2.5]),
                           min_size=n_langs * layers * d_ff, max_size=n_langs * layers * d_ff))
    return torch.tensor(values).reshape(n_langs, layers, d_ff)


thresholds = st.sampled_from([-0.5, 0.0, 0.1, 0.5, 1.0, 3.0])


# Short texts mixing Latin, Cyrillic, CJK, Thai, punctuation (ASCII and CJK), full-width forms and white space.
_METRIC_ALPHABET = "abcABC xyz ÉéßБбв东京北日本กรุงเทพ.,!?;:'\"-()«»，。、ＡＢ１\t\n"


def metric_texts(max_size: int = 16) -> st.SearchStrategy[str]:
    """Answer-like strings for the text metrics (normalize, exact/prefix match, token F1)."""
    return st.text(alphabet=_METRIC_ALPHABET, max_size=max_size)


@st.composite
def collapsing_ablation(draw: st.DrawFn, *, min_items: int = 20, max_items: int = 200, min_accuracy: float = 0.6,
                        lost_share: tuple[float, float] = (0.8, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """(baseline, ablated) paired correctness (items,) bool: baseline accuracy >= ``min_accuracy``; the ablated
    condition loses a share in ``lost_share`` of the correct items and gains none."""
    n = draw(st.integers(min_items, max_items))
    n_correct = draw(st.integers(math.ceil(min_accuracy * n), n))
    n_lost = draw(st.integers(math.ceil(lost_share[0] * n_correct), math.floor(lost_share[1] * n_correct)))
    order = np.array(draw(st.permutations(range(n))))
    base = np.zeros(n, dtype=bool)
    base[order[:n_correct]] = True
    ablated = base.copy()
    ablated[order[:n_lost]] = False
    return base, ablated


@st.composite
def share_pairs(draw: st.DrawFn, *, min_examples: int = 5, max_examples: int = 60,
                shift: tuple[float, float] = (0.01, 0.2)) -> tuple[np.ndarray, np.ndarray]:
    """(ift, base) per-example all-shared shares: base in [0.25, 0.75], and every ift share is base + a shift
    drawn from ``shift`` (negative bounds give a decrease; |shift| <= 0.25 keeps shares in [0, 1])."""
    n = draw(st.integers(min_examples, max_examples))
    base = np.array(draw(st.lists(st.floats(0.25, 0.75), min_size=n, max_size=n)))
    delta = np.array(draw(st.lists(st.floats(*shift), min_size=n, max_size=n)))
    return base + delta, base


@st.composite
def type_shares(draw: st.DrawFn, *, max_layers: int = 12) -> np.ndarray:
    """Mean share of each of the 4 types per layer, (4, layers), every layer summing to 1."""
    layers = draw(st.integers(1, max_layers))
    raw = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=4 * layers, max_size=4 * layers))).reshape(4, layers)
    return raw / raw.sum(axis=0)


def task_shares(mean: float, n: int, seed: int) -> np.ndarray:
    """Per-example shares (n,) around ``mean``, spread +-0.02 (an even grid, shuffled by ``seed``)."""
    return np.random.default_rng(seed).permutation(mean + np.linspace(-0.02, 0.02, n))
