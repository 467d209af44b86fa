"""The batched measurement pipeline against naive routes, one example at a time."""

from __future__ import annotations

import torch

from harness.capture import last_token_activations
from harness.interventions import convert, deactivate
from harness.measure import MeasureConfig, measure, random_control
from harness.neurons import ALL, classify_neurons, type_codes
from harness.scoring import predict_choice, verbalizer_tokens
from harness.tasks import FIXTURE_DATA, load_task, task_spec
from tests.conftest import tiny


def test_random_control_is_size_matched_disjoint_and_seeded() -> None:
    codes = type_codes(torch.randn(5, 4, 3, 64))  # (examples, layers, d_ff) from 4 languages
    generators = [torch.Generator().manual_seed(i) for i in range(5)]
    mask = random_control(codes, generators)
    assert torch.equal(mask.sum(-1), (codes == ALL).sum(-1))
    assert not (mask & (codes == ALL)).any()
    again = random_control(codes, [torch.Generator().manual_seed(i) for i in range(5)])
    assert torch.equal(mask, again)


def test_conditions_equal_one_example_at_a_time() -> None:
    lm = tiny("tiny-llama")
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "ru"], limit=5)
    m = measure(lm, examples, spec, MeasureConfig(batch_size=4, chunk_rows=6))  # several chunks and batches
    ids, _ = verbalizer_tokens(lm, spec.choices)
    for e, ex in enumerate(examples):
        texts = [ex.prompts[lang] for lang in m.languages]
        types = classify_neurons(last_token_activations(lm, texts))
        for condition, key in (("all_shared", "all_shared"), ("specific", "specific"),
                               ("partial_shared", "partial_shared")):
            with deactivate(lm, types[key]):
                predicted = predict_choice(lm, texts, ids, batch_size=1)
            naive = [spec.choices[i] == ex.answers[lang] for i, lang in zip(predicted, m.languages, strict=True)]
            assert m.correct[condition][e].tolist() == naive, (condition, ex.id)
        with convert(lm, types["specific"] | types["partial_shared"]):
            predicted = predict_choice(lm, texts, ids, batch_size=1)
        naive = [spec.choices[i] == ex.answers[lang] for i, lang in zip(predicted, m.languages, strict=True)]
        assert m.correct["convert"][e].tolist() == naive
        shares = torch.stack([types[k].double().mean(-1) for k in ("non_activated", "specific", "partial_shared",
                                                                     "all_shared")])
        torch.testing.assert_close(m.example_shares[e], shares)


def test_language_counts_and_threshold_sweep_equal_separate_runs() -> None:
    """Types over the first k languages equal a run on those languages; types at a sweep threshold equal a run at
    that threshold (each a separate capture, classified by its own TypeStatistics)."""
    lm = tiny("tiny-bloom")
    spec = task_spec("xnli")
    languages = ["en", "de", "fr", "ru", "zh"]
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=languages, limit=4)
    config = MeasureConfig(batch_size=4, chunk_rows=10, language_counts=(1, 3, 7), sweep_thresholds=(0.0, 0.05))
    m = measure(lm, examples, spec, config, conditions=())
    assert m.language_counts == [1, 3, 5]  # 7 > 5 languages: dropped; all 5 always included
    torch.testing.assert_close(m.count_shares[:, -1], m.example_shares)
    for i, k in enumerate(m.language_counts[:-1]):
        subset = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=languages[:k], limit=4)
        torch.testing.assert_close(m.count_shares[:, i], measure(lm, subset, spec, conditions=()).example_shares)
    assert (m.count_shares[:, 0, 2:] == 0).all()  # one language: never partial- or all-shared
    for j, t in enumerate(config.sweep_thresholds):
        at_t = measure(lm, examples, spec, MeasureConfig(threshold=t, batch_size=3), conditions=())
        torch.testing.assert_close(m.threshold_shares[:, j], at_t.example_shares)
    # a higher threshold only switches neurons off: fewer neurons active in at least one language
    active = 1 - m.threshold_shares[:, :, 0]  # (examples, thresholds, layers)
    assert (active[:, 1] <= active[:, 0]).all() and (active[:, 1] < active[:, 0]).any()
