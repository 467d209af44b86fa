"""Intervention conditions: which neurons each one edits, per row (example x language) and layer.

The paper deactivates the *active* neurons of a type (§6.3), so a type's mask in a row is its neurons that are
active in that row: all of them for all-shared, those active in this language for partial-shared and specific.
Conversion raises the inactive part of specific and partial-shared neurons to just above the threshold (Table 3).

Controls the paper lacks, each drawn anew per row and layer with several seeds:
- ``random``: as many neurons as are all-shared, drawn from the neurons active in the row that are not all-shared
  (when there are fewer, all of them: what it reached is recorded);
- ``matched``: neurons drawn in a random order from the same pool until their summed contribution |A| ||v|| reaches
  the all-shared set's (all of the pool when it does not reach it; needs the site ``down_proj_input``);
- ``convert_random``: as many neurons as conversion raises, drawn from the non-activated ones (inactive in every
  language), raised the same way.

Table 2's and Table 3's rows of one type (deactivating or converting specific neurons alone, partial-shared ones
alone) have controls sized to that type, also per row and layer:
- ``random_specific``, ``random_partial_shared``: as many neurons as the type has active in the row, drawn from
  the row's active neurons of the other types (when there are fewer, all of them: what it reached is recorded);
- ``convert_specific``, ``convert_partial_shared``: conversion of that type alone (its neurons inactive in the row);
- ``convert_random_specific``, ``convert_random_partial_shared``: as many non-activated neurons as that type's
  conversion raises, raised the same way.

A drawn control can fall short of its target (too few neurons in its pool, or too little contribution for
``matched``): ``reach`` says how much of its target each row's draw reached.

Mean-ablation (ours), beside the paper's zeroing: ``all_shared_mean``, ``specific_mean`` and
``partial_shared_mean`` edit the neurons of the type's deactivation but set each to its mean A over the task's
inputs (harness.core.capture.mean_activations) instead of 0, so that no neuron leaves the range of values it
takes on the task.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC

DEACTIVATIONS = ("all_shared", "specific", "partial_shared")
# one type's controls and conversions (Tables 2 and 3, a row per type): family -> the type it is sized to
TYPE_CONTROLS = {"random_specific": "specific", "random_partial_shared": "partial_shared"}
TYPE_CONVERSIONS = {"convert_specific": "specific", "convert_partial_shared": "partial_shared"}
TYPE_CONVERSION_CONTROLS = {"convert_random_specific": "specific", "convert_random_partial_shared": "partial_shared"}
MEAN_ABLATIONS = {f"{name}_mean": name for name in DEACTIVATIONS}  # family -> the deactivation whose neurons it sets
# to their means
SEEDED = ("random", "matched", "convert_random", *TYPE_CONTROLS, *TYPE_CONVERSION_CONTROLS)  # one run per seed,
# stored as "<family>/<seed>"
CONVERSIONS = ("convert", "convert_random", *TYPE_CONVERSIONS, *TYPE_CONVERSION_CONTROLS)
# new families go last: a family's place seeds its draws (measurement._row_generators)
FAMILIES = (*DEACTIVATIONS, "random", "matched", "convert", "convert_random", *TYPE_CONTROLS, *TYPE_CONVERSIONS,
            *TYPE_CONVERSION_CONTROLS, *MEAN_ABLATIONS)
_TYPE = {"all_shared": ALL, "specific": SPECIFIC, "partial_shared": PARTIAL}


def seeded_name(family: str, seed: int) -> str:
    return f"{family}/{seed}"


def family_of(condition: str) -> str:
    return condition.split("/")[0]


@dataclass
class RowState:
    """What the masks of one chunk are drawn from; rows are examples x languages, example-major."""

    codes: torch.Tensor  # (rows, layers, d_ff) int8 type of each neuron in the row's example
    active: torch.Tensor  # (rows, layers, d_ff) bool, active in the row
    weight: torch.Tensor | None  # (rows, layers, d_ff) |A| ||v||, or None at a site without value vectors

    @property
    def shared(self) -> torch.Tensor:
        return self.codes == ALL


def type_mask(condition: str, state: RowState) -> torch.Tensor:
    """The type's neurons active in each row: (rows, layers, d_ff) bool."""
    return (state.codes == _TYPE[condition]) & state.active


def conversion_mask(state: RowState, types: tuple[str, ...] = ("specific", "partial_shared")) -> torch.Tensor:
    """Neurons of ``types`` (default: specific and partial-shared) inactive in the row: (rows, layers, d_ff) bool."""
    of_types = torch.zeros_like(state.active)
    for name in types:
        of_types |= state.codes == _TYPE[name]
    return of_types & ~state.active


