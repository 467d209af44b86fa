"""Which layers are an encoder-decoder's encoder and which its decoder: the neuron site records the boundary from
the model's own module lists (never from layer names), and every measurement carries it in its provenance."""

from __future__ import annotations

import pytest
import transformers
from transformers import ByT5Tokenizer

from harness.core.models import TINY_MODELS, wrap_model
from tests.conftest import tiny

DECODER_ONLY = [name for name in TINY_MODELS if name != "tiny-mt5"]


@pytest.mark.parametrize("name", DECODER_ONLY)
def test_a_decoder_only_model_is_one_decoder_stack(name: str) -> None:
    lm = tiny(name)
    assert lm.site.stacks == (("decoder", 0, lm.n_layers),)
    assert lm.provenance()["stacks"] == [["decoder", 0, lm.n_layers]]


@pytest.mark.parametrize(("encoder", "decoder"), [(2, 2), (3, 1), (1, 4)])
def test_an_encoder_decoder_records_each_stacks_layers(encoder: int, decoder: int) -> None:
    config = transformers.MT5Config(vocab_size=384, d_model=16, d_ff=32, num_layers=encoder,
                                    num_decoder_layers=decoder, num_heads=2, d_kv=8)
    lm = wrap_model(transformers.MT5ForConditionalGeneration(config), ByT5Tokenizer(), name="stacks")
    assert lm.site.stacks == (("encoder", 0, encoder), ("decoder", encoder, encoder + decoder))
    assert lm.provenance()["stacks"] == [["encoder", 0, encoder], ["decoder", encoder, encoder + decoder]]
    # the layers in each span are the stack's own blocks, in order
    assert list(lm.site.layers[:encoder]) == list(lm.model.encoder.block)
    assert list(lm.site.layers[encoder:]) == list(lm.model.decoder.block)
