"""The encoder-versus-decoder rule (App. A.3.2) and the per-stack shares it reads: outcomes, boundaries, the shares
against a count of the neurons themselves, and why shares and not counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.papers.sharing_matters.neurons import ALL, example_type_shares
from harness.papers.sharing_matters.stack_rules import encoder_more_shared_rule, stack_shares
from tests.strategies import share_pairs


@given(share_pairs(shift=(0.02, 0.2)))
def test_an_encoder_ahead_in_every_example_is_supported(pair: tuple[np.ndarray, np.ndarray]) -> None:
    encoder, decoder = pair
    verdict = encoder_more_shared_rule(encoder, decoder)
    assert verdict.verdict == "supported", verdict.reason
    assert verdict.effect == pytest.approx(encoder.mean() - decoder.mean())


@given(share_pairs(shift=(-0.2, 0.005)))
def test_an_encoder_never_a_point_ahead_is_refuted(pair: tuple[np.ndarray, np.ndarray]) -> None:
    encoder, decoder = pair
    assert encoder_more_shared_rule(encoder, decoder).verdict == "refuted"


def test_the_limit_is_strict_on_both_sides() -> None:
    decoder = np.full(10, 0.1)
    encoder = decoder + 0.05
    exactly = float(encoder.mean() - decoder.mean())  # no spread: the interval is the difference itself
    assert encoder_more_shared_rule(encoder, decoder, min_difference=exactly).verdict == "inconclusive"
    assert encoder_more_shared_rule(encoder, decoder, min_difference=np.nextafter(exactly, 0)).verdict == "supported"
    assert encoder_more_shared_rule(encoder, decoder, min_difference=np.nextafter(exactly, 1)).verdict == "refuted"


def test_too_few_examples_is_inconclusive_and_the_count_is_a_parameter() -> None:
    encoder, decoder = np.full(4, 0.3), np.full(4, 0.1)
    verdict = encoder_more_shared_rule(encoder, decoder)
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("only 4 examples (< 5)")
    assert encoder_more_shared_rule(encoder, decoder, min_examples=4).verdict == "supported"
    assert encoder_more_shared_rule(encoder[:0], decoder[:0]).verdict == "inconclusive"


@given(st.integers(1, 6), st.integers(1, 6), st.integers(2, 8), st.integers(0, 2 ** 16))
def test_stack_shares_are_the_share_of_each_stacks_neurons(n_encoder: int, n_decoder: int, n_examples: int,
                                                          seed: int) -> None:
    """Against the neurons themselves: each stack's share is its all-shared neurons over all its neurons."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n_examples, n_encoder + n_decoder, 16))  # (examples, layers, d_ff) type codes
    per_layer = example_type_shares(torch.from_numpy(codes))[:, ALL].numpy()  # (examples, layers)
    stacks = [["encoder", 0, n_encoder], ["decoder", n_encoder, n_encoder + n_decoder]]
    shares = stack_shares(per_layer, stacks)
    assert shares["encoder"] == pytest.approx((codes[:, :n_encoder] == ALL).mean(axis=(1, 2)))
    assert shares["decoder"] == pytest.approx((codes[:, n_encoder:] == ALL).mean(axis=(1, 2)))


@pytest.mark.parametrize("stacks", [[["encoder", 0, 5]], [["encoder", 2, 2]], [["encoder", -1, 2]],
                                    [["encoder", 0.0, 2]]])
def test_a_stack_outside_the_measurement_is_an_error(stacks: list) -> None:
    with pytest.raises(ValueError, match="stack 'encoder' spans layers"):
        stack_shares(np.zeros((3, 4)), stacks)


def test_a_deeper_encoder_with_more_all_shared_neurons_at_a_lower_share_is_refuted() -> None:
    """Counting neurons would credit the deeper stack: 4 layers at 15% hold more than 2 at 25%."""
    per_layer = np.tile([0.15, 0.15, 0.15, 0.15, 0.25, 0.25], (10, 1))
    stacks = [["encoder", 0, 4], ["decoder", 4, 6]]
    counts = {name: per_layer[:, a:b].sum(axis=1).mean() for name, a, b in stacks}
    assert counts["encoder"] > counts["decoder"]
    shares = stack_shares(per_layer, stacks)
    assert encoder_more_shared_rule(shares["encoder"], shares["decoder"]).verdict == "refuted"
