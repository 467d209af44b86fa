"""Kojima et al.'s tampering rule on synthetic generations: the two controls (a random set moved as far, another
language's set), the ceiling, the gain over each control's headroom, Holm across languages per control. Supported,
refuted and inconclusive cases, properties over drawn outcomes, and the exact boundary of every comparison."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings

from harness.core.stats import bootstrap_ci, holm, mcnemar
from harness.papers.kojima.rules import headroom_gain, strongest_other, tampering_rule
from tests.strategies import generation_families, generation_outcomes

FAST = settings(max_examples=30, deadline=None)
LANGS = ("en", "de")
MATCHED, OTHER = "random set moved as far", "another language's set"


def hits(n: int, k: int, start: int = 0) -> np.ndarray:
    """(n,) bool: samples start .. start + k - 1 identified as the target language."""
    out = np.zeros(n, dtype=bool)
    out[start:start + k] = True
    return out


def family(own: np.ndarray, matched: np.ndarray, baseline: np.ndarray,
           other: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two languages, en the target: en's own set writes en on ``own``, de's set writes en on ``other`` (none by
    default); the random set moved as far and no fix write en on ``matched`` and ``baseline``; nothing writes de (its
    McNemar p are 1, so Holm doubles en's)."""
    n = len(own)
    identified = np.zeros((2, 2, n), dtype=bool)
    identified[0, 0] = own
    identified[1, 0] = np.zeros(n, dtype=bool) if other is None else other
    return identified, np.stack([matched, np.zeros(n, dtype=bool)]), np.stack([baseline, np.zeros(n, dtype=bool)])


def judge(own: np.ndarray, matched: np.ndarray, baseline: np.ndarray, other: np.ndarray | None = None,
          fixed_share: float = 0.004, recall: float = 1.0, **params: object):
    return tampering_rule(*family(own, matched, baseline, other), LANGS, fixed_share, recall, target="en", **params)


def test_headroom_gain() -> None:
    assert headroom_gain(hits(4, 3), hits(4, 2)) == 0.5  # (3/4 - 1/2) / (1 - 1/2)
    assert headroom_gain(hits(8, 1), hits(8, 2)) == pytest.approx(-1 / 6)
    assert headroom_gain(hits(4, 2), hits(4, 4)) == 0.0  # no headroom: nothing to gain
    assert headroom_gain(hits(4, 4), hits(4, 4)) == 0.0
    rows = headroom_gain(np.stack([hits(4, 3), hits(4, 4)]), np.stack([hits(4, 2), hits(4, 0)]))
    assert rows.tolist() == [0.5, 1.0]  # along the last axis, row by row (the bootstrap's batches)


@FAST
@given(generation_outcomes(tampered_rate=(0.0, 1.0), control_rate=(0.0, 1.0), min_samples=2, max_samples=40))
def test_headroom_gain_is_the_exact_fraction(data: tuple[np.ndarray, ...]) -> None:
    identified, matched, _ = data
    tampered, control = identified[0, 0], matched[0]
    t, c = Fraction(int(tampered.sum()), tampered.size), Fraction(int(control.sum()), control.size)
    expected = (t - c) / (1 - c) if c < 1 else 0
    assert headroom_gain(tampered, control) == pytest.approx(float(expected))


def test_the_other_language_is_the_one_writing_the_target_most() -> None:
    identified = np.zeros((3, 3, 10), dtype=bool)
    identified[1, 0, :3], identified[2, 0, :5] = True, True  # en: de's set 30%, zh's 50%
    identified[0, 1, :2], identified[2, 1, :2] = True, True  # de: a tie between en's and zh's sets: the first
    identified[:, 2] = True  # zh: every set, its own included, writes it always
    assert strongest_other(identified).tolist() == [2, 0, 0]


