"""The batched measurement pipeline against naive routes, one example at a time."""

from __future__ import annotations

import torch

from harness.core.capture import last_token_activations
from harness.core.interventions import convert, deactivate, fix
from harness.core.scoring import (
    first_verbalizer,
    generate,
    predict_choice,
    verbalizer_budget,
    verbalizer_tokens,
)
from harness.papers.sharing_matters.conditions import MEAN_ABLATIONS, RowState, condition_mask, reach
from harness.papers.sharing_matters.measurement import MeasureConfig, _row_generators, measure
from harness.papers.sharing_matters.neurons import example_type_shares, type_codes
from harness.tasks import FIXTURE_DATA, ParallelExample, load_task, task_spec
from tests.conftest import loud, tiny, weight_fixed


def _answers(lm, texts: list[str], spec, scoring: str) -> list[str | None]:
    """One text at a time, no early stop: the scorer's answer for each text."""
    if scoring == "choice":
        ids, _ = verbalizer_tokens(lm, spec.choices)
        return [spec.choices[i] for i in predict_choice(lm, texts, ids, batch_size=1)]
    continuations, _ = generate(lm, texts, verbalizer_budget(lm, spec.choices), batch_size=1)
    return [first_verbalizer(c, spec.choices) for c in continuations]


def _edit(lm, family: str, mask: torch.Tensor, means: torch.Tensor):
    """One row's edit by hand: conversion, mean-ablation (at the last position) or zeroing."""
    if family.startswith("convert"):
        return convert(lm, mask)
    return fix(lm, mask, means.expand(mask.shape), positions="last") if family in MEAN_ABLATIONS else \
        deactivate(lm, mask)


def test_conditions_equal_one_example_at_a_time() -> None:
    """Every condition's per-row masks rebuilt by hand from a separate capture of each example, each row scored
    alone under its own mask (seeded controls draw with the same per-row generators, and reach what the same masks
    reach); the means the mean-ablations set are those of every row's separately captured last token."""
    lm = tiny("tiny-llama")
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "ru"], limit=4)
    config = MeasureConfig(batch_size=4, chunk_rows=6, control_seeds=2, scoring="choice")
    m = measure(lm, examples, spec, config)  # several chunks and batches
    n_langs = len(m.languages)
    every = last_token_activations(lm, [ex.prompts[lang] for ex in examples for lang in m.languages])
    torch.testing.assert_close(m.means, every.mean(dim=0), atol=1e-6, rtol=1e-5)
    for e, ex in enumerate(examples):
        texts = [ex.prompts[lang] for lang in m.languages]
        acts = last_token_activations(lm, texts)  # (langs, layers, d_ff)
        codes = type_codes(acts).expand(n_langs, -1, -1)
        weight = acts.abs() * torch.stack([lm.site.value_vectors(i).norm(dim=-1) for i in range(lm.n_layers)])
        state = RowState(codes, acts > 0, weight)
        rows = range(e * n_langs, (e + 1) * n_langs)
        for condition in m.correct:
            if condition == "baseline":
                continue
            family, _, seed = condition.partition("/")
            mask = condition_mask(condition, state, _row_generators(config, family, int(seed or 0), rows,
                                                                    lm.device))
            naive = []
            for row, text in enumerate(texts):
                with _edit(lm, family, mask[row], m.means):
                    naive.append(_answers(lm, [text], spec, "choice")[0] == ex.answers[m.languages[row]])
            assert m.correct[condition][e].tolist() == naive, (condition, ex.id)
            assert m.edits[condition][e].tolist() == mask.sum(dim=(-2, -1)).tolist()
            if condition in m.reach:
                torch.testing.assert_close(m.reach[condition][e], reach(condition, mask, state).float().double())
        torch.testing.assert_close(m.example_shares[e], example_type_shares(codes[:1])[0])


