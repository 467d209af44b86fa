"""Each adversarial planted model embodies the most plausible alternative explanation of a finding: the rules and
controls as they were before (tests/rules_before.py) give the wrong verdict on it, the claim's verdict now is its
planted truth. Measured on the project's XNLI items, like the tiny tier, and scored the same way in both (the
first verbalizer in a greedy continuation), so that only the rules and controls differ."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch

from claims.sharing_matters.test_ablate_all_shared import verdict_for as ablation_verdict
from claims.sharing_matters.test_average_contribution import verdict_for as average_contribution_verdict
from claims.sharing_matters.test_contribution_dominance import verdict_for as contribution_verdict
from claims.sharing_matters.test_convert_improves import verdict_for as conversion_verdict
from claims.sharing_matters.test_correct_output_share import verdict_for as correct_output_verdict
from claims.sharing_matters.test_effective_layers import verdict_for as effective_layers_verdict
from claims.sharing_matters.test_ift_raises_all_shared import verdict_for as ift_verdict
from harness.core.batching import encode, last_logits
from harness.core.capture import Recorder
from harness.core.models import LoadedModel
from harness.core.scoring import first_verbalizer, generate, verbalizer_budget
from harness.core.sites import neuron_site
from harness.papers.sharing_matters.accuracy_rules import ABLATION_LABELS, conversion_rule, type_ablation_rule
from harness.papers.sharing_matters.contribution_rules import (
    average_contribution_rule,
    correct_output_rule,
    effective_layers_rule,
)
from harness.papers.sharing_matters.measurement import CENTRED, MeasureConfig, Measurement, measure
from harness.papers.sharing_matters.neurons import ALL, PARTIAL, SPECIFIC, type_codes
from harness.papers.sharing_matters.planted import PLANTED, build_planted
from harness.papers.sharing_matters.readings import MEAN_ABLATION, PAPER
from harness.papers.sharing_matters.rules import language_consistency_rule
from harness.papers.sharing_matters.template_control import at_content_end
from harness.papers.sharing_matters.type_rows import ablation_conditions, conversion_conditions
from harness.papers.sharing_matters.type_rows import ablation_verdict as type_ablation_verdict
from harness.papers.sharing_matters.type_rows import conversion_verdict as type_conversion_verdict
from harness.tasks import FIXTURE_DATA, load_task, task_spec
from tests import rules_before, rules_before_attribution

pytestmark = pytest.mark.slow
SPEC = task_spec("xnli")


@functools.cache
def _examples() -> tuple:
    return tuple(load_task("xnli", data_dir=FIXTURE_DATA / "xnli"))


@functools.cache
def _planted(name: str) -> LoadedModel:
    torch.set_num_threads(1)
    return build_planted(PLANTED[name], {"xnli": list(_examples())})


DEFAULT = MeasureConfig()


@functools.cache
def _measured(name: str, conditions: tuple[str, ...] = (), config: MeasureConfig = DEFAULT) -> Measurement:
    return measure(_planted(name), list(_examples()), SPEC, config, conditions=conditions)


def _answers(lm: LoadedModel, texts: list[str], recorder: Recorder | None = None,
             **masks: torch.Tensor) -> np.ndarray:
    """Today's scoring (the first verbalizer in a greedy continuation) under optional per-row masks."""
    continuations, _ = generate(lm, texts, verbalizer_budget(lm, SPEC.choices), recorder=recorder, **masks)
    return np.array([first_verbalizer(c, SPEC.choices) for c in continuations], dtype=object)


