"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from hypothesis import strategies as st

from harness.papers.sharing_matters.neurons import ALL, NON, PARTIAL, SPECIFIC
from harness.papers.sharing_matters.reducers import TYPE_ROW_FIELDS


@st.composite
def activations(draw: st.DrawFn, *, min_langs: int = 1, max_langs: int = 6) -> torch.Tensor:
    """Activation tensors (n_langs, layers, d_ff) with exact zeros and ties mixed in."""
    n_langs = draw(st.integers(min_langs, max_langs))
    layers = draw(st.integers(1, 4))
    d_ff = draw(st.integers(1, 12))
    values = draw(st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.0, 0.3, 1.0, 2.5]),
                           min_size=n_langs * layers * d_ff, max_size=n_langs * layers * d_ff))
    return torch.tensor(values).reshape(n_langs, layers, d_ff)


thresholds = st.sampled_from([-0.5, 0.0, 0.1, 0.5, 1.0, 3.0])


# Short texts mixing Latin, Cyrillic, CJK, Thai, punctuation (ASCII and CJK), full-width forms and white space.
_METRIC_ALPHABET = "abcABC xyz ÉéßБбв东京北日本กรุงเทพ.,!?;:'\"-()«»，。、ＡＢ１\t\n"


def metric_texts(max_size: int = 16) -> st.SearchStrategy[str]:
    """Answer-like strings for the text metrics (normalize, exact/prefix match, token F1)."""
    return st.text(alphabet=_METRIC_ALPHABET, max_size=max_size)


@st.composite
def collapsing_ablation(draw: st.DrawFn, *, min_items: int = 20, max_items: int = 200, min_accuracy: float = 0.6,
                        lost_share: tuple[float, float] = (0.8, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """(baseline, ablated) paired correctness (items,) bool: baseline accuracy >= ``min_accuracy``; the ablated
    condition loses a share in ``lost_share`` of the correct items and gains none."""
    n = draw(st.integers(min_items, max_items))
    n_correct = draw(st.integers(math.ceil(min_accuracy * n), n))
    n_lost = draw(st.integers(math.ceil(lost_share[0] * n_correct), math.floor(lost_share[1] * n_correct)))
    order = np.array(draw(st.permutations(range(n))))
    base = np.zeros(n, dtype=bool)
    base[order[:n_correct]] = True
    ablated = base.copy()
    ablated[order[:n_lost]] = False
    return base, ablated


@st.composite
def share_pairs(draw: st.DrawFn, *, min_examples: int = 5, max_examples: int = 60,
                shift: tuple[float, float] = (0.01, 0.2)) -> tuple[np.ndarray, np.ndarray]:
    """(ift, base) per-example all-shared shares: base in [0.25, 0.75], and every ift share is base + a shift
    drawn from ``shift`` (negative bounds give a decrease; |shift| <= 0.25 keeps shares in [0, 1])."""
    n = draw(st.integers(min_examples, max_examples))
    base = np.array(draw(st.lists(st.floats(0.25, 0.75), min_size=n, max_size=n)))
    delta = np.array(draw(st.lists(st.floats(*shift), min_size=n, max_size=n)))
    return base + delta, base


@st.composite
def type_shares(draw: st.DrawFn, *, max_layers: int = 12) -> np.ndarray:
    """Mean share of each of the 4 types per layer, (4, layers), every layer summing to 1."""
    layers = draw(st.integers(1, max_layers))
    raw = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=4 * layers, max_size=4 * layers))).reshape(4, layers)
    return raw / raw.sum(axis=0)


def task_shares(mean: float, n: int, seed: int) -> np.ndarray:
    """Per-example shares (n,) around ``mean``, spread +-0.02 (an even grid, shuffled by ``seed``)."""
    return np.random.default_rng(seed).permutation(mean + np.linspace(-0.02, 0.02, n))


