"""Decision rules of Kojima et al.'s claims (arXiv 2404.02431): language-specific neurons, their layers, their
overlap across languages, and tampering with them; the same Verdict conventions as harness.papers.sharing_matters.rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from harness.core.stats import bootstrap_ci, holm, mcnemar
from harness.core.verdict import Verdict, decide, inconclusive

BANDS = ("first", "last")  # the two ends of the layer stack, each tested on its own
EFFECT_LAYERS = "enrichment of the weaker end (first or last layers)"
EFFECT_EACH_LANGUAGE = "share of languages with both ends enriched"
EFFECT_NULL = "top-N AP over the shuffled-label null's high quantile (weakest language)"
EFFECT_TAMPERING = "gain over the stronger control (share of its headroom)"


def _interval(point: float, resampled: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of a statistic over bootstrap resamples (the point itself when there are none)."""
    if len(resampled) == 0:
        return point, point
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return float(low), float(high)


def edge_bands(n_layers: int, edge_share: float) -> tuple[list[int], list[int]]:
    """The first and the last ceil(edge_share x layers) layers, at least one layer each."""
    k = max(1, math.ceil(edge_share * n_layers))
    return list(range(k)), list(range(n_layers - k, n_layers))


def _band_share(counts: np.ndarray, band: list[int]) -> np.ndarray:
    """counts (..., L, sides, layers) -> (...,) share of the selected neurons in the band, mean over languages."""
    per_language = counts[..., band].sum(axis=(-2, -1)) / counts.sum(axis=(-2, -1))
    return per_language.mean(axis=-1)


def layer_concentration_rule(counts: np.ndarray, boot_counts: np.ndarray, *, edge_share: float = 0.1,
                             min_enrichment: float = 2.0, confidence: float = 0.95) -> Verdict:
    """Language-specific neurons sit in the first and the last layers (Kojima et al. §4, Fig. 2): both ends.

    counts (L languages, 2 sides (top, bottom), layers): where each language's top-N and bottom-N neurons are;
    boot_counts (R, L, 2, layers): the same on bootstrap resamples of the examples. Each end is its own band, the
    first and the last ``edge_share`` of the layers; a random same-size neuron set (the control) puts the band's
    share of the layers in it, so a band's enrichment is the share of the selected neurons in it (mean over
    languages) divided by that share, with its own bootstrap interval. Supported when both bands' intervals are
    above ``min_enrichment``; refuted when either band's interval is below it (neurons in the first layers only
    do not make the finding); inconclusive when the layers are too few for both ends to reach it at once. The
    effect is the weaker end's enrichment (with its interval).
    """
    n_layers = counts.shape[-1]
    bands = dict(zip(BANDS, edge_bands(n_layers, edge_share), strict=True))
    width = len(bands["first"])
    control = width / n_layers  # a random same-size set's expected share in each band
    params = {"edge_share": edge_share, "min_enrichment": min_enrichment, "confidence": confidence,
              **{f"{end} band layers": ",".join(map(str, band)) for end, band in bands.items()},
              "control": "random same-size neuron set (expected share, per band)"}
    enrichment: dict[str, float] = {}
    ci: dict[str, tuple[float, float]] = {}
    measured: dict[str, float | None] = {}
    for end, band in bands.items():
        share = float(_band_share(counts, band))
        low, high = _interval(share, _band_share(boot_counts, band), confidence)
        enrichment[end], ci[end] = share / control, (low / control, high / control)
        per_side = counts[:, :, band].sum(axis=(0, 2)) / counts.sum(axis=(0, 2))
        measured |= {f"{end} layers: share %": 100 * share, f"{end} layers: enrichment": enrichment[end],
                     f"{end} layers: enrichment low": ci[end][0], f"{end} layers: enrichment high": ci[end][1],
                     f"{end} layers: top-N %": 100 * float(per_side[0]),
                     f"{end} layers: bottom-N %": 100 * float(per_side[1])}
    measured |= {"band's share of layers % (random control)": 100 * control, "bootstrap resamples": len(boot_counts)}
    weaker = min(BANDS, key=lambda end: (enrichment[end], ci[end][0]))  # ties: the lower interval
    reason = "; ".join(
        f"{end} layers ({params[f'{end} band layers']}): {measured[f'{end} layers: share %']:.0f}% of the "
        f"language-specific neurons, enrichment {enrichment[end]:.2f} [{ci[end][0]:.2f}, {ci[end][1]:.2f}]"
        for end in BANDS) + (f" (each band {100 * control:.0f}% of {n_layers} layers); both ends need "
                             f"{min_enrichment}")
    if 2 * width * min_enrichment > n_layers:
        return inconclusive(f"too few layers ({n_layers}) for both ends to reach an enrichment of "
                       f"{min_enrichment}; {reason}", EFFECT_LAYERS, enrichment[weaker], ci[weaker], measured, params)
    verdict = decide(all(enrichment[end] >= min_enrichment for end in BANDS),
                     all(ci[end][0] >= min_enrichment for end in BANDS),
                     any(ci[end][1] < min_enrichment for end in BANDS))
    return Verdict(verdict, reason, EFFECT_LAYERS, enrichment[weaker], ci[weaker], measured, params)


