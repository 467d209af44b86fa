"""Planted tiny models for Kojima et al.'s claims (language-specific neurons), built on the tiny tier's XNLI texts
(premise and hypothesis in each language, the texts the measurement reads).

Every FFN neuron is dead (key 0, bias -100: A is exactly 0 at every token, so its pooled response ties across texts
and its AP is the share of positives) except the planted ones; the attention output weights are scaled up
(``ATTENTION_GAIN``) so that every token's FFN input carries its context. Planted neurons write nothing, except
writers. Per language (or group of languages sharing neurons) and planted layer, ``copies`` neurons of each kind:
- *top* (linear): key w and a bias so large that A = w.x + b at every token of every text (GELU is the identity
  there), so the response pooled over a text is exactly w.x̄ + b, x̄ the text's mean FFN input; w is fitted by
  linear programming on the x̄ so that the group's texts score >= b + 1 and every other text <= b - 1: AP 1.
- *bottom* (linear): the reverse, the group's texts score lowest: the lowest AP for each language of the group.
- *shared* (``shared``, first planted layer): one top and one bottom neuron for a group of languages besides each
  language's own, fitted like the others on the group's texts: the group's languages share one of their N.
- *writer* (last layer only): fires (>= +20) at the last token of its language's texts and stays at exactly 0
  (<= -8) at every token of every other text and of sampled baseline generations (a linear program over all those
  tokens, solved by adding the violated tokens as constraints until none is left): pooled response > 0 on its
  language's texts, 0 elsewhere, AP 1. It writes direction d_l, which the LM head turns into its language's byte
  distribution (log-frequencies in the texts), so fixing the writers at their median on the language's texts
  makes the model sample text of that language (``steer``), or writes nothing (``mute``; same LM head). With
  ``writes``, every writer writes that one language's direction instead of its own: fixing any of them, at any
  language's level, makes the model sample that language.
- *noise* (``noise``): every neuron of every layer linear (as a top neuron) in the text's mean FFN input, its
  responses ranking the texts in a random order of its own, drawn independently of their languages (fitted by
  least squares, exactly, on a spec with fewer texts than the hidden size: ``example_limit``, the model is built and
  measured on the task's first examples only). No neuron is keyed to a language; with many neurons and few texts
  some rank a language's few texts first by chance alone.
- *prior* (``prior``, no neuron): the last layer's FFN output bias writes ``PRIOR`` along one language's direction at
  every token, so that the model writes that language without any fix (unconditional generation at the ceiling).
The builder checks its construction: every planted neuron separates its texts as planted, every other neuron is 0
on every text, fixing a language's writers moves (steer: toward its language, or ``writes``'s) or leaves (mute) the
next-token distribution, and a prior language is favoured before any fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import transformers
from transformers import ByT5Tokenizer

from harness.core.batching import encode
from harness.core.interventions import fix
from harness.core.models import LoadedModel, wrap_model
from harness.core.responses import pooled_responses
from harness.core.sampling import sample_under_fixes, start_tokens
from harness.papers.kojima.language_neurons import language_texts
from harness.planted.building import (
    FAMILY_CONFIGS,
    FAMILY_FFNS,
    HIDDEN,
    PlantedFfn,
    fit_key,
    orthonormal_directions,
)
from harness.tasks import ParallelExample, task_spec

FAMILY = "bloom"
DEAD_BIAS = -100.0
ATTENTION_GAIN = 40.0
LINEAR_FLOOR = 10.0  # smallest pre-activation of a linear neuron: BLOOM's GELU is the identity from about 5.5
WRITER_ON, WRITER_OFF = 20.0, -8.0  # BLOOM's GELU is exactly 0 below about -6
STEER = 3000.0  # value-vector norm of a steering writer: its fixed write outweighs the residual stream
PRIOR = 100.0  # norm of a prior language's constant write: outweighs the residual stream, not a fixed writer
BUILD_SEED = 12345  # sampling noise of the baseline generations writers are fitted to stay silent on


@dataclass(frozen=True)
class LanguagePlantSpec:
    name: str
    truth: str  # the planted ground truth, in words
    layers: tuple[int, ...] = ()  # layers holding the top and bottom neurons
    moved: tuple[str, ...] = ()  # languages whose top and bottom neurons sit in ``moved_layers`` instead
    moved_layers: tuple[int, ...] = ()
    groups: tuple[tuple[str, ...], ...] | None = None  # languages sharing neurons; None: one group per language
    writers: str | None = None  # "steer" or "mute": writers in the last layer
    shared: tuple[tuple[str, ...], ...] = ()  # groups sharing one top and one bottom neuron besides their own
    prior: str | None = None  # a language the model writes without any fix (with writers)
    writes: str | None = None  # the language every steering writer writes (None: each its own)
    noise: bool = False  # every neuron ranks the texts in a random order of its own (no language-keyed neuron)
    example_limit: int | None = None  # built and measured on the task's first examples only (None: all)
    copies: int = 3
    n_layers: int = 10
    seed: int = 0
    tasks: tuple[str, ...] = ("xnli",)

    def build(self, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
        return build_language_planted(self, examples_by_task)


LANGUAGE_PLANTED: dict[str, LanguagePlantSpec] = {spec.name: spec for spec in (
    LanguagePlantSpec("planted-lang-edges", "each language has its own top and bottom neurons (AP 1 / lowest AP), in "
                      "layers 0 and 9 of 10: first and last layers, no overlap", layers=(0, 9)),
    LanguagePlantSpec("planted-lang-middle", "as planted-lang-edges, in layers 4 and 5 of 10", layers=(4, 5)),
    LanguagePlantSpec("planted-lang-shared", "top and bottom neurons shared by the languages of a group (en de, es fr, "
                      "ru th, tr vi zh), in layers 0 and 9: languages of a group share most of their neurons",
                      layers=(0, 9), groups=(("en", "de"), ("es", "fr"), ("ru", "th"), ("tr", "vi", "zh"))),
    LanguagePlantSpec("planted-lang-steer", "6 layers; 3 writers per language in the last layer fire only on its "
                      "texts (as many as the selection takes per side, N = 3 of 1,536 neurons: a language's top-N "
                      "are all of its writers, so no random set holds one); fixed at their median they write a "
                      "direction the LM head turns into the language's bytes", writers="steer", n_layers=6),
    LanguagePlantSpec("planted-lang-mute", "as planted-lang-steer, but the writers' value vectors are zero: fixing "
                      "them changes nothing", writers="mute", n_layers=6),
    # adversarial: the finding is false for its most plausible other reason, not because nothing happens
    LanguagePlantSpec("planted-lang-first", "as planted-lang-edges, in layers 0 and 1 of 10: the first layers only, "
                      "none in the last", layers=(0, 1)),
    LanguagePlantSpec("planted-lang-related", "as planted-lang-edges with 2 own neurons per layer and side, and the "
                      "related pairs en de and es fr also share one top and one bottom neuron in layer 0: one of "
                      "their N = 5 (20%), the least sharing N allows; no other pair shares any",
                      layers=(0, 9), copies=2, shared=(("en", "de"), ("es", "fr"))),
    LanguagePlantSpec("planted-lang-mixed", "as planted-lang-edges for de es ru th vi zh (layers 0 and 9 of 10), "
                      "but en fr tr have theirs in layers 4 and 5: averaged over the languages both ends are enriched "
                      "(over 2x), carried by 6 of the 9 languages", layers=(0, 9), moved=("en", "fr", "tr"),
                      moved_layers=(4, 5)),
    LanguagePlantSpec("planted-lang-chance", "30 layers, 7,680 neurons, measured on 3 examples (27 texts): every "
                      "neuron ranks the texts in its own random order, none is keyed to a language; by chance some "
                      "rank a language's 3 texts first (AP near 1)", noise=True, n_layers=30, example_limit=3),
    LanguagePlantSpec("planted-lang-ceiling", "as planted-lang-steer, and the last layer writes en's direction at "
                      "every token: the model already writes en without any fix, the other languages' writers "
                      "still steer", writers="steer", n_layers=6, prior="en"),
    LanguagePlantSpec("planted-lang-collapse", "as planted-lang-steer, but every writer, whichever language's texts "
                      "it fires on, writes zh's direction: pushed to its language's level, any set of them makes the "
                      "model write zh (zh's own set too, so it steers only as any set pushed as far does)",
                      writers="steer", n_layers=6, writes="zh"),
)}


class _Neurons(NamedTuple):
    """Planted neurons of one kind in one layer, and the texts they single out."""

    layer: int
    slots: torch.Tensor  # unit indices in the layer
    kind: str  # "top", "bottom", "writer" or "noise"
    who: str  # the language or languages they belong to, e.g. "en" or "en+de"
    own: torch.Tensor  # (texts,) bool: their language's (group's) texts; noise: (texts, copies) their planted order


@dataclass
class _Inputs:
    """Each layer's FFN input at every real token of a set of sequences."""

    x: list[np.ndarray]  # per layer (tokens, HIDDEN) float64
    sequence: np.ndarray  # (tokens,) which sequence each token belongs to
    last: np.ndarray  # (tokens,) bool: the sequence's last token

    def pooled(self, layer: int, n: int) -> np.ndarray:
        """Mean FFN input of each sequence, (n, HIDDEN)."""
        sums = np.zeros((n, HIDDEN))
        np.add.at(sums, self.sequence, self.x[layer])
        return sums / np.bincount(self.sequence, minlength=n)[:, None]


