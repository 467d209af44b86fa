"""Kojima et al. §4: different languages' language-specific neurons hardly overlap (under 5%), for every pair: two
related languages sharing part of their neurons refute it even when all the other pairs share none."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.kojima.claim_helpers import PAPER, language_neurons
from harness.papers.kojima.rules import overlap_rule
from harness.papers.kojima.views import layer_distribution_plot, overlap_table

CLAIM = Claim(
    id="lsn-low-overlap",
    title="Language-specific neurons of different languages overlap under 5%",
    paper_ref=f"{PAPER} §4",
    paper_text="language-specific neurons are unique to each language, with a slight overlap (< 5%) between "
               "languages",
    tasks=("xnli", "facts"), per_language=False, conditions=("resamples",),
    planted=(Planted("planted-lang-edges", "supported"), Planted("planted-lang-shared", "refuted"),
             Planted("planted-lang-related", "refuted")),
    paper_numbers=lambda *_: {"largest pairwise overlap %": 5.0})


def test_lsn_low_overlap(case: ClaimCase, claims, judge) -> None:
    m = language_neurons(claims, case)
    verdict = overlap_rule(m.overlap.numpy(), m.boot_overlap.numpy(), m.n_selected, m.n_layers * m.d_ff)
    verdict.tables.append(overlap_table(m))
    verdict.plots.append(layer_distribution_plot(m))
    judge(verdict)
