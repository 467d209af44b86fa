"""Holm's adjusted p-values against the step-down procedure written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.stats import holm


def _step_down_rejections(p: list[float], alpha: float) -> set[int]:
    """Holm (1979) as a loop: walk the p-values upwards, reject while p_(j) <= alpha / (m - j), then stop."""
    rejected = set()
    for j, i in enumerate(sorted(range(len(p)), key=lambda i: p[i])):
        if p[i] > alpha / (len(p) - j):
            break
        rejected.add(i)
    return rejected


def test_holm_by_hand() -> None:
    assert holm(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert holm(np.array([0.5])) == pytest.approx([0.5])
    assert holm(np.array([0.2, 0.9])) == pytest.approx([0.4, 0.9])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_rejects_what_the_step_down_procedure_rejects(p: list[float], alpha: float) -> None:
    adjusted = holm(np.array(p))
    assert set(np.flatnonzero(adjusted <= alpha).tolist()) == _step_down_rejections(p, alpha)
    assert np.all(adjusted >= np.array(p)) and np.all(adjusted <= 1)
