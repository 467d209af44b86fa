"""Kojima et al., "On the Multilingual Ability of Decoder-based Pre-trained Language Models: Finding and Controlling
Language-Specific Neurons" (NAACL 2024, arXiv 2404.02431): what its three claims share.

They read the store's second kind of measurement (``language_neurons``, see harness.language_neurons), taken on the
task's parallel texts: XNLI premise and hypothesis, or fact-probing patterns, in each language.
"""

from __future__ import annotations

from harness.claim import ClaimCase
from harness.language_neurons import LanguageNeurons

PAPER = "Kojima et al. 2024 (NAACL, arXiv 2404.02431)"
PAPER_N = 1000  # top-N and bottom-N neurons per language in the paper (7B models)


def language_neurons(claims, case: ClaimCase) -> LanguageNeurons:
    """The case's language-neuron measurement (computed once per model and task, then shared by the claims)."""
    return claims.store(case.tier).get(case.model, case.task, kind="language_neurons")
