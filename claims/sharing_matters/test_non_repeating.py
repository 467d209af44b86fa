"""§5.1.3-5.1.4, Fig. 5: a neuron's type is not kept across examples; under 10% of non-activated neurons stay so."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.neurons import TYPES, independent_overlap
from harness.papers.sharing_matters.rules import non_repeating_rule
from harness.papers.sharing_matters.views import TYPE_LABELS

LATER_EXAMPLES = 1000  # the paper's notebooks take the first 1000 items of a test set

CLAIM = Claim(
    id="non-repeating-across-examples",
    title="Neurons do not keep their type across examples",
    paper_ref="§5.1.3-5.1.4, Fig. 5",
    paper_text="fact probing, whole test set: almost no neuron (by index) repeats its behaviour (e.g. specific) across "
               "examples; less than 10% of non-activated neurons remain non-activated in every example",
    tasks=("facts",), per_language=False,
    planted=(Planted("planted-varied", "supported"), Planted("planted-shared", "refuted")),
    paper_numbers=lambda *_: {"non-activated neurons that stay so in every example %": 10.0})


def test_non_repeating_across_examples(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    rates = m.active_rates.double()  # (langs, layers, d_ff)
    n = len(m.example_ids)
    verdict = non_repeating_rule(m.overlap.numpy(), m.shares.numpy(), independent_overlap(rates, n).numpy(),
                                 independent_overlap(rates, LATER_EXAMPLES).numpy(), n, later_examples=LATER_EXAMPLES)
    series = {name: values[i].tolist() for i, t in enumerate(TYPES)  # each type's overlap, its average dashed
              for name, values in ((TYPE_LABELS[t], m.overlap), (f"{TYPE_LABELS[t]} average", m.shares))}
    verdict.plots.append({"id": f"overlap-{m.model['model']}-{m.task}", "kind": "lines", "x_label": "layer",
                          "title": f"Neurons keeping their type in every example: {m.model['model']} {m.task}",
                          "y_label": "share of neurons", "x": list(range(m.overlap.shape[1])), "series": series,
                          "versus_suffix": " average",
                          "paper_note": "Fig. 5: overlap near 0 for every type; under 10% of non-activated stay so"})
    judge(verdict)
