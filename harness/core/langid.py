"""Language identification of generated text that works offline for every tokenizer: multinomial naive Bayes
over the model's own token ids, fitted on the run's texts of each language (add-alpha smoothing, uniform prior).

Byte-level tokenizers (the tiny tier's ByT5) make it a byte-unigram identifier; subword tokenizers a word-piece one.
Special tokens carry no language and are left out. An empty text has no language (-1).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

NO_LANGUAGE = -1


class UnigramNaiveBayes:
    """log P(token | language) per language, (languages, vocab); predicts the language maximising the sum over a
    text's tokens (the uniform prior drops out)."""

    def __init__(self, log_probs: torch.Tensor) -> None:
        self.log_probs = log_probs  # (languages, vocab) float64

    @classmethod
    def fit(cls, texts: Sequence[Sequence[int]], labels: Sequence[int], n_languages: int, vocab_size: int, *,
            alpha: float = 1.0) -> UnigramNaiveBayes:
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        counts = torch.zeros(n_languages, vocab_size, dtype=torch.float64)
        for tokens, label in zip(texts, labels, strict=True):
            counts[label] += torch.bincount(torch.as_tensor(tokens, dtype=torch.long), minlength=vocab_size)
        return cls(((counts + alpha) / (counts.sum(dim=1, keepdim=True) + alpha * vocab_size)).log())

    def scores(self, texts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Log-likelihood of each text under each language, (texts, languages)."""
        lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
        tokens = torch.tensor([token for t in texts for token in t], dtype=torch.long)
        rows = torch.repeat_interleave(torch.arange(len(texts)), lengths)
        out = torch.zeros(len(texts), self.log_probs.shape[0], dtype=torch.float64)
        return out.index_add_(0, rows, self.log_probs[:, tokens].T)

    def predict(self, texts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Most likely language index per text, (texts,) long; NO_LANGUAGE for an empty text."""
        predicted = self.scores(texts).argmax(dim=1)
        empty = torch.tensor([len(t) == 0 for t in texts], dtype=torch.bool)
        return predicted.masked_fill(empty, NO_LANGUAGE)


def held_out_recall(texts: Sequence[Sequence[int]], labels: Sequence[int], groups: Sequence[int], n_languages: int,
                    vocab_size: int) -> torch.Tensor:
    """Two-fold estimate of how often the identifier recognises each language, (languages,): fitted on the texts
    of the even groups (parallel examples), tested on the odd ones, and the other way round."""
    labels_t, folds = torch.tensor(list(labels)), torch.tensor(list(groups)) % 2
    hits = torch.zeros(n_languages)
    for fold in (0, 1):
        train, test = (folds != fold).tolist(), (folds == fold).tolist()
        model = UnigramNaiveBayes.fit([t for t, keep in zip(texts, train, strict=True) if keep], labels_t[train],
                                      n_languages, vocab_size)
        predicted = model.predict([t for t, keep in zip(texts, test, strict=True) if keep])
        hits += torch.bincount(labels_t[test][predicted == labels_t[test]], minlength=n_languages)
    return hits / torch.bincount(labels_t, minlength=n_languages)
