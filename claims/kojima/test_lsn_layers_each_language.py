"""Kojima et al. §4, Fig. 2: the first-and-last-layer pattern "remains consistent across languages": each language's
own top-N and bottom-N neurons are enriched in both the first and the last layers, in all languages but at most one
(``max_exceptions``). The averaged claim (lsn-first-last-layers) can show the pattern when only some languages carry
it; this one cannot."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.kojima.claim_helpers import PAPER, PAPER_N, language_neurons
from harness.papers.kojima.rules import layers_each_language_rule
from harness.papers.kojima.views import band_enrichment_plot, layer_distribution_plot

CLAIM = Claim(
    id="lsn-first-last-layers-each-language",
    title="Each language's specific neurons sit in the first and last layers",
    paper_ref=f"{PAPER} §4, Fig. 2",
    paper_text="language-specific neurons are mainly distributed in the models' first and last few layers; this "
               "trend remains consistent across languages and models",
    tasks=("xnli", "facts"), per_language=False, conditions=("resamples",),
    planted=(Planted("planted-lang-edges", "supported"), Planted("planted-lang-middle", "refuted"),
             Planted("planted-lang-mixed", "refuted")),
    paper_numbers=lambda *_: {"N per side": PAPER_N, "languages (paper)": 6})


def test_lsn_first_last_layers_each_language(case: ClaimCase, claims, judge) -> None:
    m = language_neurons(claims, case)
    verdict = layers_each_language_rule(m.layer_counts.numpy(), m.boot_layer_counts.numpy(), m.languages)
    verdict.measured["N per side"] = m.n_selected
    verdict.plots += [band_enrichment_plot(m), layer_distribution_plot(m)]
    judge(verdict)
