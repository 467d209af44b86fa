"""Language-specific neurons (Kojima et al., NAACL 2024, arXiv 2404.02431): one measurement of a model on a task.

For each language l, the texts of l are positives and the texts of the other languages negatives; a neuron's
response to a text (pooled over its tokens) is a prediction score and its expertise for l is the Average
Precision of that score. The N highest- and N lowest-AP neurons are l's language-specific neurons. The texts are
the task's parallel items in each language (the template's fields without its words, see ``prompt_content``), so
AP separates languages, not contents. Summaries kept: where the selected neurons sit (per layer) and how the
languages' sets overlap; the same on bootstrap resamples of the examples (condition "resamples"); the mean AP of
each language's top-N under shuffled language labels (condition "permutations": the null of the selection, from the
same responses); and Kojima et al.'s generation experiment (condition "tampering"): each language's selected neurons
fixed at their median response on its texts (``on_p50``) during unconditional generation, against no fix, a random
same-size set fixed at its own medians on the language's texts, and a random same-size set moved as far, in each
neuron's spread, as the language's set moves its neurons (``moved_spreads``); every other language's set is the second
control, read from the same generations. The pooled responses (texts x neurons x 4 bytes) are kept on the host;
expertise, medians, spreads and the bootstrap run one layer at a time on the device.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field

import torch
from tqdm.auto import tqdm

from harness.core.interventions import POSITIONS
from harness.core.langid import UnigramNaiveBayes, held_out_recall
from harness.core.models import LoadedModel
from harness.core.provenance import Provenance, check_request
from harness.core.responses import POOLINGS, pooled_responses
from harness.core.sampling import cut_at_eos, sample_under_fixes, start_tokens
from harness.papers.kojima.expertise import (
    CHUNK_ELEMENTS,
    average_precision,
    class_medians,
    permuted_average_precision,
    top_and_bottom,
)
from harness.tasks import ParallelExample, TaskSpec, data_fingerprint, prompt_content

LANGUAGE_CONDITIONS = ("resamples", "tampering", "permutations")  # the parts a claim may ask for, beyond the selection
TAMPER_SETS = ("both", "top")
IDENTIFIER = "multinomial naive Bayes over the model's token ids (add-one), fitted on the run's texts of each language"
SAMPLING = "Gumbel-max at the temperature over the full vocabulary (no top-k/top-p), the same noise in every condition"


@dataclass(frozen=True)
class LanguageNeuronConfig:
    """Measurement choices recorded with every result; the paper's values in the comments."""

    share: float = 0.002  # N = round(share x all FFN neurons); paper: N = 1000 = 0.2% of BLOOM-7b1's 491,520
    pooling: str = "mean"  # response to a text: mean over its real tokens (ml-selfcond's default was max)
    n_bootstrap: int = 100  # resamples of the examples for the layer and overlap intervals (ours)
    n_permutations: int = 100  # label shuffles for the null of the top-N AP (ours)
    tamper: str = "both"  # fix the top-N and the bottom-N ("both", as the paper's scripts) or the top-N only
    n_samples: int = 100  # generations per condition (paper: seeds 1-100)
    max_new_tokens: int = 64  # paper: 64
    temperature: float = 0.8  # paper: 0.8
    prompt: str = ""  # "": unconditional, from the start token (paper); else a short prompt
    positions: str = "all"  # fixed at every token (ml-selfcond)
    batch_size: int = 16
    generation_batch_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        problems = [message for bad, message in (
            (not 0 < self.share < 0.5, f"share must be in (0, 0.5), got {self.share}"),
            (self.pooling not in POOLINGS, f"pooling must be one of {POOLINGS}, got {self.pooling!r}"),
            (self.tamper not in TAMPER_SETS, f"tamper must be one of {TAMPER_SETS}, got {self.tamper!r}"),
            (self.positions not in POSITIONS, f"positions must be one of {POSITIONS}, got {self.positions!r}"),
            (self.n_bootstrap < 0 or self.n_permutations < 0 or self.n_samples < 1 or self.max_new_tokens < 1,
             "n_bootstrap and n_permutations must be >= 0, n_samples and max_new_tokens >= 1"),
            (not self.temperature > 0, f"temperature must be > 0, got {self.temperature}"),
        ) if bad]
        if problems:
            raise ValueError("; ".join(problems))

    def n_selected(self, n_neurons: int) -> int:
        return max(1, round(self.share * n_neurons))