@FAST
@given(generation_outcomes(tampered_rate=(0.7, 1.0), control_rate=(0.0, 0.3)))
def test_steering_far_above_both_controls_is_supported(data: tuple[np.ndarray, ...]) -> None:
    identified, matched, baseline = data
    verdict = tampering_rule(identified, matched, baseline, LANGS, 0.004, 1.0, target="en")
    assert verdict.verdict == "supported"
    t = identified[0, 0].mean()
    gains = [(t - c) / (1 - c) for c in (matched[0].mean(), identified[1, 0].mean())]
    assert verdict.effect == pytest.approx(min(gains))
    assert verdict.measured["target language, no fix %"] == pytest.approx(100 * baseline[0].mean())


@FAST
@given(generation_outcomes(tampered_rate=(0.0, 0.3), control_rate=(0.0, 0.3)))
def test_no_more_than_a_set_moved_as_far_is_refuted(data: tuple[np.ndarray, ...]) -> None:
    identified, matched, baseline = data
    identified[0, 0] = matched[0]  # the language's own set does what a random set moved as far does
    verdict = tampering_rule(identified, matched, baseline, LANGS, 0.004, 1.0, target="en")
    assert verdict.verdict == "refuted" and verdict.effect <= 0
    assert verdict.measured[f"gain over {MATCHED} %"] == verdict.measured[f"gain over {MATCHED}: high %"] == 0


@FAST
@given(generation_outcomes(tampered_rate=(0.0, 0.3), control_rate=(0.0, 0.3)))
def test_no_more_than_another_languages_set_is_refuted(data: tuple[np.ndarray, ...]) -> None:
    identified, matched, baseline = data
    identified[0, 0] = identified[1, 0]  # the language's own set does what de's set does
    verdict = tampering_rule(identified, np.zeros_like(matched), baseline, LANGS, 0.004, 1.0, target="en")
    assert verdict.verdict == "refuted" and verdict.effect == 0
    assert verdict.measured[f"gain over {OTHER} %"] == verdict.measured[f"gain over {OTHER}: high %"] == 0


@FAST
@given(generation_families())
def test_the_verdict_follows_the_decision_table(data: tuple[np.ndarray, ...]) -> None:
    """Over whole families: the measured p values are McNemar's and Holm's of every language, per control, against
    the random set moved as far and against the other language's set writing the target most; supported exactly
    when below the ceiling, both gains >= 20% and both adjusted p < 0.05; refuted exactly when below the ceiling,
    a gain < 20% and a gain's interval top < 20%; a language at the ceiling (no fix) is never refuted."""
    identified, matched, baseline, target = data
    languages = [f"l{i}" for i in range(len(matched))]
    verdict = tampering_rule(identified, matched, baseline, languages, 0.004, 1.0, target=languages[target])
    rows = np.arange(len(matched))
    own = identified[rows, rows]
    controls = {MATCHED: matched, OTHER: identified[strongest_other(identified), rows]}
    gains, highs, significant = [], [], []
    for name, control in controls.items():
        raw = [mcnemar(c, t) for t, c in zip(own, control, strict=True)]
        assert verdict.measured[f"McNemar p against {name}"] == raw[target]
        adjusted = holm(np.array(raw))[target]
        assert verdict.measured[f"McNemar p against {name}, Holm-adjusted"] == adjusted
        gains.append(headroom_gain(own[target], control[target]))
        ci = bootstrap_ci(headroom_gain, own[target], control[target], seed=0)
        assert verdict.measured[f"gain over {name} %"] == 100 * gains[-1]
        assert (verdict.measured[f"gain over {name}: low %"], verdict.measured[f"gain over {name}: high %"]) == (
            100 * ci[0], 100 * ci[1])
        highs.append(ci[1])
        significant.append(adjusted < 0.05)
    assert verdict.measured["languages in the Holm family"] == len(rows)
    assert verdict.effect == min(gains)
    room = baseline[target].mean() < 0.8
    assert (verdict.verdict == "supported") == (room and min(gains) >= 0.2 and all(significant))
    assert (verdict.verdict == "refuted") == (room and min(gains) < 0.2 and min(highs) < 0.2)


