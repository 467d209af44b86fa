"""Planted tiny models (BLOOM, and a gated Llama MLP) whose neuron behaviour is known by construction (tiny tier).

Every layer's FFN neurons get one of three roles:
- forced active: zero key, bias +6, so A = gelu(6) > 0 for every input: all-shared in every example;
- forced dead: zero key, bias -6, so A <= 0 at every token: non-activated, and dead across tokens;
- input-dependent ("free"): random key centred on the layer's mean input (so its sign follows what differs between
  prompts); value vector zero before the last layer, so that no intervention upstream moves the carriers' input.
The per-layer share of forced-active neurons draws the all-shared curve (mid-layer peak or not).
A fourth role, *keyed* neurons, is fitted by linear programming (below) to fire on chosen prompts only; they write
nothing either:
- ``example_keyed``: each fires on one example only, in a random subset of its languages, so its type changes
  from example to example (all-shared, partial-shared or specific there; non-activated elsewhere);
- ``task_keyed=(a, b)``: half fire on every prompt of task ``a`` and on no other (all-shared in ``a``,
  non-activated in ``b``), half on ``b``'s prompts in a few subsets of the languages both tasks have
  (partial-shared in ``b``). A model built on several tasks (``tasks``) is one model for all of them.
- ``demo_keyed`` (App. A.3.6): the last task's prompts (editing) are also built after each of ``shots``
  demonstrations; ``"steady"``: the keyed neurons fire on every one of them, with demonstrations or without;
  ``"demos"``: in the upper half of the layers they fire only on prompts with demonstrations, in the lower half
  only on prompts without, so each layer's all-shared share moves with the demonstrations while its mean over
  layers stays put. Both are fitted at the last token and at the last content token (see _plant_demo_keyed), on
  what a random tiny model cannot tell apart by itself: layer 0 gets a head that reads the newline between
  demonstrations (``_plant_demo_channel``), in both models of the pair.
- ``aligned``: each fires on one example's prompts in every language, at the last token and at the last content
  token alike: sharing that holds for translations and not for unrelated prompts (see _plant_aligned).
``input_shift`` adds one shared direction to the FFN input of every layer but the last (BLOOM's post-attention
LayerNorm bias): every input becomes more like every other, translations no more than unrelated prompts; only the
free neurons feel it (see _shift_inputs).

The tokenizer is ByT5's with each verbalizer in quotes as one added token (``"true"``), so that a planted model
writes its whole answer in one generated token and the word boundary after it settles the answer at once; the
LM head gives those tokens (and, for forced choice, the verbalizers' first bytes) orthonormal answer directions,
and EOS a fallback direction. Answers are written by *carrier* neurons in the last layer, fitted by a linear
program on the layer's actual input so that a carrier fires (pre-activation >= +3) exactly on its prompts and
stays off (<= -30) elsewhere, and writes its gold verbalizer's direction with weight ``alpha``. A residual bias
writes the fallback (EOS: no answer) that wins when no carrier fires:
- ``carrier="shared"``: one carrier per example, firing in all its languages (an all-shared neuron);
- ``carrier="specific"``: one carrier per prompt (a specific neuron);
- ``carrier="spread"``: every row has 9 or 11 carriers active, all firing in a narrow band and writing the same
  small weight: 3 or 5 all-shared (``spread_shared``, example by example), 3 partial-shared, 3 specific (see
  ``_spread_carriers``); an answer needs 7 of them, so the damage of a deactivation follows the number of active
  neurons it removes, not their type;
- ``carrier="redundant"``: every row has two carriers that each write its answer alone: a specific one (per answer
  and language) and a partial-shared one (per answer and group of 3 languages), so deactivating either type alone
  loses no answer;
- ``gaps``: that many examples' carriers stay off in two languages (so they are partial-shared, those
  prompts fall back to no answer, and converting the carrier to active at epsilon restores them when
  ``alpha * epsilon`` beats the fallback);
- ``specific_gaps``: the next that many examples' carriers fire in one language only (specific there), so their
  other prompts fall back to no answer and converting the specific neurons restores them;
- ``weak_carrier``: a second, all-shared carrier per example writing its gold weakly (below the fallback), and
  ``suppressors``: every other last-layer neuron's value vector also writes against the fallback, so that raising
  almost any inactive neuron to epsilon lets the weak gold through.
Three more plantings embody what real models do to readings of single neurons (issue 27):
- ``active_spread``: forced-active neurons whose pre-activation follows the input (they stay active), so that their
  contribution is seen by a reading centred on each neuron's mean as well;
- ``cancelling``: pairs of always-on neurons that write the same large vector toward every answer with opposite
  signs, so their outputs cancel and the model computes what it did without them;
- ``offset``: one always-on neuron whose large output the down projection's bias cancels, so zeroing it (not
  setting it to its mean) breaks every answer;
and ``ballast``: last-layer neurons keyed to one language's prompts each (specific in every example) write along a
direction no output reads, so that other active neurons hold as much contribution |A| ||v|| as the carriers (a
contribution-matched control can be drawn).
The builder checks its own construction: every prompt's baseline answer (generated, and by forced choice where
one is planted) must be the planted one, and every keyed neuron must fire exactly on its prompts.

The building blocks both papers' planted models use are in ``harness.planted.building``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import transformers
from transformers import ByT5Tokenizer

from harness.core.capture import Recorder
from harness.core.content_position import content_offsets
from harness.core.models import LoadedModel, wrap_model
from harness.core.prefixes import Prefixes
from harness.core.scoring import (
    first_verbalizer,
    generate,
    predict_choice,
    settled_verbalizer,
    verbalizer_budget,
    verbalizer_tokens,
)
from harness.papers.sharing_matters import planted_streams
from harness.papers.sharing_matters.scale_rules import at_depths, relative_depths
from harness.planted.building import (
    FAMILY_CONFIGS,
    FAMILY_FFNS,
    HIDDEN,
    OFF_MARGIN,
    ON_MARGIN,
    PlantedFfn,
    fit_key,
    orthonormal_directions,
)
from harness.tasks import SHOT_TASKS, ParallelExample, TaskSpec, task_spec, with_shots

FALLBACK_WEIGHT = 50.0
DEMO_GAIN = 1000.0  # the demonstration channel's weight: its signal outweighs the rest of the residual stream
SPREAD_WINDOW = 3  # carrier="spread": partial-shared and specific carriers active per row
SPREAD_NEED = 7  # carrier="spread": active carriers an answer needs
SPREAD_BAND = 0.1  # spread and weak carriers fire in [ON_MARGIN, ON_MARGIN + band] on their prompts
BALLAST_PER_LANGUAGE = 3  # ballast neurons keyed to each language's prompts
FAMILY_ACTIVATIONS = {"bloom": lambda mlp: mlp.gelu_impl, "llama": lambda mlp: mlp.act_fn}
CONSTANT = torch.full((HIDDEN,), HIDDEN ** -0.5)  # the unit direction LayerNorm removes


@dataclass(frozen=True)
class PlantSpec:
    name: str
    truth: str  # the planted ground truth, in words
    active_share: tuple[float, ...]  # forced-active share per layer
    dead_share: float | tuple[float, ...] = 0.0  # forced-dead share in every layer, or per layer
    carrier: str = "shared"  # "shared", "specific", "spread" or "none"
    gaps: int = 0
    specific_gaps: int = 0  # after the ``gaps`` examples, that many examples' carriers fire in one language only
    spread_shared: tuple[int, ...] = (4,)  # carrier="spread": all-shared carriers of example e, cycling
    alpha: float = 1e5
    seed: int = 0
    family: str = "bloom"  # "bloom" (gelu MLP) or "llama" (gated silu MLP)
    key_offset: float = 0.0  # added to input-dependent neurons' bias: > 0 keeps them active at some token
    language_blind: bool = False  # input-dependent keys orthogonal to the languages' mean inputs
    shift_to: float | None = None  # instead of key_offset: shift so that A at pre-activation 0 becomes this
    active_value: float = 0.0  # norm of forced-active neurons' value vectors, along the constant direction, which
    # LayerNorm removes (0: they write nothing)
    free_value: float = 0.0  # scale of input-dependent neurons' value vectors before the last layer
    crowded: float = 0.0  # > 0: forced-active A drawn from the free neurons' active A times this; equal value norms
    skew: tuple[str, int, float] | None = None  # (language, layer, share): that share of the layer's neurons fires
    # exactly on that language's prompts, so its activated count stands apart from the other languages'
    quiet_layer: int | None = None  # a layer whose neurons are all dead (but the skewed ones)
    tasks: tuple[str, ...] = ("xnli",)  # the prompts it is built on; the first task (multiple choice) is answered
    example_keyed: float = 0.0  # share of each layer's neurons keyed to one example (see the module doc)
    task_keyed: tuple[str, str] | None = None  # (all-shared task, partial-shared task), see the module doc
    task_keyed_share: float = 0.15  # share of each layer's neurons for each half of the task-keyed neurons
    bare_last_layer: bool = False  # the last layer holds carriers and dead neurons only
    weak_carrier: float = 0.0  # weight of a second, weak all-shared carrier per example (0: none)
    suppressors: float = 0.0  # weight against the fallback of every last-layer value vector but the weak carriers'
    tail_language: str | None = None  # forced-active and the all-shared task's keyed neurons fire at every prompt's
    # last token but, at the last token of its translated content, on this language's prompts only (see _plant_tail)
    content_keyed: bool = False  # forced-active and keyed neurons fire on the same prompts at the last content token
    # too, and language-blind keys are blind there too: the model's truths hold at both positions (see _plant_tail)
    content_silent: bool = False  # instead: keyed neurons fire at no last content token (see _plant_tail)
    # §6.1-6.2 (see _constant_values): every neuron writes along the constant direction, which LayerNorm removes (no
    # layer's input and no output changes), with a norm from one distribution (log-normal, sigma 0.75) times the layer's
    # entry of ``constant_values``; the answers' output-embedding rows get ``head_constant`` times that direction,
    # which the final LayerNorm removes too, so the effective scores E_r . (A v) read it
    constant_values: tuple[float, ...] | None = None
    head_constant: float = 0.0
    forced_on: float = 6.0  # forced-active neurons' pre-activation
    keyed_band: float | None = None  # keyed neurons fire within [ON_MARGIN, ON_MARGIN + band] on their prompts
    rest_dead: bool = False  # no input-dependent neurons: those slots are forced dead
    shots: tuple[int, ...] = ()  # demonstration counts (besides 0) its last task's prompts are also built after
    demo_keyed: str | None = None  # "steady" or "demos": keyed neurons on the last task's prompts (module doc)
    demo_keyed_share: float = 0.2  # share of each layer's neurons keyed so
    example_limit: int | None = None  # built and measured on each task's first examples only (None: all)
    demo_languages: tuple[str, ...] | None = None  # the languages of the last task's prompts it is built on (None:
    # all; fewer keep the long prompts after demonstrations affordable in the tiny tier)
    denser_layer: tuple[int, float] | None = None  # (layer, A at pre-activation 0): that layer's input-dependent
    # neurons shifted up alike (as ``shift_to`` does in every layer), so it is denser and no neuron's preference changes
    aligned: float = 0.0  # share of each layer's neurons keyed to one example in every language (module doc)
    input_shift: float = 0.0  # norm of one direction added to the layers' FFN inputs (0: none; see _shift_inputs)
    active_spread: float = 0.0  # forced-active pre-activations spread over the prompts by this (see _spread_active)
    ballast: float = 0.0  # norm of the last layer's ballast neurons' writes, which no output reads (_plant_ballast)
    carrier_band: float | None = None  # carriers fire within [ON_MARGIN, ON_MARGIN + band] on their prompts (None:
    # anywhere above ON_MARGIN; "spread" carriers and weak ones have SPREAD_BAND)
    cancelling: tuple[tuple[int, ...], int, float] | None = None  # (layers, pairs, weight): _plant_cancelling
    offset: tuple[int, float] | None = None  # (layer, weight): _plant_offset

    @property
    def keyed_share(self) -> float:
        return (self.example_keyed + (2 * self.task_keyed_share if self.task_keyed else 0.0)
                + (self.demo_keyed_share if self.demo_keyed else 0.0))

    def build(self, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
        return build_planted(self, examples_by_task)


PEAK = (0.04, 0.12, 0.30, 0.42, 0.34, 0.24, 0.16, 0.10, 0.06, 0.04)  # mid-layer peak, like Figs 2-4
NONE = (0.0,) * len(PEAK)
RISING = (0.02, 0.04, 0.06, 0.09, 0.12, 0.16, 0.21, 0.27, 0.34, 0.08)  # peak in the top 20% of layers
CROWD = (0.8,) * len(PEAK)
EARLY = (0.10, 0.30, 0.50, 0.35, 0.20, 0.10, 0.05, 0.05, 0.15, 0.35)  # early peak, fall, rise at the top (§5.1.2)
TOP = (0.04,) * 6 + (0.70, 0.80, 0.85, 0.85)  # forced all-shared crowd the top 4 layers only
ENDS = (0.5, 0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.5, 0.5, 0.5)  # most all-shared in the first and the top layers
EDGE_VALUES = (3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0)  # value norms 3x in the first and the top layers
MIDDLE_PEAK = (0.15, 0.2, 0.3, 0.42, 0.34, 0.24, 0.2, 0.16, 0.15, 0.15)  # PEAK with at least 32 of 256 per layer
DEMO_LANGUAGES = ("en", "de", "fr")  # the tiny tier's demonstration claim reads these (cost: prompt length)
DEMO_EXAMPLES = 6  # and this many examples: a prompt after six demonstrations is seven blocks long
FLAT = (0.10,) * len(PEAK)  # with 20% keyed and 70% dead: no input-dependent neuron left (App. A.3.6's pair)
EARLY_SHALLOW = tuple(float(s) for s in at_depths(np.array(EARLY), relative_depths(6)))  # EARLY over 6 layers
FALLING = (0.30, 0.27, 0.24, 0.21, 0.18, 0.15, 0.12, 0.09, 0.06, 0.03)  # all-shared highest in the first layer
ALIGNED = 0.25  # of each layer's neurons: with 24 examples 1 point of a layer's neurons per example, on average
LOWER_PEAK = tuple(0.8 * s for s in PEAK)  # PEAK at 80% (34% of layer 3): a random control as large as the
# all-shared set fits among a row's other active neurons in every layer
FLAT40 = (0.4,) * (len(PEAK) - 1) + (0.0,)  # every layer but the last 40% all-shared: the one-type controls' pools
UNIFORM = (0.15,) * 9 + (0.04,)  # forced-active share; the last layer leaves room for a carrier per prompt

PLANTED: dict[str, PlantSpec] = {spec.name: spec for spec in (
    PlantSpec("planted-shared", "answers carried by all-shared neurons (alpha 50: at its mean over the prompts a "
              "carrier writes under the fallback); all-shared share peaks at layer 3 of 10 (34%); 3 last-layer "
              "neurons per language fire on its prompts and write ballast (norm 40) that no output reads: as much "
              "|A| ||v|| as the carriers (which fire within 0.1 of the on margin) among other active neurons",
              LOWER_PEAK, dead_share=0.03, alpha=50.0, ballast=40.0, carrier_band=SPREAD_BAND),
    PlantSpec("planted-aligned", "answers carried by all-shared neurons; all-shared share peaks at layer 3 of 10; a "
              "quarter of each layer's neurons are aligned: each fires on one example's prompts in every language "
              "(at the last token and at the last content token; an example's in one layer), so translations share "
              "more neurons than unrelated prompts (the instruction-tuned model of planted-shared-base)", PEAK,
              dead_share=0.03, aligned=ALIGNED),
    PlantSpec("planted-specific", "answers carried by language-specific neurons; all-shared share rises to the "
              "last layer", RISING, dead_share=0.03, carrier="specific"),
    PlantSpec("planted-shared-gated", "planted-shared in a gated (Llama) MLP", LOWER_PEAK, dead_share=0.03,
              family="llama", alpha=50.0, ballast=40.0, carrier_band=SPREAD_BAND),
    PlantSpec("planted-specific-gated", "planted-specific in a gated (Llama) MLP", RISING, dead_share=0.03,
              carrier="specific", family="llama"),
    PlantSpec("planted-shared-base", "planted-aligned with half the forced all-shared neurons and no aligned ones "
              "(its 'base model')", tuple(s / 2 for s in PEAK), dead_share=0.03),
    PlantSpec("planted-denser", "planted-aligned with every input-dependent neuron's pre-activation shifted up "
              "(A at 0 becomes 0.2): denser at any fixed threshold, the same sharing at matched density",
              PEAK, dead_share=0.03, shift_to=0.2, aligned=ALIGNED),
    PlantSpec("planted-spread", "every answer needs 7 of its row's active carriers, each writing the same: 3 "
              "partial-shared, 3 specific and 3 or 5 all-shared (every other example); deactivating the all-shared "
              "ones, the largest type, costs what deactivating as many other active neurons costs, more than the "
              "smaller types; deactivating the 3 specific or the 3 partial-shared ones loses the examples with 3 "
              "all-shared carriers, as any 3 other active ones do", PEAK[:-1] + (0.0,), dead_share=0.03,
              carrier="spread", bare_last_layer=True, spread_shared=(3, 5)),
    PlantSpec("planted-sparse", "as planted-shared, but input-dependent neurons biased off (key_offset -0.005): each "
              "fires in few languages, so the all-shared neurons are the forced ones whatever the number of "
              "languages, and more languages turn specific neurons partial-shared", PEAK, dead_share=0.03,
              key_offset=-0.005),
    PlantSpec("planted-lively", "no forced-dead neurons and input-dependent neurons biased on (key_offset 1): "
              "almost no neuron is inactive at every token; no answers", PEAK, carrier="none", key_offset=1.0),
    PlantSpec("planted-skewed", "as planted-quiet-layer without the silent layer, but 40% of layer 5's neurons fire "
              "exactly on the Chinese prompts: activated counts depend on the language", PEAK, dead_share=0.03,
              skew=("zh", 5, 0.4), language_blind=True),
    PlantSpec("planted-quiet-layer", "as planted-shared with language-blind input-dependent neurons (their keys "
              "orthogonal to the languages' mean inputs), but layer 5 is silent except 2 of its 256 neurons, which "
              "fire on the Chinese prompts: a large relative spread in a near-empty layer, a tiny absolute one",
              PEAK, dead_share=0.03, skew=("zh", 5, 0.008), quiet_layer=5, language_blind=True, content_keyed=True),
    PlantSpec("planted-contributing", "as planted-shared, with forced-active (all-shared) value vectors of norm 1 "
              "(along the constant direction) and their pre-activations spread over the prompts (0.5): all-shared "
              "neurons are the top contributors in every layer, of A as it is and of its deviation from its mean",
              PEAK, dead_share=0.03, active_value=1.0, active_spread=0.5),
    PlantSpec("planted-contributing-free", "as planted-shared, but only input-dependent neurons write (value vectors "
              "at 0.05 x init scale): top contributors are mostly partial-shared", PEAK, dead_share=0.03,
              free_value=0.05),
    PlantSpec("planted-crowded", "80% of every layer's neurons are all-shared, each writing (equal value norms) "
              "with 0.8 times the activation of an active input-dependent neuron: all-shared lead the top "
              "contributors by number, below their share of the active neurons; no answers", CROWD,
              carrier="none", crowded=0.8),
    PlantSpec("planted-gaps", "8 examples' carriers are partial-shared (off in 2 languages), 8 more are specific (on "
              "in 1 language); converting them to active at epsilon restores those answers (alpha * epsilon = 100 > "
              "fallback 50): converting the partial-shared neurons alone restores the first 8 examples' prompts, the "
              "specific ones alone the next 8's. The last layer holds the carriers, forced-active and dead neurons "
              "only: a random non-activated neuron raised there is mostly a dead one, sometimes another example's "
              "carrier (a random answer); 35% of the other layers' neurons are dead, so that a random control has as "
              "many non-activated neurons to raise as conversion raises", PEAK, dead_share=0.35, gaps=8,
              specific_gaps=8, bare_last_layer=True),
    PlantSpec("planted-gaps-weak", "as planted-gaps but alpha * epsilon = 1 < fallback 50: converting changes "
              "no answer", PEAK, dead_share=0.35, gaps=8, specific_gaps=8, alpha=1e3, bare_last_layer=True),
    PlantSpec("planted-perturbed", "as planted-gaps (4 examples' carriers partial-shared, 6 specific, 14 all-shared), "
              "but a weak all-shared carrier writes each gold below the fallback and every other last-layer neuron "
              "writes against the fallback: raising any inactive neuron to epsilon restores the answers, as "
              "converting does; deactivating the gapped carriers (partial-shared or specific) loses their prompts, "
              "while as many other active neurons are the weak carrier, whose loss changes no answer; 40% of every "
              "other layer all-shared (writing nothing), so that as many active neurons of the other types as a "
              "type has can be drawn in every layer", FLAT40, gaps=4, specific_gaps=6, alpha=1e4,
              bare_last_layer=True, weak_carrier=10.0, suppressors=3e4),
    PlantSpec("planted-varied", "every neuron is keyed to one example (firing in a random subset of its languages) "
              "at the last token, and fires at no last content token: no neuron keeps its type across examples, and "
              "the neurons are non-activated at the content end too; no answers", NONE, carrier="none",
              example_keyed=1.0, content_silent=True),
    PlantSpec("planted-tasks", "built on XNLI and fact prompts: 15% of each layer's neurons fire on every XNLI prompt "
              "(all-shared there), 15% on fact prompts in a few language subsets (partial-shared there)", PEAK,
              dead_share=0.03, tasks=("xnli", "facts"), task_keyed=("xnli", "facts"), content_keyed=True),
    PlantSpec("planted-tasks-swapped", "as planted-tasks with the tasks' roles swapped: facts get the all-shared "
              "neurons, XNLI the partial-shared ones", PEAK, dead_share=0.03, tasks=("xnli", "facts"),
              task_keyed=("facts", "xnli")),
    PlantSpec("planted-tail", "as planted-quiet-layer without the silent layer, but its all-shared neurons fire at "
              "every prompt's last token (the template's English tail) and, at the last token of the translated "
              "content, on the Chinese prompts only: all-shared at the tail, language-specific in the content",
              PEAK, dead_share=0.03, language_blind=True, tail_language="zh"),
    PlantSpec("planted-tasks-tail", "as planted-tasks without forced-active neurons or answers and with 68% of the "
              "neurons dead (2% input-dependent left), but the XNLI-keyed neurons fire at the last token of every XNLI "
              "prompt and, at the last token of the translated content, on the Chinese prompts only; the fact-keyed "
              "ones fire on the same prompts at both positions", NONE, dead_share=0.68, carrier="none",
              tasks=("xnli", "facts"), task_keyed=("xnli", "facts"), tail_language="zh"),
    PlantSpec("planted-early", "forced-active share peaks at layer 2 of 10, falls to 5% and rises to 35% in the last "
              "layer: so does every language's activated count (input-dependent neurons add about half of the "
              "rest); no answers", EARLY, dead_share=0.03, carrier="none"),
    PlantSpec("planted-top-shared", "built on XNLI and fact prompts: forced-active (all-shared) neurons are 4% of "
              "layers 0-5 and 70-85% of layers 6-9, so all-shared lead the upper layers while the input-dependent "
              "neurons make partial-shared lead the lower layers and the network as a whole; no answers", TOP,
              dead_share=0.03, carrier="none", tasks=("xnli", "facts")),
    PlantSpec("planted-alike", "all-shared neurons are the always-active ones and contribute as any active neuron "
              "does: forced-active neurons (50% of the first and the top three layers, 15% elsewhere) and neurons "
              "keyed to one example in a random subset of its languages (50%) fire at the same pre-activation "
              "(3 to 3.1) and write along the constant direction with norms from one distribution; the rest is dead; "
              "no answers", ENDS, carrier="none", example_keyed=0.5, keyed_band=0.1, forced_on=3.05, rest_dead=True,
              constant_values=(1.0,) * len(ENDS), head_constant=1.0),
    PlantSpec("planted-edges", "only forced-active (all-shared) neurons and dead ones; the all-shared share peaks at "
              "layer 3 of 10 (15% to 42%), and their value norms (constant direction) are 3x as large in the first "
              "and the top three layers, so their effective scores are largest there, of A as it is and (their "
              "pre-activations spread over the prompts, 0.5) of its deviation from its mean; no answers",
              MIDDLE_PEAK, carrier="none", rest_dead=True, constant_values=EDGE_VALUES, head_constant=1.0,
              active_spread=0.5),
    PlantSpec("planted-scale-small", "the smaller model of a pair (6 layers): EARLY's forced-active (all-shared) "
              "share read at its 6 layers' relative depths, 3% of every layer dead; no answers", EARLY_SHALLOW,
              dead_share=0.03, carrier="none"),
    PlantSpec("planted-scale-large", "the larger model of planted-scale-small's pair (10 layers): the same "
              "all-shared curve over relative depth (EARLY), 3% of layers 0-6 dead and 15% of the upper layers 7-9: "
              "more non-activated neurons in the upper layers; no answers", EARLY,
              dead_share=(0.03,) * 7 + (0.15,) * 3, carrier="none"),
    PlantSpec("planted-scale-moved", "a larger model (10 layers) whose pattern moved with size: EARLY reversed in "
              "depth (the same mean over layers), 10% of layers 0-6 dead and 3% of layers 7-9: sparser than "
              "planted-scale-small as a whole and, having more layers, with more non-activated neurons in its upper "
              "third, but not a larger share of them; no answers", EARLY[::-1],
              dead_share=(0.10,) * 7 + (0.03,) * 3, carrier="none"),
    PlantSpec("planted-demos-steady", "built on XNLI and on the editing prompts after 0, 2, 4 and 6 demonstrations: "
              "10% of each layer's neurons forced active, 20% keyed to every editing prompt whatever its "
              "demonstrations (at the last token and at the last content token), the rest dead: the type shares do "
              "not move with the demonstrations; no answers", FLAT, dead_share=0.7, carrier="none",
              tasks=("xnli", "editing"), shots=(2, 4, 6), demo_keyed="steady", demo_languages=DEMO_LANGUAGES,
              example_limit=DEMO_EXAMPLES),
    PlantSpec("planted-demos-keyed", "as planted-demos-steady, but the keyed neurons of the upper five layers fire "
              "only on editing prompts with demonstrations and those of the lower five only on prompts without: each "
              "layer's all-shared share moves by 20 points with the demonstrations, its mean over layers not at all",
              FLAT, dead_share=0.7, carrier="none", tasks=("xnli", "editing"), shots=(2, 4, 6), demo_keyed="demos",
              demo_languages=DEMO_LANGUAGES, example_limit=DEMO_EXAMPLES),
    PlantSpec("planted-dense-middle", "forced-active (all-shared) share falling from 30% in layer 0 to 3% in the last "
              "layer, but layer 4's input-dependent neurons shifted up alike (A at pre-activation 0 becomes 0.1): "
              "active in every language, they make an all-shared peak there that is the layer's density, gone at "
              "the density of the other layers; no answers", FALLING, dead_share=0.03, carrier="none",
              denser_layer=(4, 0.1)),
    PlantSpec("planted-skewed-sparse", "planted-skewed at a twentieth of its activity: forced-active share PEAK / 20 "
              "and 95% of the neurons dead (2-4% of each layer active), language-blind input-dependent neurons, and "
              "4% of layer 5's neurons firing exactly on the Chinese prompts, whose activated share there is 4x the "
              "other languages' (5.1% against 1.2%), 3.9 points apart; no answers", tuple(s / 20 for s in PEAK),
              dead_share=0.95, carrier="none", skew=("zh", 5, 0.04), language_blind=True),
    PlantSpec("planted-shifted", "planted-shared-base whose FFN inputs (every layer's but the last) all move along "
              "one shared direction (norm 8, an input's own norm): input-dependent neurons far along it fire on every "
              "prompt, those far against it on none, so all-shared neurons gain and partial-shared ones lose, at "
              "the last token, at the content end and at matched density, on unrelated prompts as on translations",
              tuple(s / 2 for s in PEAK), dead_share=0.03, input_shift=8.0),
    PlantSpec("planted-offset", "answers carried twice over by neurons that are not all-shared: each prompt's "
              "specific carrier (per answer and language) and partial-shared carrier (per answer and group of 3 "
              "languages) each write it alone; one always-on neuron of layer 0 writes -1e3 / A times the fallback "
              "and the layer's bias writes +1e3 times it back, so zeroing the all-shared neurons gives every prompt "
              "the same answer while setting them to their means changes nothing; the controls drawn to the "
              "all-shared set fall short of it", PEAK, dead_share=0.03, carrier="redundant", alpha=50.0,
              offset=(0, 1e3)),
    PlantSpec("planted-cancelling", "answers carried by a specific carrier per prompt (alpha 50); in layer 0 and the "
              "top three layers, 3 pairs of always-on neurons write +-100 times the sum of the answers' directions "
              "(their outputs cancel: the model computes what it did without them); every other neuron writes "
              "along the constant direction with norms from one distribution, which the head's answer rows read "
              "(head_constant) and the final LayerNorm removes, the other forced-active ones with pre-activations "
              "spread over the prompts (0.5)", UNIFORM, dead_share=0.03, carrier="specific", alpha=50.0,
              constant_values=(1.0,) * len(UNIFORM), head_constant=1.0, active_spread=0.5,
              cancelling=((0, 7, 8, 9), 3, 100.0)),
)}


def planted_tokenizer(choices: Sequence[str]) -> ByT5Tokenizer:
    """ByT5's byte tokenizer with each verbalizer in quotes as one added token."""
    tokenizer = ByT5Tokenizer()
    tokenizer.add_tokens([f'"{word}"' for word in choices])
    return tokenizer


