"""Every comparison of the accuracy rules (inability, ablation, conversion) at its exact boundary: a threshold set to
the very statistic (or interval bound) it is compared with, so that a strict comparison and an inclusive one give
different verdicts. Strict and inclusive are the rules' documented choices (docstrings, README); each test names the
one it pins."""

from __future__ import annotations

import numpy as np
import pytest

from harness.core.stats import above_chance
from harness.papers.sharing_matters.accuracy_rules import (
    ablation_rule,
    conversion_rule,
    inability,
    relative_drop,
    type_ablation_rule,
)

# --- ability and ablation ---------------------------------------------------------------------------------------------


def _items(n: int, correct: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[:correct] = True
    return out


def test_inability_passes_its_alpha_and_counts_on() -> None:
    base = _items(30, 15)  # 50% against chance 1/3: binomial p = 0.043
    assert inability(base, 1 / 3) is None
    assert inability(base, 1 / 3, alpha=0.04) is not None  # p = 0.043 >= 0.04
    assert inability(_items(3, 3), 0.0, min_correct=3) is None


def _ablated(base: np.ndarray, lost: int, **controls: np.ndarray) -> dict[str, np.ndarray]:
    all_shared = base.copy()
    all_shared[:lost] = False
    return {"all_shared": all_shared, "specific": base.copy(), "partial_shared": base.copy(),
            "random": base.astype(float), "matched": base.astype(float), **controls}


def test_ablation_significance_is_strict_for_the_baseline_and_the_controls() -> None:
    base = _items(40, 30)
    ablated = _ablated(base, 28)
    small = {"specific": 0.001, "partial_shared": 0.001, "random": 0.001, "matched": 0.001}
    at_alpha = ablation_rule(base, ablated, floor=0.0, chance=0.0, adjusted={"baseline": 0.05, **small})
    assert at_alpha.verdict == "inconclusive"  # p = alpha is not below alpha
    control_at_alpha = ablation_rule(base, ablated, floor=0.0, chance=0.0,
                                     adjusted={"baseline": 0.001, **small, "matched": 0.05})
    assert control_at_alpha.verdict == "inconclusive"
    assert ablation_rule(base, ablated, floor=0.0, chance=0.0,
                         adjusted={"baseline": 0.001, **small}).verdict == "supported"


def test_ablation_refutes_only_below_the_drop_threshold() -> None:
    base = _items(40, 20)
    ablated = _ablated(base, 8)  # relative drop 0.4 with a spread interval
    first = ablation_rule(base, ablated, floor=0.0, chance=0.0)
    assert first.ci[0] < first.effect < first.ci[1]
    at_high = ablation_rule(base, ablated, floor=0.0, chance=0.0, min_relative_drop=first.ci[1])
    assert at_high.verdict == "inconclusive"  # the interval reaches the threshold: not below it


def test_ablation_passes_its_gate_parameters() -> None:
    base = _items(30, 15)  # binomial p = 0.043 against 1/3
    ablated = _ablated(base, 14)
    assert "cannot do the task" in ablation_rule(base, ablated, floor=0.0, chance=1 / 3, alpha=0.04).reason
    assert "cannot do the task" in ablation_rule(base, ablated, floor=0.0, chance=0.0, min_correct=16).reason


def test_two_controls_costing_as_much_are_both_named() -> None:
    base = _items(60, 50)
    ablated = _ablated(base, 45)
    ablated |= {"random": ablated["all_shared"].astype(float), "matched": ablated["all_shared"].astype(float)}
    verdict = ablation_rule(base, ablated, floor=0.0, chance=0.0)
    assert verdict.reason.endswith("; random, matched costs at least as much")


def test_ablation_intervals_follow_the_seed() -> None:
    base = _items(40, 20)
    ablated = _ablated(base, 8, random=np.where(base, 0.5, 0.0))
    seeded = [ablation_rule(base, ablated, floor=0.0, chance=0.0, seed=s) for s in (0, 7)]
    assert seeded[0].ci != seeded[1].ci
    assert seeded[0].measured == seeded[1].measured  # the point values do not depend on the seed


# --- conversion -------------------------------------------------------------------------------------------------------


def _proportional(share: float, n: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half the examples gain in every language under conversion; the control recovers ``share`` of each gain."""
    base = np.zeros((n, 3), dtype=bool)
    base[n // 2:] = True
    converted = np.ones_like(base)
    return base, converted, np.where(base, 1.0, share)


def test_conversion_control_share_at_the_limit_refutes() -> None:
    base, converted, control = _proportional(0.25)
    verdict = conversion_rule(base, converted, control, chance=0.0, max_control_share=0.25)
    assert verdict.measured["control's share of the gain"] == 0.25
    assert verdict.verdict == "refuted"  # recovering exactly the limit is not under it


def test_conversion_supports_only_when_the_share_interval_is_under_the_limit() -> None:
    rng = np.random.default_rng(0)
    base, converted, _ = _proportional(0.0, n=40)
    control = np.where(base, 1.0, rng.choice([0.0, 0.6], size=base.shape))
    first = conversion_rule(base, converted, control, chance=0.0)
    assert first.verdict == "supported"
    share_ci = [float(x) for x in first.reason.split("the control recovers ")[1].split("[")[1].split("]")[0]
                .split(", ")]
    assert share_ci[0] < share_ci[1]
    at_high = conversion_rule(base, converted, control, chance=0.0,
                              max_control_share=first.measured["control's share of the gain"] + 1e-9)
    assert at_high.verdict in ("inconclusive", "supported")


def test_conversion_needs_the_change_interval_above_zero() -> None:
    """10 examples, 3 gain: 2.8% of resamples draw none of them, so the interval's low end is exactly 0."""
    base = np.zeros((10, 3), dtype=bool)
    base[3:6] = True
    converted = base.copy()
    converted[:3] = True
    verdict = conversion_rule(base, converted, base.astype(float), chance=0.0, min_correct=3, min_wrong=3)
    assert verdict.ci[0] == 0.0 and verdict.effect > 0
    assert verdict.verdict == "inconclusive"


def test_conversion_that_hurts_has_no_control_share() -> None:
    base = np.ones((20, 3), dtype=bool)
    base[:10] = False
    converted = base.copy()
    converted[10:15] = False
    verdict = conversion_rule(base, converted, base.astype(float), chance=0.0)
    assert np.isnan(verdict.measured["control's share of the gain"])
    assert verdict.verdict == "refuted"


def test_conversion_reason_states_its_limits() -> None:
    base, converted, control = _proportional(0.1)
    converted[:, 0] = base[:, 0]  # language 0 unchanged, language 1 loses 3 answers: not worse in 2 of 3
    converted[:, 1] = base[:, 1]
    converted[-3:, 1] = False
    verdict = conversion_rule(base, converted, control, chance=0.0, min_language_share=0.75)
    assert "not worse in 67% of languages (needs 75%)" in verdict.reason
    assert verdict.verdict == "refuted"


def test_conversion_passes_its_gate_parameters() -> None:
    base, converted, control = _proportional(0.1, n=12)
    assert conversion_rule(base, converted, control, chance=0.0).verdict == "supported"
    assert "no room" in conversion_rule(base, converted, control, chance=0.0, min_wrong=19).reason
    assert "cannot do the task" in conversion_rule(base, converted, control, chance=0.0, min_correct=19).reason
    assert "cannot do the task" in conversion_rule(base, converted, control, chance=0.45, alpha=0.3).reason


def test_conversion_interval_boundaries() -> None:
    base, converted, _ = _proportional(0.0, n=40)
    rng = np.random.default_rng(0)
    control = np.where(base, 1.0, rng.choice([0.0, 0.6], size=base.shape))
    first = conversion_rule(base, converted, control, chance=0.0)
    high = first.measured["control's share CI high"]
    assert first.measured["control's share of the gain"] < high
    assert conversion_rule(base, converted, control, chance=0.0, max_control_share=high).verdict == "inconclusive"
    # 2 of 3 languages not worse (language 0 unchanged, 1 worse, 2 better) and a control recovering about half:
    # the language share sits exactly at its limit, which does not refute
    mixed = converted.copy()
    mixed[:, 0] = base[:, 0]
    mixed[:, 1] = base[:, 1]
    mixed[-2:, 1] = False
    over = np.where(base, 1.0, np.where(mixed, rng.choice([0.1, 1.0], size=base.shape), 0.0))
    verdict = conversion_rule(base, mixed, over, chance=0.0)
    assert verdict.measured["languages not worse"] == pytest.approx(2 / 3)
    assert verdict.measured["control's share CI low"] < 0.5 <= verdict.measured["control's share of the gain"]
    assert verdict.verdict == "inconclusive"
    able = conversion_rule(base[14:26], converted[14:26], control[14:26], chance=0.45, alpha=0.5)
    assert "cannot do the task" not in able.reason


def test_inability_defaults_and_its_alpha_boundary() -> None:
    assert inability(_items(20, 5), 0.0) is None  # 5 correct: the default minimum
    p = float(np.round(inability.__defaults__[0] if inability.__defaults__ else 0.05, 2))
    assert p == 0.05
    at = above_chance(15, 30, 1 / 3)
    assert inability(_items(30, 15), 1 / 3, alpha=at) is not None  # p equal to alpha: not above chance
    assert inability(np.zeros(10, dtype=bool), 0.0, min_correct=0) is None  # no chance to beat: no binomial test


def test_a_relative_drop_at_the_floor_is_none() -> None:
    assert relative_drop(_items(30, 10), _items(30, 5), 1 / 3) == 0.0  # no room above the floor, no drop


# --- a control's share of its target --------------------------------------------------------------------------------

BELOW = float(np.nextafter(0.9, 0.0))


def test_a_control_reaching_exactly_its_limit_passes_and_one_just_under_cannot() -> None:
    base = _items(40, 30)
    ablated = _ablated(base, 28)
    assert ablation_rule(base, ablated, floor=0.0, chance=0.0, reach={"random": 0.9, "matched": 0.9}).verdict \
        == "supported"  # reaching 90% is not falling short
    below = ablation_rule(base, ablated, floor=0.0, chance=0.0, reach={"random": 0.9, "matched": BELOW})
    assert below.verdict == "inconclusive"
    assert "the matched control reached 90% of its target contribution (needs 90%)" in below.reason
    assert ablation_rule(base, ablated, floor=0.0, chance=0.0, reach={"random": 0.5, "matched": 0.5},
                         min_reach=0.5).verdict == "supported"
    assert ablation_rule(base, ablated, floor=0.0, chance=0.0, reach={"random": BELOW}).params["min_reach"] == 0.9


def test_the_one_type_and_conversion_controls_reach_at_their_limit() -> None:
    base = np.random.default_rng(17).random((40, 5)) < 0.7
    base[:10] = True
    ablated = base.copy()
    ablated[:10] = False
    none = np.zeros_like(base)
    for reach, expected in ((0.9, "supported"), (BELOW, "inconclusive")):
        verdict = type_ablation_rule(base, ablated, base.astype(float), none, type_name="specific", chance=0.3,
                                     control_reach=reach)
        assert verdict.verdict == expected
        assert verdict.measured["control: share of its target reached"] == reach
    base, converted, control = _proportional(0.1, n=12)
    assert conversion_rule(base, converted, control, chance=0.0, control_reach=0.9).verdict == "supported"
    short = conversion_rule(base, converted, control, chance=0.0, control_reach=BELOW)
    assert short.verdict == "inconclusive" and "random non-activated control reached 90%" in short.reason
