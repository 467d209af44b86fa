"""Two readings of a claim beside each other: the other reading is recorded in the verdict's controls, a measured
number, a table and the reason, which says when only the paper's reading supports a finding (contributions) or when
what zeroing shows vanishes under mean-ablation; the verdict itself is never changed."""

from __future__ import annotations

import pytest

from harness.core.verdict import Verdict
from harness.papers.sharing_matters.readings import MEAN_ABLATION, PAPER, with_mean_ablation, with_paper_reading


def _verdict(outcome: str, effect: float = 1.0) -> Verdict:
    return Verdict(outcome, f"{outcome} because", "effect", effect, (effect - 0.1, effect + 0.1))


@pytest.mark.parametrize("ours", ["supported", "refuted", "inconclusive"])
@pytest.mark.parametrize("paper", ["supported", "refuted", "inconclusive"])
def test_the_paper_reading_is_recorded_beside_ours(ours: str, paper: str) -> None:
    verdict = with_paper_reading(_verdict(ours), _verdict(paper, 2.0), claim="c", instance="m t")
    assert verdict.verdict == ours
    assert verdict.controls[PAPER] == {"verdict": paper, "reason": f"{paper} because", "effect_name": "effect",
                                       "effect": 2.0, "ci": [1.9, 2.1]}
    assert verdict.measured[f"effect ({PAPER})"] == 2.0
    assert verdict.reason.startswith(f"{ours} because; the paper's reading of A as it is")
    assert ("credits outputs that are the same for every input" in verdict.reason) == (
        paper == "supported" and ours != "supported")
    assert verdict.tables[-1]["rows"][0]["values"] == [ours, paper, 1.0, 2.0]


@pytest.mark.parametrize("zeroed", ["supported", "refuted", "inconclusive"])
@pytest.mark.parametrize("mean", ["supported", "refuted", "inconclusive"])
def test_mean_ablation_is_recorded_beside_zeroing(zeroed: str, mean: str) -> None:
    verdict = with_mean_ablation(_verdict(zeroed), _verdict(mean, 0.0), claim="c", instance="m t l")
    assert verdict.verdict == zeroed  # the paper states its finding with zeroing
    assert verdict.controls[MEAN_ABLATION]["verdict"] == mean
    assert ("vanishes under mean-ablation" in verdict.reason) == (zeroed != "refuted" and mean == "refuted")
    assert verdict.tables[-1]["columns"][:2] == ["verdict, zeroed (paper)", "verdict, mean-ablated (ours)"]
