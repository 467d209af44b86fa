"""Adversarial planted models of Kojima et al.'s claims: each claim's finding is false for its most plausible other
reason rather than because nothing happens. On each model's own measurement, the arrays the claim feeds its rule
give the planted truth under the rule now, and the wrong verdict under the rule as it was before
(tests/rules_before_kojima.py):

- planted-lang-first (``lsn-first-last-layers``): the language-specific neurons sit in the first layers only; the
  old rule pooled both ends, so the first layers alone made it "supported".
- planted-lang-ceiling (``lsn-tampering-steers-language``): the model already writes en in nearly all of its
  unconditional generations, so no fix can add 20 points; the old rule called that "refuted", the truth is that
  the experiment cannot tell (inconclusive). Its other languages keep their own truth (supported).
- planted-lang-collapse (``lsn-tampering-steers-language``): every writer writes zh's direction, so any set of
  them pushed to a language's level makes the model write zh: zh's own set steers only as any set pushed as far
  does. The rule before the controls moved as far compared it with a random set fixed at its own medians (which
  barely moves it) and called zh "supported"; against a random set moved as far, and against another language's
  set, it is refuted (every other language is refuted by both rules: its set writes zh).
- planted-lang-related (``lsn-low-overlap``): the related pairs en de and es fr share one of their N neurons (20%),
  no other pair shares any. The rule already takes the largest pair, so old and new agree (refuted); the test
  shows that the mean over pairs, the statistic a weaker rule would take, stays under the 5% limit.
- planted-lang-chance (``lsn-beat-shuffled-labels``): no neuron is keyed to a language, and the model is measured
  on 3 texts per language: among 7,680 neurons some rank a language's 3 texts first by chance, so every language's
  best neuron has AP over 0.9 (a fixed bar passes it); against the shuffled-label null it is refuted.
- planted-lang-mixed (``lsn-first-last-layers-each-language``): 6 of 9 languages have their neurons in the first
  and last layers, en fr tr in the middle ones; the averaged rule (``layer_concentration_rule``, the claim without
  its per-language reading) supports it, the per-language rule refutes it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from claims.kojima import (
    test_lsn_beat_shuffled_labels,
    test_lsn_first_last_layers,
    test_lsn_layers_each_language,
    test_lsn_low_overlap,
    test_lsn_tampering,
)
from harness.core.claim import Claim, Planted
from harness.core.papers import planted_models
from harness.core.store import MeasurementStore
from harness.papers.kojima.claim_helpers import tampering_outcomes
from harness.papers.kojima.language_neurons import LanguageNeurons
from harness.papers.kojima.rules import (
    beats_shuffled_labels_rule,
    layer_concentration_rule,
    layers_each_language_rule,
    overlap_rule,
    tampering_rule,
)
from harness.papers.sharing_matters.measurement import MeasureConfig
from harness.tasks import FIXTURE_DATA, load_task
from tests import rules_before_kojima as before

PLANTED = planted_models()


@pytest.fixture(scope="module")
def store() -> MeasurementStore:
    """The tiny tier's store, as the plugin makes it (same models, data, seeds and measurement settings)."""
    store = MeasurementStore(
        lambda name: PLANTED[name].build({task: store.examples(task) for task in PLANTED[name].tasks}),
        lambda task, shots: load_task(task, data_dir=FIXTURE_DATA / "xnli", shots=shots), MeasureConfig(seed=0),
        identity=lambda name: {"planted": repr(PLANTED[name])}, cache_dir=None,
        example_limit=lambda name: getattr(PLANTED[name], "example_limit", None))
    return store


def measured(store: MeasurementStore, claim: Claim, model: str) -> tuple[LanguageNeurons, Planted]:
    """The claim's measurement of a planted model under the conditions the claim reads, and its planted truth."""
    store.conditions.setdefault((model, "xnli"), set()).update(claim.conditions)
    planted = next(p for p in claim.planted if p.model == model)
    return store.get(model, "xnli", kind="language_neurons"), planted


def test_planted_truth_by_language() -> None:
    planted = Planted("m", "supported", by_language=(("en", "inconclusive"),))
    assert [planted.expected_for(lang) for lang in ("en", "de", None)] == ["inconclusive", "supported", "supported"]
    assert Planted("m", "refuted").expected_for("en") == "refuted"


@pytest.mark.slow
def test_neurons_in_the_first_layers_only(store: MeasurementStore) -> None:
    claim = test_lsn_first_last_layers.CLAIM
    m, planted = measured(store, claim, "planted-lang-first")
    counts, boot = m.layer_counts.numpy(), m.boot_layer_counts.numpy()
    assert counts[..., -1].sum() == 0 and counts[..., :2].sum() == counts.sum()  # as planted: layers 0 and 1
    old = before.layer_concentration_rule(counts, boot)
    new = layer_concentration_rule(counts, boot)
    assert old.verdict != planted.expected == new.verdict
    assert old.verdict == "supported" and new.measured["first layers: enrichment low"] >= 2.0


