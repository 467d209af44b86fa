"""§5.1.1, Fig. 4: in fact probing, partial-shared neurons outnumber the other activated types in the upper layers
(the paper: they "tend to outnumber all other neurons moving towards upper layers", and fact probing has more of
them than XNLI and KE).

Read in the upper band of layers, not over the whole network: a model can have more partial-shared neurons than
all-shared ones over the whole network and still have all-shared ones lead its upper layers (``planted-top-shared``,
the negative: a whole-network reading would support it). The fact prompts end with their own translated content,
so the template control reads the same token; it is reported all the same.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.papers.sharing_matters.shares_rules import upper_partial_dominance_rule
from harness.papers.sharing_matters.template_control import at_both_positions
from harness.papers.sharing_matters.views import type_shares_plot

CLAIM = Claim(
    id="upper-partial-shared",
    title="Partial-shared neurons dominate the upper layers in fact probing",
    paper_ref="§5.1.1, Fig. 4",
    paper_text="partial-shared neurons accumulate in the lower layer and tend to outnumber all other neurons moving "
               "towards upper layers; in the fact probing task there are more partial-shared neurons",
    tasks=("facts",), per_language=False,
    planted=(Planted("planted-tasks", "supported", task="facts"),
             Planted("planted-top-shared", "refuted", task="facts")),
    paper_numbers=lambda *_: {})


def test_upper_partial_shared(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    seed = claims.option("seed")
    verdict = at_both_positions(lambda x: upper_partial_dominance_rule(x.example_shares.numpy(), seed=seed), m,
                                claim=CLAIM.id, instance=case.id)
    verdict.plots.append(type_shares_plot(m, note="Fig. 4 left: in the upper layers the partial-shared line lies "
                                                  "above the all-shared and specific lines"))
    judge(verdict)