@st.composite
def scored_texts(draw: st.DrawFn, *, max_texts: int = 24, max_columns: int = 6,
                 max_classes: int = 4) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores (texts, columns), labels (texts,), classes): every class present, scores with ties mixed in."""
    n_classes = draw(st.integers(2, max_classes))
    n_texts = draw(st.integers(n_classes, max_texts))
    n_columns = draw(st.integers(1, max_columns))
    extra = n_texts - n_classes
    labels = np.array(list(range(n_classes)) + draw(st.lists(st.integers(0, n_classes - 1), min_size=extra,
                                                             max_size=extra)))
    values = st.one_of(st.sampled_from([-1.0, 0.0, 0.0, 0.5, 2.0]), st.floats(-3, 3, allow_nan=False, width=32))
    scores = np.array(draw(st.lists(values, min_size=n_texts * n_columns, max_size=n_texts * n_columns)))
    return scores.reshape(n_texts, n_columns), labels[np.array(draw(st.permutations(range(n_texts))))], n_classes


@st.composite
def band_counts(draw: st.DrawFn, *, first: tuple[float, float], last: tuple[float, float], n_layers: int = 10,
                edge_share: float = 0.1, n_langs: int = 3, n_selected: int = 20,
                resamples: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(counts (L, 2, layers), resampled (R, L, 2, layers)): each language's top and bottom N neurons spread over the
    layers, a share in ``first`` of them in the first ``edge_share`` of the layers and a share in ``last`` in the
    last (every resample too; the rest in the middle layers; the last band gives way where the two add up to more
    than N). Hypothesis draws the measured in-band counts and a seed for where the neurons go."""
    k = max(1, math.ceil(edge_share * n_layers))
    bands = (np.arange(k), np.arange(n_layers - k, n_layers))
    middle = np.arange(k, n_layers - k)
    ranges = [(math.ceil(lo * n_selected), math.floor(hi * n_selected)) for lo, hi in (first, last)]
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))

    def spread(pick: Callable[[int, int], int]) -> np.ndarray:  # pick(low, high) -> an in-band count
        counts = np.zeros((n_langs * 2, n_layers), dtype=np.int64)
        for row in range(n_langs * 2):
            in_first = pick(*ranges[0])
            in_last = min(pick(*ranges[1]), n_selected - in_first)
            np.add.at(counts[row], rng.choice(bands[0], in_first), 1)
            np.add.at(counts[row], rng.choice(bands[1], in_last), 1)
            if n_selected - in_first - in_last:
                np.add.at(counts[row], rng.choice(middle, n_selected - in_first - in_last), 1)
        return counts.reshape(n_langs, 2, n_layers)

    measured = spread(lambda low, high: draw(st.integers(low, high)))
    boot = [spread(lambda low, high: int(rng.integers(low, high + 1))) for _ in range(resamples)]
    return measured, np.stack(boot)


@st.composite
def overlaps(draw: st.DrawFn, *, shared: tuple[int, int], n_langs: int = 4, n_selected: int = 100,
             resamples: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(overlap (2, L, L), resampled (R, 2, L, L)): symmetric counts of neurons two languages' sets share, N on the
    diagonal, off-diagonal counts in ``shared`` (the largest pair exactly at its upper end in some resample)."""

    def one() -> np.ndarray:
        out = np.zeros((2, n_langs, n_langs), dtype=np.int64)
        for side in range(2):
            for i in range(n_langs):
                out[side, i, i] = n_selected
                for j in range(i + 1, n_langs):
                    out[side, i, j] = out[side, j, i] = draw(st.integers(*shared))
        return out

    return one(), np.stack([one() for _ in range(resamples)])


@st.composite
def generation_outcomes(draw: st.DrawFn, *, tampered_rate: tuple[float, float], control_rate: tuple[float, float],
                        min_samples: int = 40, max_samples: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(identified (2 sets, 2 languages, samples), matched, baseline (2 languages, samples)) bool: the target
    language (row 0)'s own set writes it at a rate from ``tampered_rate``; the other language's set and the random
    set moved as far write it at rates from ``control_rate``; no fix as the random set (a set that changes nothing);
    nothing writes the other language."""
    n = draw(st.integers(min_samples, max_samples))

    def outcome(rate: tuple[float, float]) -> np.ndarray:
        hits = draw(st.integers(math.ceil(rate[0] * n), math.floor(rate[1] * n)))
        out = np.zeros(n, dtype=bool)
        out[np.array(draw(st.permutations(range(n))))[:hits]] = True
        return out

    identified = np.zeros((2, 2, n), dtype=bool)
    identified[0, 0], identified[1, 0] = outcome(tampered_rate), outcome(control_rate)
    matched = np.stack([outcome(control_rate), np.zeros(n, dtype=bool)])
    return identified, matched, matched.copy()


@st.composite
def generation_families(draw: st.DrawFn, *, n_langs: tuple[int, int] = (2, 9), min_samples: int = 20,
                        max_samples: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(identified (sets, languages, samples), matched, baseline (languages, samples) bool, target): a claim's whole
    family of tampering outcomes, and the instance's language. Each generation is identified as one language or
    none: every condition draws its samples' languages from weights of its own (many zero, some dominant)."""
    n, langs = draw(st.integers(min_samples, max_samples)), draw(st.integers(*n_langs))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    conditions = 2 * langs + 1  # each language's set, each language's random set moved as far, no fix
    weights = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.05, 0.3, 1.0, 20.0]), min_size=conditions * langs,
                                     max_size=conditions * langs))).reshape(conditions, langs) + 1e-3
    weights = np.hstack([weights, np.full((conditions, 1), draw(st.sampled_from([0.0, 0.5])))])  # none identified
    written = np.array([rng.choice(langs + 1, size=n, p=w / w.sum()) for w in weights])  # (conditions, n); langs: none
    languages = np.arange(langs)
    identified = written[:langs, None] == languages[None, :, None]
    matched = written[langs:2 * langs] == languages[:, None]
    baseline = written[-1][None] == languages[:, None]
    return identified, matched, baseline, draw(st.integers(0, langs - 1))


