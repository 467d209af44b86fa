"""§6.2, Tables 1 and 4: all-shared neurons have the widest span of effective scores E_r . (A_i v_i), compared at
one sample size (a larger set has a wider span by extreme values alone)."""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.attribution_rules import effective_span_rule
from harness.papers.sharing_matters.claim_helpers import unavailable
from harness.papers.sharing_matters.neurons import TYPES
from harness.papers.sharing_matters.paper_tables import TABLE4_ALL_SHARED_KE_EN_ALL
from harness.papers.sharing_matters.views import TYPE_LABELS, contribution_plot

CLAIM = Claim(
    id="effective-score-span",
    title="All-shared neurons have the widest span of effective scores",
    paper_ref="§6.2, Tables 1 and 4 (KE EN->ALL), Fig. 10",
    paper_text="BLOOMZ KE (EN->ALL): all-shared max/min 1.85/-0.94 in en vs partial-shared 0.22/-0.16, specific "
               "and non-activated within +-0.08; widest in all 10 languages",
    tasks=("editing", "editing-all-en", "xnli", "facts"), per_language=False,
    planted=(Planted("planted-shared", "supported"), Planted("planted-specific", "refuted")),
    paper_numbers=lambda _model, task, _lang: {"languages where all-shared span is widest": 1.0}
    if task == "editing" else {})


def test_effective_score_span(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = unavailable(m, "share of languages") or effective_span_rule(m.effective_spans.numpy(),
                                                                           seed=claims.option("seed"))
    if m.attribution:
        verdict.params |= {"reference token": m.scoring["effective_score_token"],
                           "sample per type and row": m.config["span_sample"]}
        paper = TABLE4_ALL_SHARED_KE_EN_ALL if case.task == "editing" else {}
        rows = [{"label": f"{TYPE_LABELS[t]} {stat}", "source": "ours",
                 "values": [float(m.effective[i, k, j]) for i in range(len(m.languages))]}
                for k, t in enumerate(TYPES) for j, stat in ((0, "max"), (1, "min"))]
        rows += [{"label": f"all-shared {stat}", "source": "paper",
                  "values": [paper.get(lang, (None, None))[j] for lang in m.languages]}
                 for j, stat in ((0, "max"), (1, "min"))]
        verdict.tables.append({"id": f"effective-{m.model['model']}-{m.task}", "columns": list(m.languages),
                               "title": f"Effective scores by type, over every neuron (Table 4 layout): "
                                        f"{m.model['model']} {m.task}", "rows": rows})
        verdict.plots.append(contribution_plot(m))
    judge(verdict)