def test_the_effect_is_the_gain_over_the_stronger_control() -> None:
    verdict = judge(hits(100, 90), hits(100, 10), hits(100, 5), other=hits(100, 30, start=60))
    assert verdict.effect == pytest.approx((0.9 - 0.3) / 0.7)  # de's set leaves less to gain than the random set
    assert verdict.ci == bootstrap_ci(headroom_gain, hits(100, 90), hits(100, 30, start=60), seed=0)
    assert verdict.measured[f"gain over {MATCHED} %"] == pytest.approx(100 * 0.8 / 0.9)
    # equal gains (50%): de's set writes en where en's own set does not, so its interval is the wider, lower one
    tie = judge(hits(100, 60), hits(100, 20), hits(100, 5), other=hits(100, 20, start=80))
    assert tie.measured[f"gain over {MATCHED} %"] == tie.measured[f"gain over {OTHER} %"]
    assert tie.ci == bootstrap_ci(headroom_gain, hits(100, 60), hits(100, 20, start=80), seed=0)
    assert tie.ci[0] < bootstrap_ci(headroom_gain, hits(100, 60), hits(100, 20), seed=0)[0]


def test_a_language_at_the_ceiling_is_inconclusive() -> None:
    at_ceiling = hits(100, 80)  # the model writes the language in 80% of generations without a fix
    verdict = judge(hits(100, 81), at_ceiling, at_ceiling)
    assert verdict.verdict == "inconclusive"
    assert verdict.reason.startswith("the model already writes the language in 80% of generations with no fix "
                                     "(ceiling 80%)")
    just_under = judge(hits(100, 80), hits(100, 79), hits(100, 79))
    assert just_under.verdict == "refuted"  # +1 of the 21 points of headroom
    assert judge(hits(100, 81), at_ceiling, at_ceiling, ceiling=0.81).verdict == "refuted"


def test_a_control_at_the_ceiling_decides_by_its_gain() -> None:
    """A random set moved as far that writes the language as often as the model can show it is evidence against the
    set's specificity, not a reason to decline: its gain decides."""
    assert judge(hits(100, 80), hits(100, 80), hits(100, 10)).verdict == "refuted"
    assert judge(hits(100, 100), hits(100, 100), hits(100, 10)).verdict == "refuted"  # no headroom: gain 0
    assert judge(hits(100, 100), hits(100, 80), hits(100, 10)).verdict == "supported"  # all 20 points of headroom


def test_a_gain_of_exactly_the_minimum_with_significance_is_supported() -> None:
    nothing = np.zeros(100, dtype=bool)
    verdict = judge(hits(100, 20), nothing, nothing)  # gain 20/100 over both controls at 0
    assert verdict.effect == 0.2 and verdict.verdict == "supported"
    assert judge(hits(100, 20), nothing, nothing, min_gain=0.21).verdict == "inconclusive"


@pytest.mark.parametrize("control", [MATCHED, OTHER])
def test_each_gain_is_compared_with_the_minimum_at_equality(control: str) -> None:
    """The control under test leaves the own set a gain of 20% (15 of 75 points); the other one nothing to explain."""
    controls = {MATCHED: np.zeros(100, dtype=bool), OTHER: np.zeros(100, dtype=bool)}
    controls[control] = hits(100, 25)
    gain = headroom_gain(hits(100, 40), controls[control])

    def verdict(min_gain: float) -> str:
        return judge(hits(100, 40), controls[MATCHED], np.zeros(100, dtype=bool), other=controls[OTHER],
                     min_gain=min_gain).verdict

    assert verdict(gain) == "supported" and verdict(np.nextafter(gain, np.inf)) == "inconclusive"