def layers_each_language_rule(counts: np.ndarray, boot_counts: np.ndarray, languages: Sequence[str], *,
                              max_exceptions: int = 1, edge_share: float = 0.1, min_enrichment: float = 2.0,
                              confidence: float = 0.95) -> Verdict:
    """The first-and-last-layer pattern holds for each language, not only on average (Kojima et al. §4: "this
    trend remains consistent across languages").

    counts (L, 2 sides, layers) and boot_counts (R, L, 2, layers) as ``layer_concentration_rule``, which judges
    each language on its own (its bands, enrichments and bootstrap intervals). Supported when it supports the
    pattern in all languages but at most ``max_exceptions``; refuted when it refutes it in more than
    ``max_exceptions`` (the average can then still show the pattern, carried by some languages); inconclusive
    otherwise, or when there are no more languages than exceptions. Effect: the share of languages where the
    pattern is supported, its interval from that share to the share of languages not refuted.
    """
    n_langs = counts.shape[0]
    if len(languages) != n_langs:
        raise ValueError(f"{len(languages)} language names for counts of {n_langs} languages")
    each = {lang: layer_concentration_rule(counts[[i]], boot_counts[:, [i]], edge_share=edge_share,
                                           min_enrichment=min_enrichment, confidence=confidence)
            for i, lang in enumerate(languages)}
    verdicts = [v.verdict for v in each.values()]
    n_supported, n_refuted = verdicts.count("supported"), verdicts.count("refuted")
    needed = n_langs - max_exceptions
    params = {**next(iter(each.values())).params, "max_exceptions": max_exceptions,
              "per language": "layer_concentration_rule on the language's own top-N and bottom-N neurons"}
    measured: dict[str, float | None] = {"languages": n_langs, "languages needed": needed,
                                         "languages supported": n_supported, "languages refuted": n_refuted}
    for lang, v in each.items():
        measured |= {f"{lang}: {end} layers enrichment": v.measured[f"{end} layers: enrichment"] for end in BANDS}
    effect = n_supported / n_langs
    ci = (effect, (n_langs - n_refuted) / n_langs)
    per_language = "; ".join(f"{lang} {v.measured['first layers: enrichment']:.1f}/"
                             f"{v.measured['last layers: enrichment']:.1f} {v.verdict}" for lang, v in each.items())
    reason = (f"both ends enriched (first/last layers, each >= {min_enrichment}) in {n_supported} of {n_langs} "
              f"languages, refuted in {n_refuted}; needs all but {max_exceptions}: {per_language}")
    if needed < 1:
        return inconclusive(f"{n_langs} language(s) and {max_exceptions} allowed exception(s): nothing to require; "
                            f"{reason}", EFFECT_EACH_LANGUAGE, effect, ci, measured, params)
    if all(v.reason.startswith("too few layers") for v in each.values()):
        reason = f"{next(iter(each.values())).reason.split(';')[0]}; {reason}"
    verdict = decide(n_supported >= needed, True, n_refuted > max_exceptions)
    return Verdict(verdict, reason, EFFECT_EACH_LANGUAGE, effect, ci, measured, params)


