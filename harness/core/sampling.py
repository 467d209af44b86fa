"""Sampled generation under neuron fixes, paired across conditions (Kojima et al.'s tampering experiment).

Every condition (e.g. no fix, one language's neurons fixed, a random set fixed) generates the same samples: sample
s draws the same Gumbel noise at step t in every condition, and greedy decoding of logits / T + Gumbel noise is
sampling at temperature T (the Gumbel-max trick). Two conditions' samples therefore differ only where the fixes
change the model, which makes a paired test (McNemar) the right one. All rows start from the same tokens (a null
prompt: the start token; or a short prompt), so no row is padded.
"""

from __future__ import annotations

import torch

from harness.core.batching import run_with_backoff
from harness.core.interventions import fix
from harness.core.models import LoadedModel


def start_tokens(lm: LoadedModel, prompt: str = "") -> list[int]:
    """The tokens generation starts from: the tokenized prompt (with the tokenizer's own special tokens), or for an
    empty result the BOS token (EOS when the tokenizer has no BOS), as Kojima et al.'s null prompt."""
    ids = lm.tokenizer(prompt)["input_ids"]
    if ids:
        return list(ids)
    start = lm.tokenizer.bos_token_id if lm.tokenizer.bos_token_id is not None else lm.tokenizer.eos_token_id
    if start is None:
        raise ValueError(f"{lm.name}: an empty prompt needs a BOS or EOS token to start from")
    return [start]


def _gumbel(step: int, sample_ids: torch.Tensor, n_samples: int, vocab: int, seed: int,
            device: torch.device) -> torch.Tensor:
    """Gumbel noise of each row's sample at one step, (rows, vocab): the same for a sample in every chunk."""
    generator = torch.Generator(device=device).manual_seed(seed * 1_000_003 + step)
    uniform = torch.rand(n_samples, vocab, generator=generator, device=device)
    tiny = torch.finfo(uniform.dtype).tiny
    return -(-uniform.clamp(tiny, 1 - 1e-7).log()).log()[sample_ids.to(device)]


@torch.inference_mode()
def sample_under_fixes(lm: LoadedModel, masks: torch.Tensor, values: torch.Tensor, *, n_samples: int,
                       max_new_tokens: int, temperature: float, seed: int, prompt: str = "", positions: str = "all",
                       batch_size: int = 256) -> torch.Tensor:
    """Generated token ids for every condition and sample: (conditions, n_samples, max_new_tokens), on the CPU.

    masks (conditions, layers, d_ff) bool and values (conditions, layers, d_ff): condition c fixes its masked
    neurons to its values (an all-False mask is the unfixed model). Generation runs the full length; cut at EOS
    afterwards.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n_conditions = masks.shape[0]
    start = torch.tensor(start_tokens(lm, prompt), device=lm.device)
    condition_of = torch.arange(n_conditions).repeat_interleave(n_samples)  # rows are condition-major
    sample_of = torch.arange(n_samples).repeat(n_conditions)
    out = torch.empty(n_conditions * n_samples, max_new_tokens, dtype=torch.long)
    extra = {"logits_to_keep": 1} if "logits_to_keep" in lm.forward_params else {}
    cache_arg = "cache" if "cache" in lm.forward_params else "past_key_values"  # transformers >= 5 / 4.x

    def step(rows: list[int]) -> None:
        conditions = condition_of[rows].to(masks.device)
        ids = start.expand(len(rows), -1)
        attention = torch.ones_like(ids)
        past, generated = None, []
        with fix(lm, masks[conditions].to(lm.device), values[conditions].to(lm.device), positions=positions):
            for t in range(max_new_tokens):
                output = lm.model(input_ids=ids, attention_mask=attention, use_cache=True, **{cache_arg: past},
                                  **extra)
                past = output[cache_arg]
                logits = output.logits[:, -1].float() / temperature  # (rows, vocab)
                noise = _gumbel(t, sample_of[rows], n_samples, logits.shape[-1], seed, logits.device)
                ids = (logits + noise).argmax(dim=-1, keepdim=True)  # (rows, 1)
                generated.append(ids)
                attention = torch.cat([attention, torch.ones_like(ids)], dim=1)
        out[rows] = torch.cat(generated, dim=1).cpu()

    for _ in run_with_backoff(step, list(range(len(out))), batch_size):
        pass
    return out.reshape(n_conditions, n_samples, max_new_tokens)


def cut_at_eos(tokens: torch.Tensor, eos_token_id: int | None, special_ids: set[int]) -> list[list[int]]:
    """Each generated row up to its first EOS, without special tokens: tokens (rows, steps) -> token lists."""
    texts = []
    for row in tokens.tolist():
        if eos_token_id is not None and eos_token_id in row:
            row = row[:row.index(eos_token_id)]
        texts.append([t for t in row if t not in special_ids])
    return texts
