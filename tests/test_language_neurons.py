"""The language-neuron measurement (Kojima et al.) against naive routes on a tiny random model: responses one text
at a time, AP by the step definition neuron by neuron, sets and overlaps by Python sets, the shuffled-label null by
AP over every neuron once per shuffle; its tampering conditions; and the texts it reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.core.responses import pooled_responses
from harness.papers.kojima.expertise import average_precision, permuted_average_precision
from harness.papers.kojima.language_neurons import (
    LanguageNeuronConfig,
    LanguageNeurons,
    Levels,
    _by_layer,
    _null_top_ap,
    _tamper_conditions,
    language_texts,
    measure_language_neurons,
    shuffled_labels,
)
from harness.tasks import FIXTURE_DATA, TaskDataError, load_task, prompt_content, task_spec
from tests.conftest import tiny
from tests.test_expertise import naive_ap

CONFIG = LanguageNeuronConfig(share=0.02, n_bootstrap=3, n_permutations=4, n_samples=4, max_new_tokens=6,
                              batch_size=4)


@pytest.fixture(scope="module")
def measured() -> tuple[LanguageNeurons, list]:
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "ru"], limit=6)
    return measure_language_neurons(tiny("tiny-llama"), examples, task_spec("xnli"), CONFIG), examples


def test_selection_equals_a_naive_route(measured: tuple[LanguageNeurons, list]) -> None:
    m, examples = measured
    lm = tiny("tiny-llama")
    texts, labels = language_texts(examples, task_spec("xnli"))
    responses = torch.cat([pooled_responses(lm, [t]) for t in texts]).reshape(len(texts), -1).numpy()
    n = CONFIG.n_selected(responses.shape[1])
    assert m.n_selected == n == round(0.02 * lm.n_layers * lm.d_ff)
    for lang in range(3):
        ap = np.array([naive_ap(responses[:, j], labels.numpy() == lang) for j in range(responses.shape[1])])
        top, bottom = np.sort(ap)[::-1][:n], np.sort(ap)[:n]
        # the selected neurons are the most extreme ones (any of equal AP would do) and their APs are right
        np.testing.assert_allclose(m.top_ap[lang].numpy(), top, rtol=1e-5)
        np.testing.assert_allclose(m.bottom_ap[lang].numpy(), bottom, rtol=1e-5)
        np.testing.assert_allclose(ap[m.top[lang].numpy()], top, rtol=1e-5)
        np.testing.assert_allclose(ap[m.bottom[lang].numpy()], bottom, rtol=1e-5)
    sets = [(set(m.top[lang].tolist()), set(m.bottom[lang].tolist())) for lang in range(3)]
    for lang in range(3):
        for side in range(2):
            layers = [neuron // lm.d_ff for neuron in sets[lang][side]]
            assert m.layer_counts[lang, side].tolist() == np.bincount(layers, minlength=lm.n_layers).tolist()
    for i in range(3):
        for j in range(3):
            for side in range(2):
                assert m.overlap[side, i, j] == len(sets[i][side] & sets[j][side])
    assert m.boot_layer_counts.shape == (3, 3, 2, lm.n_layers) and (m.boot_layer_counts.sum(dim=-1) == n).all()
    assert m.boot_overlap.shape == (3, 2, 3, 3)


def test_tampering_outcomes_and_state(measured: tuple[LanguageNeurons, list]) -> None:
    m, _ = measured
    assert m.tampering["baseline"].shape == (4,) and m.tampering["tampered"].shape == (3, 4)
    assert m.tampering["random"].shape == m.tampering["matched"].shape == (3, 4)
    assert m.fixed_share == 2 * m.n_selected / (m.n_layers * m.d_ff)
    assert ((m.tampering["tampered"] >= -1) & (m.tampering["tampered"] < 3)).all()
    names = {f"{kind} {lang}" for kind in ("tampered", "random", "matched") for lang in m.languages}
    assert set(m.samples) == {"baseline"} | names
    assert m.moved_spreads.shape == (3, 2 * m.n_selected)
    assert (m.moved_spreads[:, :m.n_selected] > 0).all()  # the top-N sit above their median on their language
    again = LanguageNeurons.from_state(m.to_state())
    assert torch.equal(again.top, m.top) and again.config == m.config
    assert torch.equal(again.moved_spreads, m.moved_spreads)


def test_levels_and_how_far_fixing_moves_a_neuron() -> None:
    """The levels by naive numpy routes (median of each language's texts and of all texts, standard deviation),
    and the displacement in spreads; a neuron that never varies moves by 0."""
    scores = torch.randn(12, 2, 5, generator=torch.Generator().manual_seed(1))  # (texts, layers, d_ff)
    scores[:, 1, 4] = 3.0  # constant
    labels = torch.arange(3).repeat(4)
    _, levels = _by_layer(scores, labels, 3, torch.device("cpu"), levels=True)
    flat = scores.reshape(12, -1).numpy()
    for lang in range(3):
        np.testing.assert_allclose(levels.language[lang].numpy(), np.median(flat[labels == lang], axis=0), rtol=1e-6)
    np.testing.assert_allclose(levels.overall.numpy(), np.median(flat, axis=0), rtol=1e-6)
    np.testing.assert_allclose(levels.spread.numpy(), flat.std(axis=0), rtol=1e-5)
    selected = torch.tensor([[0, 9], [3, 4], [9, 7]])
    moved = levels.moved(selected)
    for lang in range(3):
        for k, neuron in enumerate(selected[lang].tolist()):
            column = flat[:, neuron]
            expected = 0.0 if neuron == 9 else (np.median(column[labels == lang]) - np.median(column)) / column.std()
            assert moved[lang, k].item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_tamper_conditions_fix_own_sets_random_sets_at_medians_and_random_sets_moved_as_far() -> None:
    generator = torch.Generator().manual_seed(0)
    levels = Levels(language=torch.randn(2, 50, generator=generator), overall=torch.randn(50, generator=generator),
                    spread=torch.rand(50, generator=generator) + 0.5)
    levels.spread[40:] = 0.0  # ten neurons that never vary: never drawn for the set moved as far
    selected = torch.tensor([[0, 1, 2], [3, 4, 5]])
    moved = levels.moved(selected)
    masks, values = _tamper_conditions(selected, moved, levels, seed=0)
    assert masks.shape == values.shape == (7, 50) and not masks[0].any()
    for lang in range(2):
        assert set(masks[1 + lang].nonzero().flatten().tolist()) == set(selected[lang].tolist())
        random, far = masks[3 + lang], masks[5 + lang]
        assert random.sum() == far.sum() == 3 and not ((random | far) & masks[1 + lang]).any()
        assert torch.equal(values[1 + lang], levels.language[lang]) and torch.equal(values[3 + lang],
                                                                                    levels.language[lang])
        drawn = far.nonzero().flatten()
        assert (drawn < 40).all()
        spreads = (values[5 + lang, drawn] - levels.overall[drawn]) / levels.spread[drawn]
        # each drawn neuron moved as many of its own spreads as one neuron of the set, each of the set's once
        assert sorted(spreads.tolist()) == pytest.approx(sorted(moved[lang].tolist()), rel=1e-5)
    assert torch.equal(masks, _tamper_conditions(selected, moved, levels, seed=0)[0])
    levels.spread[3:] = 0.0  # besides language 0's set, no neuron varies
    with pytest.raises(ValueError, match="needs 3 other neurons whose response varies over the texts; this model "
                                         "has 0"):
        _tamper_conditions(selected, moved, levels, seed=0)


def test_texts_are_the_templates_fields_in_each_language() -> None:
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de"], limit=2)
    texts, labels = language_texts(examples, task_spec("xnli"))
    assert labels.tolist() == [0, 1, 0, 1]
    assert texts[0] == "The children are playing in the park.\nChildren are outside."
    facts = load_task("facts", data_dir=FIXTURE_DATA / "mpararel", languages=["en"], limit=1)
    assert prompt_content(task_spec("facts").template, facts[0].prompts["en"]) == facts[0].prompts["en"]
    with pytest.raises(TaskDataError, match="does not fit the template"):
        prompt_content(task_spec("xnli").template, "no template here")


def test_config_and_conditions_are_checked() -> None:
    with pytest.raises(ValueError, match="share must be"):
        LanguageNeuronConfig(share=0.7)
    with pytest.raises(ValueError, match="tamper must be"):
        LanguageNeuronConfig(tamper="all")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de"], limit=2)
    with pytest.raises(ValueError, match="unknown conditions"):
        measure_language_neurons(tiny("tiny-bloom"), examples, task_spec("xnli"), CONFIG, conditions=("convert",))
    with pytest.raises(ValueError, match="at least two languages"):
        measure_language_neurons(tiny("tiny-bloom"), load_task("xnli", data_dir=FIXTURE_DATA / "xnli",
                                                               languages=["en"], limit=2), task_spec("xnli"), CONFIG)


def test_tampering_only_the_top_neurons_fixes_half_as_many() -> None:
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "zh"], limit=4)
    config = LanguageNeuronConfig(share=0.02, tamper="top", n_samples=2, max_new_tokens=2, batch_size=4)
    m = measure_language_neurons(tiny("tiny-bloom"), examples, task_spec("xnli"), config, conditions=("tampering",))
    assert m.fixed_share == m.n_selected / (m.n_layers * m.d_ff) and len(m.boot_overlap) == 0
    assert m.tampering["tampered"].shape == (2, 2)


def naive_null(responses: torch.Tensor, permuted: torch.Tensor, n_langs: int, n: int) -> torch.Tensor:
    """(P, L) mean AP of each language's top-n under each row of labels: AP of every neuron at once, then top-n."""
    flat = responses.reshape(len(responses), -1)
    return torch.stack([average_precision(flat, row, n_langs).topk(n, dim=1).values.mean(dim=1) for row in permuted])


def test_the_shuffled_label_null_equals_a_naive_route(measured: tuple[LanguageNeurons, list]) -> None:
    m, examples = measured
    lm = tiny("tiny-llama")
    texts, labels = language_texts(examples, task_spec("xnli"))
    responses = torch.cat([pooled_responses(lm, [t]) for t in texts])  # (texts, layers, d_ff)
    shuffled = shuffled_labels(len(examples), 3, CONFIG.n_permutations, CONFIG.seed)
    expected = naive_null(responses, shuffled, 3, m.n_selected)
    assert m.null_top_ap.shape == (4, 3) and m.null_top_ap.dtype == torch.float64
    torch.testing.assert_close(m.null_top_ap, expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(m.observed_top_ap, naive_null(responses, labels[None], 3, m.n_selected)[0],
                               rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(m.observed_top_ap, m.top_ap.double().mean(dim=1), rtol=1e-6, atol=1e-7)


def test_the_null_skips_dead_neurons_exactly() -> None:
    """Constant neurons (dead ones) stand in for one another: the same null as AP over every neuron, whether the
    top-n needs them (few varying neurons) or not, with ties and a whole layer dead."""
    generator = torch.Generator().manual_seed(1)
    responses = torch.randn(5 * 4, 3, 16, generator=generator).round(decimals=1)  # (texts, layers, d_ff)
    responses[:, 0, 3:] = 0.0  # layer 0: 3 varying neurons
    responses[:, 1] = 2.5  # layer 1: all dead
    config = LanguageNeuronConfig(n_permutations=6, seed=3)
    for n in (2, 5, 20):
        rows = _null_top_ap(responses, 4, n, config, torch.device("cpu"), progress=False)
        permuted = torch.cat([torch.arange(4).repeat(5)[None], shuffled_labels(5, 4, 6, 3)])
        assert torch.equal(rows, naive_null(responses, permuted, 4, n)), n


def test_permuted_ap_is_ap_of_each_row_and_needs_balanced_rows() -> None:
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(12, 9, generator=generator).round(decimals=0)  # ties
    permuted = shuffled_labels(4, 3, 5, seed=2)
    out = permuted_average_precision(scores, permuted, 3)
    for row in range(5):
        assert torch.equal(out[row], average_precision(scores, permuted[row], 3))
    assert permuted_average_precision(scores, permuted[:0], 3).shape == (0, 3, 9)
    unbalanced = permuted.clone()
    unbalanced[0, 0] = unbalanced[0, 1]
    with pytest.raises(ValueError, match="must give each of the 3 classes 4 of the 12 texts"):
        permuted_average_precision(scores, unbalanced, 3)


def test_shuffled_labels_permute_the_languages_of_each_example() -> None:
    shuffled = shuffled_labels(6, 4, 10, seed=0)
    assert shuffled.shape == (10, 24)
    assert (shuffled.reshape(10, 6, 4).sort(dim=-1).values == torch.arange(4)).all()
    assert torch.equal(shuffled, shuffled_labels(6, 4, 10, seed=0))
    assert not torch.equal(shuffled, shuffled_labels(6, 4, 10, seed=1))
    assert (shuffled != torch.arange(4).repeat(6)).any(dim=1).all()  # shuffled, not the true labels
