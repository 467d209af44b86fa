"""Paired sampling under fixes: its tokens follow the model's distribution, conditions share their noise, the
batched per-row fixes equal weight-edited models sampled alone, and chunking changes nothing."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from harness.core.models import LoadedModel
from harness.core.sampling import cut_at_eos, sample_under_fixes, start_tokens
from tests.conftest import random_masks, tiny, weight_fixed


def _none(lm: LoadedModel, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    masks = torch.zeros(n, lm.n_layers, lm.d_ff, dtype=torch.bool)
    return masks, torch.zeros(masks.shape)


def test_first_tokens_follow_the_tempered_distribution() -> None:
    """Gumbel-max sampling at temperature T: first tokens ~ softmax(logits / T) (chi-square goodness of fit)."""
    lm = tiny("tiny-gpt2")
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([start_tokens(lm)])).logits[0, -1]
    expected = torch.softmax(logits.double() * 4, dim=-1).numpy()  # T = 0.25: a few likely tokens
    tokens = sample_under_fixes(lm, *_none(lm), n_samples=3000, max_new_tokens=1, temperature=0.25, seed=3)
    counts = np.bincount(tokens.reshape(-1).numpy(), minlength=len(expected))
    likely = expected * 3000 >= 5  # the test's bins: every likely token, the rest pooled
    observed = np.append(counts[likely], counts[~likely].sum())
    wanted = np.append(expected[likely], expected[~likely].sum()) * 3000
    assert likely.sum() >= 3 and stats.chisquare(observed, wanted).pvalue > 1e-3


def test_conditions_share_their_noise_and_chunks_do_not_matter() -> None:
    lm = tiny("tiny-bloom")
    mask = random_masks(lm, density=0.2, seed=1)
    masks = torch.stack([torch.zeros_like(mask), mask, mask])
    values = torch.randn(masks.shape, generator=torch.Generator().manual_seed(1))
    values[2] = values[1]
    tokens = sample_under_fixes(lm, masks, values, n_samples=6, max_new_tokens=8, temperature=1.0, seed=5,
                                batch_size=18)
    assert torch.equal(tokens[1], tokens[2])  # the same fix, the same noise: the same samples
    assert not torch.equal(tokens[0], tokens[1])
    assert len({tuple(row) for row in tokens[0].tolist()}) > 1  # different samples differ
    chunked = sample_under_fixes(lm, masks, values, n_samples=6, max_new_tokens=8, temperature=1.0, seed=5,
                                 batch_size=4)
    assert torch.equal(tokens, chunked)
    unfixed = sample_under_fixes(lm, *_none(lm), n_samples=6, max_new_tokens=8, temperature=1.0, seed=5)
    assert torch.equal(tokens[0], unfixed[0])


def test_fixed_rows_equal_a_weight_edited_model_sampled_alone() -> None:
    lm = tiny("tiny-llama")
    mask = random_masks(lm, density=0.3, seed=2)
    values = torch.randn(mask.shape, generator=torch.Generator().manual_seed(2)) * 3
    both = sample_under_fixes(lm, torch.stack([torch.zeros_like(mask), mask]),
                              torch.stack([torch.zeros_like(values), values]), n_samples=4, max_new_tokens=10,
                              temperature=0.8, seed=7, prompt="ab")
    edited = weight_fixed(lm, mask, values)
    alone = sample_under_fixes(edited, *_none(edited), n_samples=4, max_new_tokens=10, temperature=0.8, seed=7,
                               prompt="ab")
    assert torch.equal(both[1], alone[0])


def test_start_tokens_and_cutting_at_eos() -> None:
    lm = tiny("tiny-bloom")  # ByT5 tokenizer: no BOS; an empty prompt encodes to its EOS
    assert start_tokens(lm) == [lm.tokenizer.eos_token_id]
    assert start_tokens(lm, "ab") == lm.tokenizer("ab")["input_ids"]
    assert cut_at_eos(torch.tensor([[5, 0, 6, 1, 7], [8, 9, 0, 0, 0]]), 1, {0, 1, 2}) == [[5, 6], [8, 9]]