@dataclass
class LanguageNeurons(Provenance):
    """Summaries of one (model, task) run, on the CPU. L = languages, R = bootstrap resamples, N = selected per side;
    neurons are numbered layer-major (index = layer x d_ff + unit); "sides" are (top, bottom)."""

    n_layers: int
    d_ff: int
    top: torch.Tensor  # (L, N) neuron index, highest AP first
    bottom: torch.Tensor  # (L, N) neuron index, lowest AP first
    top_ap: torch.Tensor  # (L, N)
    bottom_ap: torch.Tensor  # (L, N)
    layer_counts: torch.Tensor  # (L, 2 sides, layers) selected neurons per layer
    boot_layer_counts: torch.Tensor  # (R, L, 2, layers); R = 0 unless asked for
    overlap: torch.Tensor  # (2 sides, L, L) neurons two languages' sets share
    boot_overlap: torch.Tensor  # (R, 2, L, L)
    identifier_recall: torch.Tensor  # (L,) held-out share of each language's texts the identifier recognises
    # identified language per generation (-1: none): "baseline" (samples,); (L, samples): "tampered" (each language's
    # set at its medians), "random" (a random same-size set at its own medians on the language's texts), "matched" (a
    # random same-size set moved as far, in each neuron's spread, as the language's set)
    tampering: dict[str, torch.Tensor] = field(default_factory=dict)
    # (L, K) how far fixing moves each neuron of a language's set (top-N then bottom-N), in its spread: (median on the
    # language's texts - median on all texts) / standard deviation over all texts; empty unless tampering was measured
    moved_spreads: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))
    samples: dict[str, list[str]] = field(default_factory=dict)  # a few decoded generations per condition
    fixed_share: float = 0.0  # share of all FFN neurons one tampering condition fixes
    # (P, L) mean AP of language l's top-N neurons with the language labels shuffled within each example (P = 0
    # unless asked for): what the selection finds by chance among this many neurons and texts
    null_top_ap: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0, dtype=torch.float64))
    # (L,) the same statistic with the true labels, by the same route (float64; NaN unless asked for)
    observed_top_ap: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.float64))

    @property
    def n_selected(self) -> int:
        return int(self.top.shape[1])


def language_texts(examples: Sequence[ParallelExample], spec: TaskSpec) -> tuple[list[str], torch.Tensor]:
    """Texts example-major (example 0 in every language, then example 1, ...) and their language index."""
    languages = list(examples[0].prompts)
    texts = [prompt_content(spec.template, ex.prompts[lang]) for ex in examples for lang in languages]
    return texts, torch.arange(len(languages)).repeat(len(examples))