def beats_shuffled_labels_rule(observed: np.ndarray, null: np.ndarray, languages: Sequence[str], *,
                               quantile: float = 0.99, refute_quantile: float = 0.5) -> Verdict:
    """Each language has language-specific neurons: its top-N neurons' AP is far above what the same selection finds
    with the language labels shuffled (Kojima et al. §4; the multiple-comparisons control is ours).

    observed (L,): mean AP of each language's top-N neurons; null (P, L): the same with the labels shuffled within
    each example (same responses, same neurons, same N). With many neurons and few texts the best APs are high by
    chance alone; the null is what chance gives here. Per language: supported when the observed AP exceeds the
    null's ``quantile``; refuted when it is at or under the null's ``refute_quantile`` (no better than a random
    labelling); undecidable when the null's ``quantile`` reaches AP 1 (chance alone reaches the maximum: too few
    texts to show anything). The claim is supported when every language is (requiring all of them, it needs no
    correction for the number of languages), refuted when any language is, inconclusive otherwise or with fewer
    than 1 / (1 - ``quantile``) shuffles (too few to place the quantile). The permutation p of each language,
    (1 + shuffles at or above it) / (1 + P), is recorded. Effect: the smallest margin of the observed AP over the
    null's ``quantile``.
    """
    observed, null = np.asarray(observed, dtype=float), np.asarray(null, dtype=float)
    n_perm, n_langs = null.shape
    if observed.shape != (n_langs,) or len(languages) != n_langs:
        raise ValueError(f"observed {observed.shape} and {len(languages)} language names must match the null's "
                         f"{n_langs} languages (null shape {null.shape})")
    params = {"quantile": quantile, "refute_quantile": refute_quantile,
              "control": "language labels shuffled within each example (the same responses and selection)"}
    if n_perm == 0:
        return inconclusive("no label shuffles in the measurement", EFFECT_NULL, params=params)
    high, middle = np.quantile(null, quantile, axis=0), np.quantile(null, refute_quantile, axis=0)  # (L,)
    raw = (1 + (null >= observed[None]).sum(axis=0)) / (1 + n_perm)
    at_ceiling = high >= 1.0
    supported = ~at_ceiling & (observed > high)
    refuted = ~at_ceiling & (observed <= middle)
    margin = observed - high
    measured: dict[str, float | None] = {"label shuffles": n_perm, "languages supported": int(supported.sum()),
                                         "languages refuted": int(refuted.sum()),
                                         "languages with the null at AP 1": int(at_ceiling.sum())}
    for i, lang in enumerate(languages):
        measured |= {f"{lang}: top-N AP": observed[i], f"{lang}: null median": float(np.median(null[:, i])),
                     f"{lang}: null {100 * quantile:g}% quantile": high[i], f"{lang}: permutation p": raw[i]}
    weakest = int(np.argmin(margin))
    effect = float(margin[weakest])

    def state(i: int) -> str:
        return ("supported" if supported[i] else "refuted" if refuted[i] else
                "null at AP 1" if at_ceiling[i] else "inconclusive")

    per_language = "; ".join(f"{lang} {observed[i]:.2f} vs {high[i]:.2f}, median {middle[i]:.2f} ({state(i)})"
                             for i, lang in enumerate(languages))
    reason = (f"mean AP of each language's top-N against the {100 * quantile:g}% quantile of {n_perm} label "
              f"shuffles: {per_language}")
    if at_ceiling.all():
        return inconclusive(f"chance alone reaches AP 1 in every language (too few texts for this many neurons); "
                            f"{reason}", EFFECT_NULL, effect, (effect, effect), measured, params)
    if n_perm * (1 - quantile) < 1 - 1e-9:
        return inconclusive(f"{n_perm} label shuffles are too few to place their {100 * quantile:g}% quantile; "
                            f"{reason}", EFFECT_NULL, effect, (effect, effect), measured, params)
    verdict = decide(bool(supported.all()), True, bool(refuted.any()))
    return Verdict(verdict, reason, EFFECT_NULL, effect, (effect, effect), measured, params)


def _largest_overlap(overlap: np.ndarray, n_selected: int) -> np.ndarray:
    """overlap (..., sides, L, L) shared neurons -> (...,) largest share of N two languages share, over pairs and
    sides (top with top, bottom with bottom)."""
    n_langs = overlap.shape[-1]
    upper = np.triu(np.ones((n_langs, n_langs), dtype=bool), k=1)
    return overlap[..., upper].max(axis=(-2, -1)) / n_selected


