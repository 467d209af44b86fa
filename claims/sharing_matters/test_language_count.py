"""App. A.3.4, Fig. 19: with more languages the partial-shared share rises and the all-shared share falls slightly.

Neurons are classified over random subsets of k of the task's languages (k = 3, 5, 7, 9; several draws each,
averaged), from the same captured activations; the paper does not say which languages made up each count, and
nested sets (the first k) would make partial-shared rise by construction. The template control reads the same
counts at the last token of the translated content.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import ALL, PARTIAL, TYPES
from harness.papers.sharing_matters.rules import language_count_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions
from harness.papers.sharing_matters.views import TYPE_LABELS

CLAIM = Claim(
    id="language-count",
    title="More languages: more partial-shared neurons, all-shared only slightly fewer",
    paper_ref="App. A.3.4, Fig. 19",
    paper_text="XNLI with 3, 5, 7, 9 languages: the rise in the number of languages goes with an observable increase "
               "of partial-shared neurons and a slight decrease of all-shared neurons",
    tasks=("xnli",), per_language=False,
    planted=(Planted("planted-sparse", "supported", controls=((CONTENT_END, "supported"),)),
             Planted("planted-specific", "refuted")),
    paper_numbers=lambda *_: {})


def verdict_for(m: Measurement, seed: int = 0) -> Verdict:
    per_example = m.count_shares.mean(dim=-1).numpy()  # (examples, counts, T)
    return language_count_rule(per_example[:, :, ALL], per_example[:, :, PARTIAL], m.language_counts, seed=seed)


def test_language_count(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: verdict_for(x, seed), m, claim=CLAIM.id, instance=case.id)
    verdict.params["language subsets"] = "; ".join(f"{k}: " + " | ".join(",".join(s) for s in drawn)
                                                   for k, drawn in zip(m.language_counts, m.language_subsets,
                                                                       strict=True))
    mean = m.count_shares.mean(dim=(0, -1)).numpy()  # (counts, T)
    verdict.plots.append({"id": f"language-count-{m.model['model']}-{m.task}", "kind": "bars",
                          "title": f"Neuron types by number of languages: {m.model['model']} {m.task}",
                          "x_label": "languages (k, random subsets)", "y_label": "share of neurons (mean over layers)",
                          "x": [str(k) for k in m.language_counts],
                          "series": {TYPE_LABELS[t]: mean[:, i].tolist() for i, t in enumerate(TYPES)},
                          "paper_note": "Fig. 19: partial-shared up, all-shared slightly down as languages are added"})
    judge(verdict)