@pytest.mark.parametrize("control", [MATCHED, OTHER])
def test_significance_is_strictly_under_alpha(control: str) -> None:
    nothing = np.zeros(40, dtype=bool)
    weaker = hits(40, 2)  # the own set gains on 8 samples over this control, on 10 over the other
    verdict = judge(hits(40, 10), weaker if control == MATCHED else nothing, nothing,
                    other=weaker if control == OTHER else nothing)
    p = verdict.measured[f"McNemar p against {control}, Holm-adjusted"]
    assert p == 2 * mcnemar(weaker, hits(40, 10)) and verdict.verdict == "supported"
    alpha = {"alpha": p}
    assert judge(hits(40, 10), weaker if control == MATCHED else nothing, nothing,
                 other=weaker if control == OTHER else nothing, **alpha).verdict == "inconclusive"
    alpha = {"alpha": np.nextafter(p, np.inf)}
    assert judge(hits(40, 10), weaker if control == MATCHED else nothing, nothing,
                 other=weaker if control == OTHER else nothing, **alpha).verdict == "supported"


@pytest.mark.parametrize("control", [MATCHED, OTHER])
def test_refuted_only_when_an_interval_is_under_the_minimum(control: str) -> None:
    base = hits(100, 30)
    tampered = base | hits(100, 7, start=50)  # +7 samples over this control: gain 10% of its headroom
    weak = {MATCHED: np.zeros(100, dtype=bool), OTHER: np.zeros(100, dtype=bool)}
    weak[control] = base

    def verdict(min_gain: float) -> str:
        return judge(tampered, weak[MATCHED], np.zeros(100, dtype=bool), other=weak[OTHER],
                     min_gain=min_gain).verdict

    high = judge(tampered, weak[MATCHED], np.zeros(100, dtype=bool), other=weak[OTHER]).measured[
        f"gain over {control}: high %"] / 100
    assert verdict(high) == "inconclusive" and verdict(np.nextafter(high, np.inf)) == "refuted"


def test_significance_is_holm_adjusted_across_the_languages_per_control() -> None:
    """8 gained samples of 40 (raw p = 0.0078) pass beside one language that shows nothing (adjusted p = 0.016), not
    among 9 (0.07); the two controls are separate families (both must pass, so neither needs a correction for the
    other)."""
    steered, unmoved = hits(40, 8), np.zeros(40, dtype=bool)
    pair = judge(steered, unmoved, unmoved)
    assert pair.verdict == "supported"
    for control in (MATCHED, OTHER):
        assert pair.measured[f"McNemar p against {control}"] == 2 * 0.5 ** 8
        assert pair.measured[f"McNemar p against {control}, Holm-adjusted"] == 2 * 2 * 0.5 ** 8  # de: p = 1
    nine = [f"l{i}" for i in range(9)]
    identified = np.zeros((9, 9, 40), dtype=bool)
    identified[0, 0] = steered
    verdict = tampering_rule(identified, np.zeros((9, 40), dtype=bool), np.zeros((9, 40), dtype=bool), nine, 0.004,
                             1.0, target="l0")
    assert verdict.verdict == "inconclusive"
    for control in (MATCHED, OTHER):
        assert verdict.measured[f"McNemar p against {control}"] == 2 * 0.5 ** 8
        assert verdict.measured[f"McNemar p against {control}, Holm-adjusted"] == 9 * 2 * 0.5 ** 8


def test_the_target_row_is_the_instance_language() -> None:
    identified = np.zeros((2, 2, 50), dtype=bool)
    identified[0, 0], identified[1, 1] = hits(50, 40), hits(50, 1)
    none = np.zeros((2, 50), dtype=bool)
    assert tampering_rule(identified, none, none, LANGS, 0.004, 1.0, target="en").verdict == "supported"
    second = tampering_rule(identified, none, none, LANGS, 0.004, 1.0, target="de")
    assert second.verdict == "refuted" and second.effect == 0.02


