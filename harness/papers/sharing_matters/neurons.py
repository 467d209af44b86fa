"""The four neuron types of one example across its parallel translations (paper eq. 4-7), and their statistics.

Choice recorded with every result: with a single language every active neuron is ``specific`` (eq. 4 and 6
overlap there; we give eq. 6 precedence so that one language never yields shared neurons).
"""

from __future__ import annotations

import math

import numpy as np
import torch

TYPES = ("non_activated", "specific", "partial_shared", "all_shared")  # index = type code
NON, SPECIFIC, PARTIAL, ALL = range(4)


def check_threshold(threshold: float) -> float:
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    return float(threshold)


def type_codes(acts: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Type code per neuron, int8: acts (..., n_langs, layers, d_ff) -> (..., layers, d_ff)."""
    threshold = check_threshold(threshold)
    return _codes((acts > threshold).sum(dim=-3), acts.shape[-3])


def nonparallel_sources(n_examples: int, n_langs: int, rng: np.random.Generator) -> np.ndarray:
    """Non-parallel tuples of a set of parallel examples: (n_examples, n_langs), the example whose item each
    language of tuple i takes. The examples are put in a random order and tuple i takes language j from the example
    j places after example i in it (cyclically): each example's item in each language is used exactly once, and a
    tuple's languages come from as many different examples as there are languages when there are that many
    examples (fewer examples: some come twice). Tuple i keeps example i's first language."""
    order = rng.permutation(n_examples)
    place = np.empty(n_examples, dtype=np.int64)
    place[order] = np.arange(n_examples)
    return order[(place[:, None] + np.arange(n_langs)[None, :]) % n_examples]


def regrouped_codes(active: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Type codes over tuples regrouped from the examples' items: active (examples, n_langs, layers, d_ff) bool,
    sources (tuples, n_langs) the example whose item language j of each tuple takes -> (tuples, layers, d_ff) int8.
    One language at a time, so no regrouped copy of ``active`` is made."""
    count = torch.zeros((len(sources), *active.shape[2:]), dtype=torch.int16, device=active.device)
    for lang in range(active.shape[1]):
        count += active[sources[:, lang], lang]
    return _codes(count, active.shape[1])


def _codes(count: torch.Tensor, n_langs: int) -> torch.Tensor:
    """Type codes (int8) from the number of languages in which each neuron is active."""
    codes = torch.full_like(count, PARTIAL, dtype=torch.int8)
    codes[count == n_langs] = ALL
    codes[count == 1] = SPECIFIC
    codes[count == 0] = NON
    return codes


def classify_neurons(acts: torch.Tensor, threshold: float = 0.0) -> dict[str, torch.Tensor]:
    """Boolean masks of the four types, each (n_layers, d_ff), for acts (n_langs, n_layers, d_ff)."""
    codes = type_codes(acts, threshold)
    return {name: codes == code for code, name in enumerate(TYPES)}


def example_type_shares(codes: torch.Tensor) -> torch.Tensor:
    """Share of each type per layer for each example: codes (examples, layers, d_ff) -> (examples, 4, layers)."""
    return torch.stack([(codes == t).double().mean(dim=-1) for t in range(len(TYPES))], dim=1)


def type_counts(codes: torch.Tensor) -> torch.Tensor:
    """How many neurons of each type per layer: codes (..., layers, d_ff) -> (..., 4, layers), summed over ``...``."""
    codes = codes.reshape(-1, *codes.shape[-2:])
    return torch.stack([(codes == t).sum(dim=(0, 2)) for t in range(len(TYPES))])


class TypeStatistics:
    """Streaming reducer over examples: type shares per layer, activated counts per language, overlap (§5.1.3).

    Feed it ``update(acts)`` with acts (examples, n_langs, layers, d_ff) on the device; it keeps O(layers x d_ff).
    """

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = check_threshold(threshold)
        self.n_examples = 0
        self.counts: torch.Tensor | None = None  # (4, layers) summed over examples
        self.active_count: torch.Tensor | None = None  # (n_langs, layers, d_ff) examples in which each neuron is active
        self.first: torch.Tensor | None = None  # (layers, d_ff) codes of the first example
        self.same: torch.Tensor | None = None  # (layers, d_ff) type equal to the first example's in every example

    def update(self, acts: torch.Tensor) -> torch.Tensor:
        """Add a batch of examples; return their type codes (examples, layers, d_ff) for reuse."""
        codes = type_codes(acts, self.threshold)
        counts = type_counts(codes)
        active = (acts > self.threshold).sum(dim=0, dtype=torch.int32)  # (n_langs, layers, d_ff)
        if self.first is None:
            self.first, self.same = codes[0], torch.ones_like(codes[0], dtype=torch.bool)
            self.counts, self.active_count = torch.zeros_like(counts), torch.zeros_like(active)
        self.same &= (codes == self.first).all(dim=0)
        self.counts += counts
        self.active_count += active
        self.n_examples += codes.shape[0]
        return codes

    @property
    def d_ff(self) -> int:
        return self.first.shape[-1]

    def shares(self) -> torch.Tensor:
        """Mean share of each type per layer over examples: (4, layers)."""
        return self.counts.double() / (self.n_examples * self.d_ff)

    def activated_share_per_language(self) -> torch.Tensor:
        """Mean share of activated neurons per language and layer: (n_langs, layers)."""
        return self.active_count.double().sum(dim=-1) / (self.n_examples * self.d_ff)

    def active_rates(self) -> torch.Tensor:
        """Share of examples in which each neuron is active, per language: (n_langs, layers, d_ff)."""
        return self.active_count.double() / self.n_examples

    def overlap(self) -> torch.Tensor:
        """Share of neurons per layer that keep the same type, and that type is t, in every example: (4, layers)."""
        return torch.stack([((self.first == t) & self.same).double().mean(dim=-1) for t in range(len(TYPES))])


def type_probabilities(rates: torch.Tensor) -> torch.Tensor:
    """Probability of each type in one example if a neuron were active in each language independently at its
    rate: rates (n_langs, ...) -> (4, ...), from the distribution of the number of active languages (the same
    precedence as ``type_codes``: with one language an active neuron is specific)."""
    n_langs = rates.shape[0]
    count = torch.zeros(n_langs + 1, *rates.shape[1:], dtype=torch.float64, device=rates.device)
    count[0] = 1.0
    for rate in rates.double():  # Poisson-binomial, one language at a time
        count[1:] = count[1:] * (1 - rate) + count[:-1] * rate
        count[0] = count[0] * (1 - rate)
    probabilities = torch.zeros(4, *rates.shape[1:], dtype=torch.float64, device=rates.device)
    probabilities[NON] = count[0]
    probabilities[SPECIFIC] = count[1]
    if n_langs > 1:
        probabilities[ALL] = count[n_langs]
        probabilities[PARTIAL] = count[2:n_langs].sum(dim=0)
    return probabilities


def independent_overlap(rates: torch.Tensor, n_examples: int) -> torch.Tensor:
    """Expected share of neurons per layer that keep type t in every one of ``n_examples`` examples if their
    activity were independent across examples and languages at the given rates: rates (n_langs, layers, d_ff) ->
    (4, layers). Neurons with rates of 0 or 1 keep their type for sure."""
    return (type_probabilities(rates) ** n_examples).mean(dim=-1)


def dead_across_tokens_share(ever_active: torch.Tensor) -> torch.Tensor:
    """Share of neurons per layer that stay inactive at every real token of an input (§5.1.4).

    ever_active (inputs, layers, d_ff) bool -> (layers,) mean over inputs.
    """
    return (~ever_active).double().mean(dim=(0, 2))
