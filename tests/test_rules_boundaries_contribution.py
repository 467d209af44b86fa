"""Every comparison of the contribution rules (§6.1-6.2, harness.papers.sharing_matters.contribution_rules) at its
exact boundary. Every example is the same, so each bootstrap interval is the statistic itself, and the summaries
are dyadic, so the statistic is exact: a limit set to it (or one float either side) tells a strict comparison from
an inclusive one, for the point, for the interval's lower end and for its upper end."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from harness.papers.sharing_matters.contribution_rules import (
    average_contribution_rule,
    correct_output_rule,
    effective_layers_rule,
    layer_averages,
    layer_bands,
)
from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC
from harness.papers.sharing_matters.reducers import (
    ACTIVE,
    ACTIVE_CONTRIBUTION,
    ACTIVE_PUSH,
    CONTRIBUTION,
    NEURONS,
    PUSH,
    TYPE_ROW_FIELDS,
)
from tests.strategies import type_rows

# --- average contribution per neuron (Fig. 9): the lead ratio per layer, the share of layers led ----------------------


def _averages(paper: list[float], active: list[float] | None = None, examples: int = 6) -> np.ndarray:
    """(examples, 1 language, T, layers, fields): 8 neurons of every type per layer, every one active but the
    non-activated ones; all-shared neurons contribute ``paper[l]`` each (``active[l]`` each over the active ones),
    every other type 1 each, so the lead ratio of layer l is ``paper[l]`` (``active[l]``)."""
    active = paper if active is None else active
    rows = np.zeros((examples, 1, 4, len(paper), len(TYPE_ROW_FIELDS)))
    rows[..., NEURONS] = 8.0
    rows[..., CONTRIBUTION] = 8.0
    rows[:, :, [PARTIAL, SPECIFIC, ALL], :, ACTIVE] = 8.0
    rows[:, :, [PARTIAL, SPECIFIC], :, ACTIVE_CONTRIBUTION] = 8.0
    rows[:, :, ALL, :, CONTRIBUTION] = 8.0 * np.array(paper)
    rows[:, :, ALL, :, ACTIVE_CONTRIBUTION] = 8.0 * np.array(active)
    return rows


LED = _averages([2.0, 2.0, 2.0, 0.5])  # all-shared lead 3 of 4 layers by 2x and trail in the fourth at 0.5x


def test_a_layer_is_led_only_above_the_ratio_and_not_led_only_below_it() -> None:
    at_lead = average_contribution_rule(LED, min_ratio=2.0)
    assert at_lead.measured["layers led (paper's average)"] == at_lead.measured["layers led (activity-matched)"] == 0
    assert at_lead.measured["layers not led (paper's average)"] == 0.25 and at_lead.verdict == "inconclusive"
    under = average_contribution_rule(LED, min_ratio=np.nextafter(2.0, -np.inf))
    assert under.measured["layers led (paper's average)"] == under.measured["layers led (activity-matched)"] == 0.75
    assert under.verdict == "supported" and under.effect == 0.75
    at_trail = average_contribution_rule(LED, min_ratio=0.5)
    assert at_trail.measured["layers not led (paper's average)"] == 0.0
    assert at_trail.measured["layers not led (activity-matched)"] == 0.0
    above = average_contribution_rule(LED, min_ratio=np.nextafter(0.5, np.inf))
    assert above.measured["layers not led (paper's average)"] == above.measured[
        "layers not led (activity-matched)"] == 0.25


def test_the_share_of_layers_is_inclusive_for_support_and_strict_for_refutation() -> None:
    """3 of 4 layers led, 1 not: supported when 75% are needed; one float more, the one layer not led is more than
    the 25% allowed to fail."""
    assert average_contribution_rule(LED, min_layer_share=0.75).verdict == "supported"
    assert average_contribution_rule(LED, min_layer_share=np.nextafter(0.75, np.inf)).verdict == "refuted"


def test_either_reading_failing_refutes_and_the_reason_says_when_activity_explains_the_lead() -> None:
    """The paper's average leads 3 layers of 4, the activity-matched one 2 (and fails 2): refuted; the lead is said
    to be any active neuron's once the failing half exceeds the share allowed to fail."""
    rows = _averages([2.0, 2.0, 2.0, 0.5], active=[2.0, 2.0, 0.5, 0.5])
    verdict = average_contribution_rule(rows)
    assert verdict.verdict == "refuted" and verdict.effect == 0.5
    assert verdict.reason.endswith("; the lead is that of any active neuron over neurons inactive in the row")
    assert "any active neuron" not in average_contribution_rule(rows, min_layer_share=0.5).reason
    assert average_contribution_rule(rows, min_layer_share=np.nextafter(0.5, np.inf)).reason.endswith(
        "any active neuron over neurons inactive in the row")
    assert average_contribution_rule(rows, min_layer_share=0.5).verdict == "supported"