def overlap_rule(overlap: np.ndarray, boot_overlap: np.ndarray, n_selected: int, n_neurons: int, *,
                 max_overlap: float = 0.05, confidence: float = 0.95) -> Verdict:
    """Different languages' language-specific neurons hardly overlap: under 5% for every pair (Kojima et al. §4).

    overlap (2 sides, L, L): neurons the top-N (bottom-N) sets of two languages share; boot_overlap (R, 2, L, L) on
    bootstrap resamples. Statistic: the largest pairwise share of N. Control: two random same-size sets share
    N / all neurons of N in expectation. In a small model (the paper's N is 1000) one shared neuron may already be
    over the limit: the reason says so, since "under the limit" then means "none shared".
    """
    params = {"max_overlap": max_overlap, "confidence": confidence, "N": n_selected,
              "statistic": "largest share of N shared by two languages (top with top, bottom with bottom)"}
    n_langs = overlap.shape[-1]
    control = n_selected / n_neurons
    if n_langs < 2:
        return inconclusive("one language: no pair to compare", "largest pairwise overlap", params=params)
    largest = float(_largest_overlap(overlap, n_selected))
    ci = _interval(largest, _largest_overlap(boot_overlap, n_selected), confidence)
    mean_pairs = overlap[:, np.triu(np.ones((n_langs, n_langs), dtype=bool), k=1)].mean() / n_selected
    measured = {"largest pairwise overlap %": 100 * largest, "mean pairwise overlap %": 100 * float(mean_pairs),
                "random same-size sets (expected) %": 100 * control, "bootstrap resamples": len(boot_overlap)}
    reason = (f"two languages share at most {100 * largest:.1f}% of their {n_selected} neurons [{100 * ci[0]:.1f}, "
              f"{100 * ci[1]:.1f}] (limit {100 * max_overlap:g}%; random sets: {100 * control:.2f}%)")
    if 1 / n_selected >= max_overlap:
        reason += (f"; with N = {n_selected} (a small model) one shared neuron is already {100 / n_selected:.1f}% "
                   f"of N: under {100 * max_overlap:g}% means none shared")
    verdict = decide(largest < max_overlap, ci[1] < max_overlap, ci[0] >= max_overlap)
    return Verdict(verdict, reason, "largest pairwise overlap", largest, ci, measured, params)


def headroom_gain(tampered: np.ndarray, control: np.ndarray, axis: int = -1) -> np.ndarray:
    """(t - c) / (1 - c) along ``axis``: the rise of the target language's share t over the control's c, as a share
    of the headroom the control leaves (0 where it leaves none: nothing to gain). Vectorised for the bootstrap."""
    t, c = tampered.mean(axis=axis), control.mean(axis=axis)
    headroom = 1 - c
    return np.divide(t - c, headroom, out=np.zeros_like(headroom), where=headroom > 0)


def strongest_other(identified: np.ndarray) -> np.ndarray:
    """identified (L sets, L languages, samples) -> (L,): for each language l, the other language whose set, fixed,
    makes the model write l most often (ties: the first)."""
    shares = identified.mean(axis=-1).T  # (languages, sets)
    np.fill_diagonal(shares, -np.inf)
    return shares.argmax(axis=1)