def _old_outcomes(lm: LoadedModel) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The old masks, scored today's way: each type's whole mask (active in the row or not), a random control drawn
    from every neuron that is not all-shared, conversion of every specific and partial-shared neuron. Returns the
    baseline (examples, langs) and each condition's outcome, correctness as bool."""
    examples = list(_examples())
    n_langs = len(examples[0].prompts)
    texts = [ex.prompts[lang] for ex in examples for lang in ex.prompts]
    golds = np.array([ex.answers[lang] for ex in examples for lang in ex.prompts], dtype=object)
    with Recorder(lm) as recorder:
        base = _answers(lm, texts, recorder) == golds
        acts, _ = recorder.gather()
    codes = type_codes(acts.reshape(len(examples), n_langs, lm.n_layers, lm.d_ff))  # (examples, layers, d_ff)
    generators = [torch.Generator().manual_seed(i) for i in range(len(examples))]
    masks = {"all_shared": codes == ALL, "specific": codes == SPECIFIC, "partial_shared": codes == PARTIAL,
             "random": rules_before.random_control(codes, generators),
             "convert": (codes == SPECIFIC) | (codes == PARTIAL)}
    outcomes = {}
    for condition, mask in masks.items():
        rows = mask.repeat_interleave(n_langs, dim=0)
        edit = {"convert_masks" if condition == "convert" else "deactivate_masks": rows}
        outcomes[condition] = (_answers(lm, texts, **edit) == golds).reshape(len(examples), n_langs)
    return base.reshape(len(examples), n_langs), outcomes


def test_an_answer_spread_over_every_active_neuron_fools_the_old_random_control() -> None:
    """planted-spread: deactivating the all-shared carriers costs no more than deactivating as many other active
    ones. The old control drew mostly inactive neurons and lost nothing."""
    base, old = _old_outcomes(_planted("planted-spread"))
    m = _measured("planted-spread", ("all_shared", "specific", "partial_shared", "random", "matched"))
    for lang, language in enumerate(m.languages):
        before = rules_before.ablation_rule(base[:, lang], {c: old[c][:, lang] for c in rules_before.ABLATION_CONTROLS
                                                            + ("all_shared",)})
        assert before.verdict == "supported", language
        assert ablation_verdict(m, language).verdict == "refuted", language


def test_all_shared_leading_the_top_contributors_by_number_only_fools_the_old_rule() -> None:
    m = _measured("planted-crowded", (CENTRED,))
    assert rules_before.contribution_rule(m.top_contribution.numpy()).verdict == "supported"
    assert contribution_verdict(m).verdict == "refuted"


def test_a_generic_perturbation_that_helps_as_much_fools_the_old_conversion_rule() -> None:
    base, old = _old_outcomes(_planted("planted-perturbed"))
    assert rules_before.conversion_rule(base, old["convert"]).verdict == "supported"
    assert conversion_verdict(_measured("planted-perturbed", ("convert", "convert_random"))).verdict == "refuted"


def test_a_denser_model_with_the_same_sharing_fools_the_old_ift_rule() -> None:
    denser, base = _measured("planted-denser"), _measured("planted-aligned")
    shared = [m.example_shares[:, ALL].mean(dim=-1).numpy() for m in (denser, base)]
    assert rules_before.share_increase_rule(*shared).verdict == "supported"
    assert float(denser.activated.mean()) > float(base.activated.mean())  # only denser
    assert ift_verdict(denser, base).verdict == "refuted"


def _old_ift_verdict(ift: Measurement, base: Measurement) -> str:
    """The instruction-tuning rule before the non-parallel null, as the claim applied it."""
    matched, _ = rules_before.density_matched_shares(ift.thresholds, ift.threshold_density.numpy(),
                                                     ift.threshold_shares[:, :, ALL].numpy(),
                                                     base.activated.mean(dim=0).numpy())
    shares = [{"all_shared": m.example_shares[:, ALL].mean(dim=-1).numpy(),
               "partial_shared": m.example_shares[:, PARTIAL].mean(dim=-1).numpy()} for m in (ift, base)]
    return rules_before.matched_share_increase_rule(*shares, matched_shared=matched).verdict


def test_a_shared_input_shift_fools_the_old_ift_rule() -> None:
    """planted-shifted: planted-shared-base with one direction added to its FFN inputs. It gains all-shared and
    loses partial-shared neurons at the last token and at the content end, also at the base model's density: the
    rule before the non-parallel null (on the density grid it had then, from -0.1) supports it at both positions.
    The rise is as large on tuples of different examples' items as on translations: refuted at both."""
    old_grid = MeasureConfig(density_thresholds=(-0.1, -0.05, *DEFAULT.density_thresholds))
    old = [_measured(name, config=old_grid) for name in ("planted-shifted", "planted-shared-base")]
    new = [_measured(name) for name in ("planted-shifted", "planted-shared-base")]
    for at in (lambda m: m, at_content_end):
        assert _old_ift_verdict(*map(at, old)) == "supported"
        verdict = ift_verdict(*map(at, new))
        assert verdict.verdict == "refuted"
        assert verdict.measured["difference at matched density (points)"] > 1
        assert abs(verdict.measured["difference specific to translations (points)"]) < 0.1