def random_scores(shape: torch.Size, generators: list[torch.Generator], device: torch.device) -> torch.Tensor:
    """Uniform scores (rows, layers, d_ff), one generator per row, so a row's draw never depends on its chunk."""
    return torch.stack([torch.rand(shape[1:], generator=g, device=device) for g in generators])


def draw_count(pool: torch.Tensor, k: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Per row and layer, the k pool neurons with the lowest scores (all of the pool when it has fewer).

    pool (rows, layers, d_ff) bool, k (rows, layers) int, scores like pool -> mask like pool.
    """
    scores = scores.masked_fill(~pool, 2.0)  # scores are in [0, 1): the pool sorts first
    ranked = scores.sort(dim=-1).values
    kth = ranked.gather(-1, (k - 1).clamp(min=0).unsqueeze(-1))  # (rows, layers, 1)
    return pool & (scores <= kth) & (k > 0).unsqueeze(-1)


def draw_weight(pool: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Per row and layer, pool neurons taken in a random order until their summed weight reaches ``target``.

    pool, weight, scores (rows, layers, d_ff); target (rows, layers) -> mask like pool.
    """
    order = scores.masked_fill(~pool, 2.0).argsort(dim=-1)
    w = (weight * pool).gather(-1, order)
    before = w.cumsum(dim=-1) - w  # weight taken before each neuron in that order
    take = (before < target.unsqueeze(-1)) & pool.gather(-1, order)
    return torch.zeros_like(pool).scatter_(-1, order, take)


def condition_mask(condition: str, state: RowState, generators: list[torch.Generator]) -> torch.Tensor:
    """The neurons ``condition`` edits in each row: (rows, layers, d_ff) bool; ``generators`` (one per row) draw the
    seeded controls and must be seeded per row and seed by the caller."""
    family = family_of(condition)
    if family in _TYPE or family in MEAN_ABLATIONS:
        return type_mask(MEAN_ABLATIONS.get(family, family), state)
    if family == "convert":
        return conversion_mask(state)
    if family in TYPE_CONVERSIONS:
        return conversion_mask(state, (TYPE_CONVERSIONS[family],))
    scores = random_scores(state.codes.shape, generators, state.codes.device)
    if family in ("convert_random", *TYPE_CONVERSION_CONTROLS):
        return draw_count(state.codes == NON, _control_target(family, state), scores)
    if family in TYPE_CONTROLS:
        sized_to = TYPE_CONTROLS[family]
        return draw_count(state.active & (state.codes != _TYPE[sized_to]), _control_target(family, state), scores)
    pool = state.active & ~state.shared
    if family == "random":
        return draw_count(pool, _control_target(family, state), scores)
    if state.weight is None:
        raise ValueError("the contribution-matched control needs |A| ||v||: site 'down_proj_input'")
    return draw_weight(pool, (state.weight * state.shared).sum(dim=-1), state.weight, scores)


def _control_target(family: str, state: RowState) -> torch.Tensor:
    """How many neurons a control drawn by count aims at per row and layer: (rows, layers) int."""
    if family == "random":
        return state.shared.sum(dim=-1)
    if family == "convert_random":
        return conversion_mask(state).sum(dim=-1)
    if family in TYPE_CONTROLS:
        return type_mask(TYPE_CONTROLS[family], state).sum(dim=-1)
    return conversion_mask(state, (TYPE_CONVERSION_CONTROLS[family],)).sum(dim=-1)


def reach(condition: str, mask: torch.Tensor, state: RowState) -> torch.Tensor:
    """What a drawn control reached and what it aimed at per row, summed over layers, (rows, 2) float64: neurons
    for the controls drawn by count (``random``, ``convert_random`` and the one-type controls); for ``matched`` the
    summed |A| ||v|| taken, at most the target, and the all-shared set's (its target). Other conditions aim at
    nothing: (0, 0)."""
    family = family_of(condition)
    if family in ("random", "convert_random", *TYPE_CONTROLS, *TYPE_CONVERSION_CONTROLS):
        target = _control_target(family, state).sum(dim=-1).double()
        return torch.stack([mask.sum(dim=(-2, -1)).double(), target], dim=-1)
    if family == "matched":
        target = (state.weight * state.shared).sum(dim=-1).double()  # (rows, layers)
        taken = (state.weight * mask).sum(dim=-1).double()
        return torch.stack([torch.minimum(taken, target).sum(dim=-1), target.sum(dim=-1)], dim=-1)
    return torch.zeros(mask.shape[0], 2, dtype=torch.float64, device=mask.device)