VERDICT_NAMES = ("supported", "refuted", "inconclusive", "error")


@st.composite
def claim_instances(draw: st.DrawFn, *, max_size: int = 12) -> list:
    """Distinct claim instances (harness.plugin.instances.Instance) of a few claims, models and languages, with
    verdicts,
    effects and intervals (the effect inside its interval)."""
    from harness.plugin.instances import Instance

    keys = draw(st.lists(st.tuples(st.sampled_from(("claim-a", "claim-b", "claim-c")), st.sampled_from(("m1", "m2")),
                                   st.sampled_from(("en", "de", None))), unique=True, min_size=1, max_size=max_size))
    instances = []
    for claim, model, language in keys:
        low = draw(st.floats(-1, 1, allow_nan=False))
        width = draw(st.floats(0, 1, allow_nan=False))
        effect = low + draw(st.floats(0, 1)) * width
        verdict = draw(st.sampled_from(VERDICT_NAMES))
        instances.append(Instance(
            claim=claim, instance="-".join(filter(None, (model, "xnli", language))), model=model, base_model=None,
            scale_model=None, task="xnli", language=language,
            settings={"threshold": 0.0, "dtype": "float32", "data_hash": "abc"},
            verdict=verdict, effect_name="effect", effect=None if verdict == "error" else effect,
            ci=None if verdict == "error" else (low, low + width), run_id="r1"))
    return instances


