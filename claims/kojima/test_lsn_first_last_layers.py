"""Kojima et al. §4, Fig. 2: language-specific neurons sit mainly in the first and the last few layers: each end is
tested on its own, so neurons in the first layers only do not make the finding."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.kojima.claim_helpers import PAPER, PAPER_N, language_neurons
from harness.papers.kojima.rules import layer_concentration_rule
from harness.papers.kojima.views import layer_distribution_plot

CLAIM = Claim(
    id="lsn-first-last-layers",
    title="Language-specific neurons sit in the first and last layers",
    paper_ref=f"{PAPER} §4, Fig. 2",
    paper_text="the top-1000 and bottom-1000 neurons by average precision for each language are mainly distributed "
               "in the first and last few layers; the trend is consistent across languages and models (XGLM, BLOOM, "
               "Llama-2)",
    tasks=("xnli", "facts"), per_language=False, conditions=("resamples",),
    planted=(Planted("planted-lang-edges", "supported"), Planted("planted-lang-middle", "refuted"),
             Planted("planted-lang-first", "refuted")),
    paper_numbers=lambda *_: {"N per side": PAPER_N})


def test_lsn_first_last_layers(case: ClaimCase, claims, judge) -> None:
    m = language_neurons(claims, case)
    verdict = layer_concentration_rule(m.layer_counts.numpy(), m.boot_layer_counts.numpy())
    verdict.measured["N per side"] = m.n_selected
    verdict.plots.append(layer_distribution_plot(m))
    judge(verdict)
