"""Kojima et al.'s shuffled-label null on synthetic APs: the top-N AP of each language against its high quantile
under shuffled labels. Supported, refuted and inconclusive cases and the exact boundary of its comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from harness.papers.kojima.rules import beats_shuffled_labels_rule


def null_of(levels: list[float], n_perm: int = 100, spread: float = 0.02, seed: int = 0) -> np.ndarray:
    """(P, L): each language's null around its level (clipped to [0, 1])."""
    rng = np.random.default_rng(seed)
    return np.clip(np.array(levels)[None] + spread * rng.standard_normal((n_perm, len(levels))), 0, 1)


def test_far_above_the_shuffled_labels_is_supported() -> None:
    null = null_of([0.3, 0.25, 0.3])
    verdict = beats_shuffled_labels_rule(np.ones(3), null, ["en", "de", "zh"])
    assert verdict.verdict == "supported"
    high = np.quantile(null, 0.99, axis=0)
    assert verdict.effect == pytest.approx(float(np.min(1 - high)))
    assert verdict.measured["en: permutation p"] == 1 / 101 and verdict.measured["languages supported"] == 3


def test_no_better_than_shuffled_labels_is_refuted_even_in_one_language() -> None:
    null = null_of([0.85, 0.85, 0.85])
    observed = np.array([1.0, 1.0, float(np.median(null[:, 2]))])  # zh exactly at the null's median
    verdict = beats_shuffled_labels_rule(observed, null, ["en", "de", "zh"])
    assert verdict.verdict == "refuted" and verdict.measured["languages refuted"] == 1
    assert "zh" in verdict.reason and "(refuted)" in verdict.reason
    above = observed.copy()
    above[2] = np.nextafter(observed[2], 2)
    assert beats_shuffled_labels_rule(above, null, ["en", "de", "zh"]).verdict == "inconclusive"


def test_the_observed_ap_must_exceed_the_high_quantile_strictly() -> None:
    null = null_of([0.5, 0.5])
    high = np.quantile(null, 0.99, axis=0)
    at = beats_shuffled_labels_rule(high.copy(), null, ["en", "de"])
    assert at.verdict == "inconclusive" and at.effect == 0.0
    over = beats_shuffled_labels_rule(np.nextafter(high, 2), null, ["en", "de"])
    assert over.verdict == "supported"
    assert beats_shuffled_labels_rule(np.nextafter(high, 2), null, ["en", "de"], quantile=1.0).verdict == (
        "inconclusive")  # the maximum of the shuffles is higher than the 99% quantile


def test_a_null_at_ap_one_cannot_tell() -> None:
    """Two texts per language and thousands of neurons: chance alone gives N neurons of AP 1."""
    null = np.ones((100, 3))
    verdict = beats_shuffled_labels_rule(np.ones(3), null, ["en", "de", "zh"])
    assert verdict.verdict == "inconclusive" and verdict.reason.startswith("chance alone reaches AP 1 in every")
    partly = null.copy()
    partly[:, 0] = null_of([0.5])[:, 0]
    mixed = beats_shuffled_labels_rule(np.ones(3), partly, ["en", "de", "zh"])
    assert mixed.verdict == "inconclusive" and mixed.measured["languages with the null at AP 1"] == 2
    assert "null at AP 1" in mixed.reason


def test_too_few_shuffles_are_inconclusive() -> None:
    few = null_of([0.3, 0.3], n_perm=99)
    declined = beats_shuffled_labels_rule(np.ones(2), few, ["en", "de"])
    high = np.quantile(few, 0.99, axis=0)
    assert declined.verdict == "inconclusive"
    assert declined.reason.startswith("99 label shuffles are too few to place their 99% quantile; mean AP of each "
                                      "language's top-N against the 99% quantile of 99 label shuffles: en 1.00 vs ")
    assert declined.effect_name == "top-N AP over the shuffled-label null's high quantile (weakest language)"
    assert declined.effect == float(1 - high.max()) and declined.ci == (declined.effect, declined.effect)
    assert declined.measured["label shuffles"] == 99 and declined.measured["en: top-N AP"] == 1.0
    assert declined.params["quantile"] == 0.99
    # one shuffle is enough for a quantile of 1e-9: 1 x (1 - 1e-9) is exactly the tolerance's bound, not under it
    assert "too few" not in beats_shuffled_labels_rule(np.ones(2), few[:1], ["en", "de"], quantile=1e-9,
                                                       refute_quantile=1e-9).reason
    assert beats_shuffled_labels_rule(np.ones(2), null_of([0.3, 0.3], n_perm=100), ["en", "de"]).verdict == (
        "supported")
    assert beats_shuffled_labels_rule(np.ones(2), null_of([0.3, 0.3], n_perm=20), ["en", "de"],
                                      quantile=0.95).verdict == "supported"
    none = beats_shuffled_labels_rule(np.ones(2), np.zeros((0, 2)), ["en", "de"])
    assert none.verdict == "inconclusive" and none.reason == "no label shuffles in the measurement"
    assert none.effect_name == "top-N AP over the shuffled-label null's high quantile (weakest language)"
    assert none.params == {"quantile": 0.99, "refute_quantile": 0.5, "control": "language labels shuffled within "
                                                                                "each example (the same responses "
                                                                                "and selection)"}


def test_shuffled_null_measurements_and_parameters() -> None:
    null = null_of([0.4, 0.6], n_perm=200, seed=3)
    verdict = beats_shuffled_labels_rule(np.array([0.9, 0.62]), null, ["en", "de"], quantile=0.95,
                                         refute_quantile=0.4)
    assert verdict.measured["de: null median"] == pytest.approx(float(np.median(null[:, 1])))
    assert verdict.measured["de: null 95% quantile"] == pytest.approx(float(np.quantile(null[:, 1], 0.95)))
    assert verdict.measured["de: permutation p"] == pytest.approx((1 + (null[:, 1] >= 0.62).sum()) / 201)
    assert verdict.params == {"quantile": 0.95, "refute_quantile": 0.4,
                              "control": "language labels shuffled within each example (the same responses and "
                                         "selection)"}
    with pytest.raises(ValueError, match="must match the null's 2 languages"):
        beats_shuffled_labels_rule(np.ones(3), null, ["en", "de", "zh"])
    with pytest.raises(ValueError, match="must match the null's 2 languages"):  # the names alone
        beats_shuffled_labels_rule(np.ones(2), null, ["en", "de", "zh"])
    with pytest.raises(ValueError, match="must match the null's 2 languages"):  # the observed APs alone
        beats_shuffled_labels_rule(np.ones(3), null, ["en", "de"])


def test_aps_given_as_integers_or_booleans_are_read_as_floats() -> None:
    """AP 1 and 0 as 0/1 integers or booleans: the same verdict, and measured numbers that are floats (a record
    would write a numpy integer as a string)."""
    observed, null = np.array([1.0, 0.0]), np.tile([0.0, 1.0], (100, 1))
    as_float = beats_shuffled_labels_rule(observed, null, ["en", "de"])
    for kind in (int, bool):
        other = beats_shuffled_labels_rule(observed.astype(kind), null.astype(kind), ["en", "de"])
        assert (other.verdict, other.effect, other.measured) == (as_float.verdict, as_float.effect, as_float.measured)
        assert all(isinstance(other.measured[f"{lang}: top-N AP"], float) for lang in ("en", "de"))
