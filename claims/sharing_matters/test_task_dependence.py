"""§5.1.1, Figs 2-4: neuron behaviour depends on the task: XNLI and KE have far more all-shared neurons than fact
probing, and fact probing more partial-shared ones.

Both tasks are classified over the languages they share (a type over 10 languages is not comparable with one over
9: all-shared is harder to reach with more languages, partial-shared easier), which the paper did not do.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import ALL, PARTIAL
from harness.papers.sharing_matters.rules import task_dependence_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_content_end, with_content_control
from harness.papers.sharing_matters.views import type_shares_plot

CLAIM = Claim(
    id="task-dependence",
    title="XNLI and KE have more all-shared neurons than fact probing, which has more partial-shared",
    paper_ref="§5.1.1, Figs 2-4",
    paper_text="the neuron behaviour is strongly task-related: fact probing has more partial-shared neurons, XNLI and "
               "KE involve far more all-shared neurons",
    tasks=("xnli", "editing", "editing-all-en"), versus="facts", per_language=False,
    planted=(Planted("planted-tasks", "supported", controls=((CONTENT_END, "supported"),)),
             Planted("planted-tasks-swapped", "refuted"),
             Planted("planted-tasks-tail", "inconclusive", controls=((CONTENT_END, "refuted"),))),
    paper_numbers=lambda *_: {})


def test_task_dependence(case: ClaimCase, claims, judge) -> None:
    languages = claims.common_languages(case, CLAIM.versus)
    task = claims.measurement(case, languages=languages)
    facts = claims.measurement(case, task=CLAIM.versus, languages=languages)
    verdict = with_content_control(_verdict(task, facts, claims.option("seed")),
                                   _verdict(at_content_end(task), at_content_end(facts), claims.option("seed")),
                                   claim=CLAIM.id, instance=case.id)
    verdict.params["languages compared"] = ",".join(languages)
    verdict.plots.append(type_shares_plot(task, versus=facts, versus_label=CLAIM.versus,
                                          note=f"Figs 2-4 left: {case.task} (solid) against fact probing (dashed)"))
    judge(verdict)


def _verdict(task: Measurement, facts: Measurement, seed: int) -> Verdict:
    per_example = {t: (task.example_shares[:, t].mean(dim=-1).numpy(), facts.example_shares[:, t].mean(dim=-1).numpy())
                   for t in (ALL, PARTIAL)}
    return task_dependence_rule(per_example[ALL], per_example[PARTIAL], seed=seed)
