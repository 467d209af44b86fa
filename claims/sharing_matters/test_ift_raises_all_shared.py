"""§5.2, Fig. 7: the instruction-tuned model has more all-shared and fewer partial-shared neurons than its
foundation model, also at the foundation model's activation density (a model that is only denser has more
all-shared neurons at any fixed threshold), and more on translations than on unrelated prompts (a model whose
inputs all became more alike has more all-shared neurons on any prompts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import ALL, PARTIAL
from harness.papers.sharing_matters.rules import density_matched_shares, share_increase_rule
from harness.papers.sharing_matters.template_control import CONTENT_END, at_content_end, with_content_control
from harness.papers.sharing_matters.views import nonparallel_rise_table, type_shares_plot

CLAIM = Claim(
    id="ift-raises-all-shared",
    title="Instruction tuning raises the share of all-shared neurons",
    paper_ref="§5.2, Fig. 7 vs Fig. 2",
    paper_text="XNLI: about 30% all-shared in BLOOMZ vs about 20% in BLOOM; IFT enhances the percentage of "
               "all-shared neurons and reduces the number of partial-shared neurons",
    tasks=("xnli",), per_language=False, needs_base=True,
    planted=(Planted("planted-aligned", "supported", base_model="planted-shared-base",
                     controls=((CONTENT_END, "supported"),)),
             Planted("planted-shared-base", "refuted", base_model="planted-aligned"),
             Planted("planted-denser", "refuted", base_model="planted-aligned"),
             Planted("planted-tail", "refuted", base_model="planted-shared-base",
                     controls=((CONTENT_END, "refuted"),)),
             Planted("planted-shifted", "refuted", base_model="planted-shared-base",
                     controls=((CONTENT_END, "refuted"),))),
    paper_numbers=lambda *_: {"all-shared share (IFT) %": 30.0, "all-shared share (base) %": 20.0})


def _shares(m: Measurement) -> dict[str, np.ndarray]:
    """Per-example mean-over-layers all-shared and partial-shared shares at the run's threshold, and the
    all-shared share over the non-parallel tuples."""
    return {"all_shared": m.example_shares[:, ALL].mean(dim=-1).numpy(),
            "partial_shared": m.example_shares[:, PARTIAL].mean(dim=-1).numpy(),
            "nonparallel_all_shared": m.nonparallel_shares[:, ALL].mean(dim=-1).numpy()}


def test_ift_raises_all_shared(case: ClaimCase, claims, judge) -> None:
    if case.base_model is None:
        pytest.skip(f"no base model is registered for {case.model}; pass --base-model")
    ift, base = claims.measurement(case), claims.measurement(case, model=case.base_model)
    if ift.shares.shape != base.shares.shape or ift.model["d_ff"] != base.model["d_ff"]:
        raise ValueError(f"base and IFT models differ in shape: {case.base_model} has {base.model['n_layers']} "
                         f"layers x {base.model['d_ff']}, {case.model} {ift.model['n_layers']} x {ift.model['d_ff']}")
    if ift.example_ids != base.example_ids:
        raise ValueError("base and IFT measurements were taken on different examples")
    if not ift.nonparallel_sources.equal(base.nonparallel_sources):
        raise ValueError("base and IFT measurements made different non-parallel tuples (seed or chunk size differ)")
    verdict = with_content_control(verdict_for(ift, base, claims.option("seed")),
                                   verdict_for(at_content_end(ift), at_content_end(base), claims.option("seed")),
                                   claim=CLAIM.id, instance=case.id)
    verdict.tables.append(nonparallel_rise_table(ift, base))
    verdict.plots.append(type_shares_plot(ift, versus=base, note="Fig. 7 (BLOOM) against Fig. 2 (BLOOMZ)"))
    judge(verdict)


def verdict_for(ift: Measurement, base: Measurement, seed: int = 0) -> Verdict:
    target = base.activated.mean(dim=0).numpy()  # (layers,) the base model's density at its threshold
    density = ift.threshold_density.numpy()  # (examples, thresholds, layers)
    matched, at = density_matched_shares(ift.thresholds, density, ift.threshold_shares[:, :, ALL].numpy(), target)
    read = np.isfinite(at)  # the layers compared at matched density
    base_read = base.example_shares[:, ALL][:, torch.from_numpy(read)].mean(dim=-1).numpy()
    verdict = share_increase_rule(_shares(ift), _shares(base), seed=seed,
                                  matched=None if matched is None else (matched, base_read))
    verdict.measured |= {"active neurons % (IFT)": 100 * float(ift.activated.mean()),
                         "active neurons % (base)": 100 * float(base.activated.mean()),
                         "matched threshold (mean over layers)": float(np.nanmean(at)) if read.any() else None,
                         "layers matched": int(read.sum()),
                         "layers sparser than the base at every threshold (read at the lowest)":
                             int((density[:, 0].mean(axis=0) < target).sum())}
    return verdict
