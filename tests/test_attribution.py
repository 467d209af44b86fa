"""Attribution identities: contributions sum to 1; effective scores sum to E_r . (FFN output without bias); the
deviations from each neuron's mean sum to the FFN output minus its mean, and each is what folding the neuron's mean
into the bias (weight editing) takes out of the FFN output."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.attribution import contribution_scores, deviations, effective_scores
from harness.core.batching import encode, last_logits
from harness.core.capture import last_token_activations, mean_activations
from harness.core.models import LoadedModel
from harness.papers.sharing_matters.reducers import expected_subset_max, expected_subset_spans
from tests.conftest import TEXTS, tiny, weight_fixed


def test_contributions_sum_to_one_per_layer(tiny_lm: LoadedModel) -> None:
    acts = last_token_activations(tiny_lm, TEXTS)
    scores = contribution_scores(tiny_lm, acts)
    assert scores.shape == acts.shape and (scores >= 0).all()
    torch.testing.assert_close(scores.sum(-1), torch.ones(acts.shape[:-1]), atol=1e-5, rtol=0)


def test_effective_scores_sum_to_projected_ffn_output(tiny_lm: LoadedModel) -> None:
    """The FFN output is taken by a forward hook on the down projection, one text at a time."""
    token = 101
    outputs = []

    def keep_last(module: torch.nn.Module, _args: tuple, out: torch.Tensor) -> None:
        bias = module.bias if getattr(module, "bias", None) is not None else 0
        outputs.append((out - bias).reshape(-1, out.shape[-1])[-1])  # last token (OPT flattens tokens)

    handles = [down.register_forward_hook(keep_last) for down in tiny_lm.site.down_projs]
    acts = torch.cat([last_token_activations(tiny_lm, [text]) for text in TEXTS])
    for handle in handles:
        handle.remove()
    ffn_out = torch.stack(outputs).reshape(len(TEXTS), tiny_lm.n_layers, -1)  # hooks fire in layer order
    e_r = tiny_lm.model.get_output_embeddings().weight[token]
    scores = effective_scores(tiny_lm, acts, token)
    torch.testing.assert_close(scores.sum(-1), (ffn_out @ e_r).detach(), atol=1e-4, rtol=1e-4)


def _ffn_outputs(lm: LoadedModel, texts: list[str]) -> torch.Tensor:
    """Each layer's FFN output (the down projection's, bias included) at each text's last token, one text at a
    time by a forward hook: (texts, layers, d_model)."""
    outputs = []

    def keep_last(_module: torch.nn.Module, _args: tuple, out: torch.Tensor) -> None:
        outputs.append(out.reshape(-1, out.shape[-1])[-1].detach())  # last token (OPT flattens tokens)

    handles = [down.register_forward_hook(keep_last) for down in lm.site.down_projs]
    with torch.inference_mode():
        for text in texts:
            last_logits(lm, encode(lm, [text]))
    for handle in handles:
        handle.remove()
    return torch.stack(outputs).reshape(len(texts), lm.n_layers, -1)  # hooks fire in layer order


def test_deviations_sum_to_the_ffn_output_minus_its_mean(tiny_lm: LoadedModel) -> None:
    """sum_i (A_i - mean A_i) v_i = FFN output - its mean over the texts (the bias cancels), layer by layer."""
    if tiny_lm.is_encoder_decoder:
        pytest.skip("one text at a time through the decoder's single position: covered by the decoder-only models")
    means = mean_activations(tiny_lm, TEXTS, batch_size=2)  # padded batches; the outputs come unpadded
    acts = last_token_activations(tiny_lm, TEXTS)
    values = torch.stack([tiny_lm.site.value_vectors(layer).float() for layer in range(tiny_lm.n_layers)])
    summed = torch.einsum("tld,ldh->tlh", deviations(acts, means), values)  # (texts, layers, d_model)
    outputs = _ffn_outputs(tiny_lm, TEXTS)
    torch.testing.assert_close(summed, outputs - outputs.mean(dim=0), atol=1e-4, rtol=1e-4)


def test_a_deviation_is_what_folding_the_mean_into_the_bias_takes_out() -> None:
    """Weight editing (the neuron's value vector folded into the bias at its mean, conftest's weight_fixed) moves
    the first layer's FFN output by -(A_i - mean A_i) v_i, and the effective score of that deviation is the move
    along E_r; later layers see a changed input, so the first layer is where the identity is exact."""
    lm = tiny("tiny-gpt2")
    means = mean_activations(lm, TEXTS)
    acts = last_token_activations(lm, TEXTS)
    neuron = int((acts[:, 0] - means[0]).abs().mean(dim=0).argmax())  # one that deviates
    mask = torch.zeros(lm.n_layers, lm.d_ff, dtype=torch.bool)
    mask[0, neuron] = True
    moved = _ffn_outputs(weight_fixed(lm, mask, means), TEXTS)[:, 0] - _ffn_outputs(lm, TEXTS)[:, 0]
    deviation = deviations(acts, means)[:, 0, neuron]  # (texts,)
    torch.testing.assert_close(moved, -deviation[:, None] * lm.site.value_vectors(0)[neuron].float()[None],
                               atol=1e-5, rtol=1e-4)
    token = 101
    e_r = lm.model.get_output_embeddings().weight[token].detach()
    torch.testing.assert_close(moved @ e_r, -effective_scores(lm, deviations(acts, means), token)[:, 0, neuron],
                               atol=1e-5, rtol=1e-4)
    assert deviation.abs().max() > 1e-3  # not a neuron at its mean everywhere


def test_mean_activations_equal_the_mean_of_each_text_alone(tiny_lm: LoadedModel) -> None:
    """At the last token: the mean of the captures of one text at a time; batches and padding change nothing."""
    alone = torch.cat([last_token_activations(tiny_lm, [text]) for text in TEXTS])
    torch.testing.assert_close(mean_activations(tiny_lm, TEXTS, batch_size=2), alone.mean(dim=0),
                               atol=1e-5, rtol=1e-4)


def test_mean_activations_reject_unknown_positions_and_no_texts() -> None:
    lm = tiny("tiny-bloom")
    with pytest.raises(ValueError, match="positions must be one of"):
        mean_activations(lm, TEXTS, positions="first")
    with pytest.raises(ValueError, match="no texts"):
        mean_activations(lm, [])


def test_effective_scores_per_row_tokens() -> None:
    lm = tiny("tiny-bloom")
    acts = last_token_activations(lm, TEXTS[:2])
    tokens = torch.tensor([101, 102])
    from harness.core.attribution import value_projections
    per_row = effective_scores(lm, acts, tokens, projections=value_projections(lm, tokens))
    torch.testing.assert_close(per_row[1], effective_scores(lm, acts[1], 102))


def test_attribution_needs_the_down_projection_site() -> None:
    lm = tiny("tiny-llama", "gate")
    with pytest.raises(ValueError, match="down_proj_input"):
        contribution_scores(lm, torch.zeros(lm.n_layers, lm.d_ff))


def test_unused_logits_path_is_consistent() -> None:
    lm = tiny("tiny-bloom")
    assert last_logits(lm, encode(lm, TEXTS)).shape == (len(TEXTS), lm.model.config.vocab_size)


def test_measured_effective_scores_equal_a_direct_computation() -> None:
    """The streaming reducer (cached per-token projections, per-type max/min/mean) against a direct route."""
    from harness.core.scoring import first_answer_token
    from harness.papers.sharing_matters.measurement import measure
    from harness.papers.sharing_matters.neurons import type_codes
    from harness.tasks import FIXTURE_DATA, load_task, task_spec

    lm = tiny("tiny-gpt2")
    examples = load_task("facts", data_dir=FIXTURE_DATA / "mpararel", languages=["en", "de", "zh"], limit=4)
    m = measure(lm, examples, task_spec("facts"), conditions=())
    for li, lang in enumerate(m.languages):
        acts = last_token_activations(lm, [ex.prompts[lang] for ex in examples])
        codes = type_codes(last_token_activations(lm, [ex.prompts[x] for ex in examples for x in m.languages])
                           .reshape(len(examples), len(m.languages), lm.n_layers, lm.d_ff))
        scores = torch.stack([effective_scores(lm, acts[i], first_answer_token(lm, ex.answers[lang]))
                              for i, ex in enumerate(examples)])
        for t in range(4):
            chosen = scores[codes == t]
            if len(chosen):
                torch.testing.assert_close(m.effective[li, t, 0].float(), chosen.max(), rtol=1e-4, atol=1e-6)
                torch.testing.assert_close(m.effective[li, t, 1].float(), chosen.min(), rtol=1e-4, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10_000))
def test_expected_subset_spans_equal_the_mean_over_every_subset(size: int, seed: int) -> None:
    """The order-statistics formula (one sort for every code) against enumerating every subset of ``size`` members
    of each row and code; tied values included."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(4, 12, generator=g).double().round(decimals=1)  # one decimal: ties are common
    codes = torch.randint(0, 3, (4, 12), generator=g)
    got = expected_subset_spans(values, codes, 3, size)  # (4, 3)
    for row, code in itertools.product(range(4), range(3)):
        members = (codes[row] == code).nonzero().flatten().tolist()
        if len(members) < size:
            assert torch.isnan(got[row, code])
            continue
        spans = [float(values[row, list(c)].max() - values[row, list(c)].min())
                 for c in itertools.combinations(members, size)]
        assert float(got[row, code]) == pytest.approx(sum(spans) / len(spans), abs=1e-9)


