"""Adversarial planted models of the layer-shape claims and of the template control (issue 27): each embodies an
alternative explanation that the rules as they were (tests/rules_before_shapes.py) accept, and the claims' verdicts
now are their planted truths. Measured on the project's XNLI items, as in the tiny tier."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from claims.sharing_matters.test_language_consistency import CLAIM as CONSISTENCY
from claims.sharing_matters.test_mid_layer_peak import CLAIM as PEAK
from claims.sharing_matters.test_mid_layer_peak import verdict_for as peak_verdict
from harness.core.models import LoadedModel
from harness.papers.sharing_matters.density_rules import MATCHED_DENSITY
from harness.papers.sharing_matters.measurement import MeasureConfig, Measurement, measure
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.planted import PLANTED, build_planted
from harness.papers.sharing_matters.rules import language_consistency_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions, at_content_end
from harness.tasks import FIXTURE_DATA, load_task, task_spec
from tests import rules_before_shapes

pytestmark = pytest.mark.slow


@functools.cache
def _examples() -> tuple:
    return tuple(load_task("xnli", data_dir=FIXTURE_DATA / "xnli"))


@functools.cache
def _planted(name: str) -> LoadedModel:
    torch.set_num_threads(1)
    return build_planted(PLANTED[name], {"xnli": list(_examples())})


@functools.cache
def _measured(name: str) -> Measurement:
    return measure(_planted(name), list(_examples()), task_spec("xnli"), MeasureConfig(), conditions=())


def test_one_middle_layer_made_uniformly_denser_fools_the_peak_at_a_fixed_threshold() -> None:
    """planted-dense-middle: its all-shared share falls with depth, but layer 4's input-dependent neurons are
    shifted up alike, so at threshold 0 they are active in every language: a peak the old rule supports. With every
    layer at the sparsest one's density the share falls from layer 0, as built: refuted."""
    m = _measured("planted-dense-middle")
    curves = m.example_shares[:, ALL].numpy()
    before = rules_before_shapes.mid_layer_peak_rule(curves)
    assert before.verdict == "supported" and before.measured["peak layer"] == 4
    density = m.activated.mean(dim=0).numpy()  # (layers,) the peak layer is the densest: only denser
    assert int(np.argmax(density)) == 4
    verdict = peak_verdict(m)
    assert verdict.verdict == "refuted" and verdict.controls[MATCHED_DENSITY]["verdict"] == "refuted"
    assert "with every layer at one activation density" in verdict.reason


def test_the_planted_peak_survives_matched_density() -> None:
    """planted-shared's peak is its forced all-shared neurons', active at any threshold: supported at both."""
    verdict = peak_verdict(_measured("planted-shared"))
    assert verdict.verdict == "supported" and verdict.controls[MATCHED_DENSITY]["verdict"] == "supported"


def test_a_uniformly_sparser_model_fools_the_absolute_spread() -> None:
    """planted-skewed-sparse: planted-skewed at a twentieth of its activity. Its Chinese prompts activate 4x the
    other languages' share of layer 5, 3.9 points apart: under the old 5-point limit; relative to the layer's mean it
    is far over the limit."""
    m = _measured("planted-skewed-sparse")
    activated = m.example_activated.numpy()
    zh, others = m.languages.index("zh"), [i for i, lang in enumerate(m.languages) if lang != "zh"]
    layer = activated.mean(axis=0)[:, 5]  # (langs,)
    assert layer[zh] > 3 * layer[others].max() and layer[zh] - layer[others].min() < 0.05  # several-fold, few points
    assert rules_before_shapes.language_consistency_rule(activated).verdict == "supported"
    verdict = language_consistency_rule(activated)
    assert verdict.verdict == "refuted" and verdict.measured["layer of largest spread"] == 5


@pytest.mark.parametrize(("claim", "rule"), [
    (PEAK.id, lambda x: peak_verdict(x)),
    (CONSISTENCY.id, lambda x: language_consistency_rule(x.example_activated.numpy())),
])
def test_a_finding_on_the_template_tail_alone_was_supported_and_is_inconclusive(claim: str, rule) -> None:
    """planted-tail: its all-shared neurons fire at every prompt's last token (the shared English tail) and, at the
    last token of the translated content, on the Chinese prompts only. The old control kept the last token's
    supported verdict; supported needs both readings now."""
    m = _measured("planted-tail")
    at_content = rule(at_content_end(m))
    assert at_content.verdict == "refuted"
    before = rules_before_shapes.with_content_control(rule(m), at_content, claim=claim, instance="planted-tail")
    assert before.verdict == "supported"
    verdict = at_both_positions(rule, m, claim=claim, instance="planted-tail")
    assert verdict.verdict == "inconclusive" and verdict.controls[CONTENT_END]["verdict"] == "refuted"
    assert verdict.reason.startswith("holds only at the shared English tail")