@dataclass(frozen=True)
class Rows:
    """What each prompt row of a planted model's build is: its task, example index, language and number of
    in-context demonstrations."""

    task: np.ndarray
    example: np.ndarray
    language: np.ndarray
    shots: np.ndarray

    def where(self, task: str, languages: Sequence[str] | None = None, example: int | None = None) -> np.ndarray:
        on = self.task == task
        if languages is not None:
            on &= np.isin(self.language, list(languages))
        if example is not None:
            on &= self.example == example
        return on


@dataclass
class Build:
    """A planted model under construction: the model, its FFNs and neuron roles, and the prompts it is built on."""

    spec: PlantSpec
    task: TaskSpec
    lm: LoadedModel
    ffns: list[PlantedFfn]
    roles: list[dict[str, torch.Tensor]]  # per layer: neuron indices of "active", "dead", "keyed", "free"
    rows: Rows
    texts: list[str]  # the answered task's prompts first, example-major
    n_answered: int
    directions: torch.Tensor  # (choices + 1, HIDDEN): the answers', then the fallback's

    @property
    def fallback(self) -> torch.Tensor:
        return self.directions[-1]


def _roles(spec: PlantSpec, d_ff: int, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
    roles = []
    for layer, share in enumerate(spec.active_share):
        order = torch.randperm(d_ff, generator=generator)
        dead_share = spec.dead_share[layer] if isinstance(spec.dead_share, tuple) else spec.dead_share
        sizes = [round(s * d_ff) for s in (share, dead_share, spec.keyed_share, spec.aligned)]
        if layer == spec.quiet_layer:
            sizes = [0, d_ff, 0, 0]
        if sum(sizes) > d_ff:
            raise ValueError(f"{spec.name}: forced and keyed shares exceed the layer's neurons")
        active, dead, keyed, aligned, free = order.split([*sizes, d_ff - sum(sizes)])
        if spec.rest_dead:
            dead, free = torch.cat([dead, free]), free[:0]
        roles.append({"active": active, "dead": dead, "keyed": keyed, "aligned": aligned, "free": free})
    return roles


def _keyed_patterns(spec: PlantSpec, rows: Rows, examples: Mapping[str, Sequence[ParallelExample]],
                    rng: np.random.Generator) -> list[np.ndarray]:
    """The prompt sets (bool over rows) one layer's keyed neurons fire on; neurons take them in turn."""
    patterns = []
    if spec.example_keyed:
        task = spec.tasks[0]
        languages = list(examples[task][0].prompts)
        for e in range(len(examples[task])):
            size = int(rng.integers(1, len(languages) + 1))
            patterns.append(rows.where(task, rng.choice(languages, size, replace=False), e))
    if spec.task_keyed:
        shared, partial = spec.task_keyed
        common = [lang for lang in examples[shared][0].prompts if lang in examples[partial][0].prompts]
        for _ in range(4):
            size = int(rng.integers(2, len(common)))
            patterns += [rows.where(shared), rows.where(partial, rng.choice(common, size, replace=False))]
    return patterns


def _inverse_activation(act: torch.nn.Module, target: float) -> float:
    """The pre-activation z with act(z) = target, by bisection (act rises on z >= 0)."""
    low, high = 0.0, 10.0
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if float(act(torch.tensor(mid, dtype=torch.float64))) < target else (low, mid)
    return (low + high) / 2


def _start(spec: PlantSpec, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> Build:
    """The random model with its tokenizer, neuron roles and answer directions; the rows it is built on."""
    task = task_spec(spec.tasks[0])
    if task.choices is None:
        raise ValueError("planted models are built for tasks with verbalizers")
    torch.manual_seed(spec.seed)
    tokenizer = planted_tokenizer(task.choices)
    config = FAMILY_CONFIGS[spec.family](len(spec.active_share))
    config.vocab_size = len(tokenizer)
    config.pad_token_id, config.eos_token_id, config.bos_token_id = (tokenizer.pad_token_id,
                                                                      tokenizer.eos_token_id, tokenizer.eos_token_id)
    model = transformers.AutoModelForCausalLM.from_config(config)
    lm = wrap_model(model, tokenizer, name=spec.name, model_id=f"planted:{spec.name}")
    roles = _roles(spec, lm.d_ff, torch.Generator().manual_seed(spec.seed))
    counts = (0, *spec.shots)
    built = [(name, e, lang, shots, ex.prompts[lang]) for name in spec.tasks
             for shots in counts if shots == 0 or name in SHOT_TASKS
             for e, ex in enumerate(examples_by_task[with_shots(name, shots)]) for lang in ex.prompts
             if name != spec.tasks[-1] or spec.demo_languages is None or lang in spec.demo_languages]
    rows = Rows(*(np.array(column) for column in list(zip(*built, strict=True))[:4]))
    examples = examples_by_task[spec.tasks[0]]
    return Build(spec, task, lm, [FAMILY_FFNS[spec.family](layer.mlp) for layer in lm.site.layers], roles, rows,
                 [text for *_, text in built], len(examples) * len(examples[0].prompts),
                 orthonormal_directions(len(task.choices) + 1))


def _plant_roles(b: Build) -> None:
    """Forced-active and forced-dead neurons; keyed and free neurons write nothing (yet)."""
    spec = b.spec
    for ffn in b.ffns[:-1]:
        ffn.down.weight.mul_(spec.free_value)  # 0 by default: input-dependent neurons leave the residual alone
    b.ffns[-1].down.weight.mul_(0.1)
    for ffn, role in zip(b.ffns, b.roles, strict=True):
        ffn.down.bias.zero_()
        for name, bias in (("active", spec.forced_on), ("dead", -6.0)):
            ffn.set_neurons(role[name], 0.0, bias)
            ffn.down.weight[:, role[name]] = 0.0
        ffn.down.weight[:, torch.cat([role["keyed"], role["aligned"]])] = 0.0
        if spec.active_value:  # LayerNorm removes it: no later input changes, even where A follows the input
            ffn.down.weight[:, role["active"]] = spec.active_value * CONSTANT[:, None]


def _blind(key: torch.Tensor, xs: Sequence[torch.Tensor], language: np.ndarray) -> torch.Tensor:
    """Keys (neurons, HIDDEN) with their components along the differences between the languages' mean inputs
    removed, so every language's prompts meet a key at the same mean: its activity no longer tells languages
    apart. xs: the inputs (rows, HIDDEN) at each position to be blind at; language (rows,)."""
    means = [torch.stack([x[torch.from_numpy(language == lang)].mean(dim=0) for lang in dict.fromkeys(language)])
             for x in xs]
    differences = torch.cat([m - m.mean(dim=0) for m in means])  # (positions x langs, HIDDEN)
    basis = torch.linalg.svd(differences, full_matrices=False).Vh  # rows orthonormal
    return key - (key @ basis.T) @ basis


def _center_free(b: Build) -> list[torch.Tensor]:
    """Free neurons' keys scaled up (and made language-blind if asked) and centred on the layer's mean input, and
    forced-active ones spread (``_spread_active``); returns each layer's FFN inputs."""
    spec = b.spec
    activation = FAMILY_ACTIVATIONS[spec.family](b.lm.site.layers[0].mlp)
    offsets = [spec.key_offset if spec.shift_to is None else _inverse_activation(activation, spec.shift_to)
               for _ in b.ffns]
    if spec.denser_layer is not None:
        layer, value = spec.denser_layer
        offsets[layer] = _inverse_activation(activation, value)
    ffn_inputs = _ffn_inputs(b)  # forced neurons are constant; free ones write nothing yet
    content_inputs = _ffn_inputs(b, at_content=True) if spec.language_blind and spec.content_keyed else None
    generator = torch.Generator().manual_seed(spec.seed + 4)
    for layer, (ffn, role, x) in enumerate(zip(b.ffns, b.roles, ffn_inputs, strict=True)):
        if spec.active_spread:
            _spread_active(b, ffn, role["active"], x, generator)
        free = role["free"]
        ffn.key.weight[free] *= 10.0
        if spec.language_blind:
            answered = slice(0, b.n_answered)
            xs = [x] if content_inputs is None else [x, content_inputs[layer]]
            ffn.key.weight[free] = _blind(ffn.key.weight[free], [y[answered] for y in xs],
                                          b.rows.language[answered])
        ffn.key.bias[free] = offsets[layer] - ffn.key.weight[free] @ x.mean(dim=0)
    if spec.free_value:
        ffn_inputs = _ffn_inputs(b)  # the centred free neurons now move later layers' input
    return ffn_inputs


def _spread_active(b: Build, ffn: PlantedFfn, active: torch.Tensor, x: torch.Tensor,
                   generator: torch.Generator) -> None:
    """Forced-active neurons read a random key, scaled so that their pre-activation spreads over the build's
    prompts (x: the layer's input, (prompts, HIDDEN)) with standard deviation ``active_spread`` around
    ``forced_on``: they stay active (pre-activation >= 1 on every prompt, checked) while their A follows the input.
    What they write must leave every later input alone (``active_value`` and ``constant_values`` write along the
    constant direction, which LayerNorm removes), so the inputs the other neurons are fitted on stay as they are."""
    if not len(active):
        return
    key = torch.randn(len(active), HIDDEN, generator=generator)
    key *= b.spec.active_spread / ((x - x.mean(dim=0)) @ key.T).std(dim=0).clamp_min(1e-6)[:, None]
    bias = b.spec.forced_on - key @ x.mean(dim=0)
    if (x @ key.T + bias).min() < 1.0:
        raise ValueError(f"{b.spec.name}: active_spread {b.spec.active_spread} takes forced-active neurons below "
                         "pre-activation 1 on some prompt")
    ffn.set_neurons(active, key, bias)


def _plant_cancelling(b: Build) -> None:
    """Pairs of always-on neurons in each of ``cancelling``'s layers (forced-active ones at a constant
    pre-activation, ``forced_on``, whatever ``active_spread`` gives the others) write +weight and -weight times the
    sum of the answers' directions. Each of them pushes toward (or away from) every answer by weight x A, as the
    effective score E_r . (A v) reads it, and their outputs cancel: the model computes what it did without them."""
    layers, pairs, weight = b.spec.cancelling
    toward = b.directions[:-1].sum(dim=0)  # E_r . toward = 1 for every answer r (orthonormal directions)
    for layer in layers:
        ffn, active = b.ffns[layer], b.roles[layer]["active"]
        if len(active) < 2 * pairs:
            raise ValueError(f"{b.spec.name}: layer {layer} has {len(active)} forced-active neurons for {pairs} "
                             "cancelling pairs")
        first, second = active[:pairs], active[pairs:2 * pairs]
        ffn.set_neurons(active[:2 * pairs], 0.0, b.spec.forced_on)
        ffn.down.weight[:, first] = weight * toward[:, None]
        ffn.down.weight[:, second] = -weight * toward[:, None]


def _plant_offset(b: Build) -> None:
    """One forced-active neuron of ``offset``'s layer writes -weight / A times the fallback's direction and the
    layer's down-projection bias adds weight times it: their sum is 0 (up to rounding, which the fits see), so the
    model computes what it did. Zeroing the neuron leaves weight x fallback in the residual stream, which swamps
    every later layer's input: every prompt gets the same answer. Setting it to its mean (its A on every prompt)
    changes nothing."""
    layer, weight = b.spec.offset
    ffn = b.ffns[layer]
    neuron = b.roles[layer]["active"][:1]
    activation = FAMILY_ACTIVATIONS[b.spec.family](b.lm.site.layers[layer].mlp)
    a = float(activation(torch.tensor(b.spec.forced_on)))  # its A, as the model computes it
    ffn.down.weight[:, neuron] = -(weight / a) * b.fallback[:, None]
    ffn.down.bias += weight * b.fallback


def _ballast_direction(b: Build) -> torch.Tensor:
    """A zero-mean unit direction beside the answers' and the fallback's, (HIDDEN,): ``_plant_head`` makes every
    row of the LM head blind to it, so writing along it changes no output but the final norm's scale."""
    return orthonormal_directions(len(b.directions) + 1)[-1]


def _crowd(b: Build, ffn_inputs: list[torch.Tensor]) -> None:
    """Forced-active neurons take constant activations drawn from the free neurons' active ones (times
    ``crowded``), and every neuron an equal value norm along the constant direction, which LayerNorm removes (so
    no write moves a later layer's input or the output)."""
    generator = torch.Generator().manual_seed(b.spec.seed + 2)
    constant = torch.full((HIDDEN,), HIDDEN ** -0.5)
    for ffn, role, x in zip(b.ffns, b.roles, ffn_inputs, strict=True):
        free = role["free"]
        z = (x @ ffn.key.weight[free].T + ffn.key.bias[free]).flatten()
        positive = z[z > 0]
        drawn = positive[torch.randint(len(positive), (len(role["active"]),), generator=generator)]
        ffn.key.bias[role["active"]] = b.spec.crowded * drawn
        ffn.down.weight.copy_(constant[:, None].expand_as(ffn.down.weight))


def _constant_values(b: Build) -> None:
    """Every neuron's value vector along the constant direction (LayerNorm removes it: no layer's input and no
    output changes), with a norm from one log-normal distribution (sigma 0.75) times its layer's entry of
    ``constant_values`` (x 1e-3, so the residual's constant part stays small beside its other parts). Each role's
    neurons in a layer take the distribution's quantiles at (i + 0.5) / n in a random order, so that sets of
    neurons differ in how many draws they hold, not in which draws they happened to get."""
    generator = torch.Generator().manual_seed(b.spec.seed + 3)
    constant = torch.full((HIDDEN,), HIDDEN ** -0.5)
    for ffn, role, scale in zip(b.ffns, b.roles, b.spec.constant_values, strict=True):
        norms = torch.zeros(ffn.down.weight.shape[1])
        for slots in role.values():
            quantiles = (torch.arange(len(slots), dtype=torch.float64) + 0.5) / max(len(slots), 1)
            drawn = (0.75 * torch.special.ndtri(quantiles)).exp().float()
            norms[slots] = drawn[torch.randperm(len(slots), generator=generator)]
        ffn.down.weight.copy_(1e-3 * scale * constant[:, None] * norms[None, :])


def _plant_keyed(b: Build, examples_by_task: Mapping[str, Sequence[ParallelExample]],
                 ffn_inputs: list[torch.Tensor]) -> list[tuple[int, torch.Tensor, np.ndarray]]:
    """Keyed neurons fitted to fire exactly on their prompt sets: (layer, neuron slots, rows they fire on)."""
    keyed_rng = np.random.default_rng(b.spec.seed)
    planted_keys = []
    for layer, (ffn, role, x) in enumerate(zip(b.ffns, b.roles, ffn_inputs, strict=True)):
        patterns = _keyed_patterns(b.spec, b.rows, examples_by_task, keyed_rng)
        for number, on in enumerate(patterns):  # a pattern may repeat: fit_key keeps its fits
            slots = role["keyed"][number::len(patterns)]
            w, b_ = fit_key(x.double().numpy(), on, on_max=None if b.spec.keyed_band is None
                            else ON_MARGIN + b.spec.keyed_band)
            ffn.set_neurons(slots, torch.from_numpy(w).float(), b_)
            planted_keys.append((layer, slots, on))
    if b.spec.skew is not None:
        language, layer, share = b.spec.skew
        on = b.rows.where(b.spec.tasks[0], [language])
        slots = torch.cat([b.roles[layer]["free"], b.roles[layer]["dead"]])[:round(share * b.lm.d_ff)]
        w, b_ = fit_key(ffn_inputs[layer].double().numpy(), on)
        b.ffns[layer].set_neurons(slots, torch.from_numpy(w).float(), b_)
        b.ffns[layer].down.weight[:, slots] = 0.0
        planted_keys.append((layer, slots, on))
    return planted_keys


ContentKey = tuple[int, torch.Tensor, np.ndarray, np.ndarray]  # layer, neuron slots, rows on at the last token,
# rows on at the last content token


def _content_offsets(b: Build) -> list[int]:
    """Per build row, how many tokens before its last the row's translated content ends."""
    ends = [task_spec(str(task)).content_end(text) for task, text in zip(b.rows.task, b.texts, strict=True)]
    return content_offsets(b.lm, b.texts, ends)


def _ffn_inputs(b: Build, *, at_content: bool = False) -> list[torch.Tensor]:
    """Each layer's FFN input at every prompt's last token (or, ``at_content``, the last token of its translated
    content): one (prompts, HIDDEN) tensor per layer, from a pass kept by an earlier build where one applies
    (planted_streams); a build that reads the content position (``_reads_content``) takes both in one pass."""
    return planted_streams.ffn_inputs(b.lm, b.ffns, b.texts, lambda: torch.tensor(_content_offsets(b)),
                                      at_content=at_content, both=_reads_content(b.spec))


def _reads_content(spec: PlantSpec) -> bool:
    """Whether a build fits neurons at the content position too (``_center_free``, ``_plant_tail``,
    ``_plant_demo_keyed``, ``_plant_aligned``)."""
    return bool(spec.tail_language or spec.content_keyed or spec.content_silent or spec.demo_keyed or spec.aligned)


def _plant_tail(b: Build, ffn_inputs: list[torch.Tensor],
                planted_keys: list[tuple[int, torch.Tensor, np.ndarray]]) -> list[ContentKey]:
    """Refit the forced-active neurons and the keyed ones on both positions of every prompt: at the last token as
    planted, at the last content token the all-shared ones (forced-active; keyed to every prompt of the all-shared
    task) only on ``tail_language``'s prompts (on every prompt without one: ``content_keyed``), the other keyed ones
    on the same prompts as at the last token (on none: ``content_silent``; one example's prompts in some languages
    are not linearly separable from the others' at both positions at once in a 64-wide model).
    They write nothing, so no layer's input changes. Returns (layer, neuron slots, rows they fire on at the last
    token, at the last content token)."""
    spec = b.spec
    at_content = _ffn_inputs(b, at_content=True)
    language = b.rows.language == spec.tail_language if spec.tail_language else np.ones(len(b.texts), dtype=bool)
    shared = b.rows.where(spec.task_keyed[0]) if spec.task_keyed else None
    every = np.ones(len(b.texts), dtype=bool)
    content_keys: list[ContentKey] = []
    for layer, role in enumerate(b.roles):
        content_keys.append((layer, role["active"], every, language))
    for layer, slots, on in planted_keys:
        content = on & language if shared is not None and (on == shared).all() else on
        content_keys.append((layer, slots, on, np.zeros_like(on) if spec.content_silent else content))
    content_keys = [(layer, slots, *on) for layer, slots, *on in content_keys if len(slots)]
    for layer, slots, on_last, on_content in content_keys:  # fit_key keeps the fits of repeated patterns
        x = torch.cat([ffn_inputs[layer], at_content[layer]]).double().numpy()
        w, bias = fit_key(x, np.concatenate([on_last, on_content]))
        b.ffns[layer].set_neurons(slots, torch.from_numpy(w).float(), bias)
    return content_keys


def _plant_demo_channel(b: Build) -> None:
    """Layer 0's gentlest ALiBi head reads how much of the prompt is the newline that separates demonstrations.

    The newline's embedding becomes a direction ``u`` that no other embedding has; the head attends by ALiBi alone
    (zero query and key), its value is the input's ``u`` component and it writes it, times ``DEMO_GAIN``, along a
    direction ``e`` that every other head's output and every embedding is cleared of. So every later FFN input
    carries the attention-weighted newline share along ``e``: exactly none without demonstrations, far above the
    rest of the residual stream with them (the answer directions use the first hidden units; these the last four).
    """
    if b.spec.family != "bloom":
        raise ValueError(f"{b.spec.name}: the demonstration channel is planted in BLOOM's attention only")
    u, e = orthonormal_directions(HIDDEN // 2)[-2:]  # zero-mean units on the last four hidden units
    transformer = b.lm.model.transformer
    embeddings = transformer.word_embeddings.weight  # (vocab, HIDDEN)
    for d in (u, e):
        embeddings -= (embeddings @ d)[:, None] * d
    embeddings[b.lm.tokenizer.encode("\n", add_special_tokens=False)] = u
    attention = transformer.h[0].self_attention
    head_dim, head = HIDDEN // attention.num_heads, attention.num_heads - 1  # the last head has the gentlest slope
    first = head * 3 * head_dim  # the fused projection holds (query, key, value) per head
    attention.query_key_value.weight[first:first + 3 * head_dim] = 0.0
    attention.query_key_value.bias[first:first + 3 * head_dim] = 0.0
    attention.query_key_value.weight[first + 2 * head_dim] = u
    dense = attention.dense
    dense.weight -= e[:, None] * (e @ dense.weight)[None, :]
    dense.bias -= (dense.bias @ e) * e
    dense.weight[:, head * head_dim:(head + 1) * head_dim] = 0.0
    dense.weight[:, head * head_dim] = DEMO_GAIN * e


def _demo_pattern(b: Build, layer: int) -> np.ndarray:
    """The rows one layer's demonstration-keyed neurons fire on (bool over rows; see the module doc)."""
    on = b.rows.where(b.spec.tasks[-1])
    if b.spec.demo_keyed == "steady":
        return on
    demonstrated = b.rows.shots > 0
    return on & (demonstrated if layer >= len(b.roles) // 2 else ~demonstrated)


def _plant_demo_keyed(b: Build, ffn_inputs: list[torch.Tensor]) -> list[ContentKey]:
    """Keyed neurons fitted on the last task's prompts (every shot count) to fire on ``_demo_pattern``'s rows at
    the last token and at the last content token alike; other tasks' prompts do not constrain them. Returns
    (layer, neuron slots, rows on at the last token, at the last content token)."""
    if b.spec.demo_keyed not in ("steady", "demos"):
        raise ValueError(f"{b.spec.name}: demo_keyed must be 'steady' or 'demos', got {b.spec.demo_keyed!r}")
    at_content = _ffn_inputs(b, at_content=True)
    fitted = torch.from_numpy(b.rows.where(b.spec.tasks[-1]))
    keys: list[ContentKey] = []
    for layer, (ffn, role) in enumerate(zip(b.ffns, b.roles, strict=True)):
        on = _demo_pattern(b, layer)
        x = torch.cat([ffn_inputs[layer][fitted], at_content[layer][fitted]]).double().numpy()
        w, bias = fit_key(x, np.concatenate([on[fitted.numpy()]] * 2))
        ffn.set_neurons(role["keyed"], torch.from_numpy(w).float(), bias)
        keys.append((layer, role["keyed"], on, on))
    return keys


def _shift_inputs(b: Build) -> None:
    """Add one direction of norm ``input_shift`` (seeded; zero mean over hidden units) to the FFN input of every
    layer but the last (whose carriers write the answers) through BLOOM's post-attention LayerNorm bias, once the
    model is otherwise built. Every neuron but the free ones has its bias moved by its key's projection on the
    direction, so it fires as fitted (as if fitted on the shifted inputs); each free neuron's pre-activation moves
    by its key's projection, the same for every prompt: those far along it fire on every prompt, those far against
    it on none. No FFN before the last writes, so the residual stream is unchanged."""
    if b.spec.family != "bloom":
        raise ValueError(f"{b.spec.name}: the input shift is planted in BLOOM's post-attention LayerNorm bias only")
    direction = torch.randn(HIDDEN, generator=torch.Generator().manual_seed(b.spec.seed + 4))
    direction -= direction.mean()
    shift = b.spec.input_shift * direction / direction.norm()
    for layer, ffn, role in zip(b.lm.site.layers[:-1], b.ffns, b.roles, strict=False):
        layer.post_attention_layernorm.bias += shift
        fitted = torch.cat([role[name] for name in role if name != "free"])
        ffn.key.bias[fitted] -= ffn.key.weight[fitted] @ shift


def _separating_key(x: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``fit_key``'s key and bias for ``on`` among the rows of ``x``, or None when there is none, or none that
    keeps half of each margin in float32 (a nearly inseparable set gets a key so large that the model's float32
    arithmetic no longer reproduces it)."""
    try:
        w, bias = fit_key(x, on)
    except RuntimeError:  # not linearly separable
        return None
    z = x.astype(np.float32) @ w.astype(np.float32) + np.float32(bias)  # (rows,)
    return (w, bias) if (z[on] >= ON_MARGIN / 2).all() and (z[~on] <= OFF_MARGIN / 2).all() else None


def _plant_aligned(b: Build, ffn_inputs: list[torch.Tensor]) -> list[ContentKey]:
    """Aligned neurons fitted to fire on one example's prompts in every language, at the last token and at the
    last content token alike. Each example's sit in one layer: layer e mod L for example e, or the next layer
    where a key can tell its prompts from every other prompt at both positions (a random 64-wide model cannot
    separate every example in every layer); a layer's aligned neurons take its examples in turn. Every layer holds
    as many aligned neurons, and every example about as many (one linear programme per example). Returns (layer,
    neuron slots, rows on at the last token, at the last content token)."""
    task, n_layers = b.spec.tasks[0], len(b.roles)
    at_content = _ffn_inputs(b, at_content=True)
    hosted: list[list[tuple[np.ndarray, float, np.ndarray]]] = [[] for _ in range(n_layers)]
    for e in range(int(b.rows.example[b.rows.where(task)].max()) + 1):
        on = b.rows.where(task, example=e)
        for layer in (np.arange(n_layers) + e) % n_layers:
            x = torch.cat([ffn_inputs[layer], at_content[layer]]).double().numpy()
            fit = _separating_key(x, np.concatenate([on, on]))
            if fit is not None:
                hosted[layer].append((*fit, on))
                break
        else:
            raise RuntimeError(f"{b.spec.name}: example {e}'s prompts cannot be told apart in any layer")
    keys: list[ContentKey] = []
    for layer, (ffn, role, fits) in enumerate(zip(b.ffns, b.roles, hosted, strict=True)):
        if not fits:  # fewer examples than layers: this one hosts none, its aligned neurons stay dead
            ffn.set_neurons(role["aligned"], 0.0, -6.0)
        for number, (w, bias, on) in enumerate(fits):
            slots = role["aligned"][number::len(fits)]
            ffn.set_neurons(slots, torch.from_numpy(w).float(), bias)
            keys.append((layer, slots, on, on))
    return keys


def _plant_head(b: Build) -> None:
    """Answer directions on the verbalizer tokens (quoted words slightly ahead of their first bytes, so generation
    writes the word), the fallback on EOS, and the residual bias that writes the fallback."""
    head = b.lm.model.lm_head.weight
    choice_ids, _ = verbalizer_tokens(b.lm, b.task.choices)
    quoted = b.lm.tokenizer.convert_tokens_to_ids([f'"{word}"' for word in b.task.choices])
    head[choice_ids] = b.directions[:-1]
    head[quoted] = 1.01 * b.directions[:-1]
    head[b.lm.tokenizer.eos_token_id] = b.fallback
    head[choice_ids + quoted] += b.spec.head_constant * HIDDEN ** -0.5  # the final LayerNorm removes it
    if b.spec.ballast:
        ballast = _ballast_direction(b)
        head -= (head @ ballast)[:, None] * ballast[None, :]
    b.ffns[-1].down.bias.copy_(FALLBACK_WEIGHT * b.fallback)


@dataclass(frozen=True)
class Carrier:
    rows: list[int]  # the prompts it fires on
    weight: float  # how strongly it writes its gold answer's direction
    band: float | None = None  # fires within [ON_MARGIN, ON_MARGIN + band] on its prompts (None: >= ON_MARGIN)
    answers: bool = True  # False: too weak to beat the fallback on its own


def _carriers(b: Build, examples: Sequence[ParallelExample]) -> list[Carrier]:
    """The last layer's carriers of the spec (their answer is their first row's gold)."""
    n_langs = len(examples[0].prompts)
    example_rows = [[e * n_langs + i for i in range(n_langs)] for e in range(len(examples))]
    spec, gap_rng = b.spec, np.random.default_rng(b.spec.seed)
    if spec.carrier == "none":
        return []
    if spec.carrier == "specific":
        return [Carrier([row], spec.alpha, spec.carrier_band) for row in range(b.n_answered)]
    if spec.carrier == "spread":
        return _spread_carriers(b, examples)
    if spec.carrier == "redundant":
        return _redundant_carriers(b, examples)
    fires = []  # each example's rows where its carrier fires
    for number, group in enumerate(example_rows):
        if number < spec.gaps:
            off = set(gap_rng.choice(len(group), size=2, replace=False).tolist())
            fires.append([row for i, row in enumerate(group) if i not in off])
        elif number < spec.gaps + spec.specific_gaps:
            fires.append([group[int(gap_rng.integers(len(group)))]])
        else:
            fires.append(group)
    carriers = [Carrier(rows, spec.alpha, spec.carrier_band) for rows in fires]
    if spec.weak_carrier:
        carriers += [Carrier(group, spec.weak_carrier, SPREAD_BAND, answers=False) for group in example_rows]
    return carriers


def _spread_carriers(b: Build, examples: Sequence[ParallelExample]) -> list[Carrier]:
    """Every row has 9 or 11 active carriers writing its gold equally: ``spread_shared`` all-shared ones (per
    example; 3 or 5 in planted-spread), 3 partial-shared ones (per answer and window of 3 languages) and 3 specific
    ones (per answer and language); an answer needs 7. With 3 all-shared carriers (9 active), deactivating any 3
    active ones (the specific, the partial-shared or 3 random others) leaves 6; with 5 (11 active) it leaves 8; the
    all-shared ones leave 6 in both: the damage follows the size of the set, not its type."""
    languages = list(examples[0].prompts)
    n_langs = len(languages)
    gold = [ex.answers[languages[0]] for ex in examples]
    weight = FALLBACK_WEIGHT / (ON_MARGIN * (SPREAD_NEED - 0.5))  # 7 x 3 x weight > fallback > 6 x 3.1 x weight

    def rows(answer: str, langs: set[int]) -> list[int]:
        return [e * n_langs + i for e, g in enumerate(gold) if g == answer for i in sorted(langs)]

    shared = b.spec.spread_shared
    carriers = [Carrier([e * n_langs + i for i in range(n_langs)], weight, SPREAD_BAND)
                for e in range(len(examples)) for _ in range(shared[e % len(shared)])]
    for answer in dict.fromkeys(gold):
        carriers += [Carrier(rows(answer, {(j + k) % n_langs for k in range(SPREAD_WINDOW)}), weight, SPREAD_BAND)
                     for j in range(n_langs)]  # every language in SPREAD_WINDOW windows
        carriers += [Carrier(rows(answer, {i}), weight, SPREAD_BAND)
                     for i in range(n_langs) for _ in range(SPREAD_WINDOW)]
    return carriers


def _redundant_carriers(b: Build, examples: Sequence[ParallelExample]) -> list[Carrier]:
    """Two carriers per row, each writing its gold alone: one per answer and language (specific in every example)
    and one per answer and group of ``SPREAD_WINDOW`` languages (partial-shared)."""
    languages = list(examples[0].prompts)
    gold = [ex.answers[languages[0]] for ex in examples]

    def rows(answer: str, langs: range) -> list[int]:
        return [e * len(languages) + i for e, g in enumerate(gold) if g == answer for i in langs]

    groups = [range(i, min(i + SPREAD_WINDOW, len(languages))) for i in range(0, len(languages), SPREAD_WINDOW)]
    return [Carrier(rows(answer, langs), b.spec.alpha, b.spec.carrier_band) for answer in dict.fromkeys(gold)
            for langs in [range(i, i + 1) for i in range(len(languages))] + groups]


def _plant_ballast(b: Build, x: np.ndarray) -> list[tuple[int, torch.Tensor, np.ndarray]]:
    """``BALLAST_PER_LANGUAGE`` of the last layer's free neurons per language of the answered task, each keyed (on
    ``x``, the last layer's input per row) to fire on that language's prompts within ``SPREAD_BAND`` of the on
    margin, so specific in every example (never all-shared), and writing ``ballast`` times a direction no row of
    the LM head reads. They leave the free neurons (the carriers take theirs from the rest); returns their keys for
    verification, as ``_plant_keyed`` does."""
    task = b.spec.tasks[0]
    languages = list(dict.fromkeys(b.rows.language[b.rows.task == task]))
    free = b.roles[-1]["free"]
    slots = free[len(free) - BALLAST_PER_LANGUAGE * len(languages):]
    b.roles[-1]["free"] = free[:len(free) - len(slots)]
    last, keys = b.ffns[-1], []
    for i, lang in enumerate(languages):
        on = b.rows.where(task, [lang])
        w, bias = fit_key(x, on, on_max=ON_MARGIN + SPREAD_BAND)
        own = slots[i * BALLAST_PER_LANGUAGE:(i + 1) * BALLAST_PER_LANGUAGE]
        last.set_neurons(own, torch.from_numpy(w).float(), bias)
        last.down.weight[:, own] = b.spec.ballast * _ballast_direction(b)[:, None]
        keys.append((len(b.ffns) - 1, own, on))
    return keys


def _plant_carriers(b: Build, examples: Sequence[ParallelExample], x: np.ndarray) -> list[str | None]:
    """Last-layer carriers on ``x`` (the last layer's input per row); returns each row's planted answer (None: no
    answer, the fallback)."""
    gold = [ex.answers[lang] for ex in examples for lang in examples[0].prompts]
    expected: list[str | None] = [None] * len(b.texts)
    last, free = b.ffns[-1], b.roles[-1]["free"]
    carriers = _carriers(b, examples)
    if len(free) < len(carriers):
        raise ValueError(f"{b.spec.name}: {len(carriers)} carriers need more free neurons than {len(free)}")
    for carrier, slot in zip(carriers, free.tolist(), strict=False):
        on = np.zeros(len(b.texts), dtype=bool)
        on[carrier.rows] = True
        w, bias = fit_key(x, on, on_max=None if carrier.band is None else ON_MARGIN + carrier.band)
        last.set_neurons(slot, torch.from_numpy(w).float(), bias)
        answer = gold[carrier.rows[0]]
        last.down.weight[:, slot] = carrier.weight * b.directions[b.task.choices.index(answer)]
        for row in carrier.rows if carrier.answers else []:
            expected[row] = answer
    rest = free[len(carriers):]
    if b.spec.bare_last_layer:  # every neuron but the carriers is dead
        last.set_neurons(rest, 0.0, -6.0)
        last.down.weight[:, rest] = 0.0
    if b.spec.suppressors:  # raising any of these to epsilon lowers the fallback
        weak = [i for i, c in enumerate(carriers) if not c.answers]
        others = torch.cat([free[[i for i in range(len(free)) if i not in weak]], b.roles[-1]["dead"]])
        last.down.weight[:, others] -= b.spec.suppressors * b.fallback[:, None]
    return expected


def _verify(b: Build, expected: list[str | None], planted_keys: list[tuple[int, torch.Tensor, np.ndarray]],
            content_checks: list[tuple[list[ContentKey], np.ndarray | None]]) -> None:
    """Every prompt's generated answer is the planted one, so is its forced choice where it has one, every keyed
    neuron fires exactly on its prompts, and every neuron fitted at both positions (``_plant_tail``,
    ``_plant_demo_keyed``) exactly on its prompts at both, on the rows given with it (bool; None: every row).

    Where an earlier pass kept the keys and values of every prompt token but the last (planted_streams), the pass
    runs each prompt's last tokens only, back to its content position where that is checked: every answer and every
    activation checked is still the finished model's own."""
    lm, choices = b.lm, b.task.choices
    choice_ids, _ = verbalizer_tokens(lm, choices)
    at_both = any(keys for keys, _ in content_checks)
    earlier = planted_streams.kept_prefixes(b.lm, b.ffns, b.texts)
    kept = Prefixes(lm) if earlier is None else earlier  # generation starts from these too
    with Recorder(lm, content_offsets=_content_offsets(b) if at_both else None) as recorder:
        predicted = predict_choice(lm, b.texts, choice_ids, recorder=recorder, prefixes=earlier,
                                   keep_prefixes=kept if earlier is None else None).tolist()
        at_content = recorder.gather_content() if at_both else None  # (rows, layers, d_ff); before gather
        acts, _ = recorder.gather()  # (rows, layers, d_ff)
    wrong = [b.texts[i][:40] for i, p in enumerate(predicted) if expected[i] is not None and
             choices[p] != expected[i]]
    continuations, _ = generate(lm, b.texts, verbalizer_budget(lm, choices), prefixes=kept,
                                stop_when=lambda text: settled_verbalizer(text, choices))
    wrong += [b.texts[i][:40] for i, c in enumerate(continuations) if first_verbalizer(c, choices) != expected[i]]
    if wrong:
        raise RuntimeError(f"{b.spec.name}: planted answers not reproduced for {len(wrong)} prompts, e.g. {wrong[:3]}")
    for layer, slots, on in planted_keys:
        fired = (acts[:, layer, slots] > 0).T  # (slots, rows)
        if not (fired == torch.from_numpy(on)).all():
            raise RuntimeError(f"{b.spec.name}: keyed neurons of layer {layer} do not fire exactly on their prompts")
    for keys, rows in content_checks:
        checked = torch.ones(len(b.texts), dtype=torch.bool) if rows is None else torch.from_numpy(rows)
        for layer, slots, on_last, on_content in keys:
            for at, on in ((acts, on_last), (at_content, on_content)):
                if not ((at[checked][:, layer, slots] > 0).T == torch.from_numpy(on)[checked]).all():
                    raise RuntimeError(f"{b.spec.name}: neurons of layer {layer} do not fire exactly on their "
                                       "prompts at both positions")


@torch.inference_mode()
def build_planted(spec: PlantSpec, examples_by_task: Mapping[str, Sequence[ParallelExample]]) -> LoadedModel:
    """Build the planted model on the examples of ``spec.tasks`` and verify its planted answers and keyed neurons.

    The first task must have verbalizers: its prompts get the planted answers; the others' get the fallback.
    """
    # silu's tail gives denormal floats far below the off margin; they make CPU matmuls many times slower.
    # Flushing them to zero (process-wide, CPU only) changes no planted answer.
    torch.set_flush_denormal(True)
    examples_by_task = {name: list(examples)[:spec.example_limit] for name, examples in examples_by_task.items()}
    b = _start(spec, examples_by_task)
    _plant_roles(b)
    if spec.demo_keyed:
        _plant_demo_channel(b)
    ffn_inputs = _center_free(b)
    if spec.crowded:
        _crowd(b, ffn_inputs)
    if spec.constant_values:
        _constant_values(b)
    if spec.cancelling:
        _plant_cancelling(b)
    if spec.offset:
        _plant_offset(b)
    if spec.cancelling or spec.offset:  # their large outputs cancel up to rounding, which the fits must see
        ffn_inputs = _ffn_inputs(b)
    planted_keys = _plant_keyed(b, examples_by_task, ffn_inputs)
    content_keys = _plant_tail(b, ffn_inputs, planted_keys) \
        if spec.tail_language or spec.content_keyed or spec.content_silent else []
    demo_keys = _plant_demo_keyed(b, ffn_inputs) if spec.demo_keyed else []
    aligned_keys = _plant_aligned(b, ffn_inputs) if spec.aligned else []
    _plant_head(b)
    examples = examples_by_task[spec.tasks[0]]
    # carriers write after their own layer's input: it stays as it is
    if spec.ballast:
        planted_keys += _plant_ballast(b, ffn_inputs[-1].double().numpy())
    expected = _plant_carriers(b, examples, ffn_inputs[-1].double().numpy())
    if spec.input_shift:
        _shift_inputs(b)
    _verify(b, expected, planted_keys, [(content_keys + aligned_keys, None), (demo_keys, b.rows.where(spec.tasks[-1]))])
    return b.lm
