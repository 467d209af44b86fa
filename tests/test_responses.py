"""Pooled responses (Kojima et al.): batched, left-padded and length-sorted against one text at a time, and against
every token's A captured by hand."""

from __future__ import annotations

import pytest
import torch

from harness.core.batching import encode
from harness.core.capture import register_site_hooks
from harness.core.models import TINY_MODELS
from harness.core.responses import pooled_responses
from tests.conftest import TEXTS, tiny

DECODERS = [name for name in TINY_MODELS if name != "tiny-mt5"]


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_batched_padded_responses_equal_one_text_at_a_time(name: str, pooling: str) -> None:
    lm = tiny(name)
    batched = pooled_responses(lm, TEXTS, pooling=pooling, batch_size=3)  # padding in every batch
    for i, text in enumerate(TEXTS):
        alone = pooled_responses(lm, [text], pooling=pooling, batch_size=1)
        torch.testing.assert_close(batched[i:i + 1], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("site", ["down_proj_input", "gate"])
def test_mean_response_is_the_mean_of_every_tokens_activation(site: str) -> None:
    lm = tiny("tiny-llama", site)
    text = TEXTS[2]
    seen: list[torch.Tensor] = []
    handles = register_site_hooks(lm, lambda _layer, a: seen.append(a[0].clone()))
    with torch.inference_mode():
        lm.model(**encode(lm, [text]))
    for handle in handles:
        handle.remove()
    expected = torch.stack([a.double().mean(dim=0) for a in seen]).float()  # (layers, d_ff)
    torch.testing.assert_close(pooled_responses(lm, [text])[0], expected)


def test_pooling_and_model_kind_are_checked() -> None:
    with pytest.raises(ValueError, match="pooling must be one of"):
        pooled_responses(tiny("tiny-bloom"), TEXTS, pooling="median")
    with pytest.raises(ValueError, match="decoder-only"):
        pooled_responses(tiny("tiny-mt5"), TEXTS)