def test_a_shared_template_tail_is_a_shared_input_too() -> None:
    """planted-tail: its extra all-shared neurons fire at every prompt's last token (the template's English tail).
    The rule before the null supported it there (only its template control objected); the non-parallel tuples
    share them as much, so it is refuted at the last token already."""
    tail, base = _measured("planted-tail"), _measured("planted-shared-base")
    assert _old_ift_verdict(tail, base) == "supported"
    verdict = ift_verdict(tail, base)
    assert verdict.verdict == "refuted"
    assert verdict.measured["difference on non-parallel tuples (points)"] > 9


def test_a_near_empty_layer_fools_the_old_relative_spread() -> None:
    """planted-quiet-layer: 2 of 256 neurons of layer 5 fire on Chinese prompts only, nothing else there."""
    m = _measured("planted-quiet-layer")
    before = rules_before.language_consistency_rule(m.activated.numpy(), len(m.example_ids))
    assert before.verdict == "refuted" and before.measured["layer of largest spread"] == 5
    assert language_consistency_rule(m.example_activated.numpy()).verdict == "supported"


def test_a_model_that_cannot_do_the_task_was_refuted_and_is_inconclusive() -> None:
    """planted-crowded answers nothing: the old conversion rule refuted a zero change, the new one declines."""
    base, old = _old_outcomes(_planted("planted-crowded"))
    assert rules_before.conversion_rule(base, old["convert"]).verdict == "refuted"
    verdict = conversion_verdict(_measured("planted-crowded", ("convert", "convert_random")))
    assert verdict.verdict == "inconclusive" and "cannot do the task" in verdict.reason


def test_all_shared_neurons_that_are_merely_always_active_fool_the_paper_readings() -> None:
    """planted-alike: its all-shared neurons fire and write as its other active neurons do. The paper's average
    over all of a type's neurons leads in most layers, the all-shared neurons carry most of the push toward the
    answer from under a third of the neurons, and their maxima are largest in the layers where they are most
    numerous; the controls (per active neuron, at a fixed number of neurons) refute all three."""
    m = _measured("planted-alike", (CENTRED,))  # the rules on A as it is (the paper's reading), then the claims'
    average = average_contribution_rule(m.type_rows.double().numpy())
    assert average.measured["layers led (paper's average)"] >= 2 / 3 and average.verdict == "refuted"
    assert average_contribution_verdict(m).verdict == "refuted"
    for language in m.languages:
        push = correct_output_rule(m.type_rows[:, m.languages.index(language)].double().numpy())
        assert push.measured["all-shared share of the push toward the gold token %"] > 50
        assert push.measured["push over share of all neurons (paper's comparison)"] > 1.5
        assert push.verdict == "refuted", language
        assert correct_output_verdict(m, language).verdict == "refuted", language
    layers = effective_layers_rule(m.layer_effective_max[:, ALL].numpy(), m.layer_sample_max.numpy())
    assert layers.measured["ends over middle (paper's maxima)"] > layers.params["min_ratio"]
    assert layers.verdict == "refuted" and effective_layers_verdict(m).verdict == "refuted"


# --- issue 27: readings of single neurons that a model can fool (planted-offset, planted-cancelling) ---

ABLATION = ("all_shared", "specific", "partial_shared", "random", "matched", "all_shared_mean", "specific_mean",
            "partial_shared_mean")


def _logits(lm: LoadedModel) -> torch.Tensor:
    """Next-token logits at every XNLI prompt's last token: (prompts, vocab)."""
    texts = [ex.prompts[lang] for ex in _examples() for lang in ex.prompts]
    return torch.cat([last_logits(lm, encode(lm, texts[i:i + 16])) for i in range(0, len(texts), 16)])


def _without(lm: LoadedModel, layer: int, neurons: torch.Tensor, bias: torch.Tensor | None = None) -> LoadedModel:
    """A copy in which ``neurons`` of ``layer`` write nothing (and the down projection's bias is ``bias``)."""
    out = copy.copy(lm)
    out.model = copy.deepcopy(lm.model)
    out.site = neuron_site(out.model, lm.site.name)
    with torch.no_grad():
        down = out.site.down_projs[layer]
        down.weight[:, neurons] = 0.0
        if bias is not None:
            down.bias.copy_(bias)
    return out