def test_a_sample_larger_than_every_row_is_nan() -> None:
    values, codes = torch.randn(2, 5).double(), torch.zeros(2, 5, dtype=torch.long)
    assert expected_subset_spans(values, codes, 2, 6).isnan().all()
    assert expected_subset_max(values, codes == 0, 6).isnan().all()


def test_measured_type_rows_equal_a_per_row_loop() -> None:
    """The batched per-row type summaries (reducers.TYPE_ROW_FIELDS) and Fig. 10's per-layer maxima against one
    prompt at a time and a loop over neurons, in both readings (A as it is; A minus the mean of every prompt's
    separately captured A); and two exact identities: the types' contributions add up to 1 per row and layer, and
    their mean over rows is the measurement's contribution_sum."""
    from harness.core.scoring import first_answer_token
    from harness.papers.sharing_matters.measurement import CENTRED, measure
    from harness.papers.sharing_matters.neurons import ALL, type_codes
    from harness.papers.sharing_matters.reducers import CONTRIBUTION, expected_subset_max
    from harness.tasks import FIXTURE_DATA, load_task, task_spec

    lm = tiny("tiny-gpt2")
    examples = load_task("facts", data_dir=FIXTURE_DATA / "mpararel", languages=["en", "de", "zh"], limit=3)
    m = measure(lm, examples, task_spec("facts"), conditions=(CENTRED,))
    every = torch.cat([last_token_activations(lm, [ex.prompts[lang]]) for ex in examples for lang in m.languages])
    for reading, means in (("paper", torch.zeros(lm.n_layers, lm.d_ff)), ("centred", every.mean(dim=0))):
        summaries = {"type_rows": m.type_rows, "contribution_sum": m.contribution_sum,
                     "layer_sample_max": m.layer_sample_max, "layer_effective_max": m.layer_effective_max} \
            if reading == "paper" else m.centred
        rows = summaries["type_rows"].double()
        torch.testing.assert_close(rows[..., CONTRIBUTION].sum(dim=2), torch.ones(
            rows.shape[0], rows.shape[1], lm.n_layers, dtype=torch.float64), atol=1e-5, rtol=0)
        torch.testing.assert_close(rows[..., CONTRIBUTION].mean(dim=(0, 1)), summaries["contribution_sum"],
                                   atol=1e-6, rtol=1e-5)
        layer_max = torch.full((len(m.languages), 4, lm.n_layers), -torch.inf)
        for e, ex in enumerate(examples):
            captured = torch.cat([last_token_activations(lm, [ex.prompts[lang]]) for lang in m.languages])
            codes = type_codes(captured[None])[0]  # (layers, d_ff)
            acts = captured - means
            for li, lang in enumerate(m.languages):
                contribution = contribution_scores(lm, acts[li])
                effective = effective_scores(lm, acts[li], first_answer_token(lm, ex.answers[lang]))
                sampled = expected_subset_max(effective.double(), codes == ALL, m.config["span_sample"])
                torch.testing.assert_close(summaries["layer_sample_max"][e, li], sampled, equal_nan=True,
                                           atol=1e-6, rtol=1e-4)
                for t in range(4):
                    layer_max[li, t] = torch.maximum(layer_max[li, t], effective.masked_fill(codes != t, -torch.inf)
                                                     .amax(dim=-1))
                for layer in range(lm.n_layers):
                    for t in range(4):
                        expected = [0.0] * 6
                        for i in range(lm.d_ff):
                            if codes[layer, i] != t:
                                continue
                            on = bool(captured[li, layer, i] > 0)
                            push = max(float(effective[layer, i]), 0.0)
                            for field, value in enumerate([1.0, 1.0, float(contribution[layer, i]),
                                                           float(contribution[layer, i]), push, push]):
                                expected[field] += value if field % 2 == 0 or on else 0.0
                        torch.testing.assert_close(rows[e, li, t, layer], torch.tensor(expected, dtype=torch.float64),
                                                   atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(summaries["layer_effective_max"].float(),
                                   layer_max.masked_fill(layer_max == -torch.inf, torch.nan), equal_nan=True,
                                   atol=1e-6, rtol=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10_000))
def test_expected_subset_max_equals_the_mean_over_every_subset(size: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(4, 9, generator=g).double()
    member = torch.rand(4, 9, generator=g) < 0.6
    got = expected_subset_max(values, member, size)
    for row in range(4):
        members = member[row].nonzero().flatten().tolist()
        if len(members) < size:
            assert torch.isnan(got[row])
            continue
        maxima = [float(values[row, list(c)].max()) for c in itertools.combinations(members, size)]
        assert float(got[row]) == pytest.approx(sum(maxima) / len(maxima), abs=1e-9)
