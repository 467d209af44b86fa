"""Kojima et al. §4: neurons that fire uniquely for each language exist: each language's top-N neurons by AP are far
more specific than what the same selection finds among as many neurons with the language labels shuffled within
each example (the translations of an example exchange their languages). With many neurons and few texts the best
APs are high by chance alone (a fixed bar such as "AP > 0.9" passes a model without any language-keyed neuron);
the shuffled-label null is what chance gives on this model and these texts."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.kojima.claim_helpers import PAPER, PAPER_N, language_neurons
from harness.papers.kojima.rules import beats_shuffled_labels_rule
from harness.papers.kojima.views import shuffled_null_plot, shuffled_null_table

CLAIM = Claim(
    id="lsn-beat-shuffled-labels",
    title="Each language's top-N neurons are far more specific than chance",
    paper_ref=f"{PAPER} §4",
    paper_text="language-specific neurons exist: neurons that fire uniquely for each language (the top-1000 "
               "neurons by average precision of each of six languages)",
    tasks=("xnli", "facts"), per_language=False, conditions=("permutations",),
    planted=(Planted("planted-lang-edges", "supported"), Planted("planted-lang-chance", "refuted")),
    paper_numbers=lambda *_: {"N per side": PAPER_N})


def test_lsn_beat_shuffled_labels(case: ClaimCase, claims, judge) -> None:
    m = language_neurons(claims, case)
    verdict = beats_shuffled_labels_rule(m.observed_top_ap.numpy(), m.null_top_ap.numpy(), m.languages)
    verdict.measured |= {"N per side": m.n_selected, "texts per language": len(m.example_ids)}
    verdict.plots.append(shuffled_null_plot(m))
    verdict.tables.append(shuffled_null_table(m))
    judge(verdict)
