"""Models spread by an accelerate device map: hooks and masks follow each layer (CPU with disk offload)."""

from __future__ import annotations

from pathlib import Path

import torch

from harness.core.attribution import contribution_scores, effective_scores
from harness.core.batching import encode, last_logits
from harness.core.capture import last_token_activations
from harness.core.interventions import deactivate
from harness.core.models import build_tiny, load_model
from tests.conftest import TEXTS


def test_offloaded_layers_give_the_same_measurements(tmp_path: Path) -> None:
    model, tokenizer = build_tiny("tiny-llama", seed=2)
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    plain = load_model(str(tmp_path / "m"), device="cpu")
    device_map = {"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk",
                  "model.layers.2": "disk", "model.norm": "cpu", "model.rotary_emb": "cpu", "lm_head": "cpu"}
    spread = load_model(str(tmp_path / "m"), device_map=device_map, offload_folder=str(tmp_path / "offload"))
    assert spread.model.model.layers[1].mlp.down_proj.weight.device.type == "meta"  # weights live on disk
    torch.testing.assert_close(last_token_activations(spread, TEXTS), last_token_activations(plain, TEXTS))
    mask = torch.rand(plain.n_layers, plain.d_ff, generator=torch.Generator().manual_seed(0)) < 0.3
    with torch.inference_mode(), deactivate(spread, mask), deactivate(plain, mask):
        torch.testing.assert_close(last_logits(spread, encode(spread, TEXTS)), last_logits(plain, encode(plain, TEXTS)))
    acts = last_token_activations(plain, TEXTS)
    torch.testing.assert_close(contribution_scores(spread, acts), contribution_scores(plain, acts))
    torch.testing.assert_close(effective_scores(spread, acts, 101), effective_scores(plain, acts, 101))