def test_the_average_rule_needs_as_many_examples_as_asked_no_fewer() -> None:
    assert average_contribution_rule(_averages([2.0] * 4, examples=5)).verdict == "supported"
    fewer = average_contribution_rule(_averages([2.0] * 4, examples=4))
    assert fewer.verdict == "inconclusive" and fewer.reason == "only 4 examples (< 5)"
    assert fewer.measured == {"layers compared": 4, "examples": 4}


def test_only_layers_with_some_contribution_are_compared() -> None:
    rows = _averages([2.0] * 4)
    rows[:, :, :, 0, CONTRIBUTION] = 0.0  # layer 0 writes nothing
    rows[:, :, :, 1, CONTRIBUTION] = 0.0
    rows[0, 0, NON, 1, CONTRIBUTION] = 1e-300  # layer 1 next to nothing
    assert average_contribution_rule(rows).measured["layers compared"] == 3
    no_shared = _averages([2.0] * 4)
    no_shared[:, :, ALL, :, NEURONS] = 0.0
    verdict = average_contribution_rule(no_shared)
    assert verdict.verdict == "inconclusive"
    assert verdict.reason == "no layer has both contributing neurons and all-shared ones"
    silent = average_contribution_rule(np.zeros_like(no_shared))
    assert silent.reason == verdict.reason and silent.measured["layers compared"] == 0


def test_layer_averages_have_no_value_where_a_type_has_no_neuron() -> None:
    summed = np.array([[[2.0, 0.0, 1.0]], [[2.0, 0.0, 0.0]]])  # (examples, T 1, layers 3)
    neurons = np.array([[[1.0, 0.0, 0.5]], [[3.0, 0.0, 0.0]]])
    averages = layer_averages(summed, neurons)
    assert averages[0, 0] == 1.0 and np.isnan(averages[0, 1]) and averages[0, 2] == 2.0


# --- push toward the correct output (§1): the push share and the push per active neuron -------------------------------


def _pushes(shared: float, other: float, examples: int = 6, layers: int = 2) -> np.ndarray:
    """(examples, T, layers, fields): 4 active all-shared and 4 active partial-shared neurons per layer pushing
    ``shared`` and ``other`` each, 8 dead non-activated ones: push share shared / (shared + other), all-shared
    pushing shared / other times as much per active neuron."""
    rows = np.zeros((examples, 4, layers, len(TYPE_ROW_FIELDS)))
    rows[:, [ALL, PARTIAL], :, NEURONS] = rows[:, [ALL, PARTIAL], :, ACTIVE] = 4.0
    rows[:, NON, :, NEURONS] = 8.0
    for t, push in ((ALL, shared), (PARTIAL, other)):
        rows[:, t, :, PUSH] = rows[:, t, :, ACTIVE_PUSH] = rows[:, t, :, CONTRIBUTION] = 4.0 * push
    return rows


PUSHES = _pushes(3.0, 1.0)  # push share 75%, 3x per active neuron


def test_the_push_share_and_enrichment_are_exact_and_their_intervals_collapse() -> None:
    verdict = correct_output_rule(PUSHES)
    assert verdict.verdict == "supported" and verdict.effect == 3.0 and verdict.ci == (3.0, 3.0)
    assert verdict.measured["all-shared share of the push toward the gold token %"] == 75.0
    assert verdict.measured["push share CI low %"] == verdict.measured["push share CI high %"] == 75.0
    assert verdict.measured["all-shared share of the neurons %"] == 25.0
    assert verdict.measured["all-shared share of the active neurons %"] == 50.0
    assert verdict.measured["push over share of all neurons (paper's comparison)"] == 3.0


def test_the_push_share_limit_is_strict_on_both_sides() -> None:
    assert correct_output_rule(PUSHES, min_share=0.75).verdict == "inconclusive"
    assert correct_output_rule(PUSHES, min_share=np.nextafter(0.75, -np.inf)).verdict == "supported"
    assert correct_output_rule(PUSHES, min_share=np.nextafter(0.75, np.inf)).verdict == "refuted"


