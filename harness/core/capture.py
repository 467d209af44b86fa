"""Activation capture: one set of hooks for a whole stream of batches, last token kept on the device.

The recorder keeps A at position -1 of the first forward call of every layer after ``arm()``: with left padding
that is each row's last prompt token, and during greedy generation it is the prompt pass. Recorders see A as the
down projection receives it, i.e. after any intervention (interventions register their hooks in front).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Self

import torch
from torch.utils.hooks import RemovableHandle

from harness.core.batching import (
    encode,
    last_logits,
    length_sorted_batches,
    longest_first,
    run_with_backoff,
    token_lengths,
)
from harness.core.models import LoadedModel

SiteEdit = Callable[[int, torch.Tensor], torch.Tensor | None]  # (layer, a (batch, seq, d_ff)) -> new a or None


def register_site_hooks(lm: LoadedModel, edit: SiteEdit, *, prepend: bool = False) -> list[RemovableHandle]:
    """Hook every layer's neuron vector A; ``edit(layer, a)`` returns a replacement for A or None to keep it."""
    handles, shapes = [], {}
    if lm.site.flat_tokens:  # learn (batch, seq) from the layer input to view A as (batch, seq, d_ff)
        def remember_shape(_module, args, kwargs, layer_index):
            shapes[layer_index] = (args[0] if args else kwargs["hidden_states"]).shape[:2]
        handles += [layer.register_forward_pre_hook(partial(remember_shape, layer_index=i), with_kwargs=True)
                    for i, layer in enumerate(lm.site.layers)]

    def edit_a(layer: int, a: torch.Tensor) -> torch.Tensor | None:
        if not lm.site.flat_tokens:
            return edit(layer, a)
        new = edit(layer, a.view(*shapes[layer], a.shape[-1]))
        return None if new is None else new.reshape(a.shape)

    for layer, module in enumerate(lm.site.hooked):
        if lm.site.hooks_output:
            def hook(_module, _args, output, layer=layer):
                return edit_a(layer, output)
            handles.append(module.register_forward_hook(hook, prepend=prepend))
        else:
            def pre_hook(_module, args, layer=layer):
                new = edit_a(layer, args[0])
                return None if new is None else (new, *args[1:])
            handles.append(module.register_forward_pre_hook(pre_hook, prepend=prepend))
    return handles


