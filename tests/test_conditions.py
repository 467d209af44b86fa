"""Condition masks against a loop written out per row and layer: type masks keep the row's active neurons, the
random control draws as many active non-shared neurons as there are all-shared ones, the matched control reaches
the all-shared contribution, the conversion control raises as many non-activated neurons as conversion does; what
each drawn control reached of its target against the same loop."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.papers.sharing_matters.conditions import (
    FAMILIES,
    MEAN_ABLATIONS,
    RowState,
    condition_mask,
    draw_count,
    draw_weight,
    random_scores,
    reach,
)
from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC, type_codes


def _state(seed: int, rows: int = 6, layers: int = 3, d_ff: int = 24, n_langs: int = 3) -> RowState:
    """Rows of two examples in three languages, with the types of their example and their own activity."""
    g = torch.Generator().manual_seed(seed)
    acts = torch.randn(rows // n_langs, n_langs, layers, d_ff, generator=g)
    acts[:, :, :, :4] = 1.0  # a few neurons active everywhere: all-shared
    codes = type_codes(acts).repeat_interleave(n_langs, dim=0)
    return RowState(codes, (acts > 0).flatten(0, 1), acts.abs().flatten(0, 1) * torch.rand(layers, d_ff, generator=g))


def _generators(n: int, seed: int = 0) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_type_masks_are_the_types_active_in_the_row(seed: int) -> None:
    state = _state(seed)
    for condition, code in (("all_shared", ALL), ("specific", SPECIFIC), ("partial_shared", PARTIAL)):
        mask = condition_mask(condition, state, [])
        assert torch.equal(mask, (state.codes == code) & state.active), condition
    assert torch.equal(condition_mask("all_shared", state, []), state.codes == ALL)  # active in every row anyway
    convert = condition_mask("convert", state, [])
    assert torch.equal(convert, ((state.codes == SPECIFIC) | (state.codes == PARTIAL)) & ~state.active)
    for mean, zeroed in MEAN_ABLATIONS.items():  # mean-ablation edits the neurons zeroing edits
        assert torch.equal(condition_mask(mean, state, []), condition_mask(zeroed, state, [])), mean


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_draw_count_equals_a_loop_over_rows_and_layers(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    pool = torch.rand(4, 3, 20, generator=g) < 0.5
    k = torch.randint(0, 15, (4, 3), generator=g)
    scores = torch.rand(4, 3, 20, generator=g)
    mask = draw_count(pool, k, scores)
    for r in range(4):
        for layer in range(3):
            members = sorted(pool[r, layer].nonzero().flatten().tolist(), key=lambda i: scores[r, layer, i])
            expected = set(members[:int(k[r, layer])])
            assert set(mask[r, layer].nonzero().flatten().tolist()) == expected


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_draw_weight_takes_the_shortest_prefix_reaching_the_target(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    pool = torch.rand(4, 2, 20, generator=g) < 0.6
    weight = torch.rand(4, 2, 20, generator=g)
    target = torch.rand(4, 2, generator=g) * 4
    scores = torch.rand(4, 2, 20, generator=g)
    mask = draw_weight(pool, target, weight, scores)
    for r in range(4):
        for layer in range(2):
            order = sorted(pool[r, layer].nonzero().flatten().tolist(), key=lambda i: scores[r, layer, i])
            taken, total = set(), 0.0
            for i in order:
                if total >= target[r, layer]:
                    break
                taken.add(i)
                total += float(weight[r, layer, i])
            assert set(mask[r, layer].nonzero().flatten().tolist()) == taken


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_random_control_is_matched_in_size_to_all_shared_and_drawn_from_active_others(seed: int) -> None:
    state = _state(seed)
    mask = condition_mask("random/0", state, _generators(6))
    pool = state.active & (state.codes != ALL)
    assert not (mask & ~pool).any()
    expected = torch.minimum((state.codes == ALL).sum(-1), pool.sum(-1))
    assert torch.equal(mask.sum(-1), expected)
    target = (state.codes == ALL).sum(dim=(-2, -1)).double()
    assert torch.equal(reach("random/0", mask, state), torch.stack([expected.sum(-1).double(), target], dim=-1))
    assert torch.equal(mask, condition_mask("random/0", state, _generators(6)))  # seeded
    assert not torch.equal(mask, condition_mask("random/1", state, _generators(6, seed=100)))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_matched_control_reaches_the_all_shared_contribution_or_takes_the_pool(seed: int) -> None:
    state = _state(seed)
    mask = condition_mask("matched/0", state, _generators(6))
    pool = state.active & (state.codes != ALL)
    assert not (mask & ~pool).any()
    target = (state.weight * (state.codes == ALL)).sum(-1)
    taken = (state.weight * mask).sum(-1)
    reached = taken >= target - 1e-6
    assert (reached | (mask == pool).all(-1)).all()
    expected = torch.stack([torch.minimum(taken, target).sum(-1), target.sum(-1)], dim=-1).double()
    torch.testing.assert_close(reach("matched/0", mask, state), expected)  # each layer counts up to its target


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_conversion_control_raises_as_many_non_activated_neurons(seed: int) -> None:
    state = _state(seed)
    mask = condition_mask("convert_random/0", state, _generators(6))
    converted = condition_mask("convert", state, [])
    assert not (mask & (state.codes != NON)).any()
    assert torch.equal(mask.sum(-1), torch.minimum(converted.sum(-1), (state.codes == NON).sum(-1)))


def test_matched_control_needs_value_vectors() -> None:
    state = _state(0)
    state.weight = None
    try:
        condition_mask("matched/0", state, _generators(6))
    except ValueError as error:
        assert "down_proj_input" in str(error)
    else:
        raise AssertionError("the matched control ran without |A| ||v||")


def _lowest_scored(members: list[int], scores: torch.Tensor, k: int) -> set[int]:
    return set(sorted(members, key=lambda i: float(scores[i]))[:k])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_one_type_conditions_equal_a_loop_over_rows_and_layers(seed: int) -> None:
    """Table 2's and 3's rows of one type, rebuilt neuron by neuron: conversion raises the type's neurons inactive
    in the row; its control raises as many non-activated ones; the deactivation control takes as many of the row's
    active neurons of the other types as the type has active (all of them when fewer), the lowest-scored first."""
    state = _state(seed)
    rows, layers, d_ff = state.codes.shape
    scores = random_scores(state.codes.shape, _generators(rows), state.codes.device)  # what the controls draw with
    for type_name, code in (("specific", SPECIFIC), ("partial_shared", PARTIAL)):
        converted = condition_mask(f"convert_{type_name}", state, [])
        convert_control = condition_mask(f"convert_random_{type_name}/0", state, _generators(rows))
        control = condition_mask(f"random_{type_name}/0", state, _generators(rows))
        reached = {name: torch.zeros(rows, 2, dtype=torch.float64) for name in ("convert", "random")}
        for r in range(rows):
            for layer in range(layers):
                codes, active = state.codes[r, layer].tolist(), state.active[r, layer].tolist()
                raised = {i for i in range(d_ff) if codes[i] == code and not active[i]}
                assert set(converted[r, layer].nonzero().flatten().tolist()) == raised
                non_activated = [i for i in range(d_ff) if codes[i] == NON]
                assert set(convert_control[r, layer].nonzero().flatten().tolist()) == _lowest_scored(
                    non_activated, scores[r, layer], len(raised))
                others = [i for i in range(d_ff) if active[i] and codes[i] != code]
                target = sum(1 for i in range(d_ff) if active[i] and codes[i] == code)
                assert set(control[r, layer].nonzero().flatten().tolist()) == _lowest_scored(
                    others, scores[r, layer], target)
                reached["convert"][r] += torch.tensor([min(len(raised), len(non_activated)), len(raised)])
                reached["random"][r] += torch.tensor([min(target, len(others)), target])
        assert torch.equal(reach(f"convert_random_{type_name}/0", convert_control, state), reached["convert"])
        assert torch.equal(reach(f"random_{type_name}/0", control, state), reached["random"])
        assert torch.equal(reach(f"convert_{type_name}", converted, state), torch.zeros(rows, 2, dtype=torch.float64))


def test_new_families_come_last_so_earlier_draws_keep_their_seeds() -> None:
    """A family's place in FAMILIES seeds its draws: the families measured before the one-type rows keep theirs."""
    assert FAMILIES[:7] == ("all_shared", "specific", "partial_shared", "random", "matched", "convert",
                            "convert_random")
    assert FAMILIES[-len(MEAN_ABLATIONS):] == tuple(MEAN_ABLATIONS)
