"""One measurement run of a model on a task: everything the claims need, streamed chunk by chunk.

Per chunk of parallel examples: one pass that scores the baseline and captures A at the last token (plus
dead-across-tokens), the four types per example, attribution reduced on the device, then one batched run over
every intervention condition at once (each row carries its own mask: the types just computed for its example).
Memory stays O(chunk x conditions).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field

import torch
from tqdm.auto import tqdm

from harness.attribution import value_norms, value_projections
from harness.capture import Recorder
from harness.models import LoadedModel
from harness.neurons import (
    ALL,
    PARTIAL,
    SPECIFIC,
    TypeStatistics,
    check_threshold,
    example_type_shares,
    type_codes,
)
from harness.scoring import (
    exact_match,
    first_answer_token,
    generate,
    predict_choice,
    prefix_match,
    verbalizer_tokens,
)
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint

# Deactivation conditions (a type, or the size-matched random control) and the conversion condition.
CONDITIONS = ("baseline", "all_shared", "specific", "partial_shared", "random", "convert")
_DEACTIVATED_TYPE = {"all_shared": ALL, "specific": SPECIFIC, "partial_shared": PARTIAL}


@dataclass(frozen=True)
class MeasureConfig:
    """Measurement choices recorded with every result (SPEC §2)."""

    threshold: float = 0.0
    epsilon: float = 1e-3
    positions: str = "last"
    batch_size: int = 16
    chunk_rows: int = 256  # rows (example x language) streamed together: bounds the activations held at once
    seed: int = 0
    top_share: float = 0.05  # contribution: the top 5% of neurons per layer (§6.1)
    random_pool: str = "complement of the all-shared set"
    language_counts: tuple[int, ...] = (3, 5, 7, 9)  # App. A.3.4: types over the first k languages too
    sweep_thresholds: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # App. A.3.7: types at these thresholds too

    def __post_init__(self) -> None:
        for threshold in (self.threshold, *self.sweep_thresholds):
            check_threshold(threshold)
        if any(k < 1 for k in self.language_counts):
            raise ValueError(f"language counts must be at least 1, got {self.language_counts}")

    def counts_for(self, n_langs: int) -> list[int]:
        """The language counts a run on ``n_langs`` languages classifies over: those below it, and all of them."""
        return sorted({k for k in self.language_counts if k < n_langs} | {n_langs})


@dataclass
class Measurement:
    """Summaries of one (model, task) run, on the CPU. Shapes in comments; T = 4 types in TYPES order."""

    model: dict[str, object]
    task: str
    languages: list[str]
    example_ids: list[str]
    config: dict[str, object]
    data_hash: str
    scoring: dict[str, object]
    correct: dict[str, torch.Tensor]  # condition -> (examples, langs) bool
    example_shares: torch.Tensor  # (examples, T, layers) share of each type per example
    language_counts: list[int]  # k of count_shares: types over the first k of ``languages``
    count_shares: torch.Tensor  # (examples, counts, T, layers) example_shares over the first k languages
    threshold_shares: torch.Tensor  # (examples, thresholds, T, layers) example_shares at config sweep_thresholds
    activated: torch.Tensor  # (langs, layers) mean share of activated neurons per language
    overlap: torch.Tensor  # (T, layers) share of neurons with the same type in every example
    dead_across_tokens: torch.Tensor  # (layers,) share of neurons inactive at every token, mean over inputs
    top_contribution: torch.Tensor  # (T, layers) share of the top-5% contributors that are of each type
    contribution_sum: torch.Tensor  # (T, layers) mean over inputs of the summed contribution of each type
    effective: torch.Tensor  # (langs, T, 3) max, min, mean effective score of each type
    masked_share: dict[str, float]  # condition -> mean share of neurons it deactivates/converts
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def shares(self) -> torch.Tensor:
        """(T, layers) mean over examples."""
        return self.example_shares.mean(dim=0)

    def accuracy(self, condition: str) -> torch.Tensor:
        """(langs,) accuracy per language."""
        return self.correct[condition].double().mean(dim=0)

    def to_state(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, object]) -> Measurement:
        return cls(**state)


def random_control(codes: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """Per example and layer, as many neurons as are all-shared, drawn uniformly from the other neurons.

    codes (examples, layers, d_ff) -> mask of the same shape; one seeded generator per example.
    """
    shared = codes == ALL
    k = shared.sum(dim=-1, keepdim=True)  # (examples, layers, 1)
    scores = torch.stack([torch.rand(codes.shape[1:], generator=g) for g in generators]).to(codes.device)
    scores = scores.masked_fill(shared, 2.0)  # all-shared neurons are never drawn
    rank = scores.argsort(dim=-1).argsort(dim=-1)
    return rank < k


def condition_mask(condition: str, codes: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    """The neurons a condition edits, per example: codes (examples, layers, d_ff) -> bool mask, same shape."""
    if condition in _DEACTIVATED_TYPE:
        return codes == _DEACTIVATED_TYPE[condition]
    if condition == "random":
        return random_control(codes, generators)
    return (codes == SPECIFIC) | (codes == PARTIAL)  # convert


class _Reducers:
    """Device-side accumulators for attribution and dead-across-tokens over all rows of the run."""

    MAX_CACHED_TOKENS = 512

    def __init__(self, lm: LoadedModel, n_langs: int, top_share: float) -> None:
        self.norms = value_norms(lm) if lm.site.name == "down_proj_input" else None
        self.top_k = max(1, round(top_share * lm.d_ff))
        layers, dev = lm.n_layers, lm.device
        self.top = torch.zeros(4, layers, device=dev, dtype=torch.float64)
        self.contribution = torch.zeros(4, layers, device=dev, dtype=torch.float64)
        self.eff_max = torch.full((n_langs, 4), -torch.inf, device=dev, dtype=torch.float64)
        self.eff_min = torch.full((n_langs, 4), torch.inf, device=dev, dtype=torch.float64)
        self.eff_sum = torch.zeros(n_langs, 4, device=dev, dtype=torch.float64)
        self.eff_count = torch.zeros(n_langs, 4, device=dev, dtype=torch.float64)
        self.dead = torch.zeros(layers, device=dev, dtype=torch.float64)
        self.rows = 0
        self._projections: dict[int, torch.Tensor] = {}  # token id -> (layers, d_ff)

    def update(self, lm: LoadedModel, acts: torch.Tensor, codes: torch.Tensor, ever: torch.Tensor | None,
               tokens: torch.Tensor) -> None:
        """acts (ex, langs, layers, d_ff); codes (ex, layers, d_ff); ever like acts; tokens (ex, langs)."""
        n_ex, n_langs = acts.shape[:2]
        row_codes = codes[:, None].expand(-1, n_langs, -1, -1).long()  # (ex, langs, layers, d_ff)
        self.rows += n_ex * n_langs
        if ever is not None:
            self.dead += (~ever).double().mean(dim=-1).sum(dim=(0, 1))
        if self.norms is None:
            return
        weight = acts.float().abs() * self.norms
        contribution = weight / weight.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(torch.float32).tiny)
        top = contribution.topk(self.top_k, dim=-1).indices  # (ex, langs, layers, k)
        top_types = row_codes.gather(-1, top)
        for t in range(4):
            self.top[t] += (top_types == t).double().sum(dim=(0, 1, 3)) / self.top_k
            self.contribution[t] += (contribution * (row_codes == t)).double().sum(dim=(0, 1, 3))
        proj = self.projections(lm, tokens.reshape(-1)).reshape(n_ex, n_langs, lm.n_layers, lm.d_ff)
        effective = (acts.float() * proj).double()
        for t in range(4):
            is_t = row_codes == t
            self.eff_max[:, t] = torch.maximum(self.eff_max[:, t],
                                               effective.masked_fill(~is_t, -torch.inf).amax(dim=(0, 2, 3)))
            self.eff_min[:, t] = torch.minimum(self.eff_min[:, t],
                                               effective.masked_fill(~is_t, torch.inf).amin(dim=(0, 2, 3)))
            self.eff_sum[:, t] += (effective * is_t).sum(dim=(0, 2, 3))
            self.eff_count[:, t] += is_t.sum(dim=(0, 2, 3))

    def projections(self, lm: LoadedModel, tokens: torch.Tensor) -> torch.Tensor:
        """E_r . v_i for each row's token, (rows, layers, d_ff), computed once per distinct token and kept
        (XNLI has three; generation tasks repeat answers across languages). The cache is bounded."""
        missing = sorted(set(tokens.tolist()) - set(self._projections))
        if missing:
            if len(self._projections) + len(missing) > self.MAX_CACHED_TOKENS:
                self._projections.clear()
            self._projections.update(zip(missing, value_projections(lm, torch.tensor(missing)), strict=True))
        return torch.stack([self._projections[t] for t in tokens.tolist()])

    def effective(self) -> torch.Tensor:
        mean = self.eff_sum / self.eff_count.clamp_min(1)
        stats = torch.stack([self.eff_max, self.eff_min, mean], dim=-1)
        return stats.masked_fill((self.eff_count == 0)[..., None], torch.nan)


def _correct(lm: LoadedModel, spec: TaskSpec, texts: list[str], golds: list[str], config: MeasureConfig,
             choice_ids: list[int] | None, **scoring: object) -> torch.Tensor:
    """Per-row correctness (rows,) bool; ``scoring`` passes masks or a recorder through to the scorer."""
    common = dict(batch_size=config.batch_size, threshold=config.threshold, epsilon=config.epsilon,
                  positions=config.positions, **scoring)
    if spec.scoring == "choice":
        predicted = predict_choice(lm, texts, choice_ids, **common)
        return torch.tensor([spec.choices[i] == g for i, g in zip(predicted, golds, strict=True)])
    continuations, _ = generate(lm, texts, spec.max_new_tokens, **common)
    match = prefix_match if spec.name == "facts" else exact_match
    return torch.tensor([match(c, g) for c, g in zip(continuations, golds, strict=True)])


def measure(lm: LoadedModel, examples: Sequence[ParallelExample], spec: TaskSpec,
            config: MeasureConfig = MeasureConfig(), *, conditions: Collection[str] = CONDITIONS[1:],
            progress: bool = False) -> Measurement:
    """Run the whole measurement of ``lm`` on ``examples``: one capture pass plus one pass per condition.

    ``conditions`` (default: all) narrows the intervention passes; the baseline is always scored.
    """
    unknown = set(conditions) - set(CONDITIONS[1:])
    if unknown:
        raise ValueError(f"unknown conditions {sorted(unknown)}; choose from {CONDITIONS[1:]}")
    if not examples:
        raise ValueError(f"{spec.name}: no examples to measure")
    languages = list(examples[0].prompts)
    n_langs = len(languages)
    choice_ids, convention = (verbalizer_tokens(lm, spec.choices) if spec.scoring == "choice" else (None, None))
    stats, reducers = TypeStatistics(config.threshold), _Reducers(lm, n_langs, config.top_share)
    correct = {c: [] for c in CONDITIONS if c == "baseline" or c in conditions}
    masked = {c: 0.0 for c in CONDITIONS[1:] if c in conditions}
    counts = config.counts_for(n_langs)
    example_shares, count_shares, threshold_shares = [], [], []
    timings = {"capture": 0.0, "conditions": 0.0}
    chunk = max(1, max(config.chunk_rows, config.batch_size) // n_langs)
    starts = range(0, len(examples), chunk)
    for start in tqdm(starts, desc=f"{lm.name} {spec.name}", disable=not progress, unit="chunk"):
        part = examples[start:start + chunk]
        texts = [ex.prompts[lang] for ex in part for lang in languages]
        golds = [ex.answers[lang] for ex in part for lang in languages]
        tic = time.perf_counter()
        with Recorder(lm, threshold=config.threshold) as recorder:
            ok = _correct(lm, spec, texts, golds, config, choice_ids, recorder=recorder)
            acts, ever = recorder.gather()
        correct["baseline"].append(ok.reshape(len(part), n_langs))
        acts = acts.reshape(len(part), n_langs, lm.n_layers, lm.d_ff)  # (ex, langs, layers, d_ff)
        codes = stats.update(acts)
        shares = example_type_shares(codes)  # (ex, T, layers); all languages at the run's threshold: reused below
        example_shares.append(shares.cpu())
        count_shares.append(torch.stack([shares if k == n_langs else
                                         example_type_shares(type_codes(acts[:, :k], config.threshold))
                                         for k in counts], dim=1).cpu())
        threshold_shares.append(torch.stack([shares if t == config.threshold else
                                             example_type_shares(type_codes(acts, t))
                                             for t in config.sweep_thresholds], dim=1).cpu())
        ref_tokens = torch.tensor([choice_ids[spec.choices.index(g)] if choice_ids else first_answer_token(lm, g)
                                   for g in golds], device=lm.device).reshape(len(part), n_langs)
        reducers.update(lm, acts, codes, None if ever is None else ever.reshape(acts.shape), ref_tokens)
        timings["capture"] += time.perf_counter() - tic

        tic = time.perf_counter()
        generators = [torch.Generator().manual_seed(config.seed * 1_000_003 + start + i) for i in range(len(part))]
        if masked:  # every condition's rows in one batched run: (conditions x rows) prompts, one mask per row
            masks = {c: condition_mask(c, codes, generators).repeat_interleave(n_langs, dim=0) for c in masked}
            none = torch.zeros_like(next(iter(masks.values())))
            deact = torch.cat([none if c == "convert" else masks[c] for c in masks])
            conv = torch.cat([masks[c] if c == "convert" else none for c in masks])
            ok = _correct(lm, spec, texts * len(masks), golds * len(masks), config, choice_ids,
                          deactivate_masks=deact, convert_masks=conv if "convert" in masks else None)
            for i, condition in enumerate(masks):
                masked[condition] += masks[condition].double().mean().item() * len(part)
                correct[condition].append(ok[i * len(texts):(i + 1) * len(texts)].reshape(len(part), n_langs))
        timings["conditions"] += time.perf_counter() - tic

    n = len(examples)
    return Measurement(
        model=lm.provenance(), task=spec.name, languages=languages, example_ids=[ex.id for ex in examples],
        config=asdict(config), data_hash=data_fingerprint(examples),
        scoring={"kind": spec.scoring, "template": spec.template, "verbalizer_convention": convention,
                 "verbalizer_tokens": None if choice_ids is None else
                 dict(zip(spec.choices, lm.tokenizer.convert_ids_to_tokens(choice_ids), strict=True)),
                 "types_with_one_language": "specific", "effective_score_token": "first token of the gold answer"},
        correct={c: torch.cat(v) for c, v in correct.items()},
        example_shares=torch.cat(example_shares), language_counts=counts, count_shares=torch.cat(count_shares),
        threshold_shares=torch.cat(threshold_shares), activated=stats.activated_share_per_language().cpu(),
        overlap=stats.overlap().cpu(), dead_across_tokens=(reducers.dead / (n * n_langs)).cpu(),
        top_contribution=(reducers.top / (n * n_langs)).cpu(),
        contribution_sum=(reducers.contribution / (n * n_langs)).cpu(), effective=reducers.effective().cpu(),
        masked_share={c: v / n for c, v in masked.items()}, timings=timings)


__all__ = ["CONDITIONS", "MeasureConfig", "Measurement", "measure", "random_control"]
