"""Model registry and loading: aliases of the paper's models, hub ids, local directories, tiny in-code models and
the subjects trained here (harness.subjects)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
import transformers
from torch import nn
from transformers import AutoConfig, AutoTokenizer, ByT5Tokenizer, PreTrainedTokenizerBase

from harness.core.sites import FAMILIES, NeuronSite, UnsupportedModelError, neuron_site
from harness.subjects import SUBJECTS

ALIASES: dict[str, str] = {
    "bloomz-7b1": "bigscience/bloomz-7b1",
    "bloom-7b1": "bigscience/bloom-7b1",
    "bloomz-3b": "bigscience/bloomz-3b",
    "bloom-3b": "bigscience/bloom-3b",
    "bloomz-1b1": "bigscience/bloomz-1b1",
    "bloom-1b1": "bigscience/bloom-1b1",
    "bloomz-560m": "bigscience/bloomz-560m",
    "bloom-560m": "bigscience/bloom-560m",
    "xglm-564m": "facebook/xglm-564M",
    "xglm-7.5b": "facebook/xglm-7.5B",
    "llama-2-7b-chat": "meta-llama/Llama-2-7b-chat-hf",
    "llama-2-7b": "meta-llama/Llama-2-7b-hf",
    "mt0-xxl": "bigscience/mt0-xxl",
    "mt5-xxl": "google/mt5-xxl",
    "mt0-base": "bigscience/mt0-base",
    "mt5-base": "google/mt5-base",
}

# Instruction-tuned model -> its foundation model (the pair of §5.2).
BASE_OF: dict[str, str] = {
    **{f"bloomz-{size}": f"bloom-{size}" for size in ("7b1", "3b", "1b1", "560m")},
    "mt0-xxl": "mt5-xxl",
    "mt0-base": "mt5-base",
    "llama-2-7b-chat": "llama-2-7b",
    "trained-tiny-ift": "trained-tiny",
}

# A model -> one of its family at another size (App. A.3.5: the BLOOMZ series from 0.56b to 7.1b parameters):
# the largest is paired with the smallest, every other size with the largest.
SCALE_OF: dict[str, str] = {
    **{f"{family}-{size}": f"{family}-7b1" for family in ("bloomz", "bloom") for size in ("3b", "1b1", "560m")},
    "bloomz-7b1": "bloomz-560m",
    "bloom-7b1": "bloom-560m",
    "xglm-7.5b": "xglm-564m",
    "xglm-564m": "xglm-7.5b",
    "mt0-xxl": "mt0-base",
    "mt0-base": "mt0-xxl",
}

TINY_VOCAB = 384  # ByT5Tokenizer: 3 special tokens + 256 bytes + 125 sentinels


def base_model_for(name: str) -> str:
    """The foundation model paired with an instruction-tuned alias, or a clear error."""
    return _registered_pair(name, BASE_OF, "base model", "--base-model")


def scale_model_for(name: str) -> str:
    """The model of the same family at another size paired with an alias, or a clear error."""
    return _registered_pair(name, SCALE_OF, "model of another size", "--scale-model")


def _registered_pair(name: str, pairs: dict[str, str], what: str, option: str) -> str:
    if name in pairs:
        return pairs[name]
    raise ValueError(f"no {what} is registered for {name!r}; pass {option} (known pairs: "
                     + ", ".join(f"{k} -> {v}" for k, v in pairs.items()) + ")")


def _tiny_configs() -> dict[str, Callable[[], transformers.PretrainedConfig]]:
    v = TINY_VOCAB
    return {
        "tiny-bloom": lambda: transformers.BloomConfig(vocab_size=v, hidden_size=32, n_layer=3, n_head=4),
        "tiny-llama": lambda: transformers.LlamaConfig(
            vocab_size=v, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=1024),
        "tiny-xglm": lambda: transformers.XGLMConfig(
            vocab_size=v, d_model=32, ffn_dim=64, num_layers=3, attention_heads=4, max_position_embeddings=1024),
        "tiny-opt": lambda: transformers.OPTConfig(
            vocab_size=v, hidden_size=32, ffn_dim=64, num_hidden_layers=3, num_attention_heads=4,
            word_embed_proj_dim=32, max_position_embeddings=1024),
        "tiny-gpt2": lambda: transformers.GPT2Config(vocab_size=v, n_embd=32, n_layer=3, n_head=4, n_positions=1024),
        "tiny-gpt-neox": lambda: transformers.GPTNeoXConfig(
            vocab_size=v, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
            max_position_embeddings=1024),
        "tiny-mt5": lambda: transformers.MT5Config(
            vocab_size=v, d_model=32, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=8),
    }


TINY_MODELS = tuple(_tiny_configs())


@dataclass
class LoadedModel:
    """A model in eval mode with its tokenizer and the neuron site chosen for it."""

    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    name: str
    site: NeuronSite
    model_id: str = ""
    revision: str = ""

    @property
    def n_layers(self) -> int:
        return self.site.n_layers

    @property
    def d_ff(self) -> int:
        return self.site.value_vectors(0).shape[0]

    @property
    def is_encoder_decoder(self) -> bool:
        return bool(getattr(self.model.config, "is_encoder_decoder", False))

    @property
    def device(self) -> torch.device:
        return self.model.get_output_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_output_embeddings().weight.dtype

    @cached_property
    def forward_params(self) -> frozenset[str]:
        return frozenset(inspect.signature(self.model.forward).parameters)

    def provenance(self) -> dict[str, object]:
        return {"model": self.name, "model_id": self.model_id or self.name, "revision": self.revision,
                "model_type": self.model.config.model_type, "dtype": str(self.dtype).removeprefix("torch."),
                "device": str(self.device), "site": self.site.name, "n_layers": self.n_layers, "d_ff": self.d_ff,
                "stacks": [list(stack) for stack in self.site.stacks]}


def wrap_model(model: nn.Module, tokenizer: PreTrainedTokenizerBase, *, name: str, site: str = "down_proj_input",
               model_id: str = "", revision: str = "") -> LoadedModel:
    """Put a model in eval mode, set left padding on its tokenizer and locate its neurons."""
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model, tokenizer, name, neuron_site(model, site), model_id=model_id, revision=revision)


def build_tiny(name: str, *, seed: int = 0) -> tuple[nn.Module, PreTrainedTokenizerBase]:
    """A tiny random model of one supported architecture with the offline byte-level tokenizer."""
    config = _tiny_configs()[name]()
    tokenizer = ByT5Tokenizer()
    config.pad_token_id, config.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    config.bos_token_id = tokenizer.eos_token_id
    if config.is_encoder_decoder:
        config.decoder_start_token_id = tokenizer.pad_token_id
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = transformers.AutoModelForSeq2SeqLM.from_config(config) if config.is_encoder_decoder \
            else transformers.AutoModelForCausalLM.from_config(config)
    return model, tokenizer


def resolve_model_id(name_or_path: str) -> str:
    """Alias -> hub id; a local directory or a hub id passes through; anything else is a clear error."""
    if name_or_path in ALIASES:
        return ALIASES[name_or_path]
    if Path(name_or_path).is_dir() or name_or_path.count("/") == 1:
        return name_or_path
    raise ValueError(
        f"unknown model {name_or_path!r}: known aliases are {', '.join(sorted(ALIASES))}; tiny models "
        f"{', '.join(TINY_MODELS)}; subjects trained here {', '.join(SUBJECTS)}; a hub id (owner/name) or a "
        "local directory works too")


def default_dtype(device: str) -> torch.dtype:
    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def load_model(name_or_path: str, *, dtype: torch.dtype | str | None = None, device: str | None = None,
               site: str = "down_proj_input", revision: str | None = None, trust_remote_code: bool = False,
               device_map: str | dict[str, object] | None = None, offload_folder: str | None = None,
               data_dir: Path | str | None = None) -> LoadedModel:
    """Load an alias, hub id, local directory, tiny name or trained subject, in eval mode, with its neuron site.

    dtype defaults to bfloat16 on CUDA and float32 elsewhere; ``device_map`` (e.g. "auto") spreads a model over
    several devices through accelerate (``offload_folder`` for layers mapped to "disk"), in which case
    ``device`` is ignored. ``data_dir`` (the full tier's ``--data-dir``) is what a trained subject learns from when
    it is built on first use (see harness.subjects.corpus); other models ignore it.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    dtype = dtype or default_dtype(device)
    if name_or_path in TINY_MODELS:
        model, tokenizer = build_tiny(name_or_path)
        return wrap_model(model.to(device=device, dtype=dtype), tokenizer, name=name_or_path, site=site)
    if name_or_path in SUBJECTS:
        from harness.subjects.build import load_subject  # imports this module

        return load_subject(name_or_path, data_dir=data_dir, dtype=dtype, device=device, site=site)
    model_id = resolve_model_id(name_or_path)
    config = AutoConfig.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    if config.model_type not in FAMILIES:
        raise UnsupportedModelError(f"unsupported architecture {config.architectures} (model_type "
                                    f"{config.model_type!r}); supported model types: {', '.join(sorted(FAMILIES))}")
    auto = transformers.AutoModelForSeq2SeqLM if config.is_encoder_decoder else transformers.AutoModelForCausalLM
    model = auto.from_pretrained(model_id, revision=revision, dtype=dtype, use_safetensors=None,
                                 trust_remote_code=trust_remote_code, device_map=device_map,
                                 offload_folder=offload_folder)
    if device_map is None:
        model.to(device)
    tokenizer = AutoTokenizer.from_pretrained(model_id, revision=revision, trust_remote_code=trust_remote_code)
    loaded_revision = getattr(model.config, "_commit_hash", None) or revision or "local"
    return wrap_model(model, tokenizer, name=name_or_path, site=site, model_id=model_id, revision=loaded_revision)


def registry_identity(name: str, data_dir: Path | str | None = None) -> dict[str, object]:
    """What decides a registered model's weights beyond its name, for measurement caches: a trained subject's
    cache key (its recipe, data and library versions; reading the data, training nothing); nothing for others."""
    if name not in SUBJECTS:
        return {}
    from harness.subjects.build import subject_identity  # imports this module

    return subject_identity(name, data_dir)
