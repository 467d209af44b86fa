"""The memory formulas of harness.footprint against the bytes every tensor of a real run holds.

A dispatch mode sees every tensor an operation returns; the bytes of each new storage count from then until the
storage is freed (a weak reference's finalizer), so the peak is the most tensor memory alive at once, exact and
independent of the allocator (RSS would count cached and fragmented pages). Storages that existed before (the
model's weights) are not counted. The model is a small BLOOM on the CPU, so host and device terms are one memory.
"""

from __future__ import annotations

import random
import weakref
from typing import Any

import pytest
import torch
import transformers
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from transformers import ByT5Tokenizer

from harness import footprint
from harness.language_neurons import LanguageNeuronConfig, language_texts, measure_language_neurons
from harness.measure import MeasureConfig, measure
from harness.models import LoadedModel, wrap_model
from harness.tasks import ParallelExample, task_spec
from harness.tasks.xnli import TEMPLATE

LANGUAGES = ("en", "de", "fr")
HIDDEN, LAYERS = 256, 8


class LiveTensorBytes(TorchDispatchMode):
    """Bytes of tensor storage alive now and at most, counting storages made while the mode is on."""

    def __init__(self, existing: list[torch.Tensor]) -> None:
        super().__init__()
        self.ignored = {t.untyped_storage().data_ptr() for t in existing}
        self.live: dict[int, int] = {}
        self.now = self.peak = 0

    def _free(self, key: int) -> None:
        self.now -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key = storage.data_ptr()
            if key and key not in self.live and key not in self.ignored:
                self.live[key] = storage.nbytes()
                self.now += storage.nbytes()
                self.peak = max(self.peak, self.now)
                weakref.finalize(storage, self._free, key)
        return out


def _model() -> LoadedModel:
    tokenizer = ByT5Tokenizer()
    config = transformers.BloomConfig(vocab_size=384, hidden_size=HIDDEN, n_layer=LAYERS, n_head=4,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                      bos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    return wrap_model(transformers.AutoModelForCausalLM.from_config(config), tokenizer, name="footprint-bloom")


def _examples(n: int) -> list[ParallelExample]:
    rng = random.Random(0)

    def words(length: int) -> str:
        return "".join(rng.choice("abcdefghij ") for _ in range(length))

    return [ParallelExample(f"e{i}", {lang: TEMPLATE.format(premise=words(12), hypothesis=words(6))
                                      for lang in LANGUAGES}, {lang: "true" for lang in LANGUAGES}) for i in range(n)]


def _measured_peak(lm: LoadedModel, run: Any) -> int:
    existing = [*lm.model.parameters(), *lm.model.buffers()]
    with torch.inference_mode(), LiveTensorBytes(existing) as counter:
        run()
    return counter.peak


def _formula_peak(terms: dict[str, dict[str, dict[str, int]]]) -> int:
    """On the CPU host and device are one memory: a phase's peak is its host and device terms together."""
    phases = {p: {**terms["host"].get(p, {}), **terms["device"].get(p, {})} for p in {*terms["host"], *terms["device"]}}
    return footprint.peak(phases)[1]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("conditions", [("resamples",), ("resamples", "tampering")])
def test_language_neurons_peak_is_the_formulas(conditions: tuple[str, ...]) -> None:
    lm, examples = _model(), _examples(200)  # 600 texts: responses 19.7 MB, AP temporaries 25 MB
    config = LanguageNeuronConfig(n_bootstrap=5, n_samples=6, max_new_tokens=8, batch_size=16,
                                  generation_batch_size=32)
    measured = _measured_peak(lm, lambda: measure_language_neurons(lm, examples, task_spec("xnli"), config,
                                                                   conditions=conditions))
    texts, _ = language_texts(examples, task_spec("xnli"))
    shape = footprint.ModelShape.bloom(HIDDEN, LAYERS, 4, 384, 4)
    assert shape.parameters == sum(p.numel() for p in lm.model.parameters())
    formula = _formula_peak(footprint.language_neurons(
        shape, len(texts), len(LANGUAGES), config, text_tokens=max(len(lm.tokenizer(t)["input_ids"]) for t in texts),
        tampering="tampering" in conditions))
    assert measured == pytest.approx(formula, rel=0.1), (measured, formula)


def test_types_chunk_peak_is_the_formulas() -> None:
    lm, examples = _model(), _examples(32)
    config = MeasureConfig(batch_size=8, chunk_rows=48, control_seeds=2)
    measured = _measured_peak(lm, lambda: measure(lm, examples, task_spec("xnli"), config))
    tokens = [len(lm.tokenizer(ex.prompts[lang])["input_ids"]) for ex in examples for lang in LANGUAGES]
    formula = _formula_peak(footprint.types(footprint.ModelShape.bloom(HIDDEN, LAYERS, 4, 384, 4), len(examples),
                                            len(LANGUAGES), config, prompt_tokens=sum(tokens) / len(tokens)))
    assert measured == pytest.approx(formula, rel=0.1), (measured, formula)