def tampering_rule(identified: np.ndarray, matched: np.ndarray, baseline: np.ndarray, languages: Sequence[str],
                   fixed_share: float, identifier_recall: float, *, target: str, ceiling: float = 0.8,
                   min_gain: float = 0.2, alpha: float = 0.05, max_share: float = 0.01, min_recall: float = 0.8,
                   seed: int = 0) -> Verdict:
    """Fixing under 1% of the neurons (a language's own) makes that language occur far more often in generated text
    than fixing a comparable set (Kojima et al. §5; the controls are ours).

    identified (L sets, L languages, samples) bool: identified[s, l] marks the generations identified as language
    l with language s's set fixed at its medians on s's texts (the diagonal: each language's own set); matched,
    baseline (L, samples) bool: identified as l with l's random same-size set moved as far as l's set moves its
    neurons (in each neuron's spread), and with no fix. Paired: the same sampling noise in every condition.
    ``target`` names this instance's language among ``languages``.

    Two controls, each compared with the language's own set by the gain t - c as a share of the headroom 1 - c it
    leaves (t, c: the target language's share with its set and with the control): the random set moved as far (the
    alternative that any set pushed as far out of its usual range does the same) and another language's set, the
    one that makes the model write the target language most often (the alternative that fixing any language's
    neurons does). Significance: McNemar's test per language and control, Holm-adjusted over the languages for each
    control. Supported when both gains are at least ``min_gain`` and both adjusted p under ``alpha``; refuted when
    either gain's interval stays below ``min_gain``; inconclusive when more than ``max_share`` of the neurons were
    fixed, the identifier recognises fewer than ``min_recall`` of the language's held-out texts, the model already
    writes the language in at least ``ceiling`` of its generations without a fix (no room to show the rise), or
    there is no other language. Effect: the smaller gain (the stronger control).
    """
    params = {"ceiling": ceiling, "min_gain": min_gain, "alpha": alpha, "max_share": max_share,
              "min_recall": min_recall, "seed": seed,
              "controls": "a random same-size set moved as far (in each neuron's spread) as the language's set; "
                          "the other language's set that makes the model write the language most often",
              "multiple comparisons": "Holm over the languages of the measurement, per control"}
    identified, matched, baseline = (np.asarray(x, dtype=bool) for x in (identified, matched, baseline))
    n_langs = len(languages)
    if identified.shape[:2] != (n_langs, n_langs) or not identified.shape[1:] == matched.shape == baseline.shape:
        raise ValueError(f"identified must be (sets, languages, samples) and matched and baseline (languages, "
                         f"samples) for {n_langs} languages, got {identified.shape}, {matched.shape}, "
                         f"{baseline.shape}")
    if target not in languages:
        raise ValueError(f"target {target!r} is not one of the languages {list(languages)}")
    if n_langs < 2:
        return inconclusive("one language: no other language's set to compare with", EFFECT_TAMPERING,
                            params=params)
    lang = list(languages).index(target)
    own = identified[np.arange(n_langs), np.arange(n_langs)]  # (L, samples)
    other = strongest_other(identified)  # (L,)
    controls = {"random set moved as far": matched, "another language's set": identified[other, np.arange(n_langs)]}
    t, b = own[lang], baseline[lang]
    measured: dict[str, float | None] = {"target language, its neurons fixed %": 100 * float(t.mean())}
    gains, cis, adjusted = {}, {}, {}
    for name, control in controls.items():
        raw = np.array([mcnemar(c, x) for x, c in zip(own, control, strict=True)])  # (L,)
        adjusted[name] = float(holm(raw)[lang])
        gains[name] = float(headroom_gain(t, control[lang]))
        cis[name] = bootstrap_ci(headroom_gain, t, control[lang], seed=seed)
        measured |= {f"target language, {name} %": 100 * float(control[lang].mean()),
                     f"gain over {name} %": 100 * gains[name], f"gain over {name}: low %": 100 * cis[name][0],
                     f"gain over {name}: high %": 100 * cis[name][1], f"McNemar p against {name}": float(raw[lang]),
                     f"McNemar p against {name}, Holm-adjusted": adjusted[name]}
    measured |= {"target language, no fix %": 100 * float(b.mean()), "languages in the Holm family": n_langs,
                 "neurons fixed %": 100 * fixed_share, "identifier held-out recall %": 100 * identifier_recall,
                 "samples": len(t)}
    stronger = min(controls, key=lambda name: (gains[name], cis[name][0]))  # ties: the lower interval
    gain, ci = gains[stronger], cis[stronger]
    labels = {"random set moved as far": "a random set moved as far",
              "another language's set": f"{languages[other[lang]]}'s set"}
    versus = "; ".join(
        f"{labels[name]} {measured[f'target language, {name} %']:.0f}%: gain {100 * gains[name]:.0f}% of its "
        f"headroom [{100 * cis[name][0]:.0f}, {100 * cis[name][1]:.0f}], Holm-adjusted McNemar p={adjusted[name]:.2g}"
        for name in controls)
    reason = (f"target language in {100 * t.mean():.0f}% of generations with {100 * fixed_share:.2f}% of neurons "
              f"fixed, {100 * b.mean():.0f}% without; {versus} (each needs {100 * min_gain:g}% and p < {alpha:g}; "
              f"Holm over {n_langs} languages)")

    def decline(why: str) -> Verdict:
        return inconclusive(f"{why}; {reason}", EFFECT_TAMPERING, gain, ci, measured, params)

    if fixed_share > max_share:
        return decline(f"{100 * fixed_share:.2f}% of neurons fixed, the finding is about under {100 * max_share:g}%")
    if not identifier_recall >= min_recall:
        return decline(f"the identifier recognises {100 * identifier_recall:.0f}% of held-out texts of the language "
                       f"(< {100 * min_recall:g}%)")
    if b.mean() >= ceiling:
        return decline(f"the model already writes the language in {100 * b.mean():.0f}% of generations with no fix "
                       f"(ceiling {100 * ceiling:g}%): no room to show the rise")
    verdict = decide(all(g >= min_gain for g in gains.values()), all(p < alpha for p in adjusted.values()),
                     any(high < min_gain for _, high in cis.values()))
    return Verdict(verdict, reason, EFFECT_TAMPERING, gain, ci, measured, params)