def test_an_offset_that_zeroing_breaks_fools_the_rule_that_counted_short_controls() -> None:
    """planted-offset: an always-on neuron of layer 0 whose output the bias cancels; the answers are carried by
    specific and partial-shared neurons. Zeroing the all-shared neurons gives every prompt the same answer; the
    rule as it was counted a matched control that reached none of its target and supported the collapse. Now a
    control that falls short cannot pass the comparison (inconclusive), and the collapse vanishes under
    mean-ablation, which the verdict says."""
    m = _measured("planted-offset", ABLATION)
    for lang, language in enumerate(m.languages):
        before = rules_before_attribution.ablation_rule(
            m.correct["baseline"][:, lang].numpy(), {c: m.outcome(c)[:, lang].numpy() for c in ABLATION_LABELS},
            floor=0.0, chance=float(m.chance[lang]))
        assert before.verdict == "supported", language
        now = ablation_verdict(m, language)
        assert now.verdict == "inconclusive" and "cannot pass the comparison" in now.reason, language
        assert now.measured["matched control: share of its target reached"] < 0.1
        assert now.controls[MEAN_ABLATION]["verdict"] == "refuted" and "vanishes under mean-ablation" in now.reason
    assert float(m.accuracy("all_shared").mean()) < 0.5 < float(m.accuracy("all_shared_mean").min())


def _same_function(changed: LoadedModel, lm: LoadedModel) -> float:
    """Asserts that ``changed`` gives every XNLI prompt the answer ``lm`` gives it; returns the largest change of a
    next-token probability (float32 rounding of the cancelling outputs, some hundreds or a thousand times a
    direction, moves it by up to about 0.02)."""
    before, after = _logits(lm), _logits(changed)
    assert torch.equal(after.argmax(dim=-1), before.argmax(dim=-1))
    return float((after.softmax(dim=-1) - before.softmax(dim=-1)).abs().max())


def test_the_offset_leaves_the_model_as_it_was() -> None:
    """The offset neuron's output and the bias cancel: without both, every prompt's answer and next-token
    distribution are those of the planted model (up to rounding); without the bias alone they are not."""
    lm = _planted("planted-offset")
    layer = PLANTED["planted-offset"].offset[0]
    down = lm.site.down_projs[layer]
    offset = torch.nonzero(down.weight.detach().abs().amax(dim=0) > 10).flatten()
    assert len(offset) == 1
    assert _same_function(_without(lm, layer, offset, torch.zeros(down.bias.shape)), lm) < 0.05
    one_side = _without(lm, layer, torch.tensor([], dtype=torch.long), torch.zeros(down.bias.shape))
    assert (_logits(one_side).argmax(dim=-1) != _logits(lm).argmax(dim=-1)).any()


def test_cancelling_always_on_pairs_fool_the_readings_of_a_as_it_is() -> None:
    """planted-cancelling: pairs of always-on neurons in the first and the top layers write far toward every answer
    and cancel; the answers are carried by specific neurons. The contribution to the correct output and the
    effective-score maxima as they were read (A as it is) credit the pairs and support both claims; read from each
    neuron's deviation from its mean (and with the credited neurons mean-ablated), both are refuted, and the paper's
    reading is recorded beside."""
    m = _measured("planted-cancelling", ("all_shared_mean", CENTRED))
    for lang, language in enumerate(m.languages):
        before = rules_before_attribution.correct_output_rule(m.type_rows[:, lang].double().numpy())
        assert before.verdict == "supported", language
        assert before.measured["all-shared share of the push toward the gold token %"] > 95
        now = correct_output_verdict(m, language)
        assert now.verdict == "refuted" and now.controls[PAPER]["verdict"] == "supported", language
        assert now.measured["relative drop with all-shared mean-ablated"] == 0.0  # they change no answer
    before = effective_layers_rule(m.layer_effective_max[:, ALL].numpy(), m.layer_sample_max.numpy())
    assert before.verdict == "supported"
    now = effective_layers_verdict(m)
    assert now.verdict == "refuted" and now.controls[PAPER]["verdict"] == "supported"


