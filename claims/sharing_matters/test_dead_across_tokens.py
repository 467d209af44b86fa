"""§5.1.4, Fig. 6: under 0.8% of neurons stay inactive at every token of an input ("dead" neurons are rare)."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.rules import dead_across_tokens_rule

CLAIM = Claim(
    id="dead-across-tokens",
    title="Almost no neuron is inactive at every token of an input",
    paper_ref="§5.1.4, Fig. 6",
    paper_text="fact probing: less than 0.8% of neurons remain non-activated at every token of an input",
    tasks=("facts", "xnli", "editing", "editing-all-en"), per_language=False,
    planted=(Planted("planted-lively", "supported"), Planted("planted-shared", "refuted")),
    paper_numbers=lambda *_: {"dead across tokens % (mean over layers)": 0.8})


def test_dead_across_tokens(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = dead_across_tokens_rule(m.dead_across_tokens.numpy(), len(m.example_ids))
    verdict.plots.append({"id": f"dead-{m.model['model']}-{m.task}", "kind": "lines", "x_label": "layer",
                          "title": f"Neurons inactive at every token: {m.model['model']} {m.task}",
                          "y_label": "share of neurons", "x": list(range(len(m.dead_across_tokens))),
                          "series": {"dead across tokens": m.dead_across_tokens.tolist()},
                          "paper_note": "Fig. 6: under 0.8% in every layer"})
    judge(verdict)
