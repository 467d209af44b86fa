"""Fixed inputs for every decision rule, one per branch (supported, refuted, each way of being inconclusive), whose
complete verdicts (reason text, effect, interval, measured numbers, parameters) are approved in
tests/golden/rules.json: what a user reads must not change unnoticed (tests/test_rules_golden.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.core.verdict import Verdict
from harness.papers.kojima.rules import beats_shuffled_labels_rule, layers_each_language_rule, tampering_rule
from harness.papers.sharing_matters.accuracy_rules import ablation_rule, conversion_rule, type_ablation_rule
from harness.papers.sharing_matters.attribution_rules import contribution_rule, effective_span_rule
from harness.papers.sharing_matters.contribution_rules import (
    average_contribution_rule,
    correct_output_rule,
    effective_layers_rule,
)
from harness.papers.sharing_matters.density_rules import density_controlled
from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC
from harness.papers.sharing_matters.rules import (
    dead_across_tokens_rule,
    language_consistency_rule,
    language_count_rule,
    mid_layer_peak_rule,
    non_repeating_rule,
    share_increase_rule,
    task_dependence_rule,
    threshold_sweep_rule,
)
from harness.papers.sharing_matters.scale_rules import scale_pattern_rule, upper_sparser_rule
from harness.papers.sharing_matters.shares_rules import (
    activated_early_peak_rule,
    lowest_layer_non_activated_rule,
    non_activated_majority_rule,
    shots_invariance_rule,
    upper_partial_dominance_rule,
)
from harness.papers.sharing_matters.stack_rules import encoder_more_shared_rule
from tests.strategies import layer_maxima, type_rows


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _items(n: int, correct: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[:correct] = True
    return out


def _ablated(base: np.ndarray, lost: int, **controls: np.ndarray) -> dict[str, np.ndarray]:
    all_shared = base.copy()
    all_shared[:lost] = False
    return {"all_shared": all_shared, "specific": base.copy(), "partial_shared": base.copy(),
            "random": np.where(base, 0.8, 0.0), "matched": base.astype(float), **controls}


def _ablation() -> dict[str, Callable[[], Verdict]]:
    base = _items(60, 45)
    return {
        "supported": lambda: ablation_rule(base, _ablated(base, 40), floor=0.0, chance=1 / 3),
        "holm": lambda: ablation_rule(base, _ablated(base, 40), floor=1 / 3, chance=1 / 3,
                                      adjusted={"baseline": 0.01, "specific": 0.02, "partial_shared": 0.03,
                                                "random": 0.04, "matched": 0.049}),
        "refuted by a control": lambda: ablation_rule(base, _ablated(base, 40, random=_ablated(base, 40)["all_shared"]
                                                                     .astype(float)), floor=0.0, chance=0.0),
        "refuted, small drop": lambda: ablation_rule(base, _ablated(base, 5), floor=0.0, chance=0.0),
        "inconclusive, at chance": lambda: ablation_rule(_items(60, 20), _ablated(_items(60, 20), 18), floor=0.0,
                                                         chance=1 / 3),
        "inconclusive, few correct": lambda: ablation_rule(_items(8, 4), _ablated(_items(8, 4), 4), floor=0.0,
                                                           chance=0.0),
        "inconclusive, not significant": lambda: ablation_rule(_items(8, 5), _ablated(_items(8, 5), 3), floor=0.0,
                                                               chance=0.0),
        "seed 7": lambda: ablation_rule(base, _ablated(base, 30, random=np.where(base, 0.6, 0.0)), floor=0.0,
                                        chance=0.0, seed=7, min_relative_drop=0.75, alpha=0.01, min_correct=6),
        "inconclusive, controls short": lambda: ablation_rule(base, _ablated(base, 40), floor=0.0, chance=1 / 3,
                                                              reach={"random": 0.4, "matched": 0.12}),
        "refuted by a short control": lambda: ablation_rule(
            base, _ablated(base, 40, random=_ablated(base, 40)["all_shared"].astype(float)), floor=0.0, chance=0.0,
            reach={"random": 0.5, "matched": 1.0}),
        "reach limit": lambda: ablation_rule(base, _ablated(base, 40), floor=0.0, chance=1 / 3,
                                             reach={"random": 0.85, "matched": 0.95}, min_reach=0.8),
    }


def _conversion() -> dict[str, Callable[[], Verdict]]:
    base = _rng(1).random((40, 6)) < 0.5
    gained = base | (_rng(2).random(base.shape) < 0.5)
    return {
        "supported": lambda: conversion_rule(base, gained, base.astype(float), chance=0.3),
        "refuted by the control": lambda: conversion_rule(base, gained, gained.astype(float), chance=0.3),
        "refuted, no change": lambda: conversion_rule(base, base.copy(), base.astype(float), chance=0.0),
        "inconclusive, no room": lambda: conversion_rule(np.ones((10, 3), bool), np.ones((10, 3), bool),
                                                         np.ones((10, 3)), chance=0.0),
        "seed 7": lambda: conversion_rule(base, gained, np.where(gained & ~base, _rng(3).random(base.shape), base),
                                          chance=0.3, seed=7, min_language_share=0.5, max_control_share=0.75,
                                          alpha=0.01, min_correct=6, min_wrong=6),
        "inconclusive, control short": lambda: conversion_rule(base, gained, base.astype(float), chance=0.3,
                                                               control_reach=0.6),
    }


def _base_rate(seed: int, scale: float, shared: float = 0.6) -> np.ndarray:
    """(examples 20, langs 3, layers 2, 4) summaries of rows with contributions drawn per type."""
    rng, out = _rng(seed), []
    for _ in range(20 * 3 * 2):
        codes = np.where(rng.random(40) < shared, 3, np.where(rng.random(40) < 0.3, 2, 0))
        active = codes != 0
        contribution = rng.exponential(size=40) * np.where(codes == 3, scale, 1.0) * active
        top = np.argsort(-contribution)[:3]
        out.append([((codes[top] == 3) & active[top]).sum(), active[top].sum(), active.sum(), (codes == 3).sum()])
    return np.array(out).reshape(20, 3, 2, 4)


def _contribution() -> dict[str, Callable[[], Verdict]]:
    led = np.array([[0.0, 0.1], [0.1, 0.0], [0.2, 0.2], [0.7, 0.7]])
    return {
        "supported": lambda: contribution_rule(led, _base_rate(3, 3.0), permutations=200),
        "refuted, base rate": lambda: contribution_rule(led, _base_rate(4, 0.7), permutations=200),
        "refuted, not leading": lambda: contribution_rule(led[[0, 1, 3, 2]], _base_rate(5, 3.0), permutations=200),
        "inconclusive, no all-shared": lambda: contribution_rule(led, np.zeros((5, 3, 2, 4), int)),
        "seed 7, near the base rate": lambda: contribution_rule(led, _base_rate(11, 1.05), permutations=300, seed=7,
                                                                min_layer_share=0.5, min_enrichment=1.01, alpha=0.1),
    }


def _spans(seed: int, shared: float, n: int = 12, langs: int = 3) -> np.ndarray:
    scale = np.array([1.0, 1.0, 1.2, shared])
    draws = _rng(seed).normal(size=(n, langs, 4, 16)) * scale[:, None]
    spans = draws.max(axis=-1) - draws.min(axis=-1)
    spans[0, 0, 1] = np.nan  # a row where a type has too few neurons
    return spans


def _span() -> dict[str, Callable[[], Verdict]]:
    return {
        "supported": lambda: effective_span_rule(_spans(6, 3.0)),
        "refuted": lambda: effective_span_rule(_spans(7, 0.8)),
        "inconclusive, too few rows": lambda: effective_span_rule(_spans(8, 3.0, n=4)),
        "seed 7": lambda: effective_span_rule(_spans(12, 1.6), seed=7, min_ratio=1.2, min_language_share=0.5,
                                              min_examples=6),
    }


def _shares(n: int, seed: int, level: float) -> np.ndarray:
    return level + _rng(seed).normal(0, 0.01, n)


def _ift() -> dict[str, Callable[[], Verdict]]:
    def pair(d_shared: float, d_partial: float, n: int = 12, d_null: float = 0.0) -> tuple[dict, dict]:
        base = {"all_shared": _shares(n, 1, 0.2), "partial_shared": _shares(n, 2, 0.3),
                "nonparallel_all_shared": _shares(n, 3, 0.15)}
        return ({"all_shared": base["all_shared"] + d_shared, "partial_shared": base["partial_shared"] + d_partial,
                 "nonparallel_all_shared": base["nonparallel_all_shared"] + d_null}, base)

    def matched(n: int, level: float) -> tuple[np.ndarray, np.ndarray]:
        return _shares(n, 1, level), _shares(n, 1, 0.2)

    return {
        "supported": lambda: share_increase_rule(*pair(0.05, -0.03, d_null=0.02), matched=matched(12, 0.23)),
        "refuted at matched density": lambda: share_increase_rule(*pair(0.05, -0.03), matched=matched(12, 0.2)),
        "refuted on non-parallel tuples": lambda: share_increase_rule(*pair(0.05, -0.03, d_null=0.05),
                                                                      matched=matched(12, 0.23)),
        "inconclusive, no match": lambda: share_increase_rule(*pair(0.05, -0.03), matched=None),
        "inconclusive, few examples": lambda: share_increase_rule(*pair(0.05, -0.03, n=3), matched=matched(3, 0.25)),
        "noisy, seed 7": lambda: share_increase_rule({"all_shared": _shares(12, 5, 0.25),
                                                      "partial_shared": _shares(12, 6, 0.27),
                                                      "nonparallel_all_shared": _shares(12, 10, 0.2)},
                                                     {"all_shared": _shares(12, 7, 0.2), "partial_shared":
                                                      _shares(12, 8, 0.3), "nonparallel_all_shared":
                                                      _shares(12, 11, 0.18)}, matched=(_shares(12, 9, 0.24),
                                                                                      _shares(12, 7, 0.2)),
                                                     seed=7, min_difference=0.25, min_examples=6),
    }


def _layers() -> dict[str, Callable[[], Verdict]]:
    peak = np.array([0.1, 0.3, 0.6, 0.9, 0.6, 0.4, 0.3, 0.2, 0.2, 0.1])
    curves = peak + _rng(9).normal(0, 0.01, (15, 10))
    activated = np.clip(np.linspace(0.3, 0.6, 6) + _rng(10).normal(0, 0.01, (10, 4, 6)), 0, 1)
    skewed = activated.copy()
    skewed[:, 3, 2] += 0.2
    return {
        "peak supported": lambda: mid_layer_peak_rule(curves),
        "peak refuted": lambda: mid_layer_peak_rule(np.sort(curves, axis=1)),  # rising: peaks at the top
        "dead supported": lambda: dead_across_tokens_rule(np.full(6, 0.004), 10),
        "dead refuted": lambda: dead_across_tokens_rule(np.array([0.0, 0.0, 0.05, 0.0]), 10),
        "dead inconclusive": lambda: dead_across_tokens_rule(np.zeros(4), 3),
        "consistency supported": lambda: language_consistency_rule(activated),
        "consistency refuted": lambda: language_consistency_rule(skewed),
        "consistency inconclusive": lambda: language_consistency_rule(activated[:3]),
        "peak split, seed 7": lambda: mid_layer_peak_rule(
            np.concatenate([curves[:11], np.roll(curves[11:], -3, axis=1)]), seed=7, edge_low=0.2, edge_high=0.3,
            min_fall=0.5, min_support=0.9),
        "consistency seed 7": lambda: language_consistency_rule(skewed * 0 + activated, seed=7, max_spread=0.02,
                                                                min_active=0.4, min_examples=4),
        "consistency refuted (a twentieth as dense)": lambda: language_consistency_rule(
            skewed * 0.05),  # 1 point apart: the same 43% of the layer's mean as at full density
        "consistency inconclusive (layers not read)": lambda: language_consistency_rule(
            np.where(np.arange(6) < 2, 0.005, activated)),
        "consistency, other limits": lambda: language_consistency_rule(
            np.where(np.arange(6) < 2, 0.005, activated), max_skipped=0.5, min_active=0.004),
    }


def _density_control() -> dict[str, Callable[[], Verdict]]:
    peak = np.array([0.1, 0.3, 0.6, 0.9, 0.6, 0.4, 0.3, 0.2, 0.2, 0.1])
    falling = np.linspace(0.5, 0.1, 10)
    curves = peak + _rng(21).normal(0, 0.01, (15, 10))
    at_density = falling + _rng(22).normal(0, 0.01, (15, 10))
    holed = curves.copy()
    holed[:, [0, 1, 2, 3]] = np.nan  # the densest layers cannot be brought down to the common density
    return {
        "supported": lambda: density_controlled(mid_layer_peak_rule(curves), mid_layer_peak_rule(curves * 0.8)),
        "refuted (the peak is the density's)": lambda: density_controlled(mid_layer_peak_rule(curves),
                                                                           mid_layer_peak_rule(at_density)),
        "inconclusive (layers not compared)": lambda: density_controlled(mid_layer_peak_rule(curves),
                                                                          mid_layer_peak_rule(holed)),
    }


def _examples_rules() -> dict[str, Callable[[], Verdict]]:
    shares = np.array([[0.6, 0.5], [0.1, 0.1], [0.1, 0.2], [0.2, 0.2]])
    low = np.zeros_like(shares)
    high = shares * 0.5
    counts = [3, 5, 9]
    shared = np.stack([_shares(10, 3, 0.3), _shares(10, 4, 0.28), _shares(10, 5, 0.27)], axis=1)
    partial = np.stack([_shares(10, 6, 0.1), _shares(10, 7, 0.15), _shares(10, 8, 0.2)], axis=1)
    sweep = np.stack([np.stack([_shares(12, s, lo), _shares(12, s + 1, hi)], axis=1)
                      for s, (lo, hi) in enumerate([(0.5, 0.5), (0.2, 0.3), (0.1, 0.25)])], axis=1)  # (12, 3, 2)
    return {
        "non-repeating supported": lambda: non_repeating_rule(low, shares, low, low, 30),
        "non-repeating supported by projection": lambda: non_repeating_rule(high, shares, high, low, 30),
        "non-repeating refuted": lambda: non_repeating_rule(high, shares, low, low, 30),
        "non-repeating inconclusive": lambda: non_repeating_rule(high, shares, low, low, 10),
        "tasks supported": lambda: task_dependence_rule((_shares(10, 1, 0.3), _shares(12, 2, 0.2)),
                                                        (_shares(10, 3, 0.1), _shares(12, 4, 0.2))),
        "tasks refuted": lambda: task_dependence_rule((_shares(10, 1, 0.2), _shares(12, 2, 0.3)),
                                                      (_shares(10, 3, 0.1), _shares(12, 4, 0.2))),
        "tasks inconclusive": lambda: task_dependence_rule((_shares(3, 1, 0.3), _shares(12, 2, 0.2)),
                                                           (_shares(3, 3, 0.1), _shares(12, 4, 0.2))),
        "count supported": lambda: language_count_rule(shared, partial, counts),
        "count refuted": lambda: language_count_rule(shared * np.array([1.0, 0.6, 0.3]), partial, counts),
        "count inconclusive": lambda: language_count_rule(shared[:3], partial[:3], counts),
        "sweep supported": lambda: threshold_sweep_rule(sweep, [0.0, 0.1, 0.2]),
        "sweep refuted": lambda: threshold_sweep_rule(sweep[:, :, ::-1].copy(), [0.0, 0.1, 0.2]),
        "sweep inconclusive": lambda: threshold_sweep_rule(sweep[:3], [0.0, 0.1, 0.2]),
        "sweep seed 7": lambda: threshold_sweep_rule(sweep, [0.0, 0.1, 0.2], seed=7, min_examples=6),
        "tasks seed 7": lambda: task_dependence_rule((_shares(10, 1, 0.3), _shares(12, 2, 0.2)),
                                                     (_shares(10, 3, 0.1), _shares(12, 4, 0.2)), seed=7,
                                                     min_difference=0.05, min_examples=6),
        "count seed 7": lambda: language_count_rule(shared, partial, counts, seed=7, min_rise=0.05,
                                                    max_relative_drop=0.2, min_examples=6),
        "non-repeating, other limits": lambda: non_repeating_rule(high * 0.1, shares, high * 0.05, low, 15,
                                                                  later_examples=500, max_active_overlap=0.05,
                                                                  max_inactive_repeat=0.2, min_examples=12),
    }


def _non_activated() -> dict[str, Callable[[], Verdict]]:
    shares = np.clip(0.7 + 0.05 * _rng(11).standard_normal((12, 5)), 0, 1)  # (examples, layers)
    return {
        "supported": lambda: non_activated_majority_rule(shares),
        "refuted": lambda: non_activated_majority_rule(1 - shares),
        "inconclusive (noisy)": lambda: non_activated_majority_rule(
            np.clip(0.5 + 0.3 * _rng(12).standard_normal((8, 5)), 0, 1)),
        "inconclusive (few examples)": lambda: non_activated_majority_rule(shares[:4]),
        "other limits": lambda: non_activated_majority_rule(shares, min_share=0.75, min_examples=10, seed=7),
    }


def _lowest_layer() -> dict[str, Callable[[], Verdict]]:
    shares = np.clip(0.6 + 0.05 * _rng(13).standard_normal((12, 6)), 0, 1)  # (examples, layers)
    shares[:, 0] = np.clip(0.97 + 0.01 * _rng(14).standard_normal(12), 0, 1)
    return {
        "supported": lambda: lowest_layer_non_activated_rule(shares),
        "refuted": lambda: lowest_layer_non_activated_rule(shares[:, ::-1].copy()),
        "inconclusive (few examples)": lambda: lowest_layer_non_activated_rule(shares[:3]),
        "other limits": lambda: lowest_layer_non_activated_rule(shares, min_share=0.98, min_examples=10, seed=7),
    }


def _early_peak() -> dict[str, Callable[[], Verdict]]:
    depth = np.linspace(0, 1, 12)
    curve = 0.2 + 0.3 * np.exp(-((depth - 0.15) / 0.1) ** 2) + 0.2 * depth ** 6  # peak early, fall, rise at the top
    noise = 0.01 * _rng(15).standard_normal((10, 3, 12))
    activated = np.clip(curve + noise, 0, 1)  # (examples, langs, layers)
    return {
        "supported": lambda: activated_early_peak_rule(activated),
        "refuted (rising)": lambda: activated_early_peak_rule(np.clip(0.2 + 0.3 * depth + noise, 0, 1)),
        "inconclusive (a faint peak)": lambda: activated_early_peak_rule(np.clip(
            0.2 + 0.03 * np.exp(-((depth - 0.15) / 0.1) ** 2) + 0.05 * depth ** 6
            + 0.05 * _rng(16).standard_normal((10, 3, 12)), 0, 1)),
        "other limits": lambda: activated_early_peak_rule(activated, early=0.1, min_fall=0.3, seed=7),
    }


def upper_band_shares(seed: int, upper_all: float, upper_partial: float, *, upper_specific: float = 0.02,
                      examples: int = 12, layers: int = 9, noise: float = 0.01) -> np.ndarray:
    """(examples, 4, layers) type shares: partial-shared 0.6, all-shared 0.1 and specific 0.02 in the lower two thirds
    of the layers, the given shares in the top third, the rest non-activated; with a little noise per example."""
    top = layers - layers // 3
    shares = np.zeros((examples, 4, layers))
    shares[:, PARTIAL], shares[:, ALL], shares[:, SPECIFIC] = 0.6, 0.1, 0.02
    shares[:, PARTIAL, top:], shares[:, ALL, top:], shares[:, SPECIFIC, top:] = upper_partial, upper_all, upper_specific
    shares[:, [SPECIFIC, PARTIAL, ALL]] += noise * _rng(seed).standard_normal((examples, 3, layers))
    shares = np.clip(shares, 0, 1)
    shares[:, NON] = 1 - shares[:, [SPECIFIC, PARTIAL, ALL]].sum(axis=1)
    return shares


def _upper_partial() -> dict[str, Callable[[], Verdict]]:
    shares = upper_band_shares(17, upper_all=0.2, upper_partial=0.5)
    return {
        "supported": lambda: upper_partial_dominance_rule(shares),
        "refuted (all-shared lead the top)": lambda: upper_partial_dominance_rule(
            upper_band_shares(18, upper_all=0.6, upper_partial=0.2)),
        "inconclusive (a tie within noise)": lambda: upper_partial_dominance_rule(
            upper_band_shares(19, upper_all=0.3, upper_partial=0.3, noise=0.05)),
        "inconclusive (empty upper layers)": lambda: upper_partial_dominance_rule(
            upper_band_shares(20, upper_all=0.0, upper_partial=0.004, upper_specific=0.001, noise=0.0)),
        "inconclusive (few examples)": lambda: upper_partial_dominance_rule(shares[:3]),
        "other limits": lambda: upper_partial_dominance_rule(shares, upper=0.5, min_active=0.05, min_examples=10,
                                                             seed=7),
    }


def _stacks() -> dict[str, Callable[[], Verdict]]:
    encoder = np.clip(0.20 + 0.02 * _rng(17).standard_normal(12), 0, 1)  # (examples,) all-shared share per stack
    decoder = np.clip(0.10 + 0.02 * _rng(18).standard_normal(12), 0, 1)
    return {
        "supported": lambda: encoder_more_shared_rule(encoder, decoder),
        "refuted (the decoder's share is higher)": lambda: encoder_more_shared_rule(decoder, encoder),
        "refuted (equal shares)": lambda: encoder_more_shared_rule(encoder, encoder.copy()),
        "inconclusive (a difference near the limit)": lambda: encoder_more_shared_rule(
            decoder + 0.01 + 0.02 * _rng(19).standard_normal(12), decoder),
        "inconclusive (few examples)": lambda: encoder_more_shared_rule(encoder[:4], decoder[:4]),
        "inconclusive (no examples)": lambda: encoder_more_shared_rule(encoder[:0], decoder[:0]),
        "other limits": lambda: encoder_more_shared_rule(encoder, decoder, min_difference=0.15, min_examples=10,
                                                         seed=7),
    }


def _kojima_each_language() -> dict[str, Callable[[], Verdict]]:
    langs = ["en", "de", "es", "fr", "ru"]
    counts = np.zeros((5, 2, 10), dtype=np.int64)  # (languages, sides, layers): 3 in layer 0, 2 in layer 9
    counts[..., 0], counts[..., 9] = 3, 2
    mixed = counts.copy()
    mixed[3:] = 0
    mixed[3:, :, 4] = 5  # fr and ru in the middle
    unsure = counts.copy()
    unsure[4, :, 9], unsure[4, :, 5] = 0, 2  # ru's last end empty in half the resamples
    halves = np.stack([counts] * 10 + [unsure] * 10)
    return {
        "supported": lambda: layers_each_language_rule(counts, np.stack([counts] * 10), langs),
        "refuted": lambda: layers_each_language_rule(mixed, np.stack([mixed] * 10), langs),
        "inconclusive": lambda: layers_each_language_rule(counts, halves, langs, max_exceptions=0),
        "other limits": lambda: layers_each_language_rule(mixed, np.stack([mixed] * 10), langs, max_exceptions=2,
                                                          edge_share=0.2, min_enrichment=1.5, confidence=0.9),
    }


def _kojima_null() -> dict[str, Callable[[], Verdict]]:
    langs = ["en", "de", "zh"]
    null = np.clip(np.array([0.3, 0.35, 0.4]) + 0.03 * _rng(17).standard_normal((100, 3)), 0, 1)  # (P, L)
    return {
        "supported": lambda: beats_shuffled_labels_rule(np.array([1.0, 0.98, 0.9]), null, langs),
        "refuted": lambda: beats_shuffled_labels_rule(np.array([1.0, 0.98, 0.38]), null, langs),
        "inconclusive (near the quantile)": lambda: beats_shuffled_labels_rule(np.array([1.0, 0.98, 0.45]), null,
                                                                               langs),
        "inconclusive (null at AP 1)": lambda: beats_shuffled_labels_rule(np.ones(3), np.ones((100, 3)), langs),
        "other limits": lambda: beats_shuffled_labels_rule(np.array([1.0, 0.98, 0.45]), null[:40], langs,
                                                           quantile=0.9, refute_quantile=0.6),
    }


def _kojima_tampering() -> dict[str, Callable[[], Verdict]]:
    """Three languages, 60 paired samples, the target en; a condition writing en at rate r writes it on the samples
    whose draw is under r (so a lower rate's samples are among a higher rate's, as paired generations would be)."""
    langs = ["en", "de", "zh"]
    draw = _rng(23).random((3, 60))  # per language: each sample's draw

    def family(own: float, matched: float, other: float, baseline: float, n: int = 60) -> tuple[np.ndarray, ...]:
        u = draw[:, :n]
        identified = np.zeros((3, 3, n), dtype=bool)  # (sets, languages, samples)
        identified[[1, 2], [1, 2]] = u[[1, 2]] < 0.9  # de's and zh's sets write their languages
        identified[0, 0], identified[2, 0] = u[0] < own, u[0] < other  # en's set, and zh's set, write en
        return identified, u < matched, u < baseline

    cases = {"supported": family(0.9, 0.1, 0.2, 0.05), "refuted (moved as far)": family(0.9, 0.9, 0.2, 0.05),
             "refuted (another language)": family(0.6, 0.1, 0.6, 0.05),
             "inconclusive (ceiling)": family(0.95, 0.1, 0.1, 0.85),
             "inconclusive (not significant)": family(0.6, 0.1, 0.1, 0.05, n=6)}
    verdicts = {name: (lambda data=data: tampering_rule(*data, langs, 0.004, 0.95, target="en"))
                for name, data in cases.items()}
    one = (np.ones((1, 1, 20), dtype=bool), np.zeros((1, 20), dtype=bool), np.zeros((1, 20), dtype=bool))
    return verdicts | {
        "inconclusive (one language)": lambda: tampering_rule(*one, ["en"], 0.004, 0.95, target="en"),
        "inconclusive (too many neurons)": lambda: tampering_rule(*cases["supported"], langs, 0.02, 0.95, target="en"),
        "inconclusive (identifier)": lambda: tampering_rule(*cases["supported"], langs, 0.004, 0.5, target="en"),
        "other limits": lambda: tampering_rule(*cases["supported"], langs, 0.004, 0.95, target="de", ceiling=0.9,
                                               min_gain=0.5, alpha=0.01, max_share=0.005, min_recall=0.9, seed=5)}


def _average_contribution() -> dict[str, Callable[[], Verdict]]:
    return {
        "supported": lambda: average_contribution_rule(type_rows(21, shared_scale=4.0)),
        "refuted (activity)": lambda: average_contribution_rule(type_rows(22, shared_scale=1.0, examples=30)),
        "refuted (less)": lambda: average_contribution_rule(type_rows(23, shared_scale=0.3)),
        "inconclusive (few examples)": lambda: average_contribution_rule(type_rows(24, shared_scale=4.0, examples=3)),
        "other limits": lambda: average_contribution_rule(type_rows(25, shared_scale=2.0), min_ratio=1.5,
                                                          min_layer_share=0.5, min_examples=6, seed=7),
    }


def _correct_output() -> dict[str, Callable[[], Verdict]]:
    base = _rng(30).random(12) < 0.9  # one language's items: correct at baseline, with all-shared mean-ablated
    lost = base & (_rng(31).random(12) < 0.5)
    return {
        "supported": lambda: correct_output_rule(type_rows(26, shared_scale=4.0)[:, 0]),
        "refuted (base rate)": lambda: correct_output_rule(type_rows(27, shared_scale=1.0, examples=30)[:, 0]),
        "refuted (less)": lambda: correct_output_rule(type_rows(28, shared_scale=0.3)[:, 0]),
        "inconclusive (no push)": lambda: correct_output_rule(np.zeros((8, 4, 3, 6))),
        "other limits": lambda: correct_output_rule(type_rows(29, shared_scale=2.0)[:, 1], min_share=0.6,
                                                    min_enrichment=1.2, min_examples=6, seed=7),
        "supported, mean-ablation lowers accuracy": lambda: correct_output_rule(
            type_rows(26, shared_scale=4.0)[:, 0], base, lost, chance=1 / 3),
        "refuted, mean-ablation changes nothing": lambda: correct_output_rule(
            type_rows(26, shared_scale=4.0)[:, 0], base, base.copy(), chance=1 / 3),
        "inconclusive, cannot do the task": lambda: correct_output_rule(
            type_rows(26, shared_scale=4.0)[:, 0], base & False, base & False, chance=1 / 3, floor=1 / 3),
    }


def _effective_layers() -> dict[str, Callable[[], Verdict]]:
    ends, flat, edge = [150, 40, 40, 40, 40, 40, 40, 150, 150, 150], [60] * 10, [3.0, 1, 1, 1, 1, 1, 1, 3, 3, 3]
    return {
        "supported": lambda: effective_layers_rule(*layer_maxima(31, flat, edge)),
        "refuted (counts)": lambda: effective_layers_rule(*layer_maxima(32, ends, [1.0] * 10)),
        "inconclusive (two layers)": lambda: effective_layers_rule(*layer_maxima(33, flat[:2], edge[:2])),
        "inconclusive (too few for the sample)": lambda: effective_layers_rule(*layer_maxima(34, flat, edge,
                                                                                             sample=80)),
        "other limits": lambda: effective_layers_rule(*layer_maxima(35, flat, edge), first_share=0.2,
                                                      upper_share=0.2, min_ratio=2.0, min_examples=6, seed=7),
    }


def _shots() -> dict[str, Callable[[], Verdict]]:
    raw = _rng(17).uniform(0.5, 1.5, (12, 4, 6))
    shares = raw / raw.sum(axis=1, keepdims=True)  # (examples, types, layers)
    moved = shares.copy()
    moved[:, 3, 4] += 0.2
    moved[:, 0, 4] -= 0.2
    noisy = shares.copy()
    noisy[:, 3] += _rng(18).normal(0.05, 0.1, 12)[:, None]
    return {
        "supported": lambda: shots_invariance_rule({0: shares, 2: shares + 0.01, 4: shares, 6: shares - 0.01}),
        "refuted": lambda: shots_invariance_rule({0: shares, 2: shares, 4: moved, 6: moved}),
        "inconclusive (noisy)": lambda: shots_invariance_rule({0: shares, 2: noisy}),
        "inconclusive (few examples)": lambda: shots_invariance_rule({0: shares[:3], 2: moved[:3]}),
        "inconclusive (one count)": lambda: shots_invariance_rule({0: shares}),
        "other limits": lambda: shots_invariance_rule({0: shares, 6: moved}, tolerance=0.25, min_examples=10, seed=7),
    }


def _type_ablation() -> dict[str, Callable[[], Verdict]]:
    base = _rng(17).random((40, 5)) < 0.7
    base[:10] = True
    ablated = base.copy()
    ablated[:10] = False  # the type's deactivation loses 10 examples in every language
    none = np.zeros_like(base)

    def rule(control: np.ndarray, all_shared: np.ndarray = none, ablated: np.ndarray = ablated, **kwargs: object):
        return lambda: type_ablation_rule(base, ablated, control, all_shared, **{"type_name": "specific",
                                                                                "chance": 0.3, **kwargs})

    return {
        "supported": rule(base.astype(float)),
        "refuted by the control": rule(ablated.astype(float)),
        "refuted, no drop": rule(base.astype(float), ablated=base.copy(), type_name="partial_shared"),
        "refuted, as much as all-shared": rule(base.astype(float), all_shared=ablated.copy()),
        "inconclusive, at chance": rule(base.astype(float), chance=0.75),
        "inconclusive, not significant": rule(np.where(np.arange(40)[:, None] < 5, 0.0, base)),  # costs half
        "other limits": rule(np.where(ablated != base, 0.7, base), min_language_share=1.0, max_control_share=0.4,
                             alpha=0.01, min_correct=6, seed=7),
        "inconclusive, control short": rule(base.astype(float), control_reach=0.3),
    }


def _scale() -> dict[str, Callable[[], Verdict]]:
    """A family at 10 and 6 layers: one curve over relative depth (an early peak), or the same curve reversed."""
    def shares(curve: np.ndarray, dead: np.ndarray, seed: int) -> np.ndarray:
        out = np.zeros((12, 4, len(curve)))
        out[:, ALL] = curve + _rng(seed).normal(0, 0.01, (12, len(curve)))
        out[:, NON] = dead
        out[:, PARTIAL] = 1 - out[:, ALL] - out[:, NON]
        return out

    deep = np.array([0.1, 0.3, 0.5, 0.35, 0.2, 0.1, 0.05, 0.05, 0.15, 0.35])
    shallow = np.interp((np.arange(6) + 0.5) / 6, (np.arange(10) + 0.5) / 10, deep)
    upper = np.where(np.arange(10) >= 7, 0.15, 0.03)
    larger, smaller, moved = shares(deep, upper, 19), shares(shallow, np.full(6, 0.03), 20), shares(deep[::-1],
                                                                                                    upper[::-1], 21)
    bump = np.where(np.arange(10) >= 7, 0.15 + _rng(22).normal(0, 0.06, (12, 1)), 0.0)  # pattern moved ~10 points
    noisy = shares(deep, 0.03 + bump, 23)
    return {
        "pattern supported": lambda: scale_pattern_rule(larger, smaller),
        "pattern refuted": lambda: scale_pattern_rule(moved, smaller),
        "pattern inconclusive (noisy)": lambda: scale_pattern_rule(noisy, smaller),
        "pattern inconclusive (few examples)": lambda: scale_pattern_rule(larger[:3], smaller[:3]),
        "pattern other limits": lambda: scale_pattern_rule(moved, smaller, tolerance=0.5, min_examples=10, seed=7),
        "upper supported": lambda: upper_sparser_rule(larger[:, NON], smaller[:, NON]),
        "upper refuted": lambda: upper_sparser_rule(moved[:, NON], smaller[:, NON]),
        "upper inconclusive (noisy)": lambda: upper_sparser_rule(noisy[:, NON] - 0.14, smaller[:, NON]),
        "upper inconclusive (few examples)": lambda: upper_sparser_rule(larger[:3, NON], smaller[:3, NON]),
        "upper other limits": lambda: upper_sparser_rule(larger[:, NON], smaller[:, NON], upper_from=0.5,
                                                         min_difference=0.2, min_examples=10, seed=7),
    }


CASES: dict[str, Callable[[], Verdict]] = {
    f"{rule} / {name}": case for rule, cases in (
        ("ablation", _ablation()), ("conversion", _conversion()), ("contribution", _contribution()),
        ("density control", _density_control()),
        ("effective span", _span()), ("ift", _ift()), ("layers", _layers()), ("examples", _examples_rules()),
        ("non-activated majority", _non_activated()), ("lowest layer", _lowest_layer()),
        ("early peak", _early_peak()), ("upper partial-shared", _upper_partial()),
        ("encoder vs decoder", _stacks()),
        ("kojima each language", _kojima_each_language()), ("kojima shuffled null", _kojima_null()),
        ("kojima tampering", _kojima_tampering()),
        ("average contribution", _average_contribution()), ("correct output", _correct_output()),
        ("effective layers", _effective_layers()),
        ("demonstrations", _shots()), ("type ablation", _type_ablation()), ("scale", _scale()))
    for name, case in cases.items()}
