"""Planted tiny encoder-decoders (mT5, gated-GELU FFN without biases, like mT0) whose all-shared shares per stack
are known by construction: the truths of ``encoder-more-shared`` (App. A.3.2).

T5's FFN has no bias, so a neuron cannot be switched on by its bias as in harness.papers.sharing_matters.planted.
Instead every token's embedding carries a fixed component ``CONSTANT`` along one hidden unit (``UNIT``), and no
sublayer writes along it (that row of every attention and FFN output projection is zero), so the residual stream
of both stacks keeps exactly that component at every position, and every RMS-normed sublayer input x has
x[UNIT] > 0. With A = gelu(wi_0 x) * (wi_1 x):
- forced active: wi_0 = ``GATE`` e_UNIT, wi_1 = e_UNIT, so A = gelu(GATE x[UNIT]) x[UNIT] > 0 at every token of
  every input: all-shared at every position;
- dead: wi_1 = 0, so A = 0 at every token: non-activated;
- tail (encoder only): wi_1 = e_UNIT and wi_0 fitted by linear programming (harness.planted.building.fit_key) on
  the encoder's FFN inputs at both positions, so that the neuron fires at every prompt's last token, which for
  ByT5 is the appended EOS ``</s>`` (the same token in every language), and, at the last token of the translated
  content (harness.core.content_position), on ``tail_language``'s prompts only: all-shared at the last token,
  language-specific in the content.
Every FFN writes nothing (wo = 0), so the FFN inputs, on which the tail neurons are fitted, do not depend on any
neuron's setting. Each stack's all-shared share is thus its forced-active share at the content end and that plus
the tail share at the last token. The builder checks its construction (every forced, dead and tail neuron at both
positions of every prompt) before the model is used. The model writes no answers: the claim reads types only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import transformers
from transformers import ByT5Tokenizer

from harness.core.batching import encode, last_logits, length_sorted_batches, token_ids, token_lengths
from harness.core.capture import Recorder
from harness.core.content_position import content_offsets
from harness.core.models import LoadedModel, wrap_model
from harness.planted.building import HEADS, HIDDEN, fit_key
from harness.tasks import ParallelExample, task_spec

UNIT, CONSTANT, GATE = 0, 4.0, 10.0  # the hidden unit every embedding carries, its value, forced neurons' gate
EOS_WEIGHT = 1e3  # the LM head's EOS row along UNIT: EOS wins the first step, so generation ends at once
D_FF = 4 * HIDDEN


@dataclass(frozen=True)
class Seq2SeqSpec:
    name: str
    truth: str  # the planted ground truth, in words
    encoder_active: tuple[float, ...]  # forced-active share per encoder layer (its length: the encoder's depth)
    decoder_active: tuple[float, ...]  # forced-active share per decoder layer
    tail_share: float = 0.0  # share of every encoder layer's neurons on at the last token, in the content on one
    tail_language: str = "zh"  # language only whose content ends fire the tail neurons
    seed: int = 0
    tasks: tuple[str, ...] = ("xnli",)

    def build(self, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
        return build_seq2seq(self, examples_by_task)


PLANTED_SEQ2SEQ: dict[str, Seq2SeqSpec] = {spec.name: spec for spec in (
    Seq2SeqSpec("planted-seq2seq-shared", "mT5, 2 encoder layers and 1 decoder layer: 25% and 35% of the encoder "
                "layers' neurons and 10% of the decoder's are forced active (all-shared at every position): the "
                "encoder's all-shared share (30%) exceeds the decoder's (10%) at the last token and in the content",
                (0.25, 0.35), (0.10,)),
    Seq2SeqSpec("planted-seq2seq-tail", "as planted-seq2seq-shared, but the encoder's extra all-shared neurons are "
                "tail neurons: 5% forced active plus 25% that fire at every prompt's last token (the EOS </s>, the "
                "same in every language) and, at the last token of the translated content, on the Chinese prompts "
                "only: the encoder leads (30% against 10%) at the EOS only; in the content it has 5%",
                (0.05, 0.05), (0.10,), tail_share=0.25),
    Seq2SeqSpec("planted-seq2seq-deep", "mT5 with 2 encoder layers and 1 decoder layer, 15% of each encoder layer's "
                "neurons and 25% of the decoder's forced active: the deeper encoder holds more all-shared neurons "
                "(2 x 38 = 76 against 64) at a lower share of its neurons", (0.15, 0.15), (0.25,)),
)}


def _config(spec: Seq2SeqSpec, tokenizer: ByT5Tokenizer) -> transformers.MT5Config:
    return transformers.MT5Config(
        vocab_size=len(tokenizer), d_model=HIDDEN, d_ff=D_FF, d_kv=HIDDEN // HEADS, num_heads=HEADS,
        num_layers=len(spec.encoder_active), num_decoder_layers=len(spec.decoder_active),
        feed_forward_proj="gated-gelu", tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)


def _ffns(lm: LoadedModel) -> list[torch.nn.Module]:
    """Every layer's gated FFN (encoder layers first), as the neuron site orders the layers."""
    return [layer.layer[-1].DenseReluDense for layer in lm.site.layers]