def test_the_enrichment_limit_is_strict_on_both_sides_and_the_reason_names_the_base_rate() -> None:
    at = correct_output_rule(PUSHES, min_enrichment=3.0)
    assert at.verdict == "inconclusive" and "always-active" not in at.reason
    assert correct_output_rule(PUSHES, min_enrichment=np.nextafter(3.0, -np.inf)).verdict == "supported"
    above = correct_output_rule(PUSHES, min_enrichment=np.nextafter(3.0, np.inf))
    assert above.verdict == "refuted"
    assert above.reason.endswith(": the majority of an always-active type, not more per active neuron")
    both_at = correct_output_rule(PUSHES, min_share=0.75, min_enrichment=np.nextafter(3.0, np.inf))
    assert both_at.verdict == "refuted" and "always-active" not in both_at.reason  # not a majority beyond the limit


def test_the_push_rule_needs_as_many_examples_as_asked_no_fewer() -> None:
    assert correct_output_rule(_pushes(3.0, 1.0, examples=5)).verdict == "supported"
    fewer = correct_output_rule(_pushes(3.0, 1.0, examples=4))
    assert fewer.verdict == "inconclusive" and fewer.reason == "only 4 examples (< 5)"
    assert fewer.measured["examples"] == 4 and math.isnan(fewer.effect)


def test_nothing_to_compare_is_inconclusive_and_no_other_push_is_an_unbounded_enrichment() -> None:
    nothing = "no neuron pushes toward the gold token, or no row has active all-shared neurons and other active ones"
    assert correct_output_rule(_pushes(0.0, 0.0)).reason.startswith(nothing)
    alone = _pushes(3.0, 1.0)
    alone[:, PARTIAL, :, ACTIVE] = 0.0  # all-shared the only active neurons: pushes, but no one to compare with
    alone[:, PARTIAL, :, ACTIVE_PUSH] = 0.0
    assert correct_output_rule(alone).reason.startswith(nothing)
    unbounded = correct_output_rule(_pushes(3.0, 0.0))
    assert unbounded.effect == math.inf and unbounded.verdict == "supported"
    assert unbounded.ci == (np.finfo(float).max, np.finfo(float).max)


# --- effective-score maxima by layer (Fig. 10): the ends over the middle --------------------------------------------


