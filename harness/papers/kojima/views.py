"""Kojima et al.'s plot and table specs for the report, built from language-neuron measurements (the report draws
whatever specs it gets)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.papers.kojima.claim_helpers import tampering_outcomes
from harness.papers.kojima.language_neurons import LanguageNeurons
from harness.papers.kojima.rules import edge_bands, strongest_other


def layer_distribution_plot(m: LanguageNeurons) -> dict[str, Any]:
    """Kojima et al. Fig. 2: where each language's top-N and bottom-N neurons are, per layer."""
    shares = m.layer_counts.sum(dim=1).double()  # (L, layers)
    shares = shares / shares.sum(dim=1, keepdim=True)
    series = {lang: shares[i].tolist() for i, lang in enumerate(m.languages)}
    series["random same-size set (control)"] = [1 / m.n_layers] * m.n_layers
    return {"id": f"lsn-layers-{m.label}", "kind": "lines", "x_label": "layer", "y_label": "share of the top/bottom-N",
            "title": f"Language-specific neurons per layer: {m.label}", "x": list(range(m.n_layers)), "series": series,
            "paper_note": "Kojima et al. Fig. 2: top and bottom neurons sit mostly in the first and last few layers"}


def overlap_table(m: LanguageNeurons) -> dict[str, Any]:
    """Share of N two languages' top-N (and bottom-N) sets share, the larger of the two, in %."""
    shared = 100 * m.overlap.max(dim=0).values.double() / m.n_selected  # (L, L)
    rows = [{"label": lang, "source": "ours",
             "values": [None if i == j else float(shared[i, j]) for j in range(len(m.languages))]}
            for i, lang in enumerate(m.languages)]
    return {"id": f"lsn-overlap-{m.label}", "columns": list(m.languages), "rows": rows,
            "title": f"Language-specific neurons two languages share, % of N = {m.n_selected} (paper: < 5%): "
                     f"{m.label}"}


def tampering_plot(m: LanguageNeurons) -> dict[str, Any]:
    """How often generated text is in each language: no fix, its neurons fixed, and a same-size set fixed instead:
    a random one at its own medians, a random one moved as far (in each neuron's spread), and the other language's
    set that makes the model write the language most often (the last two are the rule's controls)."""
    identified, matched, baseline = tampering_outcomes(m)
    languages = np.arange(len(m.languages))
    own = identified[languages, languages]  # (L, samples)
    rates = {"no fix": baseline, "its neurons fixed": own,
             "random set at its own medians": (m.tampering["random"] == torch.arange(len(languages))[:, None]).numpy(),
             "random set moved as far (control)": matched,
             "another language's set (control)": identified[strongest_other(identified), languages]}
    moved = m.moved_spreads.abs().mean(dim=1)  # (L,)
    return {"id": f"lsn-tampering-{m.label}", "kind": "bars", "x_label": "target language",
            "y_label": "share of generations in it", "x": list(m.languages),
            "series": {name: values.mean(axis=1).tolist() for name, values in rates.items()},
            "title": f"Generated text in the target language: {m.label} (a language's set moves its neurons "
                     f"{float(moved.min()):.1f}-{float(moved.max()):.1f} spreads on average)",
            "paper_note": "Kojima et al. §5: tampering with under 1% of neurons drastically changes the probability "
                          "of the target language"}


def samples_table(m: LanguageNeurons, language: str) -> dict[str, Any]:
    """The first generations of each condition for one target language (text from the model: escaped)."""
    conditions = {"no fix": "baseline", "its neurons fixed": f"tampered {language}",
                  "random set at its own medians": f"random {language}",
                  "random set moved as far": f"matched {language}"}
    other = m.languages[strongest_other(tampering_outcomes(m)[0])[m.languages.index(language)]]
    conditions[f"another language's set ({other}: writes {language} most often)"] = f"tampered {other}"
    width = max(len(m.samples[key]) for key in conditions.values())
    return {"id": f"lsn-samples-{m.label}-{language}", "columns": [f"sample {i + 1}" for i in range(width)],
            "title": f"Generations, target language {language}: {m.label}",
            "rows": [{"label": label, "source": "ours", "values": m.samples[key]} for label, key in conditions.items()]}


def band_enrichment_plot(m: LanguageNeurons, edge_share: float = 0.1, min_enrichment: float = 2.0) -> dict[str, Any]:
    """Kojima et al. Fig. 2, language by language: each language's share of its top-N and bottom-N neurons in the
    first and in the last layers, over the band's share of the layers (a random same-size set: 1)."""
    first, last = edge_bands(m.n_layers, edge_share)
    counts = m.layer_counts.sum(dim=1).double()  # (L, layers)
    total = counts.sum(dim=1)
    series = {f"{name} layers ({','.join(map(str, band))})": (counts[:, band].sum(dim=1) / total
                                                              / (len(band) / m.n_layers)).tolist()
              for name, band in (("first", first), ("last", last))}
    series[f"needed ({min_enrichment:g})"] = [min_enrichment] * len(m.languages)
    series["random same-size set (control)"] = [1.0] * len(m.languages)
    return {"id": f"lsn-band-enrichment-{m.label}", "kind": "bars", "x_label": "language",
            "y_label": "enrichment (share in the band / band's share of layers)", "x": list(m.languages),
            "series": series, "title": f"First- and last-layer enrichment of each language: {m.label}",
            "paper_note": "Kojima et al. Fig. 2: the trend is consistent across languages (6 languages, 3 models)"}


def shuffled_null_plot(m: LanguageNeurons, quantile: float = 0.99) -> dict[str, Any]:
    """Each language's top-N mean AP beside what the same selection finds with the language labels shuffled within
    each example (the null's median and high quantile)."""
    null = m.null_top_ap.double()  # (P, L)
    series = {f"observed (top-{m.n_selected} mean AP)": m.observed_top_ap.tolist(),
              "shuffled labels: median": null.quantile(0.5, dim=0).tolist(),
              f"shuffled labels: {100 * quantile:g}% quantile": null.quantile(quantile, dim=0).tolist(),
              "one neuron by chance (class share)": [1 / len(m.languages)] * len(m.languages)}
    return {"id": f"lsn-null-{m.label}", "kind": "bars", "x_label": "language", "y_label": "mean AP of the top-N",
            "x": list(m.languages), "series": series,
            "title": f"Language-specific neurons against {len(null)} label shuffles: {m.label}",
            "paper_note": "Kojima et al. §4: neurons that fire uniquely for each language (top-1000 by AP; the "
                          "paper shows no null)"}


def shuffled_null_table(m: LanguageNeurons, quantile: float = 0.99) -> dict[str, Any]:
    """Per language: observed top-N mean AP, the null's median, high quantile and maximum, the permutation p."""
    null = m.null_top_ap.double()  # (P, L)
    observed = m.observed_top_ap.double()
    p = (1 + (null >= observed[None]).sum(dim=0)) / (1 + len(null))
    rows = [("observed top-N mean AP", observed), ("shuffled: median", null.quantile(0.5, dim=0)),
            (f"shuffled: {100 * quantile:g}% quantile", null.quantile(quantile, dim=0)),
            ("shuffled: maximum", null.max(dim=0).values), ("permutation p", p)]
    return {"id": f"lsn-null-table-{m.label}", "columns": list(m.languages),
            "title": f"Top-{m.n_selected} mean AP against {len(null)} label shuffles within examples: {m.label}",
            "rows": [{"label": label, "source": "ours", "values": values.tolist()} for label, values in rows]}