def _every_token_mean(lm, texts: list[str]) -> torch.Tensor:
    """Each neuron's mean A over every token of every text, one unpadded text at a time: (layers, d_ff)."""
    seen: list[torch.Tensor] = []  # per layer of the current text: A (tokens, d_ff)
    hooks = [down.register_forward_pre_hook(lambda _m, args: seen.append(args[0][0].double()))
             for down in lm.site.down_projs]
    sums, tokens = torch.zeros(lm.n_layers, lm.d_ff, dtype=torch.float64), 0
    for text in texts:
        seen.clear()
        with torch.inference_mode():
            lm.model(**lm.tokenizer(text, return_tensors="pt"))
        sums += torch.stack([a.sum(dim=0) for a in seen])
        tokens += len(seen[0])
    for hook in hooks:
        hook.remove()
    return (sums / tokens).float()


def test_mean_ablation_equals_the_means_folded_into_the_bias() -> None:
    """Mean-ablation at every position (the means over every token of every prompt) against a model whose masked
    neurons' value vectors are folded into the down projection's bias at their means (weight editing), each row
    alone; and the means against a capture of every token, one unpadded prompt at a time."""
    lm = loud("tiny-llama")
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "zh"], limit=4)
    config = MeasureConfig(batch_size=3, positions="all", scoring="choice")
    m = measure(lm, examples, spec, config, conditions=tuple(MEAN_ABLATIONS))
    texts = [ex.prompts[lang] for ex in examples for lang in m.languages]
    torch.testing.assert_close(m.means, _every_token_mean(lm, texts), atol=1e-5, rtol=1e-4)
    acts = last_token_activations(lm, texts).reshape(len(examples), len(m.languages), lm.n_layers, lm.d_ff)
    state = RowState(type_codes(acts).repeat_interleave(len(m.languages), dim=0), acts.flatten(0, 1) > 0, None)
    moved = 0
    for condition in MEAN_ABLATIONS:
        mask = condition_mask(condition, state, [])
        naive = [_answers(weight_fixed(lm, mask[row], m.means), [text], spec, "choice")[0] ==
                 examples[row // len(m.languages)].answers[m.languages[row % len(m.languages)]]
                 for row, text in enumerate(texts)]
        assert m.correct[condition].flatten().tolist() == naive, condition
        moved += sum(a != b for a, b in zip(naive, m.correct["baseline"].flatten().tolist(), strict=True))
    assert moved  # the edits change some answers: the comparison is not of unedited models


def test_generated_answers_equal_one_text_at_a_time_without_early_stop() -> None:
    """The default scoring (first verbalizer in a greedy continuation) with batches and early stopping against
    plain generation of each text to the full budget; and the accuracy floor and chance recorded."""
    lm = tiny("tiny-gpt2")
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "zh"], limit=6)
    m = measure(lm, examples, spec, MeasureConfig(batch_size=4), conditions=("all_shared",))
    texts = [ex.prompts[lang] for ex in examples for lang in m.languages]
    golds = [ex.answers[lang] for ex in examples for lang in m.languages]
    naive = [a == g for a, g in zip(_answers(lm, texts, spec, "generate"), golds, strict=True)]
    assert m.correct["baseline"].flatten().tolist() == naive
    assert m.scoring["kind"] == "generate" and m.scoring["accuracy floor"] == 0.0
    counts = [sum(ex.answers["en"] == c for ex in examples) for c in spec.choices]
    assert m.chance.tolist() == [max(counts) / len(examples)] * 2


