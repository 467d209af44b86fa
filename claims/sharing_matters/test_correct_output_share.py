"""§1 (Neuron attribution): all-shared neurons carry most of the contribution to the correct output, far beyond
their share of the neurons (German XNLI: under 30% of the neurons, 91.6% of the contribution).

The contribution to the correct output is the push toward the gold answer's reference token: the positive effective
scores E_r . (A_i v_i) (docs/design.md). The alternative is a base rate: non-activated neurons push little whatever
they are, so a type that is most of the active neurons carries most of the push. ``planted-alike`` embodies it; the
rule compares the push per active all-shared neuron with the push per other active neuron.

A second alternative is credit without consequence: always-on neurons whose outputs cancel in pairs write far toward
every answer and change nothing (``planted-cancelling``). The verdict reads the push of each neuron's deviation from
its mean over the task's inputs (the paper's reading of A as it is is recorded beside it), and asks that setting
the all-shared neurons to their means lowers accuracy.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.claim_helpers import unavailable
from harness.papers.sharing_matters.contribution_rules import correct_output_rule
from harness.papers.sharing_matters.measurement import CENTRED, Measurement
from harness.papers.sharing_matters.paper_tables import CORRECT_OUTPUT_SHARE
from harness.papers.sharing_matters.readings import PAPER, centred, with_paper_reading
from harness.papers.sharing_matters.views import push_share_table

CLAIM = Claim(
    id="correct-output-share",
    title="All-shared neurons carry most of the contribution to the correct output",
    paper_ref="§1 (Neuron attribution), §3.2, §6",
    paper_text="XNLI: all-shared neurons comprise less than 30% of the neurons but contribute 91.6% to the "
               "generation of the correct output in the German test set",
    tasks=("xnli",), per_language=True, conditions=("all_shared_mean", CENTRED),
    planted=(Planted("planted-shared", "supported"), Planted("planted-specific", "refuted"),
             Planted("planted-alike", "refuted"),
             Planted("planted-cancelling", "refuted", controls=((PAPER, "supported"),))),
    paper_numbers=lambda _model, task, lang: CORRECT_OUTPUT_SHARE.get((task, lang), {}))


def verdict_for(m: Measurement, language: str, seed: int = 0) -> Verdict:
    """The rule on the centred push with the mean-ablation check (the verdict), the paper's push beside it."""
    effect_name = "push per active all-shared neuron over per other active neuron"
    if missing := unavailable(m, effect_name):
        return missing
    lang = m.languages.index(language)
    check = {}
    if m.seeds("all_shared_mean"):
        check = {"base": m.correct["baseline"][:, lang].numpy(), "without_shared": m.outcome("all_shared_mean")[
            :, lang].numpy(), "chance": float(m.chance[lang]),
                 "floor": float(m.chance[lang]) if m.scoring["kind"] == "choice" else 0.0}
    ours = correct_output_rule(centred(m).type_rows[:, lang].double().numpy(), **check, seed=seed)
    paper = correct_output_rule(m.type_rows[:, lang].double().numpy(), seed=seed)
    return with_paper_reading(ours, paper, claim=CLAIM.id, instance=f"{m.label} {language}")


def test_correct_output_share(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    verdict = verdict_for(m, case.language, claims.option("seed"))
    if m.attribution:
        verdict.params["reference token"] = m.scoring["effective_score_token"]
        verdict.tables.append(push_share_table(m))
    judge(verdict)