def test_too_many_neurons_or_a_weak_identifier_are_inconclusive() -> None:
    steered, unmoved = np.ones(100, dtype=bool), np.zeros(100, dtype=bool)
    assert judge(steered, unmoved, unmoved, fixed_share=0.01).verdict == "supported"  # exactly 1% is allowed
    too_many = judge(steered, unmoved, unmoved, fixed_share=0.0101)
    assert too_many.verdict == "inconclusive" and too_many.reason.startswith("1.01% of neurons fixed, the finding "
                                                                             "is about under 1%")
    assert judge(steered, unmoved, unmoved, fixed_share=0.0101, max_share=0.02).verdict == "supported"
    assert judge(steered, unmoved, unmoved, recall=0.8).verdict == "supported"  # exactly 80% recall
    weak = judge(steered, unmoved, unmoved, recall=0.79)
    assert weak.verdict == "inconclusive" and weak.reason.startswith("the identifier recognises 79% of held-out "
                                                                     "texts of the language (< 80%)")
    assert judge(steered, unmoved, unmoved, recall=float("nan")).verdict == "inconclusive"
    assert judge(steered, unmoved, unmoved, recall=0.79, min_recall=0.7).verdict == "supported"


def test_few_samples_are_inconclusive() -> None:
    nothing = np.zeros(10, dtype=bool)
    assert judge(hits(10, 3), nothing, nothing).verdict == "inconclusive"  # Holm-adjusted p = 0.5


def test_one_language_is_inconclusive() -> None:
    verdict = tampering_rule(np.ones((1, 1, 20), dtype=bool), np.zeros((1, 20), dtype=bool),
                             np.zeros((1, 20), dtype=bool), ["en"], 0.004, 1.0, target="en")
    assert verdict.verdict == "inconclusive" and verdict.reason == ("one language: no other language's set to "
                                                                    "compare with")


def test_tampering_measurements_parameters_and_reason() -> None:
    own, matched, baseline, other = hits(20, 15), hits(20, 5), hits(20, 4), hits(20, 2, start=18)
    verdict = judge(own, matched, baseline, other=other, recall=0.9, seed=3)
    p = {MATCHED: mcnemar(matched, own), OTHER: mcnemar(other, own)}
    ci = {MATCHED: bootstrap_ci(headroom_gain, own, matched, seed=3),
          OTHER: bootstrap_ci(headroom_gain, own, other, seed=3)}
    gain = {MATCHED: 10 / 15, OTHER: (0.75 - 0.1) / 0.9}
    assert verdict.verdict == "supported" and verdict.effect == pytest.approx(gain[MATCHED])
    assert verdict.ci == ci[MATCHED]
    control_numbers = {key: value for name in (MATCHED, OTHER) for key, value in {
        f"target language, {name} %": {MATCHED: 25.0, OTHER: 10.0}[name], f"gain over {name} %": 100 * gain[name],
        f"gain over {name}: low %": 100 * ci[name][0], f"gain over {name}: high %": 100 * ci[name][1],
        f"McNemar p against {name}": p[name],
        f"McNemar p against {name}, Holm-adjusted": min(1.0, 2 * p[name])}.items()}  # de: p = 1
    assert verdict.measured == pytest.approx({
        "target language, its neurons fixed %": 75.0, **control_numbers, "target language, no fix %": 20.0,
        "languages in the Holm family": 2, "neurons fixed %": 0.4, "identifier held-out recall %": 90.0,
        "samples": 20})
    assert verdict.params == {
        "ceiling": 0.8, "min_gain": 0.2, "alpha": 0.05, "max_share": 0.01, "min_recall": 0.8, "seed": 3,
        "controls": "a random same-size set moved as far (in each neuron's spread) as the language's set; the other "
                    "language's set that makes the model write the language most often",
        "multiple comparisons": "Holm over the languages of the measurement, per control"}
    assert verdict.reason == (
        f"target language in 75% of generations with 0.40% of neurons fixed, 20% without; a random set moved as far "
        f"25%: gain 67% of its headroom [{100 * ci[MATCHED][0]:.0f}, {100 * ci[MATCHED][1]:.0f}], Holm-adjusted "
        f"McNemar p={2 * p[MATCHED]:.2g}; de's set 10%: gain 72% of its headroom [{100 * ci[OTHER][0]:.0f}, "
        f"{100 * ci[OTHER][1]:.0f}], Holm-adjusted McNemar p={2 * p[OTHER]:.2g} (each needs 20% and p < 0.05; Holm "
        f"over 2 languages)")


