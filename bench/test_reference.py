"""Against the reference notebooks' approach: same neuron types (exact) and contribution scores
(allclose) as the harness on the same inputs, then time per example. Target on GPU >= 20x; on CPU just reported."""

from __future__ import annotations

import copy

import numpy as np
import torch
from common import LANGS4, interleaved_round, ratio_report, rows_of, synthetic_examples
from reference import run_reference, type_codes

from harness.core.attribution import contribution_scores
from harness.core.capture import last_token_activations
from harness.core.models import LoadedModel, wrap_model
from harness.papers.sharing_matters.neurons import type_codes as harness_type_codes

N_EXAMPLES = 4  # x 4 languages = 16 rows = one harness batch


def harness_run(lm: LoadedModel, texts: list[str], n_langs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """codes (examples, layers, d_ff) and contributions (examples, langs, layers, d_ff), on the device."""
    acts = last_token_activations(lm, texts, batch_size=16)  # (rows, layers, d_ff) float32 on the CPU
    acts = acts.reshape(-1, n_langs, lm.n_layers, lm.d_ff)
    return harness_type_codes(acts), contribution_scores(lm, acts.to(lm.device))


def fp32(lm: LoadedModel) -> LoadedModel:
    """The notebooks run fp32: the same weights in float32 (a copy when the benchmarked model is bf16)."""
    if lm.dtype == torch.float32:
        return lm
    return wrap_model(copy.deepcopy(lm.model).float(), lm.tokenizer, name=f"{lm.name}-fp32")


def test_reference_equivalence_and_speed(benchmark, report_ratio, mid_lm: LoadedModel, device: str) -> None:
    examples = synthetic_examples(N_EXAMPLES, LANGS4, seed=5)
    prompts = [ex.prompts for ex in examples]
    texts = rows_of(examples)
    ref_lm = fp32(mid_lm)

    ref_types, ref_scores = run_reference(ref_lm.model, ref_lm.tokenizer, prompts)
    codes, scores = harness_run(ref_lm, texts, len(LANGS4))
    for example, types in enumerate(ref_types):
        np.testing.assert_array_equal(type_codes(types, ref_lm.d_ff), codes[example].numpy())
    np.testing.assert_allclose(ref_scores, scores.cpu().numpy(), rtol=1e-4, atol=1e-9)

    times: dict[str, list[float]] = {"reference": [], "harness": []}
    fns = {"reference": lambda: run_reference(ref_lm.model, ref_lm.tokenizer, prompts),
           "harness": lambda: harness_run(mid_lm, texts, len(LANGS4))}
    rounds = 5 if device.startswith("cuda") else 2
    benchmark.pedantic(interleaved_round, args=(mid_lm, fns, times), rounds=rounds, iterations=1)
    numbers = ratio_report(times, "reference", "harness")
    report_ratio("reference/harness per example (GPU target >= 20; CPU: reported only)", {
        **numbers, "reference_per_example_s": numbers["median_reference_s"] / N_EXAMPLES,
        "harness_per_example_s": numbers["median_harness_s"] / N_EXAMPLES, "languages": len(LANGS4),
        "harness_dtype": str(mid_lm.dtype), "device": device})
