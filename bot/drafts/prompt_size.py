"""Whether a prompt fits the API's 10,000 tokens, by a bound that holds for every script.

The tokenizer is not published, so the bot counts what no tokenizer can exceed:

- byte-level BPE (GPT-2, tiktoken, Llama 3, Qwen...) builds every token from whole UTF-8 bytes,
  at least one each: tokens ≤ bytes;
- SentencePiece with byte fallback spells a character it does not know as its UTF-8 bytes, one
  token each, and a known piece covers at least one character: tokens ≤ bytes, plus the "▁" it
  puts before the text;
- tokenizers normalise first, and normal forms can grow a text: NFKC turns "ﷺ" (3 bytes) into
  18 letters (33 bytes), NFD turns "ΐ" (2 bytes) into 6. So the bytes are counted in whichever
  of the four normal forms is longest;
- a few special tokens (start, end) may be added around the prompt: a margin covers them.

Characters undercount badly (a CJK character is 3 bytes, an emoji 4, and may be as many tokens);
this bound never lets an over-long prompt reach a paid request. In practice it allows about
10,000 letters of English, 3,300 Chinese characters or 2,500 emoji.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Literal

from bot import limits

SPECIAL_TOKENS = 16
_FORMS: tuple[Literal["NFC", "NFD", "NFKC", "NFKD"], ...] = ("NFC", "NFD", "NFKC", "NFKD")


def token_bound(prompt: str) -> int:
    """At most how many tokens `prompt` can be, for any tokenizer of the kinds above."""
    longest = max(len(unicodedata.normalize(form, prompt).encode("utf-8")) for form in _FORMS)
    return longest + SPECIAL_TOKENS


def percent_over(prompt: str) -> int | None:
    """By how many percent (at least 1) the prompt may be over the limit; None if it fits."""
    bound = token_bound(prompt)
    if bound <= limits.PROMPT_MAX_TOKENS:
        return None
    return max(1, math.ceil((bound - limits.PROMPT_MAX_TOKENS) * 100 / limits.PROMPT_MAX_TOKENS))
