"""§6.2, Tables 1 and 4: all-shared neurons have the widest span of effective scores E_r . (A_i v_i)."""

from __future__ import annotations

from harness.claim import Claim, ClaimCase, Planted
from harness.neurons import TYPES
from harness.rules import effective_span_rule
from harness.views import TYPE_LABELS, contribution_plot

TABLE4_ALL_SHARED = {"en": (1.85, -0.94), "de": (1.03, -0.60), "es": (1.15, -0.84), "fr": (1.06, -0.78),
                     "ru": (0.70, -0.45), "th": (0.50, -0.90), "tr": (0.82, -0.51), "vi": (0.86, -0.68),
                     "zh": (0.52, -0.42), "pt": (1.14, -0.83)}

CLAIM = Claim(
    id="effective-score-span",
    title="All-shared neurons have the widest span of effective scores",
    paper_ref="§6.2, Tables 1 and 4, Fig. 10",
    paper_text="BLOOMZ KE (EN->ALL): all-shared max/min 1.85/-0.94 in en vs partial-shared 0.22/-0.16, specific "
               "and non-activated within +-0.08; widest in all 10 languages",
    tasks=("editing", "xnli", "facts"), per_language=False,
    planted=(Planted("planted-shared", "supported"), Planted("planted-specific", "refuted")),
    paper_numbers=lambda *_: {"languages where all-shared span is widest": 1.0,
                              "all-shared span (mean over languages)": 1.71})


def test_effective_score_span(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = effective_span_rule(m.effective.numpy())
    verdict.params["reference token"] = "first token of the gold answer"
    rows = [{"label": f"{TYPE_LABELS[t]} {stat}", "source": "ours",
             "values": [float(m.effective[i, k, j]) for i in range(len(m.languages))]}
            for k, t in enumerate(TYPES) for j, stat in ((0, "max"), (1, "min"))]
    rows += [{"label": f"all-shared {stat}", "source": "paper",
              "values": [TABLE4_ALL_SHARED.get(lang, (None, None))[j] for lang in m.languages]}
             for j, stat in ((0, "max"), (1, "min"))]
    verdict.tables.append({"id": f"effective-{m.model['model']}-{m.task}", "columns": list(m.languages),
                           "title": f"Effective scores by type (Table 4 layout): {m.model['model']} {m.task}",
                           "rows": rows})
    verdict.plots.append(contribution_plot(m))
    judge(verdict)
