"""Properties of the four-type classification (eq. 4-7) and its streaming statistics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.papers.sharing_matters.neurons import (
    ALL,
    NON,
    SPECIFIC,
    TYPES,
    TypeStatistics,
    classify_neurons,
    dead_across_tokens_share,
    independent_overlap,
    nonparallel_sources,
    regrouped_codes,
    type_codes,
    type_probabilities,
)
from tests.strategies import activations, thresholds


@given(activations(), thresholds)
def test_types_partition_each_layer(acts: torch.Tensor, threshold: float) -> None:
    masks = classify_neurons(acts, threshold)
    assert set(masks) == set(TYPES)
    total = sum(m.int() for m in masks.values())
    assert torch.equal(total, torch.ones_like(total))


@given(activations(min_langs=2), thresholds, st.randoms())
def test_permuting_languages_changes_nothing(acts: torch.Tensor, threshold: float, rng) -> None:
    order = list(range(acts.shape[0]))
    rng.shuffle(order)
    assert torch.equal(type_codes(acts, threshold), type_codes(acts[order], threshold))


@given(activations(), thresholds, st.floats(0.0, 2.0))
def test_raising_threshold_never_adds_active_neurons(acts: torch.Tensor, threshold: float, raise_by: float) -> None:
    low, high = classify_neurons(acts, threshold), classify_neurons(acts, threshold + raise_by)
    assert not (low["non_activated"] & ~high["non_activated"]).any()
    assert not (high["all_shared"] & ~low["all_shared"]).any()


@given(activations(min_langs=1, max_langs=1), thresholds)
def test_one_language_means_no_shared_neurons(acts: torch.Tensor, threshold: float) -> None:
    masks = classify_neurons(acts, threshold)
    assert not masks["all_shared"].any() and not masks["partial_shared"].any()
    assert torch.equal(masks["specific"], acts[0] > threshold)


@given(activations(min_langs=2))
def test_types_match_the_paper_definitions(acts: torch.Tensor) -> None:
    """Eq. 4-7 written as set operations, one neuron at a time, against the vectorised codes."""
    masks = classify_neurons(acts, 0.0)
    n_langs, layers, d_ff = acts.shape
    for layer in range(layers):
        for i in range(d_ff):
            active = {lang for lang in range(n_langs) if acts[lang, layer, i] > 0}
            expected = ("all_shared" if len(active) == n_langs else "non_activated" if not active
                        else "specific" if len(active) == 1 else "partial_shared")
            assert masks[expected][layer, i]


def test_threshold_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        type_codes(torch.zeros(2, 1, 1), math.nan)


def test_statistics_stream_equals_whole_set() -> None:
    torch.manual_seed(0)
    acts = torch.randn(10, 3, 4, 16)  # (examples, langs, layers, d_ff)
    stream = TypeStatistics()
    for chunk in acts.split(3):
        stream.update(chunk)
    codes = type_codes(acts)
    shares = torch.stack([(codes == t).double().mean(dim=(0, 2)) for t in range(4)])
    assert torch.allclose(stream.shares(), shares)
    assert torch.allclose(stream.activated_share_per_language(), (acts > 0).double().mean(dim=(0, 3)))
    same = (codes == codes[0]).all(dim=0)
    assert torch.allclose(stream.overlap()[3], ((codes[0] == 3) & same).double().mean(dim=-1))


def test_overlap_of_identical_examples_is_the_share_itself() -> None:
    acts = torch.randn(1, 3, 2, 8).expand(5, -1, -1, -1)
    stats = TypeStatistics()
    stats.update(acts)
    assert torch.allclose(stats.overlap(), stats.shares())


def test_dead_across_tokens_share() -> None:
    ever = torch.tensor([[[True, False, False, False]], [[True, True, False, False]]])  # (2 inputs, 1 layer, 4)
    assert dead_across_tokens_share(ever).tolist() == [0.625]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10_000))
def test_type_probabilities_equal_enumerating_every_activity_pattern(n_langs: int, seed: int) -> None:
    """P(type) for independent languages at given rates, against the sum over all 2^L patterns, each classified by
    type_codes itself."""
    rates = torch.rand(n_langs, 2, 3, generator=torch.Generator().manual_seed(seed)).double()
    rates[:, 0, 0] = 1.0  # deterministic neurons: always active, never active
    rates[:, 0, 1] = 0.0
    expected = torch.zeros(4, 2, 3, dtype=torch.float64)
    for pattern in itertools.product([0.0, 1.0], repeat=n_langs):
        active = torch.tensor(pattern, dtype=torch.float64)[:, None, None]  # (langs, 1, 1)
        probability = (rates * active + (1 - rates) * (1 - active)).prod(dim=0)  # (2, 3)
        codes = type_codes(active.expand(-1, 2, 3) - 0.5)  # active -> +0.5 > 0
        for t in range(4):
            expected[t] += probability * (codes == t)
    torch.testing.assert_close(type_probabilities(rates), expected)
    torch.testing.assert_close(independent_overlap(rates, 1), expected.mean(dim=-1))


def test_independent_overlap_falls_with_examples_except_for_deterministic_neurons() -> None:
    rates = torch.tensor([[[1.0, 0.5, 0.0]], [[1.0, 0.5, 0.0]]])  # (2 langs, 1 layer, 3 neurons)
    few, many = independent_overlap(rates, 5), independent_overlap(rates, 500)
    assert many[ALL, 0] == pytest.approx(1 / 3)  # the always-active neuron keeps all-shared
    assert many[NON, 0] == pytest.approx(1 / 3)  # the never-active one keeps non-activated
    assert few[SPECIFIC, 0] == pytest.approx(0.5 ** 5 / 3)  # the coin flip is specific in one example with 1/2
    assert many[SPECIFIC, 0] < 1e-12


@given(st.integers(1, 30), st.integers(1, 12), st.integers(0, 2 ** 32 - 1))
def test_nonparallel_tuples_use_every_item_once_and_different_examples(n_examples: int, n_langs: int,
                                                                       seed: int) -> None:
    sources = nonparallel_sources(n_examples, n_langs, np.random.default_rng(seed))
    assert sources.shape == (n_examples, n_langs)
    assert (np.sort(sources, axis=0) == np.arange(n_examples)[:, None]).all()  # each item once per language
    assert (sources[:, 0] == np.arange(n_examples)).all()  # tuple i keeps example i's first language
    distinct = [len(set(row)) for row in sources.tolist()]
    assert distinct == [min(n_examples, n_langs)] * n_examples
    assert (nonparallel_sources(n_examples, n_langs, np.random.default_rng(seed)) == sources).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 5), st.integers(0, 2 ** 32 - 1), thresholds)
def test_regrouped_codes_equal_classifying_each_hand_built_tuple(n_examples: int, n_langs: int, seed: int,
                                                                 threshold: float) -> None:
    """Each non-parallel tuple assembled by hand (language j's activations from its source example) and
    classified on its own, against the one-pass count over languages."""
    generator = torch.Generator().manual_seed(seed % 2 ** 31)
    acts = torch.randn(n_examples, n_langs, 3, 7, generator=generator).round(decimals=1)  # ties at the threshold
    sources = nonparallel_sources(n_examples, n_langs, np.random.default_rng(seed))
    codes = regrouped_codes(acts > threshold, torch.from_numpy(sources))
    for i, row in enumerate(sources.tolist()):
        tuple_acts = torch.stack([acts[source, lang] for lang, source in enumerate(row)])  # (langs, layers, d_ff)
        assert torch.equal(codes[i], type_codes(tuple_acts, threshold))


def test_regrouping_with_the_examples_own_items_is_the_parallel_classification() -> None:
    acts = torch.randn(4, 3, 2, 5, generator=torch.Generator().manual_seed(0))
    own = torch.arange(4)[:, None].expand(4, 3)
    assert torch.equal(regrouped_codes(acts > 0, own), type_codes(acts))
