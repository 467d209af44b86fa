"""The template control's position: where each prompt's translated content ends, as a character offset and as a
token position, checked against an independent route: a separate unpadded pass on the prompt cut at its content
end gives the same activations there as the padded, batched capture pass."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from harness.core.batching import token_ids
from harness.core.capture import Recorder, register_site_hooks
from harness.core.content_position import content_offsets, content_position
from harness.core.models import TINY_MODELS, TINY_VOCAB, LoadedModel, build_tiny, wrap_model
from harness.core.scoring import predict_choice, verbalizer_tokens
from harness.papers.sharing_matters.measurement import MeasureConfig, measure
from harness.papers.sharing_matters.neurons import example_type_shares, type_codes
from harness.tasks import FIXTURE_DATA, TASK_FOLDERS, TaskDataError, content_end, load_task, task_spec
from tests.conftest import tiny
from tests.strategies import token_sequences


def _prompts(task: str, limit: int = 2, **kwargs: object) -> list[str]:
    examples = load_task(task, data_dir=FIXTURE_DATA / TASK_FOLDERS[task], limit=limit, **kwargs)
    return [text for ex in examples for text in ex.prompts.values()]


@pytest.mark.parametrize(("task", "closing"), [("xnli", '" is "true", "false", or "inconclusive"?'),
                                               ("editing", " Answer:"), ("facts", "")])
def test_content_ends_before_the_templates_closing_words(task: str, closing: str) -> None:
    spec = task_spec(task)
    for prompt in _prompts(task):
        end = spec.content_end(prompt)
        assert prompt[end:] == closing and end > 0


@pytest.mark.parametrize("shots", [0, 2])
def test_the_all_to_english_content_is_the_edit_in_each_language(shots: int) -> None:
    """KE ALL->EN asks the English question in every language, so the content end there would be the same English
    text everywhere: the translated content is the edit (the context), and the content ends with it."""
    spec = task_spec("editing-all-en")
    examples = load_task("editing-all-en", data_dir=FIXTURE_DATA / "mzsre", limit=2, shots=shots)
    for ex in examples:
        english = ex.prompts["en"]
        question = english[english.rindex(" Question: "):]  # " Question: {the English question} Answer:"
        edits = set()
        for lang, prompt in ex.prompts.items():
            end = spec.content_end(prompt)
            assert prompt[end:] == question and end > 0, lang
            edits.add(prompt[:end].split("\n")[-1])  # the last block's edit, in the prompt's language
        assert len(edits) == len(ex.prompts)  # translated: no two languages end their content alike


def test_a_named_field_that_the_template_lacks_is_an_error() -> None:
    with pytest.raises(TaskDataError, match="no field 'answer'"):
        content_end("{context} Question: {question} Answer:", "a Question: b Answer:", "answer")


def test_content_end_with_demonstrations_is_the_last_question() -> None:
    spec = task_spec("editing")
    for prompt, alone in zip(_prompts("editing", shots=2), _prompts("editing"), strict=True):
        assert prompt.endswith(alone) and len(prompt) - spec.content_end(prompt) == len(alone) - spec.content_end(alone)


def test_a_prompt_without_the_closing_words_is_an_error() -> None:
    with pytest.raises(TaskDataError, match="closing words"):
        content_end(task_spec("xnli").template, "no template here")
    with pytest.raises(TaskDataError, match="closing words"):
        content_end("{question} Answer:", " Answer:")  # no content before them


def test_content_position_skips_a_token_spanning_the_boundary_and_trailing_specials() -> None:
    special = frozenset({0, 1})
    assert content_position([5, 6, 7, 8, 1], [5, 6, 7, 1], special) == 2  # byte-like: EOS appended to both
    assert content_position([0, 5, 6, 9], [0, 5, 6, 7], special) == 2  # 7 merged with the tail into 9
    assert content_position([0, 5, 6], [0, 5, 6], special) == 2  # content to the end (facts)
    with pytest.raises(ValueError, match="no content token"):
        content_position([0, 9], [0, 7], special)


@given(token_sequences())
def test_content_position_is_the_last_token_both_tokenizations_share(pair: tuple[list[int], list[int]]) -> None:
    full, cut = pair
    special = frozenset({0})
    content = cut[:-1] if cut and cut[-1] == 0 else cut  # without the appended EOS
    shared = 0
    while shared < min(len(full), len(content)) and full[shared] == content[shared]:
        shared += 1
    if not any(t not in special for t in full[:shared]):
        with pytest.raises(ValueError, match="no content token"):
            content_position(full, cut, special)
        return
    p = content_position(full, cut, special)
    assert full[:p + 1] == content[:p + 1]  # the same tokens up to it: a causal model sees the same there
    assert p + 1 in (len(full), len(content)) or full[p + 1] != content[p + 1]  # and it is the last such


def _bpe_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained here on the fixture prompts (merges cross the content's end, e.g. '."'),
    with a BOS token in front: the other tokenizer convention (ByT5 appends EOS)."""
    texts = _prompts("xnli", limit=24) + _prompts("editing", limit=20)
    model = Tokenizer(models.BPE())
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB - 4, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    model.train_from_iterator(texts, trainer)
    from tokenizers.processors import TemplateProcessing
    model.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=model, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def _with_tokenizer(name: str, tokenizer: str) -> LoadedModel:
    if tokenizer == "byte":
        return tiny(name)
    model, _ = build_tiny(name)
    return wrap_model(model, _bpe_tokenizer(), name=f"{name}-bpe")


