"""The recipes of the trained subjects: every choice that decides their weights, in one frozen value.

A recipe's fields go into the subject's cache key, so changing any of them builds a new subject. The thread count
is part of the recipe because the order of floating-point reductions, hence the weights, depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Architecture:
    """A BLOOM causal LM and its byte-level BPE tokenizer (trained on the corpus)."""

    vocab_size: int
    hidden_size: int
    n_layer: int
    n_head: int

    @property
    def d_ff(self) -> int:
        return 4 * self.hidden_size  # BLOOM's MLP width


@dataclass(frozen=True)
class Recipe:
    """How one subject is trained. ``parent`` is None for a model trained from scratch (it then has
    ``architecture``); otherwise training starts from the parent subject's weights and tokenizer."""

    name: str
    parent: str | None
    architecture: Architecture | None
    steps: int
    rows_per_step: int  # packed rows of ``row_tokens`` tokens per optimizer step
    row_tokens: int
    learning_rate: float  # peak; linear warm-up then cosine decay to 0 at ``steps``
    warmup_steps: int
    loss_on: str  # "all": every token (language modelling); "answer": the answer and end-of-text only
    items: tuple[tuple[str, int], ...]  # task -> its first N examples are trained on (the loaders' limit)
    repeats: tuple[tuple[str, int], ...]  # task -> copies of each of its documents per epoch
    seed: int
    threads: int  # torch.set_num_threads during training (part of bit-identity)
    expected_minutes: float  # what the notice on first use says (measured on one CPU thread); not in the key

    def __post_init__(self) -> None:
        if (self.parent is None) == (self.architecture is None):
            raise ValueError(f"{self.name}: a recipe has either a parent or an architecture")
        if self.loss_on not in ("all", "answer"):
            raise ValueError(f"{self.name}: loss_on must be 'all' or 'answer', got {self.loss_on!r}")

    def with_steps(self, steps: int, warmup_steps: int | None = None) -> Recipe:
        """The same recipe with another step count (the fast determinism test trains a few steps)."""
        return replace(self, steps=steps, warmup_steps=min(self.warmup_steps, steps) if warmup_steps is None
                       else warmup_steps)


#: What both subjects train on: the first N examples of each task (facts: N counts paraphrases, 4 per fact;
#: XNLI: all of the project's fixture, 24 items). The full tier's --limit up to these tests trained items.
ITEMS = (("xnli", 240), ("facts", 400), ("editing", 200))

BASE = Recipe(
    name="trained-tiny", parent=None, architecture=Architecture(vocab_size=4096, hidden_size=128, n_layer=8, n_head=4),
    steps=600, rows_per_step=16, row_tokens=128, learning_rate=4e-3, warmup_steps=30, loss_on="all", items=ITEMS,
    repeats=(("xnli", 8), ("facts", 1), ("editing", 1)), seed=0, threads=1, expected_minutes=8)

#: The instruction-tuned partner: the base further trained on the same prompts, with loss on the answers only.
IFT = Recipe(
    name="trained-tiny-ift", parent="trained-tiny", architecture=None, steps=150, rows_per_step=16, row_tokens=128,
    learning_rate=1e-3, warmup_steps=10, loss_on="answer", items=ITEMS,
    repeats=(("xnli", 8), ("facts", 1), ("editing", 1)), seed=1, threads=1, expected_minutes=1.5)

SUBJECTS: dict[str, Recipe] = {recipe.name: recipe for recipe in (BASE, IFT)}
