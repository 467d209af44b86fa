"""Scoring on tiny models against independent routes.

The batched multiple-choice scorer equals one text at a time and a hand-written forward pass; scoring under per-row
masks equals weight-edited copies; greedy generation stops at its bound, is batch-invariant, and under
``deactivate(..., positions="last")`` equals a cache-free greedy loop with hand-written hooks; text metrics and the
out-of-memory back-off are unit-tested.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Self

import pytest
import torch
from hypothesis import given, settings

import harness.core.scoring
from harness.core.batching import encode, last_logits
from harness.core.capture import Recorder, last_token_activations
from harness.core.interventions import deactivate
from harness.core.models import TINY_MODELS, LoadedModel
from harness.core.scoring import (
    VerbalizerError,
    exact_match,
    first_answer_token,
    generate,
    normalize,
    predict_choice,
    prefix_match,
    token_f1,
    verbalizer_tokens,
)
from tests.conftest import TEXTS, loud, random_masks, tiny, weight_edited
from tests.strategies import metric_texts

CHOICES = ("true", "false", "inconclusive")
# Different lengths (1 to ~40 bytes) so that batches of 4 are left-padded.
SCORING_TEXTS = [*TEXTS, "?", "A longer prompt about the weather in Paris and Berlin today:"]
GEN_TEXTS = [TEXTS[0], TEXTS[1], TEXTS[3], SCORING_TEXTS[-1], "?"]  # two batches of 4 and 1
BYTE_IDS = list(range(3, 259))  # every byte token of ByT5: an argmax over them reacts to any change of the logits
# tiny-bloom's random init gives near input-independent logits (LayerNorm weights 1, biases 0), so its argmax never
# moves under masks; these models do react, which keeps the "masks change something" checks meaningful.
SENSITIVE = ("tiny-llama", "tiny-xglm", "tiny-opt", "tiny-gpt2", "tiny-gpt-neox", "tiny-mt5")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads; on a shared 2-core machine they cost 10x in contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@torch.inference_mode()
def naive_logits(lm: LoadedModel, text: str) -> torch.Tensor:
    """Full forward pass of one text alone (no padding, no harness code): next-token logits at the end."""
    enc = lm.tokenizer(text, return_tensors="pt")
    extra = {}
    if lm.is_encoder_decoder:
        extra["decoder_input_ids"] = torch.tensor([[lm.model.config.decoder_start_token_id]])
    return lm.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], **extra).logits[0, -1]


def naive_choice(lm: LoadedModel, text: str, choice_ids: list[int]) -> int:
    return int(naive_logits(lm, text)[choice_ids].argmax())


# --- predict_choice -------------------------------------------------------------------------------------------


def test_batched_choice_equals_one_at_a_time_and_naive_forward(tiny_lm: LoadedModel) -> None:
    ids, _ = verbalizer_tokens(tiny_lm, CHOICES)
    logits = [naive_logits(tiny_lm, text) for text in SCORING_TEXTS]
    for choice_ids in (ids, BYTE_IDS):
        batched = predict_choice(tiny_lm, SCORING_TEXTS, choice_ids, batch_size=4)
        assert batched.shape == (len(SCORING_TEXTS),) and batched.dtype == torch.long
        single = [int(predict_choice(tiny_lm, [text], choice_ids)[0]) for text in SCORING_TEXTS]
        naive = [int(row[choice_ids].argmax()) for row in logits]
        assert batched.tolist() == single == naive


def test_per_row_masks_on_all_positions_equal_weight_edited_models(tiny_lm: LoadedModel) -> None:
    lm = loud(tiny_lm.name)
    masks = random_masks(lm, len(SCORING_TEXTS), density=0.5, seed=1)
    masked = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4, deactivate_masks=masks, positions="all")
    edited = [naive_choice(weight_edited(lm, masks[row]), text, BYTE_IDS) for row, text in enumerate(SCORING_TEXTS)]
    assert masked.tolist() == edited


def test_per_row_masks_on_last_position_equal_each_row_under_its_own_mask(tiny_lm: LoadedModel) -> None:
    lm = loud(tiny_lm.name)
    masks = random_masks(lm, len(SCORING_TEXTS), density=0.5, seed=2)
    masked = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4, deactivate_masks=masks, positions="last")
    single = []
    for row, text in enumerate(SCORING_TEXTS):
        with deactivate(lm, masks[row], positions="last"):
            single.append(int(predict_choice(lm, [text], BYTE_IDS)[0]))
    assert masked.tolist() == single


@pytest.mark.parametrize("name", SENSITIVE)
@pytest.mark.parametrize("positions", ["last", "all"])
def test_masks_change_some_choices(name: str, positions: str) -> None:
    """Sanity for the two tests above: the masks are applied, so the equalities are not vacuous."""
    lm = loud(name)
    masks = random_masks(lm, len(SCORING_TEXTS), density=0.5, seed=1 if positions == "all" else 2)
    baseline = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4)
    masked = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4, deactivate_masks=masks, positions=positions)
    assert (baseline != masked).any()


def test_recorder_rows_come_back_in_input_order() -> None:
    lm = tiny("tiny-llama")
    ids, _ = verbalizer_tokens(lm, CHOICES)
    with Recorder(lm) as recorder:
        predict_choice(lm, SCORING_TEXTS, ids, batch_size=3, recorder=recorder)
        acts, ever = recorder.gather()
    assert ever is None
    torch.testing.assert_close(acts, last_token_activations(lm, SCORING_TEXTS, batch_size=1))


def test_empty_input_gives_empty_result() -> None:
    lm = tiny("tiny-llama")
    assert predict_choice(lm, [], [119, 105]).shape == (0,)


# --- generate -------------------------------------------------------------------------------------------------


class StepRecorder:
    """Forward hook on the whole model: one entry per decoding step, the greedy token it picks for each row."""

    def __init__(self, lm: LoadedModel) -> None:
        self.lm, self.steps = lm, []

    def __enter__(self) -> Self:
        self.handle = self.lm.model.register_forward_hook(
            lambda _m, _a, out: self.steps.append(out.logits[:, -1].argmax(-1).tolist()))
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


@pytest.mark.parametrize("bound", [1, 3])
def test_generation_stops_at_the_bound(tiny_lm: LoadedModel, bound: int) -> None:
    for text in SCORING_TEXTS[:4]:
        with StepRecorder(tiny_lm) as steps:
            texts, first = generate(tiny_lm, [text], bound)
        assert 1 <= len(steps.steps) <= bound  # one forward per generated token (cached decoding)
        assert len(texts[0].encode("utf-8")) <= bound  # byte tokenizer: at most one byte per token
        if bound == 1:
            assert len(steps.steps) == 1
            expected = int(last_logits(tiny_lm, encode(tiny_lm, [text]))[0].argmax())
            assert first == [expected]


def test_generation_runs_to_the_bound_when_no_eos_comes() -> None:
    lm = loud("tiny-llama")  # its greedy continuations of these texts contain no EOS within 6 tokens
    for text in SCORING_TEXTS[:4]:
        with StepRecorder(lm) as steps:
            generate(lm, [text], 6)
        tokens = [step[0] for step in steps.steps]
        assert len(tokens) == 6 and lm.tokenizer.eos_token_id not in tokens


def test_batched_generation_equals_one_at_a_time(tiny_lm: LoadedModel) -> None:
    lm = loud(tiny_lm.name)
    batched = generate(lm, GEN_TEXTS, 5, batch_size=4)
    single = [generate(lm, [text], 5) for text in GEN_TEXTS]
    assert batched == ([t[0] for t, _ in single], [f[0] for _, f in single])


@torch.inference_mode()
def manual_greedy_last(lm: LoadedModel, text: str, mask: torch.Tensor | None, max_new_tokens: int) -> list[int]:
    """Greedy decoding without a KV cache, re-running the full sequence each step, with its own hooks.

    What ``positions="last"`` means under cached generation: the prompt's last token and every generated token
    are edited (for an encoder-decoder: the encoder's last token and every decoder token).
    """
    enc = lm.tokenizer(text, return_tensors="pt")
    prompt_len = enc["input_ids"].shape[1]
    n_encoder = len(lm.model.encoder.block) if lm.is_encoder_decoder else 0
    eos = lm.model.generation_config.eos_token_id

    def hook(layer: int) -> Callable[..., tuple[torch.Tensor, ...]]:
        def pre(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            a = args[0].clone()
            rows = a.view(-1, a.shape[-1])  # batch 1: (seq, d_ff) for every layout, OPT's flat one included
            if lm.is_encoder_decoder:
                start = rows.shape[0] - 1 if layer < n_encoder else 0
            else:
                start = prompt_len - 1
            rows[start:, mask[layer]] = 0
            return (a, *args[1:])
        return pre

    handles = [] if mask is None else [down.register_forward_pre_hook(hook(layer))
                                       for layer, down in enumerate(lm.site.down_projs)]
    try:
        tokens: list[int] = []
        for _ in range(max_new_tokens):
            if lm.is_encoder_decoder:
                decoder = torch.tensor([[lm.model.config.decoder_start_token_id, *tokens]])
                logits = lm.model(**enc, decoder_input_ids=decoder, use_cache=False).logits
            else:
                sequence = torch.cat([enc["input_ids"], torch.tensor([tokens], dtype=torch.long)], dim=1)
                logits = lm.model(input_ids=sequence, use_cache=False).logits
            tokens.append(int(logits[0, -1].argmax()))
            if tokens[-1] == eos:
                break
        return tokens
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.parametrize("name", TINY_MODELS)
def test_generation_under_last_position_deactivation_equals_cache_free_loop(name: str) -> None:
    lm = loud(name)
    mask = random_masks(lm, density=0.5, seed=3)
    for text in SCORING_TEXTS[:3]:
        expected = manual_greedy_last(lm, text, mask, 5)
        with StepRecorder(lm) as steps, deactivate(lm, mask, positions="last"):
            texts, first = generate(lm, [text], 5)
        assert [step[0] for step in steps.steps] == expected
        assert first == [expected[0]]
        assert texts == [lm.tokenizer.decode(expected, skip_special_tokens=True)]


@pytest.mark.parametrize("name", TINY_MODELS)
def test_cache_free_loop_without_mask_equals_generate(name: str) -> None:
    """The independent route itself agrees with generate when nothing is masked."""
    lm = loud(name)
    with StepRecorder(lm) as steps:
        generate(lm, [SCORING_TEXTS[0]], 5)
    assert [step[0] for step in steps.steps] == manual_greedy_last(lm, SCORING_TEXTS[0], None, 5)


@pytest.mark.parametrize("name", SENSITIVE)
def test_full_mask_changes_generation_and_is_applied_at_every_step(name: str) -> None:
    lm = loud(name)
    full = torch.ones(lm.n_layers, lm.d_ff, dtype=torch.bool)
    with StepRecorder(lm) as base:
        generate(lm, SCORING_TEXTS[:4], 4, batch_size=4)
    seen: list[tuple[int, bool]] = []  # (sequence length of the call, all of A zero at its last position)
    probe = lm.site.down_projs[-1].register_forward_pre_hook(
        lambda _m, args: seen.append((args[0].shape[-2] if args[0].dim() == 3 else -1,
                                      bool((args[0][..., -1, :] == 0).all()) if args[0].dim() == 3 else True)))
    try:
        with StepRecorder(lm) as masked, deactivate(lm, full, positions="last"):
            generate(lm, SCORING_TEXTS[:4], 4, batch_size=4)
    finally:
        probe.remove()
    assert base.steps != masked.steps
    assert len(seen) == len(masked.steps)  # the last layer runs once per decoding step
    assert all(zero for _, zero in seen)
    if lm.site.flat_tokens or lm.is_encoder_decoder:
        return
    assert [length for length, _ in seen][1:] == [1] * (len(seen) - 1)  # cached steps feed one token each


def test_per_row_masks_in_generation_equal_each_row_under_its_own_mask() -> None:
    lm = loud("tiny-gpt-neox")
    masks = random_masks(lm, len(GEN_TEXTS), density=0.5, seed=4)
    batched = generate(lm, GEN_TEXTS, 4, batch_size=4, deactivate_masks=masks)
    single_texts, single_first = [], []
    for row, text in enumerate(GEN_TEXTS):
        with deactivate(lm, masks[row]):
            texts, first = generate(lm, [text], 4)
        single_texts += texts
        single_first += first
    assert batched == (single_texts, single_first)
    assert batched != generate(lm, GEN_TEXTS, 4, batch_size=4)


# --- verbalizers ----------------------------------------------------------------------------------------------


def test_byte_level_verbalizers_use_the_no_space_convention() -> None:
    lm = tiny("tiny-llama")
    ids, convention = verbalizer_tokens(lm, CHOICES)
    assert convention == "no space"
    assert ids == [ord("t") + 3, ord("f") + 3, ord("i") + 3]  # ByT5: byte value + 3 special tokens


def test_colliding_first_bytes_raise() -> None:
    with pytest.raises(VerbalizerError, match="share their first token"):
        verbalizer_tokens(tiny("tiny-llama"), ("ab", "ac"))


class WordTokenizer:
    """Word-level stand-in: a leading space is part of the first token, as in SentencePiece / GPT-2 BPE."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        first = ("▁" if text.startswith(" ") else "") + text.split()[0]
        return {"input_ids": [self.vocab.setdefault(first, 10 + len(self.vocab)), 7]}


def test_leading_space_convention_is_preferred_when_distinct() -> None:
    tokenizer = WordTokenizer()
    # a stand-in with only the tokenizer, which is all verbalizer_tokens reads
    ids, convention = verbalizer_tokens(SimpleNamespace(tokenizer=tokenizer), CHOICES)  # type: ignore[arg-type]
    assert convention == "leading space"
    assert ids == [tokenizer.vocab["▁" + word] for word in CHOICES]
    assert len(set(ids)) == 3


def test_first_answer_token_skips_a_lone_space_token() -> None:
    lm = tiny("tiny-llama")
    assert first_answer_token(lm, "  Paris ") == ord("P") + 3


# --- text metrics ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("  The  Eiffel-Tower! ", "the eiffel tower"),
    ("ＰＡＲＩＳ", "paris"),  # NFKC folds full-width letters
    ("东京，日本。", "东京 日本"),  # CJK punctuation
    ("ไทย ๏ กรุงเทพ๚", "ไทย กรุงเทพ"),  # Thai punctuation marks (Po); ฯ is a letter (Lo) and stays
    ("«Берлин»", "берлин"),
    ("$5 + 3 = 8", "5 3 8"),  # ASCII symbols count as punctuation
    ("", ""),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_exact_and_prefix_match() -> None:
    assert exact_match("Paris.", "paris")
    assert not exact_match("Paris, France", "Paris")
    assert prefix_match("Paris, France", "paris")
    assert prefix_match(" 东京是首都", "东京")
    assert not prefix_match("France: Paris", "Paris")
    assert not prefix_match("anything", "...")  # an empty gold never matches


@pytest.mark.parametrize(("prediction", "gold", "expected"), [
    ("the cat sat", "the cat sat", 1.0),
    ("The Cat!", "the cat", 1.0),
    ("cat", "the cat", 2 * 1.0 * 0.5 / 1.5),
    ("dog", "cat", 0.0),
    ("东京都", "东京", 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)),  # Chinese: characters are tokens
    ("北京", "东京", 0.5),
    ("กรุงเทพ", "กรุง", 2 * (4 / 7) * 1.0 / (4 / 7 + 1.0)),  # Thai: characters are tokens
    ("a a b", "a b b", 2 / 3),  # multiset overlap
    ("", "", 1.0),
    ("!!!", "", 1.0),  # nothing left after normalisation on either side
    ("cat", "", 0.0),
])
def test_token_f1(prediction: str, gold: str, expected: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(metric_texts(), metric_texts())
def test_f1_properties(a: str, b: str) -> None:
    f1 = token_f1(a, b)
    assert 0.0 <= f1 <= 1.0
    assert f1 == token_f1(b, a)
    assert token_f1(a, a) == 1.0
    if exact_match(a, b):
        assert f1 == 1.0
        assert prefix_match(a, b) == bool(normalize(b))


@settings(max_examples=200, deadline=None)
@given(metric_texts())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip() and "  " not in once


# --- out-of-memory back-off -----------------------------------------------------------------------------------


def fake_oom_last_logits(max_rows: int, seen: list[int], error: type[Exception] = torch.OutOfMemoryError,
                         message: str = "CUDA out of memory. Tried to allocate 2.00 GiB"
                         ) -> Callable[..., torch.Tensor]:
    def wrapped(lm: LoadedModel, inputs: dict[str, torch.Tensor], **kept: object) -> torch.Tensor:
        rows = inputs["input_ids"].shape[0]
        seen.append(rows)
        if rows > max_rows:
            raise error(message)
        return last_logits(lm, inputs, **kept)
    return wrapped


def test_backoff_under_fake_oom_gives_the_same_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    lm = loud("tiny-gpt2")
    masks = random_masks(lm, len(SCORING_TEXTS), density=0.5, seed=5)
    expected = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4)
    expected_masked = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4, deactivate_masks=masks)
    seen: list[int] = []
    monkeypatch.setattr(harness.core.scoring, "last_logits", fake_oom_last_logits(2, seen))
    got = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4)
    assert seen[0] == 4 and max(seen[1:]) <= 2 and sum(seen[1:]) == len(SCORING_TEXTS)
    assert torch.equal(got, expected)
    got_masked = predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4, deactivate_masks=masks)
    assert torch.equal(got_masked, expected_masked)
    assert not torch.equal(expected_masked, expected)  # the masks reach the right rows after the back-off


def test_backoff_gives_up_at_one_row_and_passes_other_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    lm = tiny("tiny-gpt2")
    monkeypatch.setattr(harness.core.scoring, "last_logits", fake_oom_last_logits(0, []))
    with pytest.raises(torch.OutOfMemoryError):
        predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4)
    seen: list[int] = []
    monkeypatch.setattr(harness.core.scoring, "last_logits", fake_oom_last_logits(2, seen, error=RuntimeError,
                                                                           message="shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        predict_choice(lm, SCORING_TEXTS, BYTE_IDS, batch_size=4)
    assert seen == [4]  # no retry on an error that is not out-of-memory


def test_prefix_match_stops_at_a_word_boundary() -> None:
    assert prefix_match("Paris, the capital", "Paris")
    assert not prefix_match("Parisian", "Paris")
    assert prefix_match("东京是首都", "东京")  # no spaces in Chinese: any continuation


def test_token_f1_splits_unspaced_scripts_inside_mixed_text() -> None:
    assert token_f1("tokyo 东京", "东京") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert token_f1("서울 특별시", "서울") == pytest.approx(2 / 3)  # Hangul keeps its spaces: word level