def _summaries(top: torch.Tensor, bottom: torch.Tensor, n_neurons: int, n_layers: int,
               d_ff: int) -> tuple[torch.Tensor, torch.Tensor]:
    """top, bottom (L, N) neuron indices -> per-layer counts (L, 2, layers), shared neurons (2, L, L)."""
    counts = torch.stack([torch.stack([torch.bincount(side[lang] // d_ff, minlength=n_layers)
                                       for side in (top, bottom)]) for lang in range(top.shape[0])])
    overlap = []
    for side in (top, bottom):
        member = torch.zeros(top.shape[0], n_neurons, device=side.device).scatter_(1, side, 1.0)  # (L, neurons)
        overlap.append((member @ member.T).round().long())
    return counts, torch.stack(overlap)


@dataclass
class Levels:
    """Where each neuron's pooled response sits over the texts: what tampering fixes neurons at and moves them by."""

    language: torch.Tensor  # (L, neurons) median response to each language's texts
    overall: torch.Tensor  # (neurons,) median response to all texts
    spread: torch.Tensor  # (neurons,) standard deviation of the response over all texts

    def moved(self, selected: torch.Tensor) -> torch.Tensor:
        """How far fixing each language's ``selected`` (L, K) neurons at their median on its texts moves them from
        their median on all texts, in their spread: (L, K) (0 for a neuron whose response never varies, whose two
        medians are equal)."""
        spread = self.spread[selected]
        shift = self.language.gather(1, selected) - self.overall[selected]
        return torch.where(spread > 0, shift / spread.clamp_min(torch.finfo(spread.dtype).tiny), 0.0)


def _by_layer(responses: torch.Tensor, labels: torch.Tensor, n_langs: int, device: torch.device,
              levels: bool) -> tuple[torch.Tensor, Levels | None]:
    """AP (L, neurons) float64 and, if asked, the neurons' ``Levels``, one layer's responses on the device at a time.
    responses (texts, layers, d_ff), on the host or the device."""
    ap, language, overall, spread = [], [], [], []
    for layer in range(responses.shape[1]):
        scores = responses[:, layer].to(device)  # (texts, d_ff)
        ap.append(average_precision(scores, labels, n_langs))
        if levels:
            language.append(class_medians(scores, labels, n_langs))
            overall.append(class_medians(scores, torch.zeros_like(labels), 1)[0])
            spread.append(scores.std(dim=0, correction=0))
    if not levels:
        return torch.cat(ap, dim=1), None
    return torch.cat(ap, dim=1), Levels(torch.cat(language, dim=1), torch.cat(overall), torch.cat(spread))


def _layer_candidates(ap: torch.Tensor, k: int, descending: bool) -> torch.Tensor:
    """The k first neurons of each row of ``ap`` (L, d_ff) in the selection's order (AP, then the lower index
    first), listed by index: (L, k)."""
    return ap.sort(dim=1, descending=descending, stable=True).indices[:, :k].sort(dim=1).values


def _bootstrap(responses: torch.Tensor, labels: torch.Tensor, n_examples: int, n: int, config: LanguageNeuronConfig,
               device: torch.device, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer counts (R, L, 2, layers) and overlaps (R, 2, L, L) on resamples of the examples (all languages of an
    example stay together).

    Layer by layer (one layer's responses on the device at a time), every resample keeps the layer's n best
    neurons of each side and language; the n best of all layers are among them, and merging them (listed by
    neuron index, sorted stably by AP) gives exactly the selection that sorting every neuron would give.
    """
    n_langs, (_, n_layers, d_ff) = int(labels.max()) + 1, responses.shape
    generator = torch.Generator().manual_seed(config.seed)
    resamples = [(torch.randint(n_examples, (n_examples,), generator=generator)[:, None] * n_langs
                  + torch.arange(n_langs)).reshape(-1) for _ in range(config.n_bootstrap)]
    k = min(n, d_ff)
    # per resample, side, language and layer: the layer's k candidates (AP and neuron index), on the host
    values = torch.empty(len(resamples), 2, n_langs, n_layers, k, dtype=torch.float64)
    index = torch.empty(len(resamples), 2, n_langs, n_layers, k, dtype=torch.long)
    for layer in tqdm(range(n_layers), desc="bootstrap", disable=not progress, unit="layer"):
        scores = responses[:, layer].to(device)  # (texts, d_ff)
        for r, rows in enumerate(resamples):
            rows = rows.to(device)
            ap = average_precision(scores[rows], labels[rows], n_langs)  # (L, d_ff)
            for side, descending in enumerate((True, False)):
                chosen = _layer_candidates(ap, k, descending)
                values[r, side, :, layer] = ap.gather(1, chosen).cpu()
                index[r, side, :, layer] = (chosen + layer * d_ff).cpu()
    counts, overlaps = [], []
    for r in range(len(resamples)):
        sides = [index[r, side].reshape(n_langs, -1).gather(1, values[r, side].reshape(n_langs, -1).sort(
            dim=1, descending=descending, stable=True).indices[:, :n]) for side, descending in enumerate((True, False))]
        c, o = _summaries(*sides, n_layers * d_ff, n_layers, d_ff)
        counts.append(c)
        overlaps.append(o)
    return torch.stack(counts), torch.stack(overlaps)


def shuffled_labels(n_examples: int, n_langs: int, n_permutations: int, seed: int) -> torch.Tensor:
    """(P, texts) language labels of example-major texts, shuffled within each example: the texts of one example
    (its translations) exchange their languages, so every language keeps one text per example and the contents stay
    balanced across languages (under the null that a neuron does not tell languages apart, an example's
    translations are exchangeable)."""
    generator = torch.Generator().manual_seed(seed)
    draws = torch.rand(n_permutations, n_examples, n_langs, generator=generator)
    return draws.argsort(dim=-1).reshape(n_permutations, n_examples * n_langs)


def _null_top_ap(responses: torch.Tensor, n_langs: int, n: int, config: LanguageNeuronConfig,
                 device: torch.device, progress: bool) -> torch.Tensor:
    """(1 + P, L) mean AP of each language's top-n neurons with the true labels (row 0) and under shuffled labels
    (``shuffled_labels``), from the pooled responses (texts, layers, d_ff): no forward pass. One layer's responses on
    the device at a time; the permutations in batches; each layer's n best of every permutation and language merged into
    the running top-n (the n best of all layers are among them). A neuron with the same response to every text (a dead
    one) has AP = the class's share of the texts under any labelling: one of them stands for all of them."""
    n_texts, n_layers, d_ff = responses.shape
    n_examples = n_texts // n_langs
    permuted = torch.cat([torch.arange(n_langs).repeat(n_examples)[None],
                          shuffled_labels(n_examples, n_langs, config.n_permutations, config.seed)]).to(device)
    rows = len(permuted)
    best = torch.full((rows, n_langs, 0), -1.0, dtype=torch.float64, device=device)
    batch = max(1, min(rows, CHUNK_ELEMENTS // max(1, n_texts * d_ff)))
    for layer in tqdm(range(n_layers), desc="label shuffles", disable=not progress, unit="layer"):
        scores = responses[:, layer].to(device)  # (texts, d_ff)
        constant = (scores == scores[:1]).all(dim=0)  # (d_ff,)
        n_constant = int(constant.sum())
        columns = torch.cat([(~constant).nonzero().flatten(), constant.nonzero().flatten()[:1]])
        ap = torch.cat([permuted_average_precision(scores[:, columns], permuted[start:start + batch], n_langs)
                        for start in range(0, rows, batch)])  # (1 + P, L, columns)
        if n_constant > 1:  # the constant one stands for every constant neuron the top-n could take
            ap = torch.cat([ap, ap[..., -1:].expand(-1, -1, min(n, n_constant) - 1)], dim=-1)
        layer_best = ap.topk(min(n, ap.shape[-1]), dim=-1).values  # (1 + P, L, min(n, d_ff))
        best = torch.cat([best, layer_best], dim=-1).topk(min(n, best.shape[-1] + layer_best.shape[-1]), dim=-1).values
    return best.mean(dim=-1).cpu()


def _random_sets(excluded: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """(L, k) neuron indices, in random order: per row, k neurons drawn at random from those not ``excluded`` (L,
    neurons) bool."""
    scores = torch.rand(excluded.shape, generator=generator).to(excluded.device).masked_fill(excluded, 2.0)
    return scores.argsort(dim=1)[:, :k]


def _tamper_conditions(selected: torch.Tensor, moved: torch.Tensor, levels: Levels,
                       seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks and values (1 + 3L, neurons): no fix; each language's selected set at its medians on that language's
    texts; per language a random set of the same size from the other neurons, fixed at its medians likewise; per
    language a random set of the same size from the other neurons whose response varies, moved as far as the
    language's set: the k-th drawn neuron is fixed at its median on all texts plus as many of its own spreads as
    fixing moves the k-th neuron of the set (``moved``; the draw's order pairs them at random).

    selected (L, K) neuron indices; moved (L, K) spreads (``Levels.moved``)."""
    n_langs, n_neurons = levels.language.shape
    k = selected.shape[1]
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.zeros(n_langs, n_neurons, dtype=torch.bool, device=selected.device).scatter_(1, selected, True)
    drawn = torch.zeros_like(chosen).scatter_(1, _random_sets(chosen, k, generator), True)
    unmovable = chosen | (levels.spread == 0)[None]  # the language's own, and neurons that never vary
    room = (~unmovable).sum(dim=1)
    if (room < k).any():
        raise ValueError(f"a random set moved as far as a language's {k} neurons needs {k} other neurons whose "
                         f"response varies over the texts; this model has {room.min().item()}")
    matched = _random_sets(unmovable, k, generator)  # (L, K)
    far = torch.zeros_like(levels.language).scatter_(1, matched,
                                                     levels.overall[matched] + moved * levels.spread[matched])
    masks = torch.cat([torch.zeros_like(chosen[:1]), chosen, drawn,
                       torch.zeros_like(chosen).scatter_(1, matched, True)])
    values = torch.cat([torch.zeros_like(levels.language[:1]), levels.language, levels.language, far])
    return masks, values


def _printable(text: str) -> str:
    """Generated text for the report: control characters (sampled bytes can be anything) as U+FFFD."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


@dataclass
class _Tampered:
    outcome: dict[str, torch.Tensor]  # "baseline" (samples,); "tampered", "random", "matched" (L, samples): language
    moved: torch.Tensor  # (L, K) spreads
    samples: dict[str, list[str]]
    fixed_share: float
    recall: torch.Tensor  # (L,)
    start: list[str]


def _tampering(lm: LoadedModel, levels: Levels, labels: torch.Tensor, texts: list[str],
               languages: list[str], top: torch.Tensor, bottom: torch.Tensor,
               config: LanguageNeuronConfig) -> _Tampered:
    """Generations under every tampering condition (``_tamper_conditions``), each identified as a language."""
    n_langs, n_neurons = levels.language.shape
    selected = (torch.cat([top, bottom], dim=1) if config.tamper == "both" else top).to(levels.language.device)
    moved = levels.moved(selected)  # (L, K)
    masks, values = _tamper_conditions(selected, moved, levels, config.seed)
    tokens = sample_under_fixes(
        lm, masks.reshape(-1, lm.n_layers, lm.d_ff), values.reshape(-1, lm.n_layers, lm.d_ff),
        n_samples=config.n_samples, max_new_tokens=config.max_new_tokens, temperature=config.temperature,
        seed=config.seed, prompt=config.prompt, positions=config.positions,
        batch_size=config.generation_batch_size)  # (1 + 3L, samples, steps)
    tokenizer = lm.tokenizer
    special = set(tokenizer.all_special_ids)
    known = [[t for t in tokenizer(text, add_special_tokens=False)["input_ids"] if t not in special] for text in texts]
    vocab = max(len(tokenizer), lm.model.get_output_embeddings().weight.shape[0])
    identifier = UnigramNaiveBayes.fit(known, labels.tolist(), n_langs, vocab)
    generated = cut_at_eos(tokens.reshape(-1, tokens.shape[-1]), tokenizer.eos_token_id, special)
    predicted = identifier.predict(generated).reshape(tokens.shape[:2])  # (1 + 3L, samples)
    kinds = ("tampered", "random", "matched")
    names = ["baseline"] + [f"{kind} {lang}" for kind in kinds for lang in languages]
    n = config.n_samples  # the first two generations of each condition
    shown = {name: [_printable(tokenizer.decode(t)[:80]) for t in generated[c * n:c * n + 2]]
             for c, name in enumerate(names)}
    examples_of_texts = (torch.arange(len(texts)) // n_langs).tolist()
    return _Tampered(
        outcome={"baseline": predicted[0], **{kind: predicted[1 + i * n_langs:1 + (i + 1) * n_langs]
                                              for i, kind in enumerate(kinds)}},
        moved=moved.float().cpu(),
        samples=shown, fixed_share=selected.shape[1] / n_neurons,
        recall=held_out_recall(known, labels.tolist(), examples_of_texts, n_langs, vocab),
        start=tokenizer.convert_ids_to_tokens(start_tokens(lm, config.prompt)))


def measure_language_neurons(lm: LoadedModel, examples: Sequence[ParallelExample], spec: TaskSpec,
                             config: LanguageNeuronConfig = LanguageNeuronConfig(), *,
                             conditions: Collection[str] = LANGUAGE_CONDITIONS,
                             progress: bool = False) -> LanguageNeurons:
    """Expertise and selection; bootstrap summaries with the condition "resamples", the generation experiment with
    "tampering"."""
    languages = check_request(spec, examples, conditions, LANGUAGE_CONDITIONS)
    if len(languages) < 2:
        raise ValueError(f"language-specific neurons need at least two languages; {spec.name} has {languages}")
    texts, labels = language_texts(examples, spec)
    timings = {}
    tic = time.perf_counter()
    # (texts, layers, d_ff) on the host: the device holds one layer's at a time (texts x d_ff x 4 bytes)
    responses = pooled_responses(lm, texts, pooling=config.pooling, batch_size=config.batch_size, device="cpu")
    labels = labels.to(lm.device)
    ap, levels = _by_layer(responses, labels, len(languages), lm.device, levels="tampering" in conditions)
    n = config.n_selected(ap.shape[1])
    top, bottom = top_and_bottom(ap, n)
    counts, overlap = _summaries(top, bottom, ap.shape[1], lm.n_layers, lm.d_ff)
    timings["responses and expertise"] = time.perf_counter() - tic
    boot_counts = torch.zeros(0, len(languages), 2, lm.n_layers, dtype=torch.long)
    boot_overlap = torch.zeros(0, 2, len(languages), len(languages), dtype=torch.long)
    if "resamples" in conditions and config.n_bootstrap:
        tic = time.perf_counter()
        boot_counts, boot_overlap = _bootstrap(responses, labels, len(examples), n, config, lm.device, progress)
        timings["bootstrap"] = time.perf_counter() - tic
    shuffles = torch.full((1, len(languages)), torch.nan, dtype=torch.float64)
    if "permutations" in conditions and config.n_permutations:
        tic = time.perf_counter()
        shuffles = _null_top_ap(responses, len(languages), n, config, lm.device, progress)
        timings["label shuffles"] = time.perf_counter() - tic
    tampered = None
    if "tampering" in conditions:
        tic = time.perf_counter()
        tampered = _tampering(lm, levels, labels, texts, languages, top, bottom, config)
        timings["tampering"] = time.perf_counter() - tic
    return LanguageNeurons(
        model=lm.provenance(), task=spec.name, languages=languages, example_ids=[ex.id for ex in examples],
        config=asdict(config), data_hash=data_fingerprint(examples),
        scoring={"texts": "the template's fields in each language (prompt_content), example-major",
                 "expertise": "average precision of the pooled response, one language against the others",
                 "selected per side": n, "identifier": IDENTIFIER, "sampling": SAMPLING,
                 "start tokens": tampered.start if tampered else None},
        n_layers=lm.n_layers, d_ff=lm.d_ff, top=top.cpu(), bottom=bottom.cpu(),
        top_ap=ap.gather(1, top).float().cpu(), bottom_ap=ap.gather(1, bottom).float().cpu(),
        layer_counts=counts.cpu(), boot_layer_counts=boot_counts, overlap=overlap.cpu(), boot_overlap=boot_overlap,
        identifier_recall=tampered.recall if tampered else torch.full((len(languages),), torch.nan),
        tampering=tampered.outcome if tampered else {}, samples=tampered.samples if tampered else {},
        moved_spreads=tampered.moved if tampered else torch.zeros(0, 0),
        fixed_share=tampered.fixed_share if tampered else 0.0, null_top_ap=shuffles[1:],
        observed_top_ap=shuffles[0], timings=timings)


__all__ = ["LANGUAGE_CONDITIONS", "shuffled_labels", "LanguageNeuronConfig", "LanguageNeurons", "language_texts",
           "measure_language_neurons"]
