"""The planted encoder-decoders of ``encoder-more-shared`` (App. A.3.2) embody the alternative explanations of the
finding, and the rule without its control (read at the last token only, or counting neurons instead of sharing
them out per stack) is fooled by them; the claim's verdict is their planted truth. Measured on the project's XNLI
items, as in the tiny tier. The planted-model cache rebuilds an encoder-decoder bit for bit."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
import torch

from claims.sharing_matters.test_encoder_more_shared import verdict_for
from harness.core.models import LoadedModel
from harness.papers.sharing_matters import planted_seq2seq
from harness.papers.sharing_matters.measurement import MeasureConfig, Measurement, measure
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.planted_seq2seq import PLANTED_SEQ2SEQ
from harness.papers.sharing_matters.stack_rules import encoder_more_shared_rule, stack_shares
from harness.papers.sharing_matters.template_control import CONTENT_END
from harness.planted import cache
from harness.tasks import FIXTURE_DATA, load_task, task_spec

pytestmark = pytest.mark.slow


@functools.cache
def _examples() -> tuple:
    return tuple(load_task("xnli", data_dir=FIXTURE_DATA / "xnli"))


@functools.cache
def _planted(name: str) -> LoadedModel:
    torch.set_num_threads(1)
    return PLANTED_SEQ2SEQ[name].build({"xnli": list(_examples())})


@functools.cache
def _measured(name: str) -> Measurement:
    return measure(_planted(name), list(_examples()), task_spec("xnli"), MeasureConfig(), conditions=())


def test_an_encoder_all_shared_only_at_its_eos_fools_the_last_token_alone() -> None:
    """planted-seq2seq-tail: at the last token (the EOS, the same in every language) the encoder leads; at the end of
    the translated content it does not. Supported needs both readings: inconclusive, and the reason says it holds
    only at the tail."""
    m = _measured("planted-seq2seq-tail")
    last = stack_shares(m.example_shares[:, ALL].numpy(), m.model["stacks"])
    assert encoder_more_shared_rule(last["encoder"], last["decoder"]).verdict == "supported"  # fooled alone
    verdict = verdict_for(m, 0, "tail")
    assert verdict.verdict == "inconclusive" and verdict.controls[CONTENT_END]["verdict"] == "refuted"
    assert verdict.reason.startswith("holds only at the shared English tail")
    assert verdict.params["stacks"] == "encoder: layers 0-1; decoder: layers 2-2"


def test_a_deeper_encoder_fools_a_count_of_all_shared_neurons() -> None:
    """planted-seq2seq-deep: the encoder holds more all-shared neurons (more layers), at a lower share of them."""
    m = _measured("planted-seq2seq-deep")
    d_ff = m.model["d_ff"]
    counts = {name: (m.example_shares[:, ALL, a:b] * d_ff).sum(dim=-1).mean().item()
              for name, a, b in m.model["stacks"]}
    assert counts["encoder"] > counts["decoder"]  # a count says the encoder has more: fooled
    verdict = verdict_for(m, 0, "deep")
    assert verdict.verdict == "refuted" and verdict.controls[CONTENT_END]["verdict"] == "refuted"


def test_the_shared_encoder_leads_at_both_positions() -> None:
    verdict = verdict_for(_measured("planted-seq2seq-shared"), 0, "shared")
    assert verdict.verdict == "supported" and verdict.controls[CONTENT_END]["verdict"] == "supported"
    assert verdict.effect == pytest.approx(0.30 - 0.10, abs=0.01)


def test_the_planted_cache_rebuilds_an_encoder_decoder(tmp_path: Path) -> None:
    lm = _planted("planted-seq2seq-tail")
    cache.save(lm, tmp_path / "tail")
    again = cache.load(tmp_path / "tail")
    assert again.is_encoder_decoder and again.site.stacks == lm.site.stacks
    ours, theirs = lm.model.state_dict(), again.model.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_the_builder_refuses_a_construction_that_does_not_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the constant unit in the embeddings no forced neuron can fire: the builder's own check says so."""
    monkeypatch.setattr(planted_seq2seq, "CONSTANT", 0.0)
    with pytest.raises(RuntimeError, match="planted-seq2seq-deep: "):
        planted_seq2seq.PLANTED_SEQ2SEQ["planted-seq2seq-deep"].build({"xnli": list(_examples())})


def test_shares_beyond_a_layer_are_refused() -> None:
    spec = dataclasses.replace(PLANTED_SEQ2SEQ["planted-seq2seq-tail"], encoder_active=(0.9, 0.9))
    with pytest.raises(ValueError, match="forced and tail shares exceed layer 0's 256 neurons"):
        spec.build({"xnli": list(_examples())})
