"""Neuron expertise for a class of texts (Kojima et al., after ml-selfcond): the Average Precision (AP) of a
neuron's response taken as the score that a text belongs to the class (one language against all the others).

AP follows the step definition of scikit-learn's ``average_precision_score``: AP = sum over distinct thresholds,
in decreasing order, of (recall gained) x (precision there); tied scores enter together. Every neuron is scored
at once, on the device, with sorts: one over all texts, one over each class's texts.
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 26  # bounds the (texts, columns) temporaries of one AP chunk


def _at_or_above(scores: torch.Tensor) -> torch.Tensor:
    """For every entry, how many entries of its row are >= it (ties count in): (rows, n) -> (rows, n) long."""
    n = scores.shape[1]
    ranked, order = scores.sort(dim=1, descending=True)
    position = torch.arange(n, device=scores.device).expand_as(ranked)
    is_end = torch.ones_like(ranked, dtype=torch.bool)  # last entry of each run of tied scores
    is_end[:, :-1] = ranked[:, 1:] != ranked[:, :-1]
    # each sorted entry's run end: the first end at or after it (a running minimum from the right)
    end = position.masked_fill(~is_end, n).flip(1).cummin(dim=1).values.flip(1)
    return torch.empty_like(order).scatter_(1, order, end + 1)


def average_precision(scores: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """AP of every column of ``scores`` for every class: scores (texts, ...) -> (n_classes, ...) float64.

    labels (texts,) long in [0, n_classes); every class needs at least one text. Per positive text p of class c,
    precision at p's threshold = (texts of c scoring >= p) / (texts scoring >= p); AP is its mean over c's texts.
    """
    counts = torch.bincount(labels, minlength=n_classes)
    if labels.numel() != scores.shape[0] or len(counts) != n_classes or (counts == 0).any():
        raise ValueError(f"labels must give each of the {scores.shape[0]} texts one of {n_classes} classes, every "
                         f"class at least once; got counts {counts.tolist()}")
    flat = scores.reshape(scores.shape[0], -1)  # (texts, columns)
    out = torch.empty(n_classes, flat.shape[1], dtype=torch.float64, device=scores.device)
    cols = max(1, CHUNK_ELEMENTS // flat.shape[0])
    members = [labels == c for c in range(n_classes)]
    for start in range(0, flat.shape[1], cols):
        chunk = flat[:, start:start + cols].T.contiguous()  # (cols, texts): sorts run along contiguous rows
        above = _at_or_above(chunk)
        for c, own in enumerate(members):
            precision = _at_or_above(chunk[:, own]).double() / above[:, own]  # (cols, texts of c)
            out[c, start:start + cols] = precision.mean(dim=1)
    return out.reshape(n_classes, *scores.shape[1:])


def permuted_average_precision(scores: torch.Tensor, permuted: torch.Tensor, n_classes: int) -> torch.Tensor:
    """AP of every column of ``scores`` for every class under each row of ``permuted`` labels, as
    ``average_precision`` gives it for that row: scores (texts, columns), permuted (P, texts) long, each row giving
    every class the same number of texts -> (P, n_classes, columns) float64.

    A text's rank among all texts does not depend on the labels, so it is computed once for all rows; each row then
    sorts the texts within its classes only (grouped class by class: one batched sort for every row and class).
    """
    n_texts, n_columns = scores.shape
    per_class = n_texts // n_classes
    counts = torch.stack([torch.bincount(row, minlength=n_classes) for row in permuted]) if len(permuted) else None
    if permuted.shape[1:] != (n_texts,) or per_class * n_classes != n_texts or (
            counts is not None and (counts.shape[1] != n_classes or (counts != per_class).any())):
        raise ValueError(f"each row of permuted labels must give each of the {n_classes} classes {per_class} of the "
                         f"{n_texts} texts; got shape {tuple(permuted.shape)}")
    n_rows = len(permuted)
    grouped = permuted.argsort(dim=1, stable=True).view(n_rows, n_classes, per_class)  # text indices, class-major
    out = torch.empty(n_rows, n_classes, n_columns, dtype=torch.float64, device=scores.device)
    cols = max(1, CHUNK_ELEMENTS // max(1, n_texts * n_rows))
    for start in range(0, n_columns, cols):
        chunk = scores[:, start:start + cols].T.contiguous()  # (cols, texts)
        above = _at_or_above(chunk)  # (cols, texts): does not depend on the labels
        within = chunk[:, grouped]  # (cols, P, classes, per_class)
        at_or_above_within = _at_or_above(within.reshape(-1, per_class)).view(within.shape)
        precision = at_or_above_within.double() / above[:, grouped]  # (cols, P, classes, per_class)
        out[:, :, start:start + cols] = precision.mean(dim=-1).permute(1, 2, 0)
    return out


def top_and_bottom(ap: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The n highest- and the n lowest-AP neurons of each class: ap (classes, neurons) -> two (classes, n).

    Ties keep the lower index first (stable sort), so a selection is reproducible.
    """
    if not 0 < 2 * n <= ap.shape[1]:
        raise ValueError(f"cannot take top and bottom {n} of {ap.shape[1]} neurons")
    top = ap.sort(dim=1, descending=True, stable=True).indices[:, :n]
    bottom = ap.sort(dim=1, stable=True).indices[:, :n]
    return top, bottom


def class_medians(scores: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Median response of every column to each class's texts (the mean of the two middle values for an even
    count, as numpy's 50th percentile): scores (texts, ...) -> (n_classes, ...)."""
    medians = []
    for c in range(n_classes):
        ranked = scores[labels == c].sort(dim=0).values  # (texts of c, ...)
        n = ranked.shape[0]
        medians.append((ranked[(n - 1) // 2] + ranked[n // 2]) / 2)
    return torch.stack(medians)
