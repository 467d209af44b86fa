"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

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
