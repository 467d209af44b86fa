"""Average precision (Kojima et al.'s expertise) against a naive per-neuron loop of its definition, and the
selection and median helpers against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from scipy.stats import rankdata

import harness.papers.kojima.expertise
from harness.papers.kojima.expertise import average_precision, class_medians, top_and_bottom
from tests.strategies import scored_texts

FAST = settings(max_examples=60, deadline=None)


def naive_ap(scores: np.ndarray, positive: np.ndarray) -> float:
    """Step definition (scikit-learn's): walk the distinct thresholds from the top, add recall gained x precision."""
    total, found = 0.0, 0
    for threshold in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= threshold
        hits = int((predicted & positive).sum())
        total += (hits - found) / positive.sum() * hits / predicted.sum()
        found = hits
    return total


@FAST
@given(scored_texts())
def test_average_precision_equals_the_step_definition_neuron_by_neuron(
        data: tuple[np.ndarray, np.ndarray, int]) -> None:
    scores, labels, n_classes = data
    ap = average_precision(torch.tensor(scores), torch.tensor(labels), n_classes).numpy()
    naive = np.array([[naive_ap(scores[:, j], labels == c) for j in range(scores.shape[1])] for c in range(n_classes)])
    np.testing.assert_allclose(ap, naive, rtol=1e-12, atol=1e-12)


def test_average_precision_by_hand() -> None:
    """Ranking p n p n: precisions 1 and 2/3 at the positives, AP 5/6; all tied: AP = share of positives."""
    labels = torch.tensor([0, 1, 0, 1])
    ap = average_precision(torch.tensor([[0.9, 5.0], [0.8, 5.0], [0.7, 5.0], [0.6, 5.0]]), labels, 2)
    torch.testing.assert_close(ap, torch.tensor([[5 / 6, 0.5], [(1 / 2 + 2 / 4) / 2, 0.5]], dtype=torch.float64))


@FAST
@given(scored_texts(max_columns=3))
def test_average_precision_depends_on_the_ranking_only(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    scores, labels, n_classes = data
    ap = average_precision(torch.tensor(scores), torch.tensor(labels), n_classes)
    ranks = rankdata(scores, method="dense", axis=0) * 10.0  # the same order, ties included, other values
    moved = average_precision(torch.tensor(ranks), torch.tensor(labels), n_classes)
    torch.testing.assert_close(ap, moved)
    assert ((ap > 0) & (ap <= 1 + 1e-12)).all()


def test_chunks_and_shapes_give_the_same_ap(monkeypatch: pytest.MonkeyPatch) -> None:
    scores = torch.randn(30, 3, 7, generator=torch.Generator().manual_seed(0))  # (texts, layers, d_ff)
    labels = torch.arange(3).repeat(10)
    whole = average_precision(scores, labels, 3)
    monkeypatch.setattr(harness.papers.kojima.expertise, "CHUNK_ELEMENTS", 30 * 4)  # 4 columns a chunk
    torch.testing.assert_close(average_precision(scores, labels, 3), whole)
    assert whole.shape == (3, 3, 7)
    torch.testing.assert_close(whole.reshape(3, -1), average_precision(scores.reshape(30, -1), labels, 3))


def test_average_precision_needs_every_class() -> None:
    with pytest.raises(ValueError, match="every class"):
        average_precision(torch.randn(4, 2), torch.tensor([0, 0, 1, 1]), 3)


def test_top_and_bottom_take_the_extremes_and_break_ties_by_index() -> None:
    ap = torch.tensor([[0.5, 0.9, 0.1, 0.9, 0.1, 0.3]])
    top, bottom = top_and_bottom(ap, 2)
    assert top.tolist() == [[1, 3]] and bottom.tolist() == [[2, 4]]
    with pytest.raises(ValueError, match="cannot take"):
        top_and_bottom(ap, 4)


@FAST
@given(scored_texts())
def test_class_medians_equal_numpy_medians(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    scores, labels, n_classes = data
    medians = class_medians(torch.tensor(scores), torch.tensor(labels), n_classes).numpy()
    expected = np.stack([np.median(scores[labels == c], axis=0) for c in range(n_classes)])
    np.testing.assert_allclose(medians, expected)
