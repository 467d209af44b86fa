"""The token-unigram naive Bayes identifier: its probabilities by hand, empty texts, and how well it recognises the
tiny tier's XNLI texts (byte tokens) held out."""

from __future__ import annotations

import math

import torch
from transformers import ByT5Tokenizer

from harness.core.langid import NO_LANGUAGE, UnigramNaiveBayes, held_out_recall
from harness.papers.kojima.language_neurons import language_texts
from harness.tasks import FIXTURE_DATA, load_task, task_spec


def test_log_probabilities_by_hand() -> None:
    """Vocabulary of 4; language 0 saw tokens 0, 0, 1; language 1 saw 2: add-one gives (3, 2, 1, 1) / 7 and
    (1, 1, 2, 1) / 5."""
    model = UnigramNaiveBayes.fit([[0, 0], [1], [2]], [0, 0, 1], 2, 4)
    expected = torch.tensor([[3 / 7, 2 / 7, 1 / 7, 1 / 7], [1 / 5, 1 / 5, 2 / 5, 1 / 5]], dtype=torch.float64).log()
    torch.testing.assert_close(model.log_probs, expected)
    scores = model.scores([[0, 2], [3]])
    assert math.isclose(scores[0, 0], math.log(3 / 7) + math.log(1 / 7))
    assert math.isclose(scores[0, 1], math.log(1 / 5) + math.log(2 / 5))
    assert model.predict([[0, 0, 2], [2, 2], [], [3]]).tolist() == [0, 1, NO_LANGUAGE, 1]


def test_the_identifier_recognises_held_out_xnli_texts_by_their_bytes() -> None:
    examples = load_task("xnli", data_dir=FIXTURE_DATA / "xnli")
    texts, labels = language_texts(examples, task_spec("xnli"))
    tokenizer = ByT5Tokenizer()
    tokens = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    n_langs = len(examples[0].prompts)
    recall = held_out_recall(tokens, labels.tolist(), (torch.arange(len(texts)) // n_langs).tolist(), n_langs,
                             len(tokenizer))
    assert recall.shape == (n_langs,) and (recall >= 0.8).all(), recall
    # by hand for the first fold: fitted on odd examples, tested on even ones
    odd = [i for i in range(len(texts)) if (i // n_langs) % 2]
    even = [i for i in range(len(texts)) if not (i // n_langs) % 2]
    model = UnigramNaiveBayes.fit([tokens[i] for i in odd], labels[odd].tolist(), n_langs, len(tokenizer))
    hits = model.predict([tokens[i] for i in even]) == labels[even]
    other = UnigramNaiveBayes.fit([tokens[i] for i in even], labels[even].tolist(), n_langs, len(tokenizer))
    hits_other = other.predict([tokens[i] for i in odd]) == labels[odd]
    both = torch.bincount(torch.cat([labels[even][hits], labels[odd][hits_other]]), minlength=n_langs)
    torch.testing.assert_close(recall, both / torch.bincount(labels, minlength=n_langs))
