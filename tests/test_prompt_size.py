"""The prompt guard holds for every script: what may be over 10,000 tokens never goes out."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.drafts.prompt_size import SPECIAL_TOKENS, percent_over, token_bound
from bot.limits import PROMPT_MAX_TOKENS

ROOM = PROMPT_MAX_TOKENS - SPECIAL_TOKENS


@given(st.text(max_size=3000))
def test_the_bound_is_at_least_the_bytes_of_every_normal_form(text: str) -> None:
    bound = token_bound(text)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert bound >= len(unicodedata.normalize(form, text).encode()) + SPECIAL_TOKENS
    assert bound >= len(text)  # never below the old character count


def test_english_keeps_about_ten_thousand_letters() -> None:
    assert percent_over("a" * ROOM) is None
    assert percent_over("a" * (ROOM + 1)) == 1


def test_cjk_and_emoji_count_by_their_bytes() -> None:
    assert percent_over("视" * (ROOM // 3)) is None  # 3,328 characters
    assert percent_over("视" * (ROOM // 3 + 1)) == 1
    assert percent_over("🦊" * (ROOM // 4)) is None  # 2,496 emoji
    assert percent_over("视" * 4000) == 21


def test_characters_that_normalise_longer_are_counted_as_they_grow() -> None:
    # U+FDFA is one character and 3 bytes, and NFKC (SentencePiece's default) makes it 33.
    ligatures = "\ufdfa" * 310
    assert len(ligatures) < 400 and len(ligatures.encode()) < 1000
    assert percent_over(ligatures) is not None
