"""Planted models built once per machine: each planted spec's ``build`` behind a disk cache; and the identity under
which the tiny tier caches its measurements of them (``measurement_identity``).

A built model is stored as plain data, never as a pickle: its config (JSON), its weights (safetensors), and what
rebuilds its tokenizer and neuron site (JSON). Loading rebuilds the model from them, so a cache entry restored from
elsewhere cannot run code. The key hashes everything the model depends on: the source of the spec's builder module
and of every module of ours it imports (harness.core.sources), the spec's repr, the examples it is built on, and the
torch and transformers versions. A changed builder therefore never reuses a stale model. A file lock per key makes
concurrent processes (pytest-xdist workers) build each model once: the others wait, then load it. An entry that
does not load (damaged, foreign or crafted) is a miss: reported once (harness.core.cache_damage), removed and built
again under the same lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
import transformers
from filelock import FileLock
from transformers import ByT5Tokenizer

from harness.core.cache_damage import describe, discard, report_damaged
from harness.core.models import LoadedModel, wrap_model
from harness.core.papers import PlantedModel
from harness.core.sources import module_sources
from harness.tasks import ParallelExample, data_fingerprint

FORMAT = 1  # of a cache entry's files
WEIGHTS, META = "model.safetensors", "planted.json"  # META is written last: an entry without it is incomplete
META_FIELDS = {"format", "name", "model_id", "revision", "site", "config", "added_tokens", "vocab"}


class PlantedCacheError(Exception):
    """A planted-model cache entry that is not what this cache writes (damaged, foreign or crafted); says why."""


def builder_sources(spec: PlantedModel) -> dict[str, str]:
    """Module name -> sha256 of its source, for the spec's builder module and everything of ours it imports."""
    return module_sources((type(spec).__module__,))


def cache_key(spec: PlantedModel, examples_by_task: Mapping[str, Sequence[ParallelExample]],
              sources: Mapping[str, str] | None = None) -> str:
    payload: dict[str, Any] = {
        "sources": dict(builder_sources(spec) if sources is None else sources), "spec": repr(spec),
        "data": {task: data_fingerprint(list(examples)) for task, examples in sorted(examples_by_task.items())},
        "torch": torch.__version__, "transformers": transformers.__version__, "format": FORMAT}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _added_tokens(tokenizer: ByT5Tokenizer) -> list[str]:
    """The tokens added to ByT5's own vocabulary, in id order."""
    base = ByT5Tokenizer().get_added_vocab()
    return [token for token, _ in sorted(tokenizer.get_added_vocab().items(), key=lambda item: item[1])
            if token not in base]


def save(lm: LoadedModel, directory: Path) -> None:
    """Write ``lm`` as plain data into ``directory`` (which must not exist yet), atomically."""
    if type(lm.tokenizer) is not ByT5Tokenizer:
        raise TypeError(f"{lm.name}: the planted-model cache rebuilds ByT5 tokenizers only, got "
                        f"{type(lm.tokenizer).__name__}")
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    safetensors.torch.save_model(lm.model, str(tmp / WEIGHTS))
    meta = {"format": FORMAT, "name": lm.name, "model_id": lm.model_id, "revision": lm.revision,
            "site": lm.site.name, "config": lm.model.config.to_dict(),
            "added_tokens": _added_tokens(lm.tokenizer), "vocab": lm.tokenizer.get_added_vocab()}
    (tmp / META).write_text(json.dumps(meta), encoding="utf-8")
    os.replace(tmp, directory)


def load(directory: Path) -> LoadedModel:
    """Rebuild a planted model from ``save``'s files; a PlantedCacheError says what is wrong with them."""
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except Exception as error:  # any bytes can be in the file: not text, not JSON, JSON nested too deep, ...
        raise PlantedCacheError(f"{META} unreadable: {describe(error)}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not META_FIELDS <= meta.keys():
        raise PlantedCacheError(f"{META} is not in format {FORMAT}")
    try:
        config = transformers.AutoConfig.for_model(**meta["config"])
        auto = transformers.AutoModelForSeq2SeqLM if config.is_encoder_decoder else transformers.AutoModelForCausalLM
        model = auto.from_config(config)
        missing, unexpected = safetensors.torch.load_model(model, str(directory / WEIGHTS), strict=False)
        tokenizer = ByT5Tokenizer()
        tokenizer.add_tokens(list(meta["added_tokens"]))
        lm = wrap_model(model, tokenizer, name=meta["name"], site=meta["site"], model_id=meta["model_id"],
                        revision=meta["revision"])
    except Exception as error:  # a damaged config or weights file fails wherever it is first read
        raise PlantedCacheError(f"cannot be rebuilt: {describe(error)}") from error
    if missing or unexpected:
        raise PlantedCacheError(f"does not match its config: missing weights {missing}, unexpected {unexpected}")
    if tokenizer.get_added_vocab() != meta["vocab"]:
        raise PlantedCacheError("does not rebuild its tokenizer's vocabulary")
    return lm


class PlantedCache:
    """Builds planted models, or loads them from ``directory`` (None: always build); says which it did."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.built: list[str] = []
        self.loaded: list[str] = []

    def path(self, spec: PlantedModel, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{spec.name}-{cache_key(spec, examples_by_task)}"

    def get(self, spec: PlantedModel, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
        path = self.path(spec, examples_by_task)
        if path is None:
            self.built.append(spec.name)
            return spec.build(examples_by_task)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{path}.lock"):
            if path.exists():
                try:
                    lm = load(path)
                except PlantedCacheError as error:
                    report_damaged("planted-model", path, str(error))
                    discard(path)
                else:
                    # The builders flush denormals process-wide (fast CPU matmuls with silu tails); a loaded model
                    # must run under the same setting to give the same numbers.
                    torch.set_flush_denormal(True)
                    self.loaded.append(spec.name)
                    return lm
            lm = spec.build(examples_by_task)
            save(lm, path)
            self.built.append(spec.name)
            return lm


def measurement_identity(spec: PlantedModel,
                         examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> dict[str, Any]:
    """What a tiny-tier measurement of a planted model depends on besides what the measurement store's key holds
    (task, data, template, languages, settings, conditions, schema versions, measuring code): the spec and the
    model's own cache key (its builder's code, spec, data and the library versions). A measurement cached under it
    is therefore never stale: any change to the model, the measuring code or the data gives another key."""
    return {"planted": repr(spec), "model_key": cache_key(spec, examples_by_task)}
