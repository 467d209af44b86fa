"""Kojima et al., "On the Multilingual Ability of Decoder-based Pre-trained Language Models: Finding and Controlling
Language-Specific Neurons" (NAACL 2024, arXiv 2404.02431): what its claims share.

They read the paper's kind of measurement (``language_neurons``, see harness.papers.kojima.language_neurons),
taken on the task's parallel texts: XNLI premise and hypothesis, or fact-probing patterns, in each language.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.core.claim import ClaimCase
from harness.papers.kojima.language_neurons import LanguageNeurons

PAPER = "Kojima et al. 2024 (NAACL, arXiv 2404.02431)"
PAPER_N = 1000  # top-N and bottom-N neurons per language in the paper (7B models)


def language_neurons(claims, case: ClaimCase) -> LanguageNeurons:
    """The case's language-neuron measurement (computed once per model and task, then shared by the claims)."""
    return claims.measurement(case, kind="language_neurons")


def tampering_outcomes(m: LanguageNeurons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the tampering rule reads: identified (L sets, L languages, samples) bool, generation s identified as
    language l with each language's own set fixed; and, (languages, samples) bool for every language l, identified as
    l with l's random same-size set moved as far, and with no fix."""
    languages = torch.arange(len(m.languages))[:, None]  # (languages, 1)
    return ((m.tampering["tampered"][:, None] == languages).numpy(), (m.tampering["matched"] == languages).numpy(),
            (m.tampering["baseline"][None] == languages).numpy())
