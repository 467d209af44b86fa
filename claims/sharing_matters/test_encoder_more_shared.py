"""App. A.3.2, Figs 14-15: in an encoder-decoder (mT0) the encoder has more all-shared neurons than the decoder.

The paper gives the figures only, no numbers. Which layers are the encoder's and which the decoder's is what the
measurement records (``model["stacks"]``, from the model's own module lists), never read from layer names. Each
stack's all-shared share is a share of its own neurons (the mean over its layers), so a deeper stack does not win
by having more neurons: ``planted-seq2seq-deep`` holds more all-shared neurons in its encoder at a lower share.

An encoder's last token is what its tokenizer appends, `</s>` for mT5 and mT0: the same token in every language,
like the template's English tail of a decoder-only model. The rule is applied again with the encoder read at the
last token of the translated content (the template control); the decoder has one position (its start token)
either way. ``planted-seq2seq-tail`` has its encoder's extra all-shared neurons at the EOS only: supported at the
last token (the paper's reading), refuted at the content end, so inconclusive: the finding holds only there.
The decoder's start token is the same in every language too, which makes its neurons more alike across languages,
not less: it works against the finding.

A decoder-only model has no encoder to compare: the instance is skipped, saying so. Not inconclusive: no amount
of data would decide it, and ``--strict-claims`` would fail every decoder-only run on a claim that does not apply.
"""

from __future__ import annotations

import pytest

from harness.core.claim import Claim, ClaimCase, Planted
from harness.core.verdict import Verdict
from harness.papers.sharing_matters.measurement import Measurement
from harness.papers.sharing_matters.neurons import ALL
from harness.papers.sharing_matters.stack_rules import DECODER, ENCODER, encoder_more_shared_rule, stack_shares
from harness.papers.sharing_matters.template_control import CONTENT_END, at_both_positions
from harness.papers.sharing_matters.views import stack_shares_plots

CLAIM = Claim(
    id="encoder-more-shared",
    title="An encoder-decoder's encoder has more all-shared neurons than its decoder",
    paper_ref="App. A.3.2, Figs 14-15",
    paper_text="it could be observed that encoder in mT0 involves more all-shared neurons compared to the proportion "
               "in decoder",
    tasks=("xnli",), per_language=False,
    planted=(Planted("planted-seq2seq-shared", "supported", controls=((CONTENT_END, "supported"),)),
             Planted("planted-seq2seq-deep", "refuted", controls=((CONTENT_END, "refuted"),)),
             Planted("planted-seq2seq-tail", "inconclusive", controls=((CONTENT_END, "refuted"),))),
    paper_numbers=lambda *_: {})


def applies(m: Measurement) -> str | None:
    """None when the measured model has an encoder and a decoder; else why the claim does not apply."""
    names = [name for name, *_ in m.model["stacks"]]
    if ENCODER in names and DECODER in names:
        return None
    return (f"not applicable: {m.model['model']} has no encoder and decoder to compare (stacks: "
            f"{', '.join(f'{n} layers {a}-{b - 1}' for n, a, b in m.model['stacks'])})")


def verdict_for(m: Measurement, seed: int, instance: str) -> Verdict:
    """The rule at the last prompt token (the paper's reading), with its verdict at the content end beside it."""
    def rule(x: Measurement) -> Verdict:
        shares = stack_shares(x.example_shares[:, ALL].numpy(), m.model["stacks"])
        return encoder_more_shared_rule(shares[ENCODER], shares[DECODER], seed=seed)

    verdict = at_both_positions(rule, m, claim=CLAIM.id, instance=instance)
    verdict.params["stacks"] = "; ".join(f"{name}: layers {first}-{end - 1}" for name, first, end in m.model["stacks"])
    return verdict


def test_encoder_more_shared(case: ClaimCase, claims, judge) -> None:
    m = claims.measurement(case)
    reason = applies(m)
    if reason is not None:
        pytest.skip(f"{CLAIM.id}: {reason}")
    verdict = verdict_for(m, claims.option("seed"), case.id)
    verdict.plots += stack_shares_plots(m)
    judge(verdict)