def at_own_medians(m: LanguageNeurons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the tampering rules before "Verdicts, round 3" read: (languages, samples) bool, generation s identified
    as language l with l's own set fixed, with a random same-size set fixed at its own medians on l's texts, and
    with no fix."""
    rows = torch.arange(len(m.languages))[:, None]
    return ((m.tampering["tampered"] == rows).numpy(), (m.tampering["random"] == rows).numpy(),
            (m.tampering["baseline"][None] == rows).numpy())


@pytest.mark.slow
def test_a_language_the_model_already_writes(store: MeasurementStore) -> None:
    claim = test_lsn_tampering.CLAIM
    m, planted = measured(store, claim, "planted-lang-ceiling")
    tampered, control, baseline = at_own_medians(m)
    en = m.languages.index("en")
    assert baseline[en].mean() >= 0.8  # as planted: unconditional generation is already en
    recall = m.identifier_recall.numpy()
    old = before.tampering_rule(tampered[en], control[en], baseline[en], m.fixed_share, float(recall[en]))
    new = tampering_rule(*tampering_outcomes(m), m.languages, m.fixed_share, float(recall[en]), target="en")
    assert old.verdict != planted.expected_for("en") == new.verdict
    assert old.verdict == "refuted" and "already writes the language" in new.reason
    for lang, code in enumerate(m.languages):  # the other languages keep their own truth
        if lang != en:
            verdict = tampering_rule(*tampering_outcomes(m), m.languages, m.fixed_share, float(recall[lang]),
                                     target=code)
            assert verdict.verdict == planted.expected_for(code) == "supported", code


@pytest.mark.slow
def test_any_set_pushed_as_far_writes_the_same_language(store: MeasurementStore) -> None:
    claim = test_lsn_tampering.CLAIM
    m, planted = measured(store, claim, "planted-lang-collapse")
    zh = m.languages.index("zh")
    # as planted: every language's set, and every random set moved as far, makes the model write zh
    assert (m.tampering["tampered"] == zh).all() and (m.tampering["matched"] == zh).all()
    assert (m.tampering["baseline"] == zh).float().mean() < 0.5
    recall = m.identifier_recall.numpy()
    tampered, at_medians, baseline = at_own_medians(m)
    for lang, code in enumerate(m.languages):
        old = before.tampering_rule_at_own_medians(tampered, at_medians, baseline, m.fixed_share,
                                                   float(recall[lang]), target=lang)
        new = tampering_rule(*tampering_outcomes(m), m.languages, m.fixed_share, float(recall[lang]), target=code)
        assert new.verdict == planted.expected_for(code) == "refuted", code
        assert old.verdict == ("supported" if code == "zh" else "refuted"), code
    zh_verdict = tampering_rule(*tampering_outcomes(m), m.languages, m.fixed_share, float(recall[zh]), target="zh")
    for control in ("random set moved as far", "another language's set"):  # each control refutes it on its own
        assert zh_verdict.measured[f"gain over {control}: high %"] < 20, control


@pytest.mark.slow
def test_related_languages_sharing_part_of_their_neurons(store: MeasurementStore) -> None:
    claim = test_lsn_low_overlap.CLAIM
    m, planted = measured(store, claim, "planted-lang-related")
    overlap = m.overlap.numpy()
    shared = {(m.languages[i], m.languages[j]) for side in range(2)
              for i, j in zip(*np.nonzero(overlap[side]), strict=True)
              if i < j}
    assert shared == {("en", "de"), ("es", "fr")}  # as planted, on both sides
    assert overlap[:, 0, 1].tolist() == [1, 1] and m.n_selected == 5
    verdict = overlap_rule(overlap, m.boot_overlap.numpy(), m.n_selected, m.n_layers * m.d_ff)
    assert verdict.verdict == planted.expected == "refuted" and verdict.effect == 0.2
    assert verdict.measured["mean pairwise overlap %"] < 5  # the mean over pairs would have passed it


@pytest.mark.slow
def test_top_ap_high_by_chance_alone(store: MeasurementStore) -> None:
    claim = test_lsn_beat_shuffled_labels.CLAIM
    m, planted = measured(store, claim, "planted-lang-chance")
    assert len(m.example_ids) == 3 and m.n_selected == 15  # as planted: 3 texts per language, 7,680 neurons
    fixed_bar = bool((m.top_ap[:, 0] > 0.9).all())  # the claim without its control: neurons of AP over 0.9
    verdict = beats_shuffled_labels_rule(m.observed_top_ap.numpy(), m.null_top_ap.numpy(), m.languages)
    assert fixed_bar and verdict.verdict == planted.expected == "refuted"
    null_median = np.median(m.null_top_ap.numpy(), axis=0)
    assert (np.abs(m.observed_top_ap.numpy() - null_median) < 0.1).all()  # every language near what chance gives


@pytest.mark.slow
def test_the_average_carried_by_some_languages(store: MeasurementStore) -> None:
    claim = test_lsn_layers_each_language.CLAIM
    m, planted = measured(store, claim, "planted-lang-mixed")
    counts, boot = m.layer_counts.numpy(), m.boot_layer_counts.numpy()
    middle = [m.languages.index(lang) for lang in ("en", "fr", "tr")]
    assert counts[middle][..., [0, 9]].sum() == 0 and counts[middle][..., [4, 5]].sum() == counts[middle].sum()
    averaged = layer_concentration_rule(counts, boot)
    each = layers_each_language_rule(counts, boot, m.languages)
    assert averaged.verdict == "supported" != planted.expected == each.verdict == "refuted"
    assert each.measured["languages supported"] == 6 and each.measured["languages refuted"] == 3