def _maxima(paper: list[float], sampled: list[float], examples: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """layer_max (2 languages, layers) and sample_max (examples, 2 languages, layers), every row the same."""
    return np.tile(paper, (2, 1)), np.tile(sampled, (examples, 2, 1))


ENDS = [4.0] + [1.0] * 6 + [4.0] * 3  # 10 layers: the first and the top three 4x the middle six


def test_the_ends_ratio_limit_is_strict_for_the_sample_and_its_interval() -> None:
    half = [2.0] + [1.0] * 6 + [2.0] * 3  # the sample's ends 2x the middle
    assert effective_layers_rule(*_maxima(ENDS, half), min_ratio=2.0).verdict == "inconclusive"
    assert effective_layers_rule(*_maxima(ENDS, half), min_ratio=np.nextafter(2.0, -np.inf)).verdict == "supported"
    above = effective_layers_rule(*_maxima(ENDS, half), min_ratio=np.nextafter(2.0, np.inf))
    assert above.verdict == "refuted" and above.reason.endswith(": the ends hold more all-shared neurons, not larger "
                                                                "scores")
    assert "more all-shared neurons" not in effective_layers_rule(*_maxima(ENDS, half), min_ratio=2.0).reason


def test_the_ends_ratio_limit_is_strict_for_the_papers_maxima() -> None:
    half = [2.0] + [1.0] * 6 + [2.0] * 3
    verdict = effective_layers_rule(*_maxima(half, ENDS), min_ratio=2.0)  # the paper's maxima 2x, the sample 4x
    assert verdict.verdict == "inconclusive" and verdict.measured["ends over middle (paper's maxima)"] == 2.0
    assert effective_layers_rule(*_maxima(half, ENDS), min_ratio=np.nextafter(2.0, -np.inf)).verdict == "supported"
    assert effective_layers_rule(*_maxima(half, ENDS), min_ratio=np.nextafter(2.0, np.inf)).verdict == "refuted"


def test_the_interval_ends_are_strict_when_the_examples_differ() -> None:
    """Noisy sampled maxima (the paper's far above): a limit at either end of the control's interval is decided by
    that end alone; a paper's ratio exactly at the limit is not over it, so no reason about counts is given."""
    layer_max, sampled = _maxima(ENDS, [2.0] + [1.0] * 6 + [2.0] * 3, examples=12)
    sampled = sampled * np.random.default_rng(5).uniform(0.8, 1.2, sampled.shape)
    verdict = effective_layers_rule(layer_max, sampled)
    low, high = verdict.ci
    assert low < verdict.effect < high
    assert effective_layers_rule(layer_max, sampled, min_ratio=low).verdict == "inconclusive"
    assert effective_layers_rule(layer_max, sampled, min_ratio=np.nextafter(low, -np.inf)).verdict == "supported"
    assert effective_layers_rule(layer_max, sampled, min_ratio=high).verdict == "inconclusive"
    assert effective_layers_rule(layer_max, sampled, min_ratio=np.nextafter(high, np.inf)).verdict == "refuted"
    at_paper = effective_layers_rule(*_maxima([2.0] + [1.0] * 6 + [2.0] * 3, [1.0] * 10), min_ratio=2.0)
    assert at_paper.verdict == "refuted" and not at_paper.reason.endswith("not larger scores")


def test_a_middle_under_one_divides_the_ends() -> None:
    verdict = effective_layers_rule(*_maxima([1.0] + [0.5] * 6 + [1.0] * 3, [1.0] + [0.25] * 6 + [0.5] * 3))
    assert verdict.measured["ends over middle (paper's maxima)"] == 2.0 and verdict.effect == 2.0


def test_the_weaker_end_decides_the_ratio() -> None:
    uneven = [8.0] + [1.0] * 6 + [2.0] * 3  # first 8x, top 2x
    verdict = effective_layers_rule(*_maxima(uneven, uneven))
    assert verdict.effect == 2.0 and verdict.measured["ends over middle (paper's maxima)"] == 2.0
    assert verdict.measured["layer of the largest maximum"] == 0


def test_the_maxima_rule_needs_examples_a_middle_and_positive_maxima_there() -> None:
    assert effective_layers_rule(*_maxima(ENDS, ENDS, examples=5)).verdict == "supported"
    fewer = effective_layers_rule(*_maxima(ENDS, ENDS, examples=4))
    assert fewer.verdict == "inconclusive" and fewer.reason == "only 4 examples (< 5)"
    assert fewer.effect_name == "ends over middle layers, sampled all-shared maxima"
    assert fewer.measured == {"layers": 10, "first band": 1, "upper band": 3, "examples": 4}
    assert fewer.params["min_examples"] == 5 and fewer.params["min_ratio"] == 1.25
    two = effective_layers_rule(*_maxima([4.0, 4.0], [4.0, 4.0]))
    assert two.reason == "2 layers leave none between the first and the upper band"
    assert two.measured == {"layers": 2, "first band": 1, "upper band": 1, "examples": 6}
    flat_zero = ENDS[:1] + [0.0] * 6 + ENDS[7:]
    silent = effective_layers_rule(*_maxima(ENDS, flat_zero))
    assert silent.verdict == "inconclusive" and silent.reason.startswith("a band of layers has no all-shared maximum")
    empty = effective_layers_rule(*_maxima([math.nan] * 10, [math.nan] * 10))
    assert empty.verdict == "inconclusive" and empty.measured["layer of the largest maximum"] is None


@pytest.mark.parametrize(("n_layers", "first_share", "upper_share", "bands"), [
    (10, 0.1, 0.3, ([0], [7, 8, 9], [1, 2, 3, 4, 5, 6])),
    (5, 0.1, 0.1, ([0], [4], [1, 2, 3])),  # a share of half a layer rounds to none: one layer at least
    (10, 0.25, 0.25, ([0, 1], [8, 9], [2, 3, 4, 5, 6, 7])),  # 2.5 layers round to 2 (to even)
    (3, 0.5, 0.5, ([0, 1], [1, 2], [])),  # the bands meet: no middle
])
def test_layer_bands_round_each_share_to_whole_layers(n_layers: int, first_share: float, upper_share: float,
                                                      bands: tuple[list[int], ...]) -> None:
    assert [band.tolist() for band in layer_bands(n_layers, first_share, upper_share)] == list(bands)


# --- what the rules do with missing types, silent layers, small numbers, warnings and their seed ----------------------


def test_a_type_without_neurons_is_left_out_of_the_comparison() -> None:
    """Layer 0 has no specific neurons (no average): the lead is over the types that have some, and partial-shared
    still rank second there; layer 1 has no neurons but all-shared ones: no ratio, neither led nor not led."""
    rows = _averages([2.0] * 4)
    rows[:, :, PARTIAL, :, CONTRIBUTION] = 12.0  # partial-shared 1.5 per neuron: second everywhere
    rows[:, :, SPECIFIC, 0, [NEURONS, ACTIVE, CONTRIBUTION, ACTIVE_CONTRIBUTION]] = 0.0
    rows[:, :, [NON, SPECIFIC, PARTIAL], 1] = 0.0
    verdict = average_contribution_rule(rows, min_ratio=1.25)
    assert verdict.measured["layers compared"] == 4
    assert verdict.measured["layers led (paper's average)"] == 0.75
    assert verdict.measured["layers not led (paper's average)"] == 0.0
    assert verdict.measured["layers where partial-shared are second (paper's average)"] == 0.75


def test_a_silent_layer_is_not_counted_among_the_compared() -> None:
    rows = _averages([2.0] * 4)
    rows[:, :, :, 3, CONTRIBUTION] = rows[:, :, :, 3, ACTIVE_CONTRIBUTION] = 0.0  # layer 3 writes nothing
    verdict = average_contribution_rule(rows)
    assert verdict.measured["layers compared"] == 3
    assert verdict.measured["layers led (paper's average)"] == verdict.measured["layers led (activity-matched)"] == 1.0


def test_all_shared_neurons_only_in_silent_layers_leave_nothing_to_compare() -> None:
    rows = _averages([2.0] * 4)
    rows[:, :, :, 1:, [CONTRIBUTION, ACTIVE_CONTRIBUTION]] = 0.0  # only layer 0 writes
    rows[:, :, ALL, 0, [NEURONS, ACTIVE]] = 0.0  # and has no all-shared neuron
    verdict = average_contribution_rule(rows, min_layer_share=0.5)
    assert verdict.reason == "no layer has both contributing neurons and all-shared ones"
    assert verdict.effect_name == "share of layers led by all-shared (both readings)"
    assert verdict.params["min_layer_share"] == 0.5 and verdict.measured == {"layers compared": 1, "examples": 6}
    one = _averages([2.0] * 4)
    one[1:, :, ALL, :, NEURONS] = 0.0  # a single all-shared neuron per layer, in one example: enough
    one[0, :, ALL, :, NEURONS] = 1.0
    assert average_contribution_rule(one).verdict != "inconclusive"


def test_small_pushes_are_compared_and_an_unbounded_enrichment_needs_only_some_push() -> None:
    """Pushes summing to under 1 are pushes: nothing is declined for being small."""
    small = correct_output_rule(_pushes(0.0625, 0.03125))
    assert small.verdict == "supported" and small.effect == 2.0
    tiny = correct_output_rule(_pushes(0.0625, 0.0))
    assert tiny.effect == math.inf and tiny.verdict == "supported"


def test_the_declined_push_verdicts_keep_their_name_and_parameters() -> None:
    fewer = correct_output_rule(_pushes(3.0, 1.0, examples=4), min_share=0.6)
    assert fewer.effect_name == "push per active all-shared neuron over per other active neuron"
    assert fewer.params["min_share"] == 0.6 and fewer.params["min_examples"] == 5


def test_rules_on_empty_types_and_zero_pushes_raise_no_warnings() -> None:
    """Divisions by empty types and zero pushes are guarded: a run's output stays free of numpy warnings."""
    rows = _averages([2.0] * 4)
    rows[:, :, [NON, SPECIFIC, PARTIAL], 1] = 0.0
    for field in (CONTRIBUTION, ACTIVE_CONTRIBUTION):  # in layer 2 the others contribute nothing
        rows[:, :, [NON, SPECIFIC, PARTIAL], 2, field] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        average_contribution_rule(rows)
        correct_output_rule(_pushes(3.0, 0.0))
        correct_output_rule(_pushes(0.0, 0.0))


def test_the_bootstrap_is_seeded() -> None:
    """30 layers whose intervals sit around the limit: the share of layers led depends on the draws, so one seed
    gives one verdict and another seed another."""
    rows = type_rows(8, shared_scale=1.5, layers=30, examples=8)
    first, again = average_contribution_rule(rows), average_contribution_rule(rows)
    assert first.measured == again.measured
    assert average_contribution_rule(rows, seed=1).measured != first.measured
    pushes = type_rows(9, shared_scale=1.5, examples=8)[:, 0]
    assert correct_output_rule(pushes).ci == correct_output_rule(pushes).ci != correct_output_rule(pushes, seed=1).ci


def test_support_needs_the_lower_end_of_the_push_share_interval_above_the_limit() -> None:
    rows = type_rows(10, shared_scale=4.0)[:, 0]
    verdict = correct_output_rule(rows)
    low, high = (verdict.measured[f"push share CI {end} %"] / 100 for end in ("low", "high"))
    share = verdict.measured["all-shared share of the push toward the gold token %"] / 100
    assert low < share < high and verdict.verdict == "supported"
    assert correct_output_rule(rows, min_share=(low + share) / 2).verdict == "inconclusive"
    assert correct_output_rule(rows, min_share=(share + high) / 2).verdict == "inconclusive"