def test_tampering_reads_zeros_and_ones_as_booleans() -> None:
    data = family(hits(30, 20), hits(30, 4), hits(30, 4), other=hits(30, 3, start=20))
    as_bool = tampering_rule(*data, LANGS, 0.004, 1.0, target="en")
    for kind in (int, float):
        other = tampering_rule(*(x.astype(kind) for x in data), LANGS, 0.004, 1.0, target="en")
        assert (other.verdict, other.effect, other.ci, other.measured) == (
            as_bool.verdict, as_bool.effect, as_bool.ci, as_bool.measured)


def test_tampering_reasons_round_what_they_show() -> None:
    everything, nothing = np.ones(100, dtype=bool), np.zeros(100, dtype=bool)
    verdict = judge(everything, nothing, hits(100, 70), fixed_share=0.0099, min_gain=0.7)
    p = mcnemar(nothing, everything)
    assert verdict.ci == (1.0, 1.0)
    assert verdict.effect_name == "gain over the stronger control (share of its headroom)"
    assert verdict.reason == ("target language in 100% of generations with 0.99% of neurons fixed, 70% without; a "
                              f"random set moved as far 0%: gain 100% of its headroom [100, 100], Holm-adjusted "
                              f"McNemar p={2 * p:.2g}; de's set 0%: gain 100% of its headroom [100, 100], "
                              f"Holm-adjusted McNemar p={2 * p:.2g} (each needs 70% and p < 0.05; Holm over 2 "
                              f"languages)")
    too_many = judge(everything, nothing, nothing, fixed_share=0.006, max_share=0.005)
    assert too_many.reason.startswith("0.60% of neurons fixed, the finding is about under 0.5%; target language")


def test_an_inconclusive_gate_reports_what_a_decided_verdict_would() -> None:
    """Each gate (too many neurons, a weak identifier, the ceiling) keeps the effect, interval, measurements and the
    decided verdict's reason; relaxing its parameter gives the decided verdict."""
    own, matched = hits(50, 30), hits(50, 5)
    usual = {"baseline": matched, "fixed_share": 0.004, "recall": 1.0}
    gates = (({"fixed_share": 0.02}, {"max_share": 0.05}), ({"recall": 0.5}, {"min_recall": 0.4}),
             ({"baseline": hits(50, 45)}, {"ceiling": 0.95}))
    for cause, relief in gates:
        args = usual | cause
        inconclusive = judge(own, matched, args["baseline"], fixed_share=args["fixed_share"], recall=args["recall"])
        decided = judge(own, matched, args["baseline"], fixed_share=args["fixed_share"], recall=args["recall"],
                        **relief)
        assert inconclusive.verdict == "inconclusive" != decided.verdict
        assert (inconclusive.effect_name, inconclusive.effect, inconclusive.ci, inconclusive.measured) == (
            decided.effect_name, decided.effect, decided.ci, decided.measured)
        defaults = {"max_share": 0.01, "min_recall": 0.8, "ceiling": 0.8}
        assert inconclusive.params == decided.params | {name: defaults[name] for name in relief}
        assert inconclusive.reason.endswith(f"; {decided.reason}")


def test_bad_inputs_are_one_clear_error() -> None:
    identified, matched, baseline = family(hits(10, 1), hits(10, 1), hits(10, 1))
    with pytest.raises(ValueError, match=r"identified must be \(sets, languages, samples\) and matched and baseline "
                                         r"\(languages, samples\) for 2 languages, got \(2, 2, 10\), \(1, 10\), "
                                         r"\(2, 10\)"):
        tampering_rule(identified, matched[:1], baseline, LANGS, 0.004, 1.0, target="en")
    with pytest.raises(ValueError, match=r"got \(2, 2, 10\), \(2, 10\), \(2, 10\)"):
        tampering_rule(identified, matched, baseline, ("en", "de", "zh"), 0.004, 1.0, target="en")
    with pytest.raises(ValueError, match=r"target 'zh' is not one of the languages \['en', 'de'\]"):
        tampering_rule(identified, matched, baseline, LANGS, 0.004, 1.0, target="zh")
