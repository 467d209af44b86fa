"""Every comparison of the encoder-versus-decoder rule (App. A.3.2, harness.papers.sharing_matters.stack_rules) at
its exact boundary: the stacks' spans at the measurement's edges, the number of examples at the minimum, and the
limit at the difference itself (tests/test_rules_stacks.py pins the limit's strictness on both sides)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.sharing_matters.stack_rules import encoder_more_shared_rule, stack_shares


def test_stacks_may_start_at_the_first_layer_and_end_at_the_last() -> None:
    shares = np.array([[0.5, 0.25, 0.125, 0.0]])  # (examples, layers)
    spans = stack_shares(shares, [["encoder", 0, 3], ["decoder", 3, 4]])
    assert spans["encoder"].tolist() == [0.875 / 3] and spans["decoder"].tolist() == [0.0]
    assert stack_shares(shares, [["encoder", 0, 4]])["encoder"].tolist() == [0.21875]
    assert list(stack_shares(shares, [[7, 0, 1]])) == ["7"]  # a stack's name as the measurement records it


@pytest.mark.parametrize("span", [(0, 5), (3, 3), (4, 3), (-1, 2), (0, 2.0), (0.0, 2)])
def test_a_stack_outside_the_measurement_or_empty_is_an_error(span: tuple) -> None:
    with pytest.raises(ValueError, match=rf"stack 'encoder' spans layers \[{span[0]}, {span[1]}\) of a measurement "
                                         rf"with 4"):
        stack_shares(np.zeros((3, 4)), [["encoder", *span]])


def test_the_rule_needs_as_many_examples_as_asked_no_fewer() -> None:
    encoder, decoder = np.full(5, 0.375), np.full(5, 0.125)
    assert encoder_more_shared_rule(encoder, decoder).verdict == "supported"  # 5 examples, the default minimum
    fewer = encoder_more_shared_rule(encoder[:4], decoder[:4])
    assert fewer.verdict == "inconclusive" and fewer.reason.startswith("only 4 examples (< 5); ")
    assert fewer.effect == 0.25 and fewer.ci == (0.25, 0.25)  # the numbers a decided verdict would give
    none = encoder_more_shared_rule(encoder[:0], decoder[:0])
    assert none.reason == "no examples" and np.isnan(none.effect)


def test_the_difference_and_its_interval_are_exact_at_the_limit() -> None:
    verdict = encoder_more_shared_rule(np.full(6, 0.375), np.full(6, 0.125), min_difference=0.25)
    assert verdict.verdict == "inconclusive" and verdict.effect == 0.25 and verdict.ci == (0.25, 0.25)
    assert verdict.measured == {"all-shared % (encoder)": 37.5, "all-shared % (decoder)": 12.5,
                                "difference (points)": 25.0}


def test_the_interval_ends_are_strict_when_the_examples_differ() -> None:
    rng = np.random.default_rng(4)
    encoder, decoder = 0.3 + rng.normal(0.0, 0.05, 12), np.full(12, 0.1)
    verdict = encoder_more_shared_rule(encoder, decoder)
    low, high = verdict.ci
    assert low < verdict.effect < high
    assert encoder_more_shared_rule(encoder, decoder, min_difference=low).verdict == "inconclusive"
    assert encoder_more_shared_rule(encoder, decoder, min_difference=np.nextafter(low, -np.inf)).verdict == (
        "supported")
    assert encoder_more_shared_rule(encoder, decoder, min_difference=high).verdict == "inconclusive"
    assert encoder_more_shared_rule(encoder, decoder, min_difference=np.nextafter(high, np.inf)).verdict == "refuted"