@st.composite
def packing_cases(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    """(document lengths, pool of document indices with repeats, row length) for packing into rows."""
    row_tokens = draw(st.integers(4, 40))
    lengths = draw(st.lists(st.integers(2, row_tokens), min_size=1, max_size=20))
    repeats = draw(st.lists(st.integers(1, 3), min_size=len(lengths), max_size=len(lengths)))
    pool = [i for i, r in enumerate(repeats) for _ in range(r)]
    return lengths, pool, row_tokens


@st.composite
def token_sequences(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """(a prompt's token ids, the ids of the prompt cut at its content end): a shared start (maybe a leading
    special 0), then each its own tokens (a cut one may merge differently at the boundary), the cut one maybe
    ending in the special 0 (an appended EOS)."""
    ids = st.integers(1, 6)
    start = draw(st.lists(ids, max_size=6))
    if draw(st.booleans()):
        start = [0, *start]
    full = start + draw(st.lists(ids, max_size=4))
    cut = start + draw(st.lists(ids, max_size=3)) + ([0] if draw(st.booleans()) else [])
    return full, cut


def type_rows(seed: int, *, shared_scale: float, examples: int = 12, langs: int = 4, layers: int = 3,
              d_ff: int = 60, shared: float = 0.3, dead: float = 0.5) -> np.ndarray:
    """(examples, langs, T, layers, fields) summaries of explicit neurons: ``shared`` of each layer's neurons are
    active in every language (all-shared), ``dead`` never, the rest in a random subset of the languages; an active
    neuron's weight |A| ||v|| is exponential (all-shared ones times ``shared_scale``), its positive effective score
    equal to its weight. Contribution scores are weights over the layer's total weight in the row."""
    rng = np.random.default_rng(seed)
    out = np.zeros((examples, langs, 4, layers, len(TYPE_ROW_FIELDS)))
    for e in range(examples):
        for layer in range(layers):
            role = rng.random(d_ff)
            on = np.where((role < shared)[:, None], True, np.where((role < shared + dead)[:, None], False,
                                                                    rng.random((d_ff, langs)) < 0.4))
            count = on.sum(axis=1)
            codes = np.select([count == langs, count > 1, count == 1], [ALL, PARTIAL, SPECIFIC], NON)
            weight = rng.exponential(size=d_ff) * np.where(codes == ALL, shared_scale, 1.0)
            for lang in range(langs):
                w = weight * on[:, lang] + 1e-3 * ~on[:, lang]  # inactive neurons weigh little
                c = w / w.sum()
                push = weight * on[:, lang]
                for t in range(4):
                    is_t, act = codes == t, (codes == t) & on[:, lang]
                    out[e, lang, t, layer] = [is_t.sum(), act.sum(), c[is_t].sum(), c[act].sum(), push[is_t].sum(),
                                              push[act].sum()]
    return out


def layer_maxima(seed: int, counts: list[int], scales: list[float], *, examples: int = 12, langs: int = 3,
                 sample: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """The all-shared summaries of Fig. 10 from explicit neurons: per row and layer, ``counts[l]`` all-shared
    neurons with effective scores drawn log-normal (sigma 0.75) times ``scales[l]``. Returns the largest score per
    language and layer (langs, layers) and, per row and layer, the exact expected maximum of ``sample`` of them
    drawn at random (examples, langs, layers; NaN where fewer)."""
    from harness.papers.sharing_matters.reducers import expected_subset_max

    rng = np.random.default_rng(seed)
    width = max(counts)
    scores = np.exp(0.75 * rng.standard_normal((examples, langs, len(counts), width))) * np.array(scales)[:, None]
    member = np.arange(width) < np.array(counts)[:, None]  # (layers, width)
    scores = np.where(member, scores, -np.inf)
    sampled = expected_subset_max(torch.from_numpy(np.where(member, scores, 0.0)),
                                  torch.from_numpy(np.broadcast_to(member, scores.shape).copy()), sample)
    return scores.max(axis=(0, 3)), sampled.numpy()


@st.composite
def same_density_layers(draw: st.DrawFn) -> torch.Tensor:
    """Activations (examples, langs, layers, d_ff) in which every layer of a row holds the same values in its own
    order: each layer has the same share of active (neuron, language) pairs at every threshold, and its own types."""
    examples, n_langs, layers, d_ff = (draw(st.integers(*bounds)) for bounds in ((2, 5), (2, 5), (3, 6), (4, 16)))
    values = torch.tensor(draw(st.lists(st.sampled_from([-1.0, -0.25, 0.125, 0.375, 0.75, 1.5]),
                                        min_size=examples * n_langs * d_ff, max_size=examples * n_langs * d_ff)))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2 ** 16)))
    order = torch.stack([torch.randperm(d_ff, generator=generator) for _ in range(examples * n_langs * layers)])
    rows = values.reshape(examples * n_langs, 1, d_ff).expand(-1, layers, -1).reshape(-1, d_ff)
    return torch.gather(rows, 1, order).reshape(examples, n_langs, layers, d_ff)


def damaged_copies(good: bytes, crafted: bytes) -> st.SearchStrategy[bytes]:
    """What a damaged copy of a cache file holding ``good`` can hold: a proper prefix of it (a full disk, an
    interrupted download or copy; the empty file among them), random bytes (short ones and as many as ``good``), or
    ``crafted``, a file that runs code when unpickled."""
    return st.one_of(st.integers(0, len(good) - 1).map(lambda n: good[:n]), st.binary(max_size=256),
                     st.randoms(use_true_random=False).map(lambda r: r.randbytes(len(good))), st.just(crafted))