_INPUTS: dict[bytes, _Inputs] = {}  # this process's FFN inputs, by a hash of the model's weights and the batches
_INPUTS_KEPT = 4  # under 100 MB each: the 10-layer planted models share one, the 6-layer ones another


def _inputs_key(lm: LoadedModel, batches: list[dict[str, torch.Tensor]]) -> bytes:
    """A hash of everything FFN inputs depend on: every weight of the model and the batches."""
    digest = hashlib.blake2b(digest_size=32)
    for name, tensor in [*lm.model.state_dict().items(), *((name, t) for b in batches for name, t in b.items())]:
        digest.update(name.encode())
        digest.update(repr((tuple(tensor.shape), str(tensor.dtype))).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.digest()


def _ffn_inputs(lm: LoadedModel, batches: list[dict[str, torch.Tensor]]) -> _Inputs:
    """FFN inputs at every real token of left-padded batches (sequences numbered across batches in order).

    Planted models of one depth start from the same silent model (every FFN dead, writing nothing) on the same
    texts: their inputs are kept for this process under a hash of the weights and the batches (read-only
    arrays), and a model with the same ones reads them instead of running the pass again."""
    key = _inputs_key(lm, batches)
    if key not in _INPUTS:
        inputs = _ffn_pass(lm, batches)
        for array in (*inputs.x, inputs.sequence, inputs.last):
            array.flags.writeable = False
        _INPUTS[key] = inputs
        if len(_INPUTS) > _INPUTS_KEPT:
            del _INPUTS[next(iter(_INPUTS))]
    return _INPUTS[key]


@torch.inference_mode()
def _ffn_pass(lm: LoadedModel, batches: list[dict[str, torch.Tensor]]) -> _Inputs:
    per_layer: list[list[np.ndarray]] = [[] for _ in lm.site.layers]
    mask: dict[str, torch.Tensor] = {}
    hooks = [layer.mlp.register_forward_pre_hook(
        lambda _m, args, i=i: per_layer[i].append(args[0][mask["m"]].double().numpy()))
        for i, layer in enumerate(lm.site.layers)]
    sequences, last = [], []
    try:
        for batch in batches:
            real = batch["attention_mask"].bool()
            mask["m"] = real
            lm.model(**batch, use_cache=False)
            lengths = real.sum(dim=1).tolist()
            sequences += [np.full(n, len(last) + i) for i, n in enumerate(lengths)]
            last += [np.arange(n) == n - 1 for n in lengths]
    finally:
        for hook in hooks:
            hook.remove()
    return _Inputs([np.concatenate(x) for x in per_layer], np.concatenate(sequences), np.concatenate(last))


def _fit_on_tokens(x: np.ndarray, on: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, float]:
    """A writer's key: >= WRITER_ON on the ``on`` rows, <= WRITER_OFF on the ``off`` rows (the rest free). The
    linear program starts from the ``on`` rows and a spread-out sample of the off rows and adds the most violated
    off rows until none is left (most off rows never bind)."""
    on_rows, off_rows = np.flatnonzero(on), np.flatnonzero(off)
    active = off_rows[:: max(1, len(off_rows) // 500)]
    while True:
        rows = np.concatenate([on_rows, active])
        w, b = fit_key(x[rows], np.arange(len(rows)) < len(on_rows), on_margin=WRITER_ON, off_margin=WRITER_OFF)
        z = x[off_rows] @ w + b
        violated = off_rows[z > WRITER_OFF + 1e-6]
        if not len(violated):
            return w, b
        active = np.union1d(active, violated[np.argsort(-z[z > WRITER_OFF + 1e-6])[:500]])


def _linear_key(pooled: np.ndarray, tokens: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, float]:
    """Key and bias of a linear neuron: fitted so that w.x̄ + b >= 1 on the ``on`` texts and <= -1 on the others,
    then b raised until w.x + b >= LINEAR_FLOOR at every token (so A = w.x + b there; the gap of 2 stays)."""
    w, b = fit_key(pooled, on, on_margin=1.0, off_margin=-1.0)
    return w, b + LINEAR_FLOOR - float((tokens @ w + b).min())


def _byte_log_probs(lm: LoadedModel, texts: list[str], labels: torch.Tensor, n_langs: int) -> torch.Tensor:
    """log P(byte | language) from the texts (add-one over the 256 bytes), -inf for every other token:
    (languages, vocab)."""
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    byte_ids = torch.tensor(lm.tokenizer.convert_tokens_to_ids([chr(i) for i in range(256)]))
    counts = torch.zeros(n_langs, vocab, dtype=torch.float64)
    for text, label in zip(texts, labels.tolist(), strict=True):
        counts[label] += torch.bincount(torch.tensor(lm.tokenizer(text, add_special_tokens=False)["input_ids"]),
                                        minlength=vocab)
    out = torch.full((n_langs, vocab), -torch.inf, dtype=torch.float64)
    out[:, byte_ids] = ((counts[:, byte_ids] + 1) / (counts[:, byte_ids] + 1).sum(dim=1, keepdim=True)).log()
    return out


def _steering_head(lm: LoadedModel, log_probs: torch.Tensor, directions: torch.Tensor) -> None:
    """LM head rows so that a final residual along d_l (the final LayerNorm makes it sqrt(HIDDEN) d_l) gives each
    byte the logit log P(byte | l) - max (other tokens -20): sampling then draws the language's bytes."""
    gain = HIDDEN ** -0.5
    logits = (log_probs - log_probs.max(dim=1, keepdim=True).values).clamp_min(-20.0)  # (languages, vocab)
    lm.model.get_output_embeddings().weight.copy_(gain * logits.T.float() @ directions)


def _baseline_contexts(lm: LoadedModel) -> _Inputs:
    """FFN inputs along sampled generations of the model as it is (writers not yet planted)."""
    masks = torch.zeros(1, lm.n_layers, lm.d_ff, dtype=torch.bool)
    tokens = sample_under_fixes(lm, masks, torch.zeros(masks.shape), n_samples=32, max_new_tokens=64,
                                temperature=0.8, seed=BUILD_SEED)[0]  # (samples, steps)
    start = torch.tensor(start_tokens(lm)).expand(len(tokens), -1)
    ids = torch.cat([start, tokens], dim=1)
    return _ffn_inputs(lm, [{"input_ids": ids, "attention_mask": torch.ones_like(ids)}])


def _slots(d_ff: int, n: int, generator: torch.Generator) -> list[torch.Tensor]:
    """n disjoint sets of random neuron indices of one layer, d_ff // n each."""
    return list(torch.randperm(d_ff, generator=generator).split(d_ff // n)[:n])


@torch.inference_mode()
def build_language_planted(spec: LanguagePlantSpec,
                           examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
    """Build the planted model on the texts of ``spec.tasks[0]`` and verify its construction."""
    examples = examples_by_task[spec.tasks[0]][:spec.example_limit]
    languages = list(examples[0].prompts)
    groups = _checked_groups(spec, languages)
    if spec.noise and len(examples) * len(languages) >= HIDDEN:
        raise ValueError(f"{spec.name}: noise neurons are fitted exactly on fewer texts than the hidden size "
                         f"({HIDDEN}), got {len(examples) * len(languages)}: set example_limit")
    generator = torch.Generator().manual_seed(spec.seed)
    lm, ffns = _silent_model(spec)
    texts, labels = language_texts(examples, task_spec(spec.tasks[0]))
    inputs = _ffn_inputs(lm, [encode(lm, texts[i:i + 64]) for i in range(0, len(texts), 64)])
    planted = _plant_experts(lm, spec, ffns, inputs, labels, languages, groups, generator)
    if spec.noise:
        planted += _plant_noise(lm, ffns, inputs, len(labels), generator)
    if spec.writers:
        _plant_writers(lm, spec, ffns[-1], inputs, texts, labels, languages, generator, planted)
    _verify(lm, spec, texts, labels, planted)
    return lm


def _checked_groups(spec: LanguagePlantSpec, languages: list[str]) -> tuple[tuple[str, ...], ...]:
    """The spec's language groups (one per language by default), checked against the task's languages."""
    groups = spec.groups or tuple((lang,) for lang in languages)
    if sorted(lang for group in groups for lang in group) != sorted(languages):
        raise ValueError(f"{spec.name}: groups {groups} must cover the languages {languages} once each")
    unknown = ({lang for group in spec.shared for lang in group} | set(spec.moved)) - set(languages) | (
        {spec.prior, spec.writes} - {None, *languages})
    if unknown:
        raise ValueError(f"{spec.name}: shared groups, moved languages, prior and writes name languages "
                         f"{sorted(unknown)} not in {languages}")
    split = [group for group in groups if 0 < len(set(group) & set(spec.moved)) < len(group)]
    if split or bool(spec.moved) != bool(spec.moved_layers):
        raise ValueError(f"{spec.name}: moved languages {spec.moved} need moved_layers {spec.moved_layers} and "
                         f"whole groups (split: {split})")
    return groups


def _silent_model(spec: LanguagePlantSpec) -> tuple[LoadedModel, list[PlantedFfn]]:
    """The seeded random model with every FFN neuron dead and writing nothing, and stronger attention."""
    torch.set_flush_denormal(True)
    torch.manual_seed(spec.seed)
    model = transformers.AutoModelForCausalLM.from_config(FAMILY_CONFIGS[FAMILY](spec.n_layers))
    lm = wrap_model(model, ByT5Tokenizer(), name=spec.name, model_id=f"planted:{spec.name}")
    ffns: list[PlantedFfn] = [FAMILY_FFNS[FAMILY](layer.mlp) for layer in lm.site.layers]
    for layer, ffn in zip(lm.site.layers, ffns, strict=True):
        ffn.set_neurons(slice(None), 0.0, DEAD_BIAS)
        ffn.down.weight.zero_()
        ffn.down.bias.zero_()
        layer.self_attention.dense.weight.mul_(ATTENTION_GAIN)
    return lm, ffns


def _plant_experts(lm: LoadedModel, spec: LanguagePlantSpec, ffns: list[PlantedFfn], inputs: _Inputs,
                   labels: torch.Tensor, languages: list[str], groups: tuple[tuple[str, ...], ...],
                   generator: torch.Generator) -> list[_Neurons]:
    """Each planted layer's top and bottom neurons of every group (and the shared ones, in the first planted
    layer), keyed to fire on their texts' pooled responses."""
    group_of = torch.tensor([next(g for g, group in enumerate(groups) if languages[i] in group) for i in labels])
    layers_of = [spec.moved_layers if group[0] in spec.moved else spec.layers for group in groups]
    planted: list[_Neurons] = []
    for layer in dict.fromkeys(spec.layers + spec.moved_layers):  # in order, each once
        units = [("+".join(group), group_of == g, spec.copies) for g, group in enumerate(groups)
                 if layer in layers_of[g]]
        if layer == spec.layers[0]:  # shared neurons: one per side and group, in the first planted layer
            units += [("+".join(group), torch.isin(labels, torch.tensor([languages.index(lang) for lang in group])), 1)
                      for group in spec.shared]
        slots = _slots(lm.d_ff, 2 * len(units), generator)
        pooled = inputs.pooled(layer, len(labels))
        for u, (who, own, copies) in enumerate(units):
            for kind, on in (("top", own), ("bottom", ~own)):
                w, b = _linear_key(pooled, inputs.x[layer], on.numpy())
                chosen = slots[2 * u + (kind == "bottom")][:copies]
                ffns[layer].set_neurons(chosen, torch.from_numpy(w).float(), b)
                planted.append(_Neurons(layer, chosen, kind, who, own))
    return planted


def _plant_noise(lm: LoadedModel, ffns: list[PlantedFfn], inputs: _Inputs, n_texts: int,
                 generator: torch.Generator) -> list[_Neurons]:
    """Every neuron of every layer linear, its pooled response ranking the texts in a random order of its own:
    response = rank (0 .. texts - 1) + a constant, exactly (keys by least squares on the texts' mean FFN inputs,
    which needs no more texts than the hidden size; bias raised until every token is in GELU's linear range)."""
    planted = []
    for layer, ffn in enumerate(ffns):
        order = torch.rand(n_texts, lm.d_ff, generator=generator).argsort(dim=0).argsort(dim=0)  # (texts, d_ff) ranks
        design = np.hstack([inputs.pooled(layer, n_texts), np.ones((n_texts, 1))])  # (texts, HIDDEN + 1)
        solution = np.linalg.lstsq(design, order.double().numpy(), rcond=None)[0]  # (HIDDEN + 1, d_ff)
        w, b = solution[:-1], solution[-1]
        b = b + LINEAR_FLOOR - (inputs.x[layer] @ w + b).min(axis=0)
        ffn.set_neurons(slice(None), torch.from_numpy(w.T).float(), torch.from_numpy(b).float())
        planted.append(_Neurons(layer, torch.arange(lm.d_ff), "noise", "none", order))
    return planted


def _plant_writers(lm: LoadedModel, spec: LanguagePlantSpec, ffn: PlantedFfn, inputs: _Inputs, texts: list[str],
                   labels: torch.Tensor, languages: list[str], generator: torch.Generator,
                   planted: list[_Neurons]) -> None:
    n_langs = len(languages)
    directions = orthonormal_directions(n_langs)
    _steering_head(lm, _byte_log_probs(lm, texts, labels, n_langs), directions)  # mute too: same baseline
    if spec.prior:  # before the baseline generations: the writers stay silent on what the model writes unfixed
        ffn.down.bias.copy_(PRIOR * directions[languages.index(spec.prior)])
    contexts = _baseline_contexts(lm)  # what the model generates; writers are fitted to stay silent there
    x = np.concatenate([inputs.x[-1], contexts.x[-1]])
    language = np.concatenate([labels.numpy()[inputs.sequence], np.full(len(contexts.sequence), -1)])
    last = np.concatenate([inputs.last, np.zeros(len(contexts.sequence), dtype=bool)])
    slots = _slots(lm.d_ff, n_langs, generator)
    for lang in range(n_langs):
        w, b = _fit_on_tokens(x, last & (language == lang), language != lang)
        chosen = slots[lang][:spec.copies]
        ffn.set_neurons(chosen, torch.from_numpy(w).float(), b)
        if spec.writers == "steer":
            written = languages.index(spec.writes) if spec.writes else lang
            ffn.down.weight[:, chosen] = STEER * directions[written][:, None]
        planted.append(_Neurons(lm.n_layers - 1, chosen, "writer", languages[lang], labels == lang))


def _verify(lm: LoadedModel, spec: LanguagePlantSpec, texts: list[str], labels: torch.Tensor,
            planted: list[_Neurons]) -> None:
    """Pooled responses as planted; every other neuron 0 on every text; writers move (steer) or leave (mute) the
    next-token distribution when fixed at their median on their language's texts; a prior language is favoured
    without a fix."""
    responses = pooled_responses(lm, texts, batch_size=64)  # (texts, layers, d_ff)
    unplanted = torch.ones(lm.n_layers, lm.d_ff, dtype=torch.bool)
    for neurons in planted:
        unplanted[neurons.layer, neurons.slots] = False
        r = responses[:, neurons.layer, neurons.slots]  # (texts, copies)
        own = neurons.own
        if neurons.kind == "noise":  # the planted order, ties none
            ok = torch.equal(r.argsort(dim=0), neurons.own.argsort(dim=0))
        elif neurons.kind == "bottom":
            ok = r[own].amax() < r[~own].amin()
        elif neurons.kind == "top":
            ok = r[own].amin() > r[~own].amax()
        else:
            ok = bool((r[own] > 0).all() and (r[~own] == 0).all())
        if not ok:
            raise RuntimeError(f"{spec.name}: {neurons.kind} neurons of layer {neurons.layer} do not separate "
                               f"{neurons.who}'s texts")
    if (responses[:, unplanted] != 0).any():
        raise RuntimeError(f"{spec.name}: neurons outside the planted ones respond to the texts")
    writers = [neurons for neurons in planted if neurons.kind == "writer"]
    if writers:
        _verify_writers(lm, spec, texts, labels, responses, writers)


def _verify_writers(lm: LoadedModel, spec: LanguagePlantSpec, texts: list[str], labels: torch.Tensor,
                    responses: torch.Tensor, writers: list[_Neurons]) -> None:
    """Fixing language l's writers at their median on l's texts: the next-token distribution after the start
    token moves and favours l's bytes (or ``writes``'s) over every other language's (steer: expected log-likelihood
    ratio > 0 against each), or the logits do not move at all (mute). Without a fix, a prior language's bytes are
    favoured likewise."""
    start = torch.tensor([start_tokens(lm)])
    log_probs = _byte_log_probs(lm, texts, labels, len(writers)).clamp_min(-1e4)
    before = lm.model(input_ids=start).logits[0, -1]

    def favoured(logits: torch.Tensor, lang: int) -> bool:
        q = torch.softmax(logits.double(), dim=-1)
        evidence = (q[None] * (log_probs[lang][None] - log_probs)).sum(dim=1)  # (languages,) E_q[log p_l - log p_k]
        evidence[lang] = torch.inf
        return bool((evidence > 0).all())

    if spec.prior and not favoured(before, [w.who for w in writers].index(spec.prior)):
        raise RuntimeError(f"{spec.name}: without a fix the model does not favour {spec.prior}'s bytes")
    for lang, neurons in enumerate(writers):
        mask = torch.zeros(lm.n_layers, lm.d_ff, dtype=torch.bool)
        mask[-1, neurons.slots] = True
        values = torch.zeros(mask.shape)
        values[-1, neurons.slots] = responses[neurons.own][:, -1, neurons.slots].median(dim=0).values
        with fix(lm, mask, values):
            after = lm.model(input_ids=start).logits[0, -1]
        if spec.writers == "mute":
            if not torch.equal(after, before):
                raise RuntimeError(f"{spec.name}: fixing the mute writers of {neurons.who} changes the logits")
        else:  # moved, so that a model already favouring the written language without a fix does not pass
            written = [w.who for w in writers].index(spec.writes) if spec.writes else lang
            if torch.equal(after, before) or not favoured(after, written):
                raise RuntimeError(f"{spec.name}: fixing {neurons.who}'s writers does not move the next-token "
                                   f"distribution to favour {writers[written].who}'s bytes")
