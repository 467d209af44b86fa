"""§5.1.2, Figs 2-4 (right): the number of activated neurons per layer is not influenced by the input language.

Read scale-free: a layer's spread across languages relative to its mean, so a model that is only sparser is no more
consistent (``planted-skewed-sparse``: 3.9 points apart, the Chinese prompts' share 4x the others' in one layer, which
an absolute spread passes). Layers under 1% active are not read, and count against support.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.rules import language_consistency_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions
from harness.papers.sharing_matters.views import activated_plot

CLAIM = Claim(
    id="language-consistent-activation",
    title="Activated neuron counts per layer are the same across languages",
    paper_ref="§5.1.2, Figs 2-4 right",
    paper_text="the percentage of activated neurons for each language exhibits a consistent pattern across layers; "
               "the number of activated neurons is not influenced by the language of the inputs",
    tasks=("xnli", "facts", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-quiet-layer", "supported", controls=((CONTENT_END, "supported"),)),
             Planted("planted-skewed", "refuted"),
             Planted("planted-tail", "inconclusive", controls=((CONTENT_END, "refuted"),)),
             Planted("planted-skewed-sparse", "refuted")),
    paper_numbers=lambda *_: {})


def test_language_consistent_activation(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: language_consistency_rule(x.example_activated.numpy(), seed=seed), m,
                                claim=CLAIM.id, instance=case.id)
    verdict.plots.append(activated_plot(m))
    judge(verdict)