def _unpadded_at(lm: LoadedModel, text: str, position: int) -> torch.Tensor:
    """A at ``position`` of ``text`` alone (no padding, its own pass), every layer: (layers, d_ff)."""
    seen: dict[int, torch.Tensor] = {}

    def keep(layer: int, a: torch.Tensor) -> None:
        seen.setdefault(layer, a[0, position].clone())

    handles = register_site_hooks(lm, keep)
    try:
        ids = torch.tensor([token_ids(lm, [text])[0]])
        with torch.inference_mode():
            extra = {"decoder_input_ids": torch.full((1, 1), lm.model.config.decoder_start_token_id)} \
                if lm.is_encoder_decoder else {}
            lm.model(input_ids=ids, **extra)
    finally:
        for handle in handles:
            handle.remove()
    return torch.stack([seen[i] for i in range(lm.n_layers)])


@pytest.mark.parametrize("tokenizer", ["byte", "bpe"])
@pytest.mark.parametrize("name", [n for n in TINY_MODELS if n != "tiny-mt5"])
def test_content_activations_equal_an_unpadded_pass_on_the_cut_prompt(name: str, tokenizer: str) -> None:
    """Padded batches of prompts of many lengths, one capture pass: A at the content position equals A at the
    same token of the prompt cut at its content end, run alone; and it is not the last token's A."""
    lm = _with_tokenizer(name, tokenizer)
    tasks = [(task, text) for task, limit in (("xnli", 2), ("editing", 1), ("editing-all-en", 1))
             for text in _prompts(task, limit=limit)]
    texts = [text for _, text in tasks]
    ends = [task_spec(task).content_end(text) for task, text in tasks]
    offsets = content_offsets(lm, texts, ends)
    with Recorder(lm, content_offsets=offsets) as recorder:
        predict_choice(lm, texts, verbalizer_tokens(lm, ("true", "false", "inconclusive"))[0], batch_size=5,
                       recorder=recorder)
        at_content = recorder.gather_content()
        last, _ = recorder.gather()
    special = frozenset(lm.tokenizer.all_special_ids)
    for i, (text, end) in enumerate(zip(texts, ends, strict=True)):
        cut = token_ids(lm, [text[:end]])[0]
        position = content_position(token_ids(lm, [text])[0], cut, special)
        assert lm.tokenizer.decode(cut[:position + 1], skip_special_tokens=True) in text[:end]
        torch.testing.assert_close(at_content[i], _unpadded_at(lm, text[:end], position), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(at_content, last)


def test_encoder_decoder_keeps_the_encoders_content_token_and_the_decoders_only_position() -> None:
    lm = tiny("tiny-mt5")
    texts = _prompts("xnli", limit=1)
    offsets = content_offsets(lm, texts, [task_spec("xnli").content_end(t) for t in texts])
    with Recorder(lm, content_offsets=offsets) as recorder:
        predict_choice(lm, texts, verbalizer_tokens(lm, ("true", "false", "inconclusive"))[0], batch_size=4,
                       recorder=recorder)
        at_content = recorder.gather_content()
        last, _ = recorder.gather()
    encoder = [i for i, name in enumerate(lm.site.layer_names) if name.startswith("encoder")]
    decoder = [i for i, name in enumerate(lm.site.layer_names) if name.startswith("decoder")]
    torch.testing.assert_close(at_content[:, decoder], last[:, decoder])
    assert not torch.allclose(at_content[:, encoder], last[:, encoder])


def test_a_recorder_with_content_offsets_needs_the_rows() -> None:
    lm = tiny("tiny-bloom")
    with Recorder(lm, content_offsets=[0]) as recorder, pytest.raises(ValueError, match="input rows"):
        recorder.arm()


def test_measurement_content_summaries_equal_a_separate_capture() -> None:
    """measure's content-position shares (also over subsets of the languages) equal types computed from the
    unpadded cut-prompt route."""
    lm = tiny("tiny-llama")
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "de", "zh", "fr"], limit=3)
    m = measure(lm, examples, spec, MeasureConfig(batch_size=4, chunk_rows=8, language_counts=(2, 3)),
                conditions=())
    assert m.language_counts == [2, 3, 4]
    special = frozenset(lm.tokenizer.all_special_ids)
    for e, ex in enumerate(examples):
        acts = []
        for lang in m.languages:
            text = ex.prompts[lang]
            end = spec.content_end(text)
            position = content_position(token_ids(lm, [text])[0], token_ids(lm, [text[:end]])[0], special)
            acts.append(_unpadded_at(lm, text[:end], position))
        acts_t = torch.stack(acts)  # (langs, layers, d_ff)
        torch.testing.assert_close(m.content_shares[e], example_type_shares(type_codes(acts_t[None]))[0])
        torch.testing.assert_close(m.content_activated[e], (acts_t > 0).double().mean(dim=-1))
        for c, drawn in enumerate(m.language_subsets):  # the language counts' types, over the same subsets
            subsets = [[m.languages.index(lang) for lang in subset] for subset in drawn]
            by_subset = [example_type_shares(type_codes(acts_t[None, s]))[0] for s in subsets]
            torch.testing.assert_close(m.content_count_shares[e, c], torch.stack(by_subset).mean(dim=0))
    j = m.thresholds.index(0.0)
    torch.testing.assert_close(m.content_threshold_shares[:, j], m.content_shares)


def test_an_offset_beyond_the_batch_is_an_error() -> None:
    lm = tiny("tiny-bloom")
    with Recorder(lm, content_offsets=[5]) as recorder, pytest.raises(ValueError, match="outside the batch"):
        recorder.arm(torch.ones(1, 3, dtype=torch.long), [0])


def test_the_content_keeps_the_translations_own_closing_mark() -> None:
    """The hypothesis's closing mark is the translator's (a full stop, Chinese 。, none in Thai), not the template's:
    the content end is after it (docs/design.md, "Choices where the papers are silent")."""
    spec = task_spec("xnli")
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli", languages=["en", "th", "zh"], limit=1)
    ends = {lang: prompt[:spec.content_end(prompt)][-1] for lang, prompt in examples[0].prompts.items()}
    assert ends["en"] == "." and ends["zh"] == "。" and ends["th"] not in ".。"
