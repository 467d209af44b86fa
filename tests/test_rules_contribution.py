"""The §6.1 contribution rules on synthetic per-row type summaries: each reading on its own is fooled by the
activity alternative (an always-active type whose neurons contribute as any active neuron does), the rule with its
control is not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.papers.sharing_matters.contribution_rules import (
    average_contribution_rule,
    correct_output_rule,
    effective_layers_rule,
    layer_averages,
    layer_bands,
    mean_ablation_check,
)
from harness.papers.sharing_matters.neurons import NON, PARTIAL, SPECIFIC
from harness.papers.sharing_matters.reducers import (
    ACTIVE,
    ACTIVE_CONTRIBUTION,
    ACTIVE_PUSH,
    CONTRIBUTION,
    NEURONS,
    PUSH,
)
from tests.strategies import layer_maxima, type_rows


def test_layer_averages_pool_rows() -> None:
    summed = np.array([[[1.0, 0.0]], [[3.0, 0.0]]])  # (examples 2, T 1, layers 2)
    neurons = np.array([[[1.0, 0.0]], [[3.0, 0.0]]])
    averages = layer_averages(summed, neurons)
    assert averages[0, 0] == 1.0 and np.isnan(averages[0, 1])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000))
def test_all_shared_contributing_more_per_active_neuron_is_supported(seed: int) -> None:
    rows = type_rows(seed, shared_scale=4.0)
    assert average_contribution_rule(rows).verdict == "supported"
    assert correct_output_rule(rows[:, 0]).verdict == "supported"


def test_the_paper_average_alone_is_fooled_by_activity() -> None:
    """All-shared neurons weigh as any active neuron does: their average over all neurons of the type leads (the
    others are diluted by the rows where they are inactive); over the neurons active in the row it does not."""
    rows = type_rows(1, shared_scale=1.0, examples=30)
    verdict = average_contribution_rule(rows)
    assert verdict.measured["layers led (paper's average)"] == 1.0  # the paper's reading alone: supported
    assert verdict.measured["layers not led (activity-matched)"] == 1.0
    assert verdict.verdict == "refuted" and "any active neuron" in verdict.reason


def test_the_paper_comparison_with_all_neurons_is_fooled_by_the_base_rate() -> None:
    """All-shared neurons are 30% of the neurons and most of the active ones, each pushing as any active neuron:
    most of the push, far beyond their share of all neurons (the paper's comparison), exactly their share of the
    active neurons (the control)."""
    rows = type_rows(2, shared_scale=1.0, examples=30)[:, 0]
    verdict = correct_output_rule(rows)
    assert verdict.measured["all-shared share of the push toward the gold token %"] > 50
    assert verdict.measured["push over share of all neurons (paper's comparison)"] > 1.5
    assert verdict.ci[1] < 1.5
    assert verdict.verdict == "refuted" and "always-active" in verdict.reason


def test_all_shared_contributing_less_is_refuted() -> None:
    rows = type_rows(3, shared_scale=0.3)
    assert average_contribution_rule(rows).verdict == "refuted"
    assert correct_output_rule(rows[:, 1]).verdict == "refuted"


def test_layers_without_contribution_are_not_compared_and_nothing_is_inconclusive() -> None:
    rows = type_rows(4, shared_scale=4.0)
    rows[:, :, :, 0, [CONTRIBUTION, ACTIVE_CONTRIBUTION]] = 0.0  # layer 0 writes nothing
    assert average_contribution_rule(rows).measured["layers compared"] == 2
    silent = np.zeros_like(rows)
    assert average_contribution_rule(silent).verdict == "inconclusive"
    assert correct_output_rule(silent[:, 0]).verdict == "inconclusive"
    few = type_rows(5, shared_scale=4.0, examples=3)
    assert average_contribution_rule(few).verdict == "inconclusive"
    assert correct_output_rule(few[:, 0]).verdict == "inconclusive"


def test_others_contributing_nothing_give_an_unbounded_lead() -> None:
    rows = type_rows(6, shared_scale=4.0)
    rows[:, :, [NON, SPECIFIC, PARTIAL], :, CONTRIBUTION] = 0.0
    rows[:, :, [SPECIFIC, PARTIAL], :, ACTIVE_CONTRIBUTION] = 0.0
    verdict = average_contribution_rule(rows)
    assert verdict.verdict == "supported" and verdict.effect == 1.0


def test_limits_are_used_at_their_boundaries() -> None:
    rows = type_rows(7, shared_scale=4.0)[:, 0]
    verdict = correct_output_rule(rows)
    assert correct_output_rule(rows, min_enrichment=verdict.ci[0]).verdict == "inconclusive"
    assert correct_output_rule(rows, min_enrichment=verdict.ci[1] * 1.01).verdict == "refuted"
    share = verdict.measured["push share CI high %"] / 100
    assert correct_output_rule(rows, min_share=share * 1.01).verdict == "refuted"
    assert verdict.params["min_share"] == 0.5 and verdict.params["min_enrichment"] == 1.5
    assert NEURONS != ACTIVE and PUSH != ACTIVE_PUSH


# --- the credited neurons must matter: all-shared set to their means (issue 27) ----------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000), st.sampled_from([0.3, 1.0, 4.0]), st.integers(0, 12), st.integers(0, 12))
def test_the_mean_ablation_check_gates_support_and_refutes_alone(seed: int, scale: float, correct: int,
                                                                  lost: int) -> None:
    """With the check, supported needs the push and the check both supported; a refuted check refutes whatever
    the push says; otherwise the push's verdict stands when the check supports, and is inconclusive when not."""
    rows = type_rows(seed, shared_scale=scale)[:, 0]
    base = np.arange(12) < correct
    without = base & (np.arange(12) >= lost)
    push = correct_output_rule(rows)
    check, _, _ = mean_ablation_check(base, without, chance=0.0, floor=0.0)
    verdict = correct_output_rule(rows, base, without)
    if "refuted" in (push.verdict, check):
        assert verdict.verdict == "refuted"
    else:
        assert verdict.verdict == (push.verdict if push.verdict == check else "inconclusive")
    assert (verdict.effect, verdict.ci) == (push.effect, push.ci)


def test_the_mean_ablation_check_boundaries() -> None:
    """Supported needs the drop's interval strictly above 0; an interval at or below 0 refutes (no answer lost);
    a model that cannot do the task is no test."""
    base = np.ones(10, dtype=bool)
    one = base.copy()
    one[0] = False  # one item lost: some resamples draw none of it, so the interval's low end is exactly 0
    outcome, reason, measured = mean_ablation_check(base, one, chance=0.0, floor=0.0)
    assert measured["relative drop with all-shared mean-ablated CI low"] == 0.0 and outcome == "inconclusive"
    assert mean_ablation_check(base, base, chance=0.0, floor=0.0)[0] == "refuted"
    assert mean_ablation_check(base, ~base, chance=0.0, floor=0.0)[0] == "supported"
    unable, why, _ = mean_ablation_check(base[:4], base[:4], chance=0.0, floor=0.0)
    assert unable == "inconclusive" and "cannot do the task" in why
    assert mean_ablation_check(base[:4], base[:4], chance=0.0, floor=0.0, min_correct=4)[0] == "refuted"


def test_the_mean_ablation_check_needs_an_outcome_per_example() -> None:
    rows = type_rows(8, shared_scale=4.0)[:, 0]
    with pytest.raises(ValueError, match="one outcome per example: 12 examples, 11 baseline"):
        correct_output_rule(rows, np.ones(11, dtype=bool), np.ones(11, dtype=bool))


# --- effective_layers_rule (Fig. 10) ---------------------------------------------------------------------------

ENDS = [150, 40, 40, 40, 40, 40, 40, 150, 150, 150]  # all-shared neurons per layer, most at the ends
FLAT = [60] * 10
EDGE_SCALES = [3.0, 1, 1, 1, 1, 1, 1, 3, 3, 3]


def test_larger_scores_at_the_ends_are_supported() -> None:
    verdict = effective_layers_rule(*layer_maxima(1, FLAT, EDGE_SCALES))
    assert verdict.verdict == "supported" and verdict.ci[0] > 2


def test_the_paper_maxima_alone_are_fooled_by_counts() -> None:
    """Scores from one distribution everywhere, but most all-shared neurons in the first and the top layers: the
    largest score per layer is largest there (the paper's reading), the maximum of 32 drawn per layer is not."""
    verdict = effective_layers_rule(*layer_maxima(2, ENDS, [1.0] * 10))
    assert verdict.measured["ends over middle (paper's maxima)"] > 1.25
    assert verdict.ci[1] < 1.25
    assert verdict.verdict == "refuted" and "more all-shared neurons" in verdict.reason


def test_larger_scores_in_the_middle_are_refuted() -> None:
    verdict = effective_layers_rule(*layer_maxima(3, FLAT, [1.0, 2, 3, 3, 3, 3, 2, 1, 1, 1]))
    assert verdict.verdict == "refuted" and verdict.effect < 1


def test_effective_layers_rule_needs_a_sample_in_every_band_and_three_layers() -> None:
    few = [150, 40, 40, 10, 10, 10, 10, 150, 150, 150]  # the middle layers have too few for a sample of 32
    few_sampled = layer_maxima(4, few, EDGE_SCALES)[1]
    few_sampled[:, :, 1:3] = np.nan
    assert effective_layers_rule(layer_maxima(4, few, EDGE_SCALES)[0], few_sampled).verdict == "inconclusive"
    layer_max, sampled = layer_maxima(5, FLAT[:2], EDGE_SCALES[:2])
    assert effective_layers_rule(layer_max, sampled).verdict == "inconclusive"
    layer_max, sampled = layer_maxima(6, FLAT, EDGE_SCALES, examples=3)
    assert effective_layers_rule(layer_max, sampled).verdict == "inconclusive"


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60), st.floats(0.0, 0.5), st.floats(0.0, 0.5))
def test_layer_bands_are_disjoint_and_ordered(n_layers: int, first: float, upper: float) -> None:
    first_band, upper_band, middle = layer_bands(n_layers, first, upper)
    assert len(first_band) >= 1 and len(upper_band) >= 1 and first_band[0] == 0 and upper_band[-1] == n_layers - 1
    assert not set(middle) & (set(first_band) | set(upper_band))
    if len(middle):
        assert first_band[-1] < middle[0] and middle[-1] < upper_band[0]
