"""App. A.3.6, Fig. 21: 0, 2, 4 and 6 in-context demonstrations leave the share of each neuron type per layer
unchanged (cross-lingual KE, EN (edit) -> ALL (test)).

The alternative is neurons keyed to the demonstrations rather than to the task: ``planted-demos-keyed``'s keyed
neurons fire only on prompts with demonstrations in its upper layers and only on prompts without in its lower ones,
so each layer's all-shared share moves by 20 points while its mean over layers stays put (a comparison of means
over layers is fooled: tests/test_shots.py). ``planted-demos-steady`` is the same model with the neurons keyed to
every editing prompt. Each shot count is a measurement of its own (the store keys on it); the template control
reads the shares at the end of the translated question of the last block, after the demonstrations.
"""

from __future__ import annotations

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.planted import DEMO_LANGUAGES
from harness.papers.sharing_matters.shares_rules import shots_invariance_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_content_end, with_content_control
from harness.papers.sharing_matters.views import shares_by_shots_plot

SHOTS = (0, 2, 4, 6)  # the paper's demonstration counts
CLAIM = Claim(
    id="types-unchanged-by-demonstrations",
    title="In-context demonstrations leave the neuron types unchanged",
    paper_ref="App. A.3.6, Fig. 21",
    paper_text="We compare the results of an LLM with 0-shot, 2-shot, 4-shot, 6-shot examples in a cross-lingual KE "
               "(EN (edit) -> ALL (test)) task. Four types of neurons in scope have almost identical behaviors "
               "across various few-shot examples",
    tasks=("editing",), per_language=False, shots=SHOTS, tiny_languages=DEMO_LANGUAGES,
    planted=(Planted("planted-demos-steady", "supported", controls=((CONTENT_END, "supported"),), task="editing"),
             Planted("planted-demos-keyed", "refuted", controls=((CONTENT_END, "refuted"),), task="editing")))


def verdict_for(by_shots: dict[int, Measurement], seed: int = 0) -> tuple[Verdict, Verdict]:
    """The rule at the last prompt token and at the content end, on the measurements at each shot count."""
    reference = by_shots[min(by_shots)]
    if any(m.example_ids != reference.example_ids for m in by_shots.values()):
        raise ValueError("the measurements at different shot counts were taken on different examples")
    at_last = shots_invariance_rule({k: m.example_shares.numpy() for k, m in by_shots.items()}, seed=seed)
    at_content = shots_invariance_rule({k: at_content_end(m).example_shares.numpy() for k, m in by_shots.items()},
                                       seed=seed)
    return at_last, at_content


def test_types_unchanged_by_demonstrations(case: ClaimCase, claims, judge) -> None:
    languages = list(CLAIM.tiny_languages or ()) if case.tier == "tiny" else None
    by_shots = {shots: claims.measurement(case, languages=languages, shots=shots) for shots in SHOTS}
    verdict = with_content_control(*verdict_for(by_shots, claims.option("seed")), claim=CLAIM.id, instance=case.id)
    verdict.plots.append(shares_by_shots_plot(by_shots, note="Fig. 21: the four types' curves lie on top of each "
                                                             "other at 0, 2, 4 and 6 demonstrations"))
    judge(verdict)
