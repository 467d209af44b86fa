"""One measurement run of a model on a task: everything the claims need, streamed chunk by chunk.

First, where a claim asks for them, one pass over every prompt takes each neuron's mean A over the task's inputs
(the mean-ablation conditions set neurons to it; the centred contributions subtract it). Then per chunk of parallel
examples: one pass that scores the baseline and captures A at the last token (plus dead-across-tokens), the four
types per example (also over random subsets of the languages, at a grid of thresholds, and over non-parallel tuples
of the chunk's examples), attribution reduced on the device, then one
batched run per intervention condition, each row carrying its own mask (see
harness.papers.sharing_matters.conditions); at ``positions="last"`` these runs start from the capture pass's keys
and values of every prompt token but the last, which no edit changes (harness.core.prefixes). Memory stays
O(chunk).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.core.capture import Recorder, mean_activations
from harness.core.content_position import content_offsets
from harness.core.models import LoadedModel
from harness.core.prefixes import Prefixes, supported
from harness.core.provenance import Provenance, check_request
from harness.core.scoring import (
    MATCHES,
    first_answer_token,
    first_verbalizer,
    generate,
    predict_choice,
    settled_verbalizer,
    verbalizer_budget,
    verbalizer_tokens,
)
from harness.papers.sharing_matters.conditions import (
    CONVERSIONS,
    FAMILIES,
    MEAN_ABLATIONS,
    SEEDED,
    RowState,
    condition_mask,
    family_of,
    reach,
    seeded_name,
)
from harness.papers.sharing_matters.neurons import (
    TypeStatistics,
    check_threshold,
    example_type_shares,
    nonparallel_sources,
    regrouped_codes,
    type_codes,
)
from harness.papers.sharing_matters.reducers import READING_FIELDS, Reducers
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint

CENTRED = "centred"  # not an intervention: the attribution summaries of A centred on each neuron's mean too
CONDITIONS = (*FAMILIES, CENTRED)  # what a claim may ask for; seeded families run once per seed
SCORINGS = ("generate", "choice")


@dataclass(frozen=True)
class MeasureConfig:
    """Measurement choices recorded with every result (docs/design.md: choices where the papers are silent)."""

    threshold: float = 0.0
    epsilon: float = 1e-3
    positions: str = "last"
    scoring: str = "generate"  # tasks with verbalizers: first verbalizer in a greedy continuation, or "choice"
    batch_size: int = 16
    chunk_rows: int = 256  # rows (example x language) streamed together: bounds the activations held at once
    seed: int = 0
    control_seeds: int = 5  # draws of each random control
    top_share: float = 0.05  # contribution: the top 5% of neurons per layer (§6.1)
    span_sample: int = 32  # effective-score span compared on this many random neurons of each type per row
    language_counts: tuple[int, ...] = (3, 5, 7, 9)  # App. A.3.4: types over k of the languages too
    language_draws: int = 5  # random subsets of k languages per count
    sweep_thresholds: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # App. A.3.7
    # density-matched comparisons: of two models, and of a model's layers (the layer-shape claims bring a dense layer
    # down to the sparsest one's density); none below 0, where GELU's negative dip (and a ReLU's zero) would count
    # neurons that are firmly off as active (docs/design.md)
    density_thresholds: tuple[float, ...] = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5,
                                             2.0, 3.0, 5.0)

    def __post_init__(self) -> None:
        for threshold in (self.threshold, *self.sweep_thresholds, *self.density_thresholds):
            check_threshold(threshold)
        problems = [message for bad, message in (
            (any(k < 1 for k in self.language_counts), f"language counts must be at least 1: {self.language_counts}"),
            (self.scoring not in SCORINGS, f"scoring must be one of {SCORINGS}, got {self.scoring!r}"),
            (self.control_seeds < 1 or self.language_draws < 1 or self.span_sample < 2,
             "control_seeds and language_draws must be >= 1, span_sample >= 2"),
        ) if bad]
        if problems:
            raise ValueError("; ".join(problems))

    def counts_for(self, n_langs: int) -> list[int]:
        """The language counts a run on ``n_langs`` languages classifies over: those below it, and all of them."""
        return sorted({k for k in self.language_counts if k < n_langs} | {n_langs})

    def chunks(self, n_examples: int, n_langs: int) -> list[range]:
        """The examples ``measure`` streams together: ``chunk_rows`` rows of whole examples (at least one example,
        and a batch); a shorter last chunk with fewer examples than languages joins the one before, so that its
        non-parallel tuples (``nonparallel_sources``) take as many different examples as the others'."""
        size = max(1, max(self.chunk_rows, self.batch_size) // n_langs)
        starts = list(range(0, n_examples, size))
        if len(starts) > 1 and n_examples - starts[-1] < min(size, n_langs):
            starts.pop()
        return [range(start, end) for start, end in zip(starts, [*starts[1:], n_examples], strict=True)]

    def thresholds(self) -> list[float]:
        """Every threshold at which types and density are kept: the sweep, the density grid and the run's own."""
        return sorted({*self.sweep_thresholds, *self.density_thresholds, self.threshold})

    def language_subsets(self, n_langs: int) -> list[list[tuple[int, ...]]]:
        """Per count (``counts_for``): the random subsets of that many languages (all of them when there are
        fewer distinct subsets than ``language_draws``), seeded."""
        rng = np.random.default_rng(self.seed)
        subsets = []
        for k in self.counts_for(n_langs):
            if math.comb(n_langs, k) <= self.language_draws:
                subsets.append(list(itertools.combinations(range(n_langs), k)))
                continue
            drawn: set[tuple[int, ...]] = set()
            while len(drawn) < self.language_draws:
                drawn.add(tuple(sorted(rng.choice(n_langs, k, replace=False).tolist())))
            subsets.append(sorted(drawn))
        return subsets


@dataclass
class Measurement(Provenance):
    """Summaries of one (model, task) run, on the CPU (provenance fields in the base). Shapes in comments; T = 4
    types in TYPES order."""

    correct: dict[str, torch.Tensor]  # condition ("all_shared", "random/3", ...) -> (examples, langs) bool
    chance: torch.Tensor  # (langs,) accuracy of the best constant answer (verbalizers); 0 for open answers
    edits: dict[str, torch.Tensor]  # condition -> (examples, langs) neurons it edits per row, over all layers
    reach: dict[str, torch.Tensor]  # seeded control -> (examples, langs, 2) what it reached and its target
    # (conditions.reach)
    means: torch.Tensor  # (layers, d_ff) each neuron's mean A over the task's inputs (empty: not taken)
    example_shares: torch.Tensor  # (examples, T, layers) share of each type per example
    language_counts: list[int]  # k of count_shares
    language_subsets: list[list[list[str]]]  # per count, the subsets of languages the types were averaged over
    count_shares: torch.Tensor  # (examples, counts, T, layers) example_shares over k languages (mean over subsets)
    thresholds: list[float]  # of threshold_shares and threshold_density
    threshold_shares: torch.Tensor  # (examples, thresholds, T, layers) example_shares at each threshold
    threshold_density: torch.Tensor  # (examples, thresholds, layers) share of (neuron, language) pairs active
    example_activated: torch.Tensor  # (examples, langs, layers) share of activated neurons per row
    active_rates: torch.Tensor  # (langs, layers, d_ff) share of examples in which each neuron is active
    overlap: torch.Tensor  # (T, layers) share of neurons with the same type in every example
    dead_across_tokens: torch.Tensor  # (layers,) share of neurons inactive at every token, mean over inputs
    attribution: bool  # False at a site without value vectors: the attribution summaries below are empty
    top_contribution: torch.Tensor  # (T, layers) share of the top-5% contributors that are of each type
    contribution_sum: torch.Tensor  # (T, layers) mean over inputs of the summed contribution of each type
    base_rate: torch.Tensor  # (examples, langs, layers, 4) top-k all-shared & active, top-k active, active, shared
    effective: torch.Tensor  # (langs, T, 3) max, min, mean effective score of each type
    effective_spans: torch.Tensor  # (examples, langs, T) expected span of span_sample random ones (NaN: too few)
    # §6.1-6.2 per row, layer and type (reducers.TYPE_ROW_FIELDS): neurons, active ones, summed contribution (all,
    # active), summed positive effective score toward the reference token (all, active)
    type_rows: torch.Tensor  # (examples, langs, T, layers, 6)
    layer_effective_max: torch.Tensor  # (langs, T, layers) largest effective score per type and layer (Fig. 10)
    layer_sample_max: torch.Tensor  # (examples, langs, layers) expected max of span_sample all-shared (NaN: too few)
    # the same six attribution summaries (reducers.READING_FIELDS) of A centred on each neuron's mean (``means``):
    # ours, beside the paper's reading of A as it is above (empty without value vectors or condition ``centred``)
    centred: dict[str, torch.Tensor]
    # the template control, from the same pass: the same summaries at the last token of the translated content
    # (harness.core.content_position) instead of the prompt's last token
    content_shares: torch.Tensor  # (examples, T, layers) as example_shares
    content_activated: torch.Tensor  # (examples, langs, layers) as example_activated
    content_threshold_shares: torch.Tensor  # (examples, thresholds, T, layers) as threshold_shares
    content_threshold_density: torch.Tensor  # (examples, thresholds, layers) as threshold_density
    content_count_shares: torch.Tensor  # (examples, counts, T, layers) as count_shares
    # the non-parallel null: the types over tuples whose languages come from different examples of the same chunk
    # (harness.papers.sharing_matters.neurons.nonparallel_sources), from the same pass
    nonparallel_sources: torch.Tensor  # (examples, langs) the run's example whose item each language of tuple i takes
    nonparallel_shares: torch.Tensor  # (examples, T, layers) as example_shares, over the non-parallel tuples
    content_nonparallel_shares: torch.Tensor  # (examples, T, layers) nonparallel_shares at the content position

    @property
    def shares(self) -> torch.Tensor:
        """(T, layers) mean over examples."""
        return self.example_shares.mean(dim=0)

    @property
    def activated(self) -> torch.Tensor:
        """(langs, layers) mean share of activated neurons per language."""
        return self.example_activated.mean(dim=0)

    def accuracy(self, condition: str) -> torch.Tensor:
        """(langs,) accuracy per language; a seeded family gives the mean over its seeds."""
        return self.outcome(condition).double().mean(dim=0)

    def seeds(self, family: str) -> list[str]:
        """The conditions of a family that were run: itself, or one per seed."""
        return sorted(c for c in self.correct if family_of(c) == family)

    def reached_share(self, family: str, language: str | None = None) -> float:
        """How much of its target a drawn control reached, pooled over its seeds and rows (one language's, or
        all): neurons for the controls drawn by count, summed |A| ||v|| for ``matched``; 1 where it aimed at
        nothing."""
        reached = torch.stack([self.reach[c] for c in self.seeds(family)])  # (seeds, examples, langs, 2)
        if language is not None:
            reached = reached[:, :, self.languages.index(language)]
        total = reached.flatten(0, -2).sum(dim=0)  # (2,)
        return float(total[0] / total[1]) if total[1] > 0 else 1.0

    def outcome(self, condition: str) -> torch.Tensor:
        """(examples, langs) correctness; for a seeded family the share of its seeds that were correct."""
        return torch.stack([self.correct[c].double() for c in self.seeds(condition)]).mean(dim=0) \
            if condition not in self.correct else self.correct[condition]


def _correct(lm: LoadedModel, spec: TaskSpec, texts: list[str], golds: list[str], config: MeasureConfig,
             choice_ids: list[int] | None, **scoring: object) -> torch.Tensor:
    """Per-row correctness (rows,) bool; ``scoring`` passes masks or a recorder through to the scorer."""
    common = dict(batch_size=config.batch_size, threshold=config.threshold, epsilon=config.epsilon,
                  positions=config.positions, **scoring)
    if spec.scoring == "verbalizer" and config.scoring == "choice":
        predicted = predict_choice(lm, texts, choice_ids, **common)
        return torch.tensor([spec.choices[i] == g for i, g in zip(predicted, golds, strict=True)])
    if spec.scoring == "verbalizer":
        continuations, _ = generate(lm, texts, verbalizer_budget(lm, spec.choices),
                                    stop_when=lambda text: settled_verbalizer(text, spec.choices), **common)
        return torch.tensor([first_verbalizer(c, spec.choices) == g for c, g in zip(continuations, golds,
                                                                                       strict=True)])
    continuations, _ = generate(lm, texts, spec.max_new_tokens, **common)
    match = MATCHES[spec.match]
    return torch.tensor([match(c, g) for c, g in zip(continuations, golds, strict=True)])


def _scoring_record(lm: LoadedModel, spec: TaskSpec, config: MeasureConfig) -> dict[str, object]:
    if spec.scoring != "verbalizer":
        return {"kind": "generate", "method": f"greedy continuation of {spec.max_new_tokens} tokens, {spec.match}",
                "accuracy floor": 0.0, "effective_score_token": "first token of the gold answer"}
    ids, convention = verbalizer_tokens(lm, spec.choices)
    record: dict[str, object] = {"verbalizer_convention": convention,
                                 "verbalizer_tokens": dict(zip(spec.choices, lm.tokenizer.convert_ids_to_tokens(ids),
                                                               strict=True)),
                                 "effective_score_token": "first token of the gold verbalizer"}
    if config.scoring == "choice":
        return {"kind": "choice", "method": "argmax over the verbalizers' first tokens", "accuracy floor": "chance",
                **record}
    return {"kind": "generate", "method": f"greedy continuation of up to {verbalizer_budget(lm, spec.choices)} "
            "tokens; the answer is the first verbalizer found as a whole word; none found: wrong",
            "accuracy floor": 0.0, **record}


def _chance(examples: Sequence[ParallelExample], spec: TaskSpec, languages: list[str]) -> torch.Tensor:
    """(langs,) accuracy of always giving the most common gold answer (verbalizer tasks); 0 for open answers."""
    if spec.scoring != "verbalizer":
        return torch.zeros(len(languages), dtype=torch.float64)
    return torch.tensor([max(sum(ex.answers[lang] == c for ex in examples) for c in spec.choices) / len(examples)
                         for lang in languages], dtype=torch.float64)


class _Outcomes:
    """Correctness already scored in this chunk, keyed per row by a signature of the row's mask, so that a row
    whose mask another condition already ran (seeds of a control that all take a whole pool, an empty mask, which
    is the baseline) is not run again. The signature is an exact integer hash of the mask (int64 weights,
    wrapping sums): distinct masks collide with probability 2^-64."""

    def __init__(self, weights: torch.Tensor, baseline: torch.Tensor) -> None:
        self.weights = weights  # (layers, d_ff) int64
        self.known: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {
            "empty": [(torch.zeros(len(baseline), dtype=torch.int64), baseline)]}

    @staticmethod
    def hash_weights(layers: int, d_ff: int, device: torch.device) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        return torch.randint(-2 ** 62, 2 ** 62, (layers, d_ff), generator=generator).to(device)

    def signature(self, mask: torch.Tensor) -> torch.Tensor:
        """(rows,) int64 for a mask (rows, layers, d_ff); 0 for an empty mask."""
        return (mask.long() * self.weights).sum(dim=(-2, -1)).cpu()

    def reuse(self, kind: str, signature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(correctness where known, bool (rows,) which rows are known) for masks editing the way ``kind`` does."""
        ok, known = torch.zeros(len(signature), dtype=torch.bool), torch.zeros(len(signature), dtype=torch.bool)
        for seen, outcome in self.known["empty"] + self.known.get(kind, []):
            same = (signature == seen) & ~known
            ok[same], known[same] = outcome[same], True
        return ok, known

    def add(self, kind: str, signature: torch.Tensor, ok: torch.Tensor) -> None:
        self.known.setdefault(kind, []).append((signature, ok))


def _row_generators(config: MeasureConfig, family: str, seed: int, rows: range,
                    device: torch.device) -> list[torch.Generator]:
    """One generator per row, seeded by the run seed, the control family and seed, and the row's position in the
    run (example-major), so a draw never depends on chunking or batching."""
    base = (config.seed * 1_000_003 + FAMILIES.index(family) * 10_007 + seed) * 1_000_033
    return [torch.Generator(device=device).manual_seed(base + row) for row in rows]


def expand_conditions(conditions: Collection[str], control_seeds: int) -> list[str]:
    """Families in FAMILIES order, a seeded family once per seed ("random/0", ...)."""
    return [seeded_name(f, s) if f in SEEDED else f for f in FAMILIES if f in conditions
            for s in (range(control_seeds) if f in SEEDED else [0])]


def _type_summaries(acts: torch.Tensor, shares: torch.Tensor, threshold: float, subsets: list[list[tuple[int, ...]]],
                    thresholds: list[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A chunk's classification beyond the run's threshold, on the host: type shares over random subsets of k
    languages, averaged over the draws (ex, counts, T, layers); type shares at each threshold (ex, thresholds, T,
    layers); and the share of (neuron, language) pairs active at each threshold (ex, thresholds, layers).

    acts (ex, langs, layers, d_ff); shares (ex, T, layers), the types over all languages at ``threshold``."""
    n_langs = acts.shape[1]
    by_count = torch.stack([torch.stack([example_type_shares(type_codes(acts[:, list(s)], threshold))
                                         for s in drawn]).mean(dim=0)
                            if len(drawn[0]) < n_langs else shares for drawn in subsets], dim=1).cpu()
    return by_count, *_threshold_summaries(acts, shares, threshold, thresholds)


def _threshold_summaries(acts: torch.Tensor, shares: torch.Tensor, threshold: float,
                         thresholds: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Type shares at each threshold (ex, thresholds, T, layers) and the share of (neuron, language) pairs active
    at each threshold (ex, thresholds, layers), on the host; acts (ex, langs, layers, d_ff), shares (ex, T,
    layers) at ``threshold``."""
    by_threshold = torch.stack([shares if t == threshold else example_type_shares(type_codes(acts, t))
                                for t in thresholds], dim=1).cpu()
    by_density = torch.stack([(acts > t).double().mean(dim=(1, 3)) for t in thresholds], dim=1).cpu()
    return by_threshold, by_density


def _content_summaries(acts: torch.Tensor, threshold: float, subsets: list[list[tuple[int, ...]]],
                       thresholds: list[float], sources: torch.Tensor) -> dict[str, torch.Tensor]:
    """The template control's summaries at the content position, on the host, under the names of ``measure``'s
    content lists: type shares (ex, T, layers), activated shares (ex, langs, layers), the language counts and
    threshold grid (``_type_summaries``) and the type shares over the chunk's non-parallel tuples ``sources`` (ex,
    langs); acts (ex, langs, layers, d_ff) read at each row's last content token."""
    active = acts > threshold
    shares = example_type_shares(type_codes(acts, threshold))  # (ex, T, layers)
    by_count, by_threshold, by_density = _type_summaries(acts, shares, threshold, subsets, thresholds)
    return {"shares": shares.cpu(), "activated": active.double().mean(dim=-1).cpu(), "count_shares": by_count,
            "threshold_shares": by_threshold, "density": by_density,
            "nonparallel_shares": example_type_shares(regrouped_codes(active, sources)).cpu()}


@dataclass(frozen=True)
class _ChunkRows:
    """The rows (example x language, example-major) of one chunk: prompts, golds, their positions in the run, and
    the prefixes the capture pass kept for them (None: the intervention passes run whole prompts)."""

    texts: list[str]
    golds: list[str]
    rows: range
    kept: Prefixes | None


def _condition_outcome(lm: LoadedModel, spec: TaskSpec, config: MeasureConfig, choice_ids: list[int] | None,
                       condition: str, state: RowState, chunk: _ChunkRows, outcomes: _Outcomes, seeded: bool,
                       means: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One condition over a chunk, scoring only the rows whose edit no earlier condition of the chunk already made:
    correctness (rows,), neurons edited per row (rows,) on the host, and for a ``seeded`` control what it reached
    of its target (rows, 2) on the host. Its mask (rows, layers, d_ff) is freed on return. ``means`` (layers,
    d_ff): what a mean-ablation sets its neurons to."""
    family, _, seed = condition.partition("/")
    mask = condition_mask(condition, state, _row_generators(config, family, int(seed or 0), chunk.rows, lm.device))
    kind = "convert_masks" if family in CONVERSIONS else "fix_masks" if family in MEAN_ABLATIONS else \
        "deactivate_masks"
    signature = outcomes.signature(mask)
    ok, known = outcomes.reuse(kind, signature)
    todo = (~known).nonzero().flatten().tolist()
    if todo:
        values = {"fix_values": means} if kind == "fix_masks" else {}
        ok[todo] = _correct(lm, spec, [chunk.texts[i] for i in todo], [chunk.golds[i] for i in todo], config,
                            choice_ids, prefixes=None if chunk.kept is None else chunk.kept.view(todo),
                            **{kind: mask[todo]}, **values)
    outcomes.add(kind, signature, ok)
    return ok, mask.sum(dim=(-2, -1)).cpu(), reach(condition, mask, state).cpu() if seeded else None


def measure(lm: LoadedModel, examples: Sequence[ParallelExample], spec: TaskSpec,
            config: MeasureConfig = MeasureConfig(), *, conditions: Collection[str] = CONDITIONS,
            progress: bool = False, prefix_reuse: bool = True) -> Measurement:
    """Run the whole measurement of ``lm`` on ``examples``: one capture pass plus one pass per condition.

    ``conditions`` (default: all) narrows the intervention passes; the baseline is always scored. With
    ``prefix_reuse`` (and ``positions="last"``) the intervention passes start from the capture pass's keys and
    values of every prompt token but the last (harness.core.prefixes), which they do not edit. Each neuron's mean A
    over every prompt (at the positions the conditions edit) is taken first, by a pass of its own, where the
    centred attribution (condition ``centred``, at a site with value vectors) or a mean-ablation needs it.
    """
    languages = check_request(spec, examples, conditions, CONDITIONS)
    n_langs = len(languages)
    choice_ids = verbalizer_tokens(lm, spec.choices)[0] if spec.scoring == "verbalizer" else None
    stats = TypeStatistics(config.threshold)
    runs = expand_conditions(conditions, config.control_seeds)
    timings = {"means": 0.0, "capture": 0.0, "conditions": 0.0}
    means = None
    centred = CENTRED in conditions and lm.site.name == "down_proj_input"
    if centred or any(family_of(c) in MEAN_ABLATIONS for c in runs):
        tic = time.perf_counter()
        means = mean_activations(lm, [ex.prompts[lang] for ex in examples for lang in languages],
                                 positions=config.positions, batch_size=config.batch_size)  # (layers, d_ff)
        timings["means"] = time.perf_counter() - tic
    reducers = Reducers(lm, n_langs, config.top_share, config.span_sample, means if centred else None)
    if reducers.norms is None:
        runs = [c for c in runs if family_of(c) != "matched"]  # |A| ||v|| needs value vectors
    correct: dict[str, list[torch.Tensor]] = {c: [] for c in ["baseline", *runs]}
    edits: dict[str, list[torch.Tensor]] = {c: [] for c in runs}
    reached: dict[str, list[torch.Tensor]] = {c: [] for c in runs if family_of(c) in SEEDED}
    counts, subsets, thresholds = config.counts_for(n_langs), config.language_subsets(n_langs), config.thresholds()
    example_shares, count_shares, threshold_shares, density, activated = [], [], [], [], []
    tuple_sources, nonparallel_shares = [], []
    content: dict[str, list[torch.Tensor]] = {"shares": [], "activated": [], "count_shares": [],
                                              "threshold_shares": [], "density": [], "nonparallel_shares": []}
    hash_weights = _Outcomes.hash_weights(lm.n_layers, lm.d_ff, lm.device)
    reuse_prefixes = prefix_reuse and supported(lm, config.positions)
    for chunk in tqdm(config.chunks(len(examples), n_langs), desc=f"{lm.name} {spec.name}", disable=not progress,
                      unit="chunk"):
        start, part = chunk.start, examples[chunk.start:chunk.stop]
        texts = [ex.prompts[lang] for ex in part for lang in languages]
        golds = [ex.answers[lang] for ex in part for lang in languages]
        tic = time.perf_counter()
        kept = Prefixes(lm) if reuse_prefixes else None  # the intervention passes start from these
        offsets = content_offsets(lm, texts, [spec.content_end(text) for text in texts])
        with Recorder(lm, threshold=config.threshold, content_offsets=offsets) as recorder:
            ok = _correct(lm, spec, texts, golds, config, choice_ids, recorder=recorder, keep_prefixes=kept)
            at_content = recorder.gather_content()
            acts, ever = recorder.gather()
        correct["baseline"].append(ok.reshape(len(part), n_langs))
        acts = acts.reshape(len(part), n_langs, lm.n_layers, lm.d_ff)  # (ex, langs, layers, d_ff)
        active = acts > config.threshold
        codes = stats.update(acts)  # (ex, layers, d_ff)
        shares = example_type_shares(codes)  # (ex, T, layers)
        example_shares.append(shares.cpu())
        activated.append(active.double().mean(dim=-1).cpu())
        rng = np.random.default_rng((config.seed, start))
        sources = torch.from_numpy(nonparallel_sources(len(part), n_langs, rng))  # (ex, langs) in the chunk
        tuple_sources.append(sources + start)
        sources = sources.to(lm.device)
        nonparallel_shares.append(example_type_shares(regrouped_codes(active, sources)).cpu())
        by_count, by_threshold, by_density = _type_summaries(acts, shares, config.threshold, subsets, thresholds)
        count_shares.append(by_count)
        threshold_shares.append(by_threshold)
        density.append(by_density)
        for name, value in _content_summaries(at_content.reshape(acts.shape), config.threshold, subsets,
                                              thresholds, sources).items():
            content[name].append(value)
        del at_content  # only its summaries are kept: the chunk's peak (reducers, conditions) is as without it
        ref_tokens = torch.tensor([choice_ids[spec.choices.index(g)] if choice_ids else first_answer_token(lm, g)
                                   for g in golds], device=lm.device).reshape(len(part), n_langs)
        reducers.update(lm, acts, codes, active, None if ever is None else ever.reshape(acts.shape), ref_tokens)
        timings["capture"] += time.perf_counter() - tic

        tic = time.perf_counter()
        weight = reducers.weight(acts)
        state = RowState(codes.repeat_interleave(n_langs, dim=0), active.flatten(0, 1),
                         None if weight is None else weight.flatten(0, 1))  # rows = example x language
        rows = range(start * n_langs, (start + len(part)) * n_langs)
        outcomes = _Outcomes(hash_weights, correct["baseline"][-1].flatten())
        for condition in runs:
            # (a fresh _ChunkRows per call: nothing outlives the chunk's kept prefixes into the next chunk)
            ok, edited, reached_rows = _condition_outcome(lm, spec, config, choice_ids, condition, state,
                                                          _ChunkRows(texts, golds, rows, kept), outcomes,
                                                          condition in reached, means)
            correct[condition].append(ok.reshape(len(part), n_langs))
            edits[condition].append(edited.reshape(len(part), n_langs))
            if reached_rows is not None:
                reached[condition].append(reached_rows.reshape(len(part), n_langs, 2))
        timings["conditions"] += time.perf_counter() - tic

    n = len(examples)
    empty = torch.zeros(0)
    readings = reducers.summaries()
    paper = readings["paper"]
    return Measurement(
        model=lm.provenance(), task=spec.name, languages=languages, example_ids=[ex.id for ex in examples],
        config=asdict(config), data_hash=data_fingerprint(examples), scoring=_scoring_record(lm, spec, config),
        correct={c: torch.cat(v) for c, v in correct.items()}, chance=_chance(examples, spec, languages),
        edits={c: torch.cat(v) for c, v in edits.items()}, reach={c: torch.cat(v) for c, v in reached.items()},
        means=empty if means is None else means.cpu(),
        example_shares=torch.cat(example_shares), language_counts=counts,
        language_subsets=[[[languages[i] for i in s] for s in drawn] for drawn in subsets],
        count_shares=torch.cat(count_shares), thresholds=thresholds, threshold_shares=torch.cat(threshold_shares),
        threshold_density=torch.cat(density), example_activated=torch.cat(activated),
        active_rates=stats.active_rates().float().cpu(), overlap=stats.overlap().cpu(),
        dead_across_tokens=(reducers.dead / (n * n_langs)).cpu(), attribution=reducers.attribution,
        **{name: paper.get(name, empty) for name in READING_FIELDS}, centred=readings.get("centred", {}),
        effective=reducers.effective().cpu(),
        effective_spans=torch.cat(reducers.spans) if reducers.spans else empty,
        content_shares=torch.cat(content["shares"]), content_activated=torch.cat(content["activated"]),
        content_threshold_shares=torch.cat(content["threshold_shares"]),
        content_threshold_density=torch.cat(content["density"]),
        content_count_shares=torch.cat(content["count_shares"]),
        nonparallel_sources=torch.cat(tuple_sources), nonparallel_shares=torch.cat(nonparallel_shares),
        content_nonparallel_shares=torch.cat(content["nonparallel_shares"]), timings=timings)


__all__ = ["CENTRED", "CONDITIONS", "MeasureConfig", "Measurement", "expand_conditions", "measure"]
