"""Training a subject: documents tokenized once, packed into fixed-size rows, a fixed number of AdamW steps.

Everything that decides the order of the arithmetic is fixed: the seed (initialisation and the shuffle of each
epoch), the packing (greedy, in the shuffled order), the step count and the thread count. The same recipe and data
on the same machine therefore give bit-identical weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import transformers
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from harness.subjects.corpus import Document
from harness.subjects.recipe import Architecture, Recipe

IGNORE = -100  # label of positions without loss (Hugging Face convention)


@dataclass(frozen=True)
class Encoded:
    """One document as token ids and, per position, whether its token is a training target."""

    ids: tuple[int, ...]
    target: tuple[bool, ...]


@dataclass
class TrainingLog:
    steps: int
    seconds: float
    tokens_per_step: float  # mean real tokens in a step's rows
    epochs: float  # documents seen / documents per epoch
    losses: list[tuple[int, float]]  # (step, mean loss of the steps since the previous entry)


def encode_documents(tokenizer: PreTrainedTokenizerBase, documents: Sequence[Document], loss_on: str,
                     max_tokens: int) -> list[Encoded]:
    """``<s> prompt`` + `` answer`` + ``</s>``, tokenized in two parts exactly as scoring sees the prompt.

    ``loss_on="answer"`` trains on the answer's tokens and the end-of-text only. Documents longer than
    ``max_tokens`` are an error: truncating them would cut off the answer.
    """
    prompts = tokenizer([d.prompt for d in documents])["input_ids"]
    answers = tokenizer([" " + d.answer for d in documents], add_special_tokens=False)["input_ids"]
    encoded = []
    for doc, prompt, answer in zip(documents, prompts, answers, strict=True):
        ids = (*prompt, *answer, tokenizer.eos_token_id)
        if len(ids) > max_tokens:
            raise ValueError(f"a {doc.task} document in {doc.language} has {len(ids)} tokens, more than a row's "
                             f"{max_tokens}; raise row_tokens in the recipe")
        # the first token (<s>) is never a target: nothing precedes it
        on_prompt = loss_on == "all"
        target = (False, *([on_prompt] * (len(prompt) - 1)), *([True] * (len(answer) + 1)))
        encoded.append(Encoded(ids, target))
    return encoded


def epoch_pool(documents: Sequence[Document], repeats: dict[str, int]) -> list[int]:
    """Indices of the documents of one epoch: each task's documents ``repeats[task]`` times."""
    return [i for i, doc in enumerate(documents) for _ in range(repeats[doc.task])]


def packed_rows(encoded: Sequence[Encoded], pool: Sequence[int], row_tokens: int,
                generator: torch.Generator) -> Iterator[list[int]]:
    """Endless rows of document indices: each epoch shuffles ``pool`` and packs whole documents greedily."""
    while True:
        row: list[int] = []
        used = 0
        for j in torch.randperm(len(pool), generator=generator).tolist():
            i = pool[j]
            if used + len(encoded[i].ids) > row_tokens:
                yield row
                row, used = [], 0
            row.append(i)
            used += len(encoded[i].ids)
        if row:
            yield row


def collate(encoded: Sequence[Encoded], rows: Sequence[list[int]], row_tokens: int,
            pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded (rows, row_tokens) input ids, attention mask and labels (IGNORE where not a target)."""
    input_ids = torch.full((len(rows), row_tokens), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), row_tokens), IGNORE, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), row_tokens), dtype=torch.long)
    for r, row in enumerate(rows):
        ids = [t for i in row for t in encoded[i].ids]
        target = torch.tensor([t for i in row for t in encoded[i].target], dtype=torch.bool)
        n = len(ids)
        input_ids[r, :n] = torch.tensor(ids)
        labels[r, :n] = torch.where(target, input_ids[r, :n], IGNORE)
        attention_mask[r, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def new_model(architecture: Architecture, tokenizer: PreTrainedTokenizerBase,
              seed: int) -> transformers.BloomForCausalLM:
    config = transformers.BloomConfig(
        vocab_size=len(tokenizer), hidden_size=architecture.hidden_size, n_layer=architecture.n_layer,
        n_head=architecture.n_head, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return transformers.BloomForCausalLM(config)


@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, documents: Sequence[Document],
          recipe: Recipe, *, progress: bool = True) -> TrainingLog:
    """Train ``model`` in place for ``recipe.steps`` AdamW steps on ``documents``; returns what happened."""
    encoded = encode_documents(tokenizer, documents, recipe.loss_on, recipe.row_tokens)
    pool = epoch_pool(documents, dict(recipe.repeats))
    generator = torch.Generator().manual_seed(recipe.seed)
    rows = packed_rows(encoded, pool, recipe.row_tokens, generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    schedule = transformers.get_cosine_schedule_with_warmup(optimizer, recipe.warmup_steps, recipe.steps)
    losses: list[tuple[int, float]] = []
    window: list[float] = []
    seen_docs = real_tokens = 0
    start = time.perf_counter()
    model.train()
    with pinned_threads(recipe.threads), tqdm(total=recipe.steps, desc=f"training {recipe.name}", unit="step",
                                              disable=not progress) as bar:
        for step in range(1, recipe.steps + 1):
            batch_rows = [next(rows) for _ in range(recipe.rows_per_step)]
            batch = collate(encoded, batch_rows, recipe.row_tokens, tokenizer.pad_token_id)
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            window.append(loss.item())
            seen_docs += sum(map(len, batch_rows))
            real_tokens += int(batch["attention_mask"].sum())
            if step % 25 == 0 or step == recipe.steps:
                losses.append((step, sum(window) / len(window)))
                bar.set_postfix(loss=f"{losses[-1][1]:.3f}")
                window = []
            bar.update()
    model.eval()
    if not all(math.isfinite(loss) for _, loss in losses):
        raise FloatingPointError(f"training {recipe.name} diverged (losses {losses})")
    return TrainingLog(steps=recipe.steps, seconds=time.perf_counter() - start,
                       tokens_per_step=real_tokens / recipe.steps, epochs=seen_docs / len(pool), losses=losses)