def _cancelling_writers(lm: LoadedModel, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The neurons of ``layer`` writing +w and those writing -w for some large w (|w| > 10): the cancelling pairs
    (the last layer's carriers also write large outputs, but none is another's negative)."""
    columns = lm.site.down_projs[layer].weight.detach().T  # (d_ff, hidden)
    large = torch.nonzero(columns.norm(dim=-1) > 10).flatten()
    negated = torch.cdist(columns[large], -columns[large]) < 1e-3 * columns[large].norm(dim=-1)[:, None]
    paired = large[negated.any(dim=-1)]
    positive = columns[paired] @ columns[paired[0]] > 0  # (pairs,) on the first writer's side
    return paired[positive], paired[~positive]


def test_the_cancelling_pairs_leave_the_model_as_it_was() -> None:
    """Without the pairs every prompt's answer and next-token distribution are those of the planted model (up to
    rounding); without one side of the pairs they are not."""
    lm = _planted("planted-cancelling")
    layers, pairs, _ = PLANTED["planted-cancelling"].cancelling
    for layer in layers:
        plus, minus = _cancelling_writers(lm, layer)
        assert len(plus) == len(minus) == pairs, layer
        assert _same_function(_without(lm, layer, torch.cat([plus, minus])), lm) < 0.05, layer
    plus, _ = _cancelling_writers(lm, layers[0])
    assert (_logits(_without(lm, layers[0], plus)).argmax(dim=-1) != _logits(lm).argmax(dim=-1)).any()


# --- Table 2's and 3's rows of one type: no rule came before them, so each is shown fooled without its control ---

TYPES = ("specific", "partial_shared")
ONE_TYPE_ABLATION = tuple(dict.fromkeys(c for t in TYPES for c in ablation_conditions(t)))


def _without_control(m: Measurement, type_name: str, control: np.ndarray | None = None) -> str:
    """The one-type deactivation rule's verdict with ``control``'s outcomes in place of its own (None: a control
    that costs nothing, i.e. the rule without its control)."""
    base = m.correct["baseline"].numpy()
    return type_ablation_rule(base, m.correct[type_name].numpy(), base.astype(float) if control is None else control,
                              m.correct["all_shared"].numpy(), type_name=type_name,
                              chance=float(m.chance.mean())).verdict


@pytest.mark.parametrize("type_name", TYPES)
def test_a_drop_any_as_many_active_neurons_cause_fools_the_one_type_rule_without_its_control(type_name: str) -> None:
    """planted-spread: deactivating the 3 specific (or partial-shared) carriers of a row loses the examples with 3
    all-shared carriers, less than deactivating all-shared loses, exactly as 3 random active neurons of the other
    types do."""
    m = _measured("planted-spread", ONE_TYPE_ABLATION)
    assert _without_control(m, type_name) == "supported"
    assert type_ablation_verdict(m, type_name).verdict == "refuted"


@pytest.mark.parametrize("type_name", TYPES)
def test_the_all_shared_sized_control_is_the_wrong_size_for_one_type(type_name: str) -> None:
    """planted-perturbed: as many random active neurons as the all-shared ones take the gapped carriers themselves
    (the only active neurons of other types beside the weak carrier), so that control would refute a drop that its
    own control, sized to the type, leaves standing."""
    m = _measured("planted-perturbed", (*ONE_TYPE_ABLATION, "random"))
    assert _without_control(m, type_name, m.outcome("random").numpy()) == "refuted"
    assert type_ablation_verdict(m, type_name).verdict == "supported"


@pytest.mark.parametrize("type_name", TYPES)
def test_a_generic_perturbation_fools_the_one_type_conversion_rule_without_its_control(type_name: str) -> None:
    """planted-perturbed: raising almost any inactive neuron restores the gapped answers, as converting the
    specific (or partial-shared) neurons does."""
    m = _measured("planted-perturbed", tuple(c for t in TYPES for c in conversion_conditions(t)))
    base = m.correct["baseline"].numpy()
    converted = m.correct[conversion_conditions(type_name)[0]].numpy()
    assert conversion_rule(base, converted, base.astype(float), chance=float(m.chance.mean()),
                           min_language_share=0.5).verdict == "supported"
    assert type_conversion_verdict(m, type_name).verdict == "refuted"
