"""§5.2, Fig. 7: the instruction-tuned model has a larger all-shared share than its foundation model."""

from __future__ import annotations

import pytest

from harness.claim import Claim, ClaimCase, Planted
from harness.neurons import ALL
from harness.rules import share_increase_rule
from harness.views import type_shares_plot

CLAIM = Claim(
    id="ift-raises-all-shared",
    title="Instruction tuning raises the share of all-shared neurons",
    paper_ref="§5.2, Fig. 7 vs Fig. 2",
    paper_text="XNLI: about 30% all-shared in BLOOMZ vs about 20% in BLOOM",
    tasks=("xnli",), per_language=False, needs_base=True,
    planted=(Planted("planted-shared", "supported", base_model="planted-shared-base"),
             Planted("planted-shared-base", "refuted", base_model="planted-shared")),
    paper_numbers=lambda *_: {"all-shared share (IFT) %": 30.0, "all-shared share (base) %": 20.0})


def test_ift_raises_all_shared(case: ClaimCase, claims, judge) -> None:
    if case.base_model is None:
        pytest.skip(f"no base model is registered for {case.model}; pass --base-model")
    ift, base = claims.measurement(case), claims.measurement(case, model=case.base_model)
    if ift.shares.shape != base.shares.shape or ift.model["d_ff"] != base.model["d_ff"]:
        raise ValueError(f"base and IFT models differ in shape: {case.base_model} has {base.model['n_layers']} "
                         f"layers x {base.model['d_ff']}, {case.model} {ift.model['n_layers']} x {ift.model['d_ff']}")
    if ift.example_ids != base.example_ids:
        raise ValueError("base and IFT measurements were taken on different examples")
    verdict = share_increase_rule(ift.example_shares[:, ALL].mean(dim=-1).numpy(),
                                  base.example_shares[:, ALL].mean(dim=-1).numpy(), seed=claims.option("seed"))
    verdict.plots.append(type_shares_plot(ift, versus=base, note="Fig. 7 (BLOOM) against Fig. 2 (BLOOMZ)"))
    judge(verdict)
