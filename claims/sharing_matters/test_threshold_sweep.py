"""App. A.3.7, Fig. 22: raising the activation threshold above 0 leaves more active neurons in the upper layers
than in the lower ones: the upper layers' activations are larger.

Types at every threshold of the sweep come from the same captured activations (MeasureConfig.sweep_thresholds);
"active" is active in at least one language (any type but non-activated).
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.neurons import NON
from harness.papers.sharing_matters.rules import threshold_sweep_rule

CLAIM = Claim(
    id="threshold-sweep",
    title="Above a raised threshold the upper layers keep more active neurons than the lower layers",
    paper_ref="App. A.3.7, Fig. 22",
    paper_text="XNLI, thresholds 0-0.5: with a threshold > 0 fewer neurons stay active in the lower layers (0-10); "
               "under the same threshold more activated neurons appear in the second half of the model (15-30)",
    tasks=("xnli",), per_language=False,
    planted=(Planted("planted-specific", "supported"), Planted("planted-shared", "refuted")),
    paper_numbers=lambda *_: {})


def test_threshold_sweep(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    thresholds = list(m.config["sweep_thresholds"])
    at = [m.thresholds.index(t) for t in thresholds]
    active = 1 - m.threshold_shares[:, at, NON]  # (examples, thresholds, layers)
    verdict = threshold_sweep_rule(active.numpy(), thresholds, seed=claims.option("seed"))
    verdict.params["thresholds"] = ",".join(map(str, thresholds))
    verdict.plots.append({"id": f"threshold-sweep-{m.model['model']}-{m.task}", "kind": "lines", "x_label": "layer",
                          "title": f"Neurons active in any language, by threshold: {m.model['model']} {m.task}",
                          "y_label": "share of neurons", "x": list(range(active.shape[-1])),
                          "series": {f"A > {t}": active[:, i].mean(dim=0).tolist() for i, t in enumerate(thresholds)},
                          "paper_note": "Fig. 22: raised thresholds empty the lower layers first"})
    judge(verdict)
