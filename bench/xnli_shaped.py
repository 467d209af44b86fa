"""Synthetic parallel data shaped like XNLI for a random model, and a word-level tokenizer that gives its prompts
the token lengths bloomz-7b1's tokenizer gives real XNLI prompts (nothing is downloaded).

The tokenizer (``tokenizers``' WordLevel, split on white space and punctuation, as a transformers fast tokenizer)
knows the template's words, the answer words and ``w0, w1, ...`` up to the model's vocabulary, so every id a random
model generates decodes to a word. Premise and hypothesis are random ``w`` words; each language's prompt has the
number of tokens in ``PROMPT_TOKENS``.

``PROMPT_TOKENS`` are estimates, not counts: bloomz-7b1's tokenizer cannot be loaded offline. The template takes
27 tokens; premise and hypothesis of an XNLI test item average about 33 English words, 43 tokens at 1.3 tokens a
word; each language multiplies that by an estimate of its tokenization premium under BLOOM's tokenizer (languages
outside BLOOM's training data, de, ru, th and tr, are split finer). The check prints the mean prompt length it
ran with; the projection's token-bound parts scale with it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from harness.tasks.xnli import LABEL_WORDS, SPEC, TEMPLATE

TEMPLATE_TOKENS = 27
CONTENT_TOKENS_EN = 43
PREMIUM = {"en": 1.0, "de": 1.9, "es": 1.2, "fr": 1.2, "ru": 2.6, "th": 4.5, "tr": 2.3, "vi": 1.2, "zh": 1.1}
PROMPT_TOKENS = {lang: TEMPLATE_TOKENS + round(CONTENT_TOKENS_EN * p) for lang, p in PREMIUM.items()}
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
FIXED_WORDS = ('"', ",", ":", "?", ".", *SPEC.choices,
               *dict.fromkeys(TEMPLATE.replace("{premise}", "").replace("{hypothesis}", "").replace('"', " ")
                              .replace(",", " ").replace(":", " ").replace("?", " ").split()))


def word_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A word-level fast tokenizer with exactly ``vocab_size`` ids; like BLOOM's, it adds no special tokens."""
    words = [*SPECIALS, *dict.fromkeys(FIXED_WORDS)]
    words += [f"w{i}" for i in range(vocab_size - len(words))]
    if len(words) != vocab_size:
        raise ValueError(f"vocab_size {vocab_size} is smaller than the template's {len(words)} words")
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def template_tokens(tokenizer: PreTrainedTokenizerFast) -> int:
    """Tokens of the template's own words (one-word premise and hypothesis, so that quotes split as in use)."""
    return len(tokenizer(TEMPLATE.format(premise="w0", hypothesis="w0"))["input_ids"]) - 2


def write_xnli(directory: Path, n_items: int, tokenizer: PreTrainedTokenizerFast,
               lengths: dict[str, int] = PROMPT_TOKENS, seed: int = 0) -> Path:
    """``directory/xnli/<lang>/test.jsonl`` in the hub schema, ``n_items`` rows per language; returns the
    ``xnli`` folder. Each prompt (template filled in) has ``lengths[lang]`` tokens; labels cycle 0, 1, 2."""
    rng = random.Random(seed)
    fixed = template_tokens(tokenizer)
    vocabulary = len(tokenizer) - len(SPECIALS) - len(dict.fromkeys(FIXED_WORDS))
    for lang, total in lengths.items():
        content = max(2, total - fixed)
        rows = []
        for i in range(n_items):
            words = [f"w{rng.randrange(vocabulary)}" for _ in range(content)]
            cut = 2 * content // 3  # premise about twice the hypothesis
            rows.append({"premise": " ".join(words[:cut]), "hypothesis": " ".join(words[cut:]),
                         "label": sorted(LABEL_WORDS)[i % 3]})
        folder = directory / "xnli" / lang
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory / "xnli"
