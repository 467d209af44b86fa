"""Registry, loading by path, and clear errors for unknown names and unsupported architectures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

from harness.core.models import (
    ALIASES,
    SCALE_OF,
    TINY_MODELS,
    base_model_for,
    build_tiny,
    load_model,
    resolve_model_id,
    scale_model_for,
)
from harness.core.sites import FAMILIES, UnsupportedModelError, neuron_site


def test_aliases_resolve_to_hub_ids() -> None:
    assert resolve_model_id("bloomz-7b1") == "bigscience/bloomz-7b1"
    assert resolve_model_id("someone/some-model") == "someone/some-model"


def test_unknown_name_lists_aliases() -> None:
    with pytest.raises(ValueError, match="known aliases are .*bloomz-7b1.*hub id"):
        load_model("bloomzz")


@pytest.mark.parametrize(("ift", "base"), [("bloomz-7b1", "bloom-7b1"), ("mt0-xxl", "mt5-xxl"),
                                           ("llama-2-7b-chat", "llama-2-7b")])
def test_instruction_tuned_pairs(ift: str, base: str) -> None:
    assert base_model_for(ift) == base


def test_missing_pair_says_what_to_pass() -> None:
    with pytest.raises(ValueError, match="--base-model"):
        base_model_for("xglm-564m")
    with pytest.raises(ValueError, match="--scale-model.*bloomz-7b1 -> bloomz-560m"):
        scale_model_for("llama-2-7b")


def test_scale_pairs_are_registered_aliases_of_one_family() -> None:
    """Every size pair names two aliases of one family (the name before the size), and pairs go both ways
    between the largest and the smallest."""
    assert scale_model_for("bloomz-7b1") == "bloomz-560m" and scale_model_for("bloomz-560m") == "bloomz-7b1"
    for model, other in SCALE_OF.items():
        assert model in ALIASES and other in ALIASES and model != other
        assert model.rsplit("-", 1)[0] == other.rsplit("-", 1)[0]


@pytest.mark.parametrize("name", TINY_MODELS)
def test_tiny_models_load_in_eval_mode_with_left_padding(name: str) -> None:
    lm = load_model(name, device="cpu")
    assert not lm.model.training and lm.tokenizer.padding_side == "left"
    assert lm.n_layers >= 2 and lm.d_ff == lm.site.value_vectors(0).shape[0]
    assert lm.provenance()["site"] == "down_proj_input"


def test_local_directory_round_trip(tmp_path: Path) -> None:
    model, tokenizer = build_tiny("tiny-bloom", seed=3)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    lm = load_model(str(tmp_path), device="cpu", dtype="float32")
    assert lm.model_id == str(tmp_path) and lm.revision
    for name, param in model.state_dict().items():
        torch.testing.assert_close(lm.model.state_dict()[name], param)


def test_unsupported_architecture_names_it_and_lists_supported() -> None:
    model = transformers.BertModel(transformers.BertConfig(hidden_size=32, num_hidden_layers=1,
                                                           num_attention_heads=4, intermediate_size=64))
    with pytest.raises(UnsupportedModelError, match="BertModel.*supported model types: bloom"):
        neuron_site(model)


def test_unsupported_architecture_from_a_directory(tmp_path: Path) -> None:
    transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4).save_pretrained(tmp_path)
    with pytest.raises(UnsupportedModelError, match="'bert'"):
        load_model(str(tmp_path), device="cpu")


def test_gate_site_needs_a_gated_mlp() -> None:
    with pytest.raises(UnsupportedModelError, match="gated"):
        load_model("tiny-bloom", site="gate")


def test_every_family_has_a_tiny_model_or_shares_a_layout() -> None:
    covered = {build_tiny(name)[0].config.model_type for name in TINY_MODELS}
    assert covered >= set(FAMILIES) - {"mistral", "qwen2", "t5"}