class Recorder:
    """Records, per armed forward pass, A at the last position of every layer: (batch, layers, d_ff).

    With ``token_mask`` set (batch, seq) it also keeps ``ever_active``: whether A > threshold at any real token,
    which is what the dead-across-tokens measurement (§5.1.4) needs. With ``content_offsets`` (per input row, how
    many tokens before the last its translated content ends, harness.core.content_position) it also keeps A
    there, from the same pass: ``arm`` then takes the input rows of the batch. A stack that sees one position (an
    encoder-decoder's decoder) gives that position.
    """

    def __init__(self, lm: LoadedModel, *, threshold: float | None = None,
                 content_offsets: Sequence[int] | None = None) -> None:
        self.lm, self.threshold = lm, threshold
        self.last: torch.Tensor | None = None  # (batch, layers, d_ff)
        self.ever_active: torch.Tensor | None = None  # (batch, layers, d_ff) bool
        self.token_mask: torch.Tensor | None = None
        self.collected: list[tuple[list[int], torch.Tensor, torch.Tensor | None]] = []
        self.content_offsets = None if content_offsets is None else torch.tensor(list(content_offsets))
        self.content: torch.Tensor | None = None  # (batch, layers, d_ff) A at the content's last token
        self.offsets: torch.Tensor | None = None  # (batch,) the armed rows' content offsets
        self.collected_content: list[torch.Tensor] = []
        self._seen = [False] * lm.n_layers
        self._handles: list[RemovableHandle] = []

    def __enter__(self) -> Self:
        self._handles = register_site_hooks(self.lm, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def arm(self, token_mask: torch.Tensor | None = None, rows: list[int] | None = None) -> None:
        self._seen = [False] * self.lm.n_layers
        self.last = self.ever_active = self.content = None
        self.token_mask = token_mask
        if self.content_offsets is not None:
            if rows is None:
                raise ValueError("a recorder with content offsets must be armed with the batch's input rows")
            self.offsets = self.content_offsets[rows]
            if token_mask is not None and int(self.offsets.max()) >= token_mask.shape[1]:
                raise ValueError(f"a content offset ({int(self.offsets.max())}) lies outside the batch's "
                                 f"{token_mask.shape[1]} positions")
            self.offsets = self.offsets.to(self.lm.device)  # moved once, read at every layer

    def collect(self, rows: list[int]) -> None:
        """Keep the last armed pass under the input positions ``rows`` (for passes run in length order)."""
        self.collected.append((rows, self.last, self.ever_active))
        if self.content is not None:
            self.collected_content.append(self.content)

    def gather_content(self) -> torch.Tensor:
        """A at the content's last token of everything collected, in input order, (rows, layers, d_ff); call it
        before ``gather``, which resets."""
        if self.content_offsets is None:
            raise ValueError("this recorder keeps no content position (content_offsets not given)")
        rows = [r for chunk, _, _ in self.collected for r in chunk]
        position = torch.empty(len(rows), dtype=torch.long)
        position[torch.tensor(rows)] = torch.arange(len(rows))
        content = torch.cat(self.collected_content)
        self.collected_content = []
        return content[position.to(content.device)]

    def gather(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Everything collected, in input order: acts (rows, layers, d_ff) and ever_active or None; then reset."""
        rows = [r for chunk, _, _ in self.collected for r in chunk]
        position = torch.empty(len(rows), dtype=torch.long)
        position[torch.tensor(rows)] = torch.arange(len(rows))
        acts = torch.cat([last for _, last, _ in self.collected])[position.to(self.collected[0][1].device)]
        ever = None
        if self.collected[0][2] is not None:
            ever = torch.cat([e for _, _, e in self.collected])[position.to(self.collected[0][2].device)]
        self.collected = []
        return acts, ever

    def _record(self, layer: int, a: torch.Tensor) -> None:
        if self._seen[layer]:
            return
        self._seen[layer] = True
        if self.last is None:
            self.last = a.new_empty(a.shape[0], self.lm.n_layers, a.shape[-1])
        self.last[:, layer] = a[:, -1].to(self.last.device)
        if self.offsets is not None:
            if self.content is None:
                self.content = torch.empty_like(self.last)
            offsets = self.offsets.to(a.device) if a.shape[1] > 1 else torch.zeros_like(self.offsets, device=a.device)
            at = a.shape[1] - 1 - offsets  # (batch,) the content's last token under left padding
            self.content[:, layer] = a[torch.arange(a.shape[0], device=a.device), at].to(self.content.device)
        if self.threshold is not None and self.token_mask is not None:
            if self.ever_active is None:
                self.ever_active = torch.zeros_like(self.last, dtype=torch.bool)
            mask = self.token_mask if a.shape[1] == self.token_mask.shape[1] else self.token_mask[:, -a.shape[1]:]
            active = (a > self.threshold) & mask.to(a.device, torch.bool)[..., None]  # (batch, seq, d_ff)
            self.ever_active[:, layer] = active.any(dim=1).to(self.ever_active.device)
        return


def stream_last_token(lm: LoadedModel, texts: Sequence[str], *,
                      batch_size: int = 8) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Yield (indices, acts (batch, layers, d_ff), last logits (batch, vocab)) batch by batch, on the device.

    Batches are sorted by token length; ``indices`` say which texts each batch holds.
    """
    with Recorder(lm) as recorder, torch.inference_mode():
        for indices in length_sorted_batches(token_lengths(lm, texts), batch_size):
            inputs = encode(lm, [texts[i] for i in indices])
            recorder.arm()
            logits = last_logits(lm, inputs)
            yield indices, recorder.last, logits


def last_token_activations(lm: LoadedModel, texts: Sequence[str], *, batch_size: int = 8) -> torch.Tensor:
    """A at each text's last token, float32 on the CPU, in input order: (len(texts), n_layers, d_ff)."""
    out = torch.empty(len(texts), lm.n_layers, lm.d_ff)
    for indices, acts, _ in stream_last_token(lm, texts, batch_size=batch_size):
        out[indices] = acts.float().cpu()
    return out


MEAN_POSITIONS = ("last", "all")


@torch.inference_mode()
def mean_activations(lm: LoadedModel, texts: Sequence[str], *, positions: str = "last",
                     batch_size: int = 16) -> torch.Tensor:
    """Each neuron's mean A over ``texts``, from one forward pass of the prompts: at each text's last token
    (``positions="last"``, where the capture pass reads A) or over every real token of it (``"all"``; a stack that
    sees one position, an encoder-decoder's decoder, gives that one). (layers, d_ff) float32 on the model's
    device. A batch adds to the sums only once its pass is through, so the out-of-memory back-off counts no row
    twice."""
    if positions not in MEAN_POSITIONS:
        raise ValueError(f"positions must be one of {MEAN_POSITIONS}, got {positions!r}")
    if not texts:
        raise ValueError("the mean activation of no texts is undefined")
    sums = torch.zeros(lm.n_layers, lm.d_ff, dtype=torch.float64, device=lm.device)
    counts = torch.zeros(lm.n_layers, dtype=torch.float64, device=lm.device)  # positions read per layer
    batch: dict[str, torch.Tensor] = {}

    def add(layer: int, a: torch.Tensor) -> None:  # a (batch, seq, d_ff)
        if positions == "last":
            batch["sums"][layer] += a[:, -1].double().sum(dim=0).to(lm.device)
            batch["counts"][layer] += a.shape[0]
            return
        mask = batch["mask"][:, -a.shape[1]:].to(a.device, a.dtype)  # (batch, seq): real tokens
        batch["sums"][layer] += torch.einsum("bs,bsd->d", mask, a).double().to(lm.device)
        batch["counts"][layer] += float(mask.sum())

    def step(rows: list[int]) -> None:
        inputs = encode(lm, [texts[i] for i in rows])
        batch.update(sums=torch.zeros_like(sums), counts=torch.zeros_like(counts), mask=inputs["attention_mask"])
        last_logits(lm, inputs)
        sums.add_(batch["sums"])
        counts.add_(batch["counts"])

    handles = register_site_hooks(lm, add)
    try:
        for _ in run_with_backoff(step, longest_first(token_lengths(lm, texts)), batch_size):
            pass
    finally:
        for handle in handles:
            handle.remove()
    return (sums / counts[:, None]).float()