def test_language_counts_and_threshold_grid_equal_separate_runs() -> None:
    """Types over a subset of the languages equal a run on that subset (averaged over the drawn subsets); types and
    density at a grid threshold equal a run at that threshold (each a separate capture)."""
    lm = tiny("tiny-bloom")
    spec = task_spec("xnli")
    languages = ["en", "de", "fr", "ru", "zh"]
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=languages, limit=4)
    config = MeasureConfig(batch_size=4, chunk_rows=10, language_counts=(1, 3, 7), language_draws=3,
                           sweep_thresholds=(0.0, 0.05), density_thresholds=(-0.05, 0.1))
    m = measure(lm, examples, spec, config, conditions=())
    assert m.language_counts == [1, 3, 5]  # 7 > 5 languages: dropped; all 5 always included
    assert m.thresholds == [-0.05, 0.0, 0.05, 0.1]
    torch.testing.assert_close(m.count_shares[:, -1], m.example_shares)
    for i, drawn in enumerate(m.language_subsets[:-1]):
        assert len(drawn) == 3 and all(len(s) == m.language_counts[i] for s in drawn)
        separate = [measure(lm, load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=list(s), limit=4), spec,
                            conditions=()).example_shares for s in drawn]
        torch.testing.assert_close(m.count_shares[:, i], torch.stack(separate).mean(dim=0))
    assert (m.count_shares[:, 0, 2:] == 0).all()  # one language: never partial- or all-shared
    for j, t in enumerate(m.thresholds):
        at_t = measure(lm, examples, spec, MeasureConfig(threshold=t, batch_size=3), conditions=())
        torch.testing.assert_close(m.threshold_shares[:, j], at_t.example_shares)
        torch.testing.assert_close(m.threshold_density[:, j], at_t.example_activated.mean(dim=1))
    active = 1 - m.threshold_shares[:, :, 0]  # (examples, thresholds, layers): raising t only switches off
    assert (active[:, 1:] <= active[:, :-1]).all()


def test_chunks_keep_whole_examples_and_a_short_last_one_joins_the_one_before() -> None:
    config = MeasureConfig(batch_size=4, chunk_rows=6)  # 2 examples of 3 languages a chunk
    assert config.chunks(4, 3) == [range(0, 2), range(2, 4)]
    assert config.chunks(5, 3) == [range(0, 2), range(2, 5)]  # 1 example < 3 languages: joins
    assert config.chunks(1, 3) == [range(0, 1)]  # nothing to join
    config = MeasureConfig(batch_size=4, chunk_rows=12)  # 4 examples a chunk
    assert config.chunks(9, 3) == [range(0, 4), range(4, 9)]
    assert config.chunks(10, 3) == [range(0, 4), range(4, 10)]
    assert config.chunks(11, 3) == [range(0, 4), range(4, 8), range(8, 11)]  # 3 examples: as many as languages


def test_nonparallel_shares_equal_a_measurement_of_the_tuples_assembled_as_examples() -> None:
    """The types over non-parallel tuples, from the parallel run's captured activations (several chunks, the last
    one joined), against a separate run on examples assembled from the same items (other batches, other padding),
    at the last token and at the content position."""
    lm = tiny("tiny-gpt2")  # its partial-shared neurons make the pairing matter at the last token too
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "zh"], limit=5)
    m = measure(lm, examples, spec, MeasureConfig(batch_size=4, chunk_rows=6), conditions=())
    sources = m.nonparallel_sources.tolist()
    assert [sorted({s for row in sources[a:b] for s in row}) for a, b in ((0, 2), (2, 5))] == [[0, 1], [2, 3, 4]]
    assembled = [ParallelExample(f"tuple-{i}", {lang: examples[s].prompts[lang] for lang, s in zip(m.languages, row,
                                                                                                     strict=True)},
                                 {lang: examples[s].answers[lang] for lang, s in zip(m.languages, row, strict=True)})
                 for i, row in enumerate(sources)]
    separate = measure(lm, assembled, spec, MeasureConfig(batch_size=3), conditions=())
    torch.testing.assert_close(m.nonparallel_shares, separate.example_shares)
    torch.testing.assert_close(m.content_nonparallel_shares, separate.content_shares)
    assert not torch.equal(m.nonparallel_shares, m.example_shares)
    assert not torch.equal(m.content_nonparallel_shares, m.content_shares)


def test_attribution_claims_at_the_gate_site_are_inconclusive_with_the_reason() -> None:
    """act(gate) alone has no value vector of its own: no contribution, no effective score, no matched control."""
    from claims.sharing_matters.test_contribution_dominance import verdict_for

    lm = tiny("tiny-llama", "gate")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de"], limit=3)
    m = measure(lm, examples, task_spec("xnli"), MeasureConfig(control_seeds=1), conditions=("random", "matched"))
    assert not m.attribution and m.base_rate.numel() == 0 and m.effective_spans.numel() == 0
    assert m.seeds("random") == ["random/0"] and m.seeds("matched") == []
    verdict = verdict_for(m)
    assert verdict.verdict == "inconclusive" and "site 'gate' has no value vectors" in verdict.reason
