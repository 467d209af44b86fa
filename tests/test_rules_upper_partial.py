"""The upper-layer rule of partial-shared dominance (§5.1.1) reads the upper band, not the whole network."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from harness.papers.sharing_matters.neurons import ALL, PARTIAL
from harness.papers.sharing_matters.shares_rules import upper_partial_dominance_rule
from tests.rule_cases import upper_band_shares


def test_a_whole_network_reading_is_fooled_by_all_shared_upper_layers() -> None:
    """Partial-shared lead the lower two thirds and the network as a whole; all-shared lead the top third
    (planted-top-shared's shape). Averaged over every layer the rule would say supported."""
    shares = upper_band_shares(1, upper_all=0.6, upper_partial=0.2)
    assert shares[:, PARTIAL].mean() > shares[:, ALL].mean()
    assert upper_partial_dominance_rule(shares, upper=1.0).verdict == "supported"
    assert upper_partial_dominance_rule(shares).verdict == "refuted"


@given(st.floats(0.05, 0.5), st.floats(0.05, 0.5), st.integers(0, 1000))
def test_swapping_the_band_types_swaps_the_verdict(upper_all: float, upper_partial: float, seed: int) -> None:
    shares = upper_band_shares(seed, upper_all=upper_all, upper_partial=upper_partial)
    swapped = shares.copy()
    swapped[:, [ALL, PARTIAL]] = shares[:, [PARTIAL, ALL]]
    verdicts = {upper_partial_dominance_rule(shares).verdict, upper_partial_dominance_rule(swapped).verdict}
    if abs(upper_all - upper_partial) > 0.05:
        assert verdicts == {"supported", "refuted"}


def test_the_band_is_the_last_third_of_the_layers_and_at_least_one() -> None:
    shares = upper_band_shares(2, upper_all=0.6, upper_partial=0.2, layers=2)
    assert upper_partial_dominance_rule(shares).measured["upper layers"] == 1
    assert upper_partial_dominance_rule(upper_band_shares(2, 0.6, 0.2, layers=10)).measured["upper layers"] == 4
    assert np.isclose(upper_partial_dominance_rule(shares, upper=1.0).measured["upper layers"], 2)