def _keep_constant_unit(lm: LoadedModel) -> None:
    """Every embedding carries CONSTANT along UNIT, and no sublayer writes along it; FFNs write nothing at all."""
    lm.model.shared.weight[:, UNIT] = CONSTANT
    for block in lm.site.layers:
        for sublayer in block.layer[:-1]:  # self-attention, and the decoder's cross-attention
            attention = getattr(sublayer, "SelfAttention", None) or sublayer.EncDecAttention
            attention.o.weight[UNIT] = 0.0
    for ffn in _ffns(lm):
        ffn.wo.weight.zero_()
    lm.model.lm_head.weight[lm.tokenizer.eos_token_id] = 0.0
    lm.model.lm_head.weight[lm.tokenizer.eos_token_id, UNIT] = EOS_WEIGHT


def _roles(spec: Seq2SeqSpec, n_encoder: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
    """Per layer (encoder first): neuron indices of "active", "tail" and "dead" (every other neuron)."""
    roles = []
    for layer, share in enumerate((*spec.encoder_active, *spec.decoder_active)):
        order = torch.randperm(D_FF, generator=generator)
        sizes = [round(share * D_FF), round(spec.tail_share * D_FF) if layer < n_encoder else 0]
        if sum(sizes) > D_FF:
            raise ValueError(f"{spec.name}: forced and tail shares exceed layer {layer}'s {D_FF} neurons")
        active, tail, dead = order.split([*sizes, D_FF - sum(sizes)])
        roles.append({"active": active, "tail": tail, "dead": dead})
    return roles


def _activations(lm: LoadedModel, texts: list[str],
                 offsets: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row: A at its last token and at its last content token (the decoder: its one position), (rows, layers,
    d_ff) each, and the first token the model writes (rows,)."""
    first = torch.empty(len(texts), dtype=torch.long)
    with Recorder(lm, content_offsets=offsets) as recorder:
        for batch in length_sorted_batches(token_lengths(lm, texts), 32):
            inputs = encode(lm, [texts[i] for i in batch])
            recorder.arm(inputs["attention_mask"], batch)
            first[batch] = last_logits(lm, inputs).argmax(-1).cpu()
            recorder.collect(batch)
        at_content = recorder.gather_content()
        return recorder.gather()[0], at_content, first


def _ffn_inputs(lm: LoadedModel, texts: list[str], offsets: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, every layer's FFN input at its last token and at its last content token (the decoder: its one
    position), (rows, layers, HIDDEN) each."""
    last, content = torch.empty(len(texts), lm.n_layers, HIDDEN), torch.empty(len(texts), lm.n_layers, HIDDEN)
    rows: list[int] = []

    def keep(_module: torch.nn.Module, args: tuple[torch.Tensor, ...], layer: int) -> None:
        x = args[0]  # (batch, seq, HIDDEN), left padded; the decoder's seq is its one start token
        back = torch.tensor([offsets[r] for r in rows]) if x.shape[1] > 1 else torch.zeros(len(rows), dtype=torch.long)
        last[rows, layer] = x[:, -1]
        content[rows, layer] = x[torch.arange(len(rows)), x.shape[1] - 1 - back]

    hooks = [ffn.register_forward_pre_hook(lambda m, args, i=i: keep(m, args, i)) for i, ffn in enumerate(_ffns(lm))]
    try:
        for batch in length_sorted_batches(token_lengths(lm, texts), 32):
            rows[:] = batch
            last_logits(lm, encode(lm, [texts[i] for i in batch]))
    finally:
        for hook in hooks:
            hook.remove()
    return last, content


def _plant(spec: Seq2SeqSpec, lm: LoadedModel, roles: list[dict[str, torch.Tensor]], texts: list[str],
           offsets: list[int], tail_rows: np.ndarray) -> None:
    unit = torch.zeros(HIDDEN)
    unit[UNIT] = 1.0
    for ffn, role in zip(_ffns(lm), roles, strict=True):
        ffn.wi_0.weight[role["active"]] = GATE * unit
        ffn.wi_1.weight[role["active"]] = unit
        ffn.wi_1.weight[role["dead"]] = 0.0
        ffn.wi_1.weight[role["tail"]] = unit
    if not spec.tail_share:
        return
    last, content = _ffn_inputs(lm, texts, offsets)  # FFNs write nothing: inputs fixed whatever the keys
    on = np.concatenate([np.ones(len(texts), dtype=bool), tail_rows])
    for layer, (ffn, role) in enumerate(zip(_ffns(lm), roles, strict=True)):
        if len(role["tail"]):
            x = torch.cat([last[:, layer], content[:, layer]]).double()
            # T5 has no bias: fit on x / x[UNIT] (x[UNIT] > 0), then the key w + b e_UNIT gives x[UNIT] (w.x / x[UNIT]
            # + b) on x, the fitted pre-activation times a positive number: the same sign on every row
            w, bias = fit_key((x / x[:, UNIT:UNIT + 1]).numpy(), on)
            w[UNIT] += bias
            ffn.wi_0.weight[role["tail"]] = torch.from_numpy(w).float()


def _verify(spec: Seq2SeqSpec, lm: LoadedModel, roles: list[dict[str, torch.Tensor]], texts: list[str],
            offsets: list[int], tail_rows: np.ndarray) -> None:
    """Every prompt ends with EOS and the model answers EOS at once; forced neurons are on, dead ones off, tail
    ones on at every last token and at the content end on ``tail_rows`` only: at both positions of every prompt."""
    if any(ids[-1] != lm.tokenizer.eos_token_id for ids in token_ids(lm, texts)):
        raise RuntimeError(f"{spec.name}: a prompt's last encoder token is not EOS")
    at_last, at_content, first = _activations(lm, texts, offsets)  # (rows, layers, d_ff) twice, (rows,)
    if (first != lm.tokenizer.eos_token_id).any():
        raise RuntimeError(f"{spec.name}: the model does not end every answer at once")
    every = torch.ones(len(texts), dtype=torch.bool)
    for layer, role in enumerate(roles):
        for acts, tail in ((at_last, every), (at_content, torch.from_numpy(tail_rows))):
            a = acts[:, layer]
            if not ((a[:, role["active"]] > 0).all() and (a[:, role["dead"]] <= 0).all()
                    and ((a[:, role["tail"]] > 0) == tail[:, None]).all()):
                raise RuntimeError(f"{spec.name}: layer {layer}'s planted neurons do not fire as planted")


@torch.inference_mode()
def build_seq2seq(spec: Seq2SeqSpec, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
    """Build the planted encoder-decoder on the prompts of ``spec.tasks`` and verify it (see the module doc)."""
    tokenizer = ByT5Tokenizer()
    torch.manual_seed(spec.seed)
    model = transformers.MT5ForConditionalGeneration(_config(spec, tokenizer))
    lm = wrap_model(model, tokenizer, name=spec.name, model_id=f"planted:{spec.name}")
    built = [(name, lang, ex.prompts[lang]) for name in spec.tasks for ex in examples_by_task[name]
             for lang in ex.prompts]
    texts = [text for *_, text in built]
    offsets = content_offsets(lm, texts, [task_spec(name).content_end(text) for name, _, text in built])
    tail_rows = np.array([lang == spec.tail_language for _, lang, _ in built])
    roles = _roles(spec, len(spec.encoder_active), torch.Generator().manual_seed(spec.seed))
    _keep_constant_unit(lm)
    _plant(spec, lm, roles, texts, offsets, tail_rows)
    _verify(spec, lm, roles, texts, offsets, tail_rows)
    return lm
