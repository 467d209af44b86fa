"""The decision rules of Kojima et al.'s claims as they were before "Verdicts that hold on a real model" (test-only),
and the tampering rule as it was before "Verdicts, round 3".

A verbatim copy of the functions those issues changed in harness/papers/kojima/rules.py: the pooled first-and-last-
layers enrichment, and tampering's absolute increase over the random control without a ceiling or a correction
across languages (the first); tampering's gain over a random same-size set fixed at its own medians, which moves its
neurons less than the language's set moves its own (``tampering_rule_at_own_medians``, the second). It exists so
that tests/test_adversarial_kojima.py can show, on each adversarial planted model's own measurement, that the old
rule gave the wrong verdict and the new rule gives the planted truth. Nothing outside tests imports it; it is not
maintained beyond staying a faithful copy.
"""

from __future__ import annotations

import math

import numpy as np

from harness.core.stats import bootstrap_ci, holm, mcnemar, mean_difference
from harness.core.verdict import Verdict, decide, inconclusive
from harness.papers.kojima.rules import headroom_gain

EFFECT_TAMPERING = "gain over random control (share of its headroom)"


def _interval(point: float, resampled: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of a statistic over bootstrap resamples (the point itself when there are none)."""
    if len(resampled) == 0:
        return point, point
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return float(low), float(high)


def edge_layers(n_layers: int, edge_share: float) -> list[int]:
    """The first and the last ceil(edge_share x layers) layers (at least one at each end)."""
    k = max(1, math.ceil(edge_share * n_layers))
    return sorted(set(range(k)) | set(range(n_layers - k, n_layers)))


def _band_share(counts: np.ndarray, band: list[int]) -> np.ndarray:
    """counts (..., L, sides, layers) -> (...,) share of the selected neurons in the band, mean over languages."""
    per_language = counts[..., band].sum(axis=(-2, -1)) / counts.sum(axis=(-2, -1))
    return per_language.mean(axis=-1)


def layer_concentration_rule(counts: np.ndarray, boot_counts: np.ndarray, *, edge_share: float = 0.1,
                             min_enrichment: float = 2.0, confidence: float = 0.95) -> Verdict:
    """Language-specific neurons sit in the first and last layers (Kojima et al. §4, Fig. 2).

    counts (L languages, 2 sides (top, bottom), layers): where each language's top-N and bottom-N neurons are;
    boot_counts (R, L, 2, layers): the same on bootstrap resamples of the examples. The band is the first and the
    last ``edge_share`` of the layers; a random same-size neuron set (the control) puts the band's share of the
    layers in it. Enrichment = share of the selected neurons in the band (mean over languages) / that control share.
    Supported when the interval of the enrichment is above ``min_enrichment``, refuted when below it.
    """
    n_layers = counts.shape[-1]
    band = edge_layers(n_layers, edge_share)
    control = len(band) / n_layers
    params = {"edge_share": edge_share, "min_enrichment": min_enrichment, "confidence": confidence,
              "band layers": ",".join(map(str, band)), "control": "random same-size neuron set (expected share)"}
    share = float(_band_share(counts, band))
    enrichment = share / control
    ci = tuple(v / control for v in _interval(share, _band_share(boot_counts, band), confidence))
    per_side = counts[:, :, band].sum(axis=(0, 2)) / counts.sum(axis=(0, 2))
    measured = {"share in first/last layers %": 100 * share, "band's share of layers % (random control)": 100 * control,
                "enrichment": enrichment, "top-N in band %": 100 * float(per_side[0]),
                "bottom-N in band %": 100 * float(per_side[1]), "bootstrap resamples": len(boot_counts)}
    reason = (f"{100 * share:.0f}% of the language-specific neurons sit in layers {params['band layers']} of "
              f"{n_layers} ({100 * control:.0f}% of the layers): enrichment {enrichment:.2f} [{ci[0]:.2f}, "
              f"{ci[1]:.2f}], needs {min_enrichment}")
    if control * min_enrichment > 1:
        return Verdict("inconclusive", f"too few layers ({n_layers}) for an enrichment of {min_enrichment}; {reason}",
                       "enrichment in first/last layers", enrichment, ci, measured, params)
    verdict = decide(enrichment >= min_enrichment, ci[0] >= min_enrichment, ci[1] < min_enrichment)
    return Verdict(verdict, reason, "enrichment in first/last layers", enrichment, ci, measured, params)


def tampering_rule(tampered: np.ndarray, control: np.ndarray, baseline: np.ndarray, fixed_share: float,
                   identifier_recall: float, *, min_increase: float = 0.2, alpha: float = 0.05,
                   max_share: float = 0.01, min_recall: float = 0.8, seed: int = 0) -> Verdict:
    """Fixing under 1% of the neurons (a language's own) makes that language occur far more often in generated text
    than fixing a random same-size set (Kojima et al. §5).

    tampered, control, baseline: per generated sample (samples,) bool, "identified as the target language", paired
    (the same sampling noise in every condition). Supported when the increase over the control is at least
    ``min_increase`` and McNemar's test is significant; refuted when its interval stays below ``min_increase``;
    inconclusive when more than ``max_share`` of the neurons were fixed or the identifier recognises fewer than
    ``min_recall`` of the language's held-out texts.
    """
    params = {"min_increase": min_increase, "alpha": alpha, "max_share": max_share, "min_recall": min_recall,
              "seed": seed, "control": "random same-size neuron set fixed at its own medians"}
    tampered, control, baseline = (np.asarray(x, dtype=bool) for x in (tampered, control, baseline))
    increase = float(tampered.mean() - control.mean())
    ci = bootstrap_ci(mean_difference, tampered.astype(float), control.astype(float), seed=seed)
    p = mcnemar(control, tampered)
    measured = {"target language, no fix %": 100 * float(baseline.mean()),
                "target language, its neurons fixed %": 100 * float(tampered.mean()),
                "target language, random neurons fixed %": 100 * float(control.mean()),
                "McNemar p (fixed vs random)": p, "neurons fixed %": 100 * fixed_share,
                "identifier held-out recall %": 100 * identifier_recall, "samples": len(tampered)}
    reason = (f"target language in {100 * tampered.mean():.0f}% of generations with {100 * fixed_share:.2f}% of "
              f"neurons fixed, {100 * control.mean():.0f}% with a random set, {100 * baseline.mean():.0f}% without: "
              f"+{100 * increase:.0f} points [{100 * ci[0]:+.0f}, {100 * ci[1]:+.0f}], McNemar p={p:.2g}")
    if fixed_share > max_share:
        return Verdict("inconclusive", f"{100 * fixed_share:.2f}% of neurons fixed, the finding is about under "
                       f"{100 * max_share:.0f}%; {reason}", "increase over random control", increase, ci, measured,
                       params)
    if not identifier_recall >= min_recall:
        return Verdict("inconclusive", f"the identifier recognises {100 * identifier_recall:.0f}% of held-out texts "
                       f"of the language (< {100 * min_recall:.0f}%); {reason}", "increase over random control",
                       increase, ci, measured, params)
    verdict = decide(increase >= min_increase, p < alpha, ci[1] < min_increase)
    return Verdict(verdict, reason, "increase over random control", increase, ci, measured, params)


def tampering_rule_at_own_medians(tampered: np.ndarray, control: np.ndarray, baseline: np.ndarray,
                                  fixed_share: float, identifier_recall: float, *, target: int = 0,
                                  ceiling: float = 0.8, min_gain: float = 0.2, alpha: float = 0.05,
                                  max_share: float = 0.01, min_recall: float = 0.8, seed: int = 0) -> Verdict:
    """Fixing under 1% of the neurons (a language's own) makes that language occur far more often in generated text
    than fixing a random same-size set (Kojima et al. §5).

    tampered, control, baseline: (languages, samples) bool, or (samples,) for one language: generation s
    identified as language l with l's own neurons fixed, with l's random same-size set fixed, and with no fix;
    paired (the same sampling noise in every condition). ``target`` is the row of this instance's language.
    Effect: the gain t - c as a share of the headroom 1 - c the control leaves (t, c: the target language's share
    with its neurons and with the random set fixed). Significance: McNemar's test of every language, Holm-adjusted
    over the languages (one family of tests per claim). Supported when the gain is at least ``min_gain`` and the
    target's adjusted p is under ``alpha``; refuted when the gain's interval stays below ``min_gain``;
    inconclusive when more than ``max_share`` of the neurons were fixed, the identifier recognises fewer than
    ``min_recall`` of the language's held-out texts, or the model already writes the language in at least
    ``ceiling`` of its generations without a fix or with the random set fixed (no room to show the rise).
    """
    params = {"ceiling": ceiling, "min_gain": min_gain, "alpha": alpha, "max_share": max_share,
              "min_recall": min_recall, "seed": seed, "control": "random same-size neuron set fixed at its own medians",
              "multiple comparisons": "Holm over the languages of the measurement"}
    tampered, control, baseline = (np.atleast_2d(np.asarray(x, dtype=bool)) for x in (tampered, control, baseline))
    if not tampered.shape == control.shape == baseline.shape:
        raise ValueError(f"tampered, control and baseline must have one shape (languages, samples), got "
                         f"{tampered.shape}, {control.shape}, {baseline.shape}")
    # (languages,); shapes checked above
    raw = np.array([mcnemar(c, t) for t, c in zip(tampered, control, strict=True)])
    adjusted = holm(raw)
    t, c, b = tampered[target], control[target], baseline[target]
    shares = {"its neurons fixed": float(t.mean()), "random neurons fixed": float(c.mean()),
              "no fix": float(b.mean())}
    gain = float(headroom_gain(t, c))
    ci = bootstrap_ci(headroom_gain, t, c, seed=seed)
    increase = shares["its neurons fixed"] - shares["random neurons fixed"]
    measured = {**{f"target language, {name} %": 100 * share for name, share in shares.items()},
                "gain over the control's headroom %": 100 * gain,
                "increase over random control (points)": 100 * increase,
                "McNemar p (fixed vs random)": float(raw[target]),
                "McNemar p, Holm-adjusted over languages": float(adjusted[target]),
                "languages in the Holm family": len(raw), "neurons fixed %": 100 * fixed_share,
                "identifier held-out recall %": 100 * identifier_recall, "samples": len(t)}
    reason = (f"target language in {100 * shares['its neurons fixed']:.0f}% of generations with "
              f"{100 * fixed_share:.2f}% of neurons fixed, {100 * shares['random neurons fixed']:.0f}% with a random "
              f"set, {100 * shares['no fix']:.0f}% without: gain {100 * gain:.0f}% of the control's headroom "
              f"[{100 * ci[0]:.0f}, {100 * ci[1]:.0f}] (needs {100 * min_gain:g}%), McNemar p={raw[target]:.2g}, "
              f"Holm-adjusted over {len(raw)} languages p={adjusted[target]:.2g}")

    def decline(why: str) -> Verdict:
        return inconclusive(f"{why}; {reason}", EFFECT_TAMPERING, gain, ci, measured, params)

    if fixed_share > max_share:
        return decline(f"{100 * fixed_share:.2f}% of neurons fixed, the finding is about under "
                            f"{100 * max_share:g}%")
    if not identifier_recall >= min_recall:
        return decline(f"the identifier recognises {100 * identifier_recall:.0f}% of held-out texts of the "
                            f"language (< {100 * min_recall:g}%)")
    for condition in ("no fix", "random neurons fixed"):
        if shares[condition] >= ceiling:
            return decline(f"the model already writes the language in {100 * shares[condition]:.0f}% of "
                                f"generations with {condition} (ceiling {100 * ceiling:g}%): no room to show "
                                f"the rise")
    verdict = decide(gain >= min_gain, adjusted[target] < alpha, ci[1] < min_gain)
    return Verdict(verdict, reason, EFFECT_TAMPERING, gain, ci, measured, params)
