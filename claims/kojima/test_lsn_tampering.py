"""Kojima et al. §5: fixing a language's own neurons (under 1% of all) at their median response on its texts makes
unconditional generation produce that language far more often. Our controls: a random same-size set moved as far (in
each neuron's spread) as the language's set moves its neurons, and another language's set (the one that makes the
model write the language most often). A language the model already writes (>= 80% without a fix) leaves no room for
the rise: inconclusive, never refuted."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.kojima.claim_helpers import PAPER, language_neurons, tampering_outcomes
from harness.papers.kojima.rules import tampering_rule
from harness.papers.kojima.views import samples_table, tampering_plot

CLAIM = Claim(
    id="lsn-tampering-steers-language",
    title="Tampering with under 1% of neurons changes the output language",
    paper_ref=f"{PAPER} §5, unconditional generation",
    paper_text="fixing the top-1000 and bottom-1000 neurons of a language to their median response on its texts "
               "(under 1% of the neurons) drastically raises the probability of that language in generated text",
    tasks=("xnli",), per_language=True, conditions=("tampering",),
    planted=(Planted("planted-lang-steer", "supported"), Planted("planted-lang-mute", "refuted"),
             Planted("planted-lang-ceiling", "supported", by_language=(("en", "inconclusive"),)),
             Planted("planted-lang-collapse", "refuted")),
    paper_numbers=lambda *_: {"neurons fixed %": 1.0})


def test_lsn_tampering_steers_language(case: ClaimCase, claims, judge) -> None:
    m = language_neurons(claims, case)
    recall = float(m.identifier_recall[m.languages.index(case.language)])
    verdict = tampering_rule(*tampering_outcomes(m), m.languages, m.fixed_share, recall, target=case.language,
                             seed=claims.option("seed"))
    verdict.plots.append(tampering_plot(m))
    verdict.tables.append(samples_table(m, case.language))
    judge(verdict)
