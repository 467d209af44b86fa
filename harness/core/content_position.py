"""Where each prompt's translated content ends, as a token position: the template control (XNLI and KE prompts
end with the same English words in every language, so their last token is the same English text everywhere).

The content position is the last token that the prompt and the prompt cut at its content end (``TaskSpec.
content_end``) tokenize alike: the longest common prefix of the two token sequences, special tokens included (a
leading BOS counts, an appended EOS of the cut prompt does not). Up to it a causal model sees the same tokens in
both, so its activations there are those of the cut prompt at that token (tests check this with a separate
unpadded pass). A token that spans the content's end and the closing words (a BPE merge) is not content: the
position is then the token before it. No offsets mapping is needed, so every tokenizer works, slow ones too.

Positions are given counted from the end of each prompt (0 = the last token), so they hold under left padding.
In an encoder-decoder the encoder's position is this token; the decoder has only its start token.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.core.batching import token_ids
from harness.core.models import LoadedModel


def content_position(full: Sequence[int], cut: Sequence[int], special: frozenset[int]) -> int:
    """Index in ``full`` (a prompt's token ids) of the last token of its content, given ``cut`` (the ids of the
    prompt cut at the content end) and the tokenizer's special ids; an error when no content token is left."""
    trailing = 0
    while trailing < len(cut) and cut[len(cut) - 1 - trailing] in special:
        trailing += 1
    common = 0
    for a, b in zip(full, cut[:len(cut) - trailing], strict=False):
        if a != b:
            break
        common += 1
    if common == 0 or all(t in special for t in full[:common]):
        raise ValueError("the prompt has no content token before its closing words")
    return common - 1


def content_offsets(lm: LoadedModel, texts: Sequence[str], ends: Sequence[int]) -> list[int]:
    """Per text, how many tokens its content's last token lies before the text's last token (0: the last)."""
    if len(texts) != len(ends):
        raise ValueError(f"{len(texts)} texts but {len(ends)} content ends")
    special = frozenset(lm.tokenizer.all_special_ids)
    fulls, cuts = token_ids(lm, texts), token_ids(lm, [text[:end] for text, end in zip(texts, ends, strict=True)])
    return [len(full) - 1 - content_position(full, cut, special) for full, cut in zip(fulls, cuts, strict=True)]
