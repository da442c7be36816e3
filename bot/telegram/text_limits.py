"""Texts within Telegram's limits by construction: whatever goes out is cut to fit, visibly.

Telegram counts a message's length in UTF-16 code units (an emoji outside the Basic
Multilingual Plane counts two) and refuses a text over 4,096 or a caption over 1,024: a refused
send would lose the whole message, its buttons included. Cutting keeps whole lines where it
can and says what is missing ("…and 3 more lines"), so nothing disappears silently.
"""

from __future__ import annotations

import html
import re

from bot.telegram.texts import t

TEXT_MAX = 4096  # sendMessage, editMessageText
CAPTION_MAX = 1024  # sendVideo & co., editMessageCaption
CALLBACK_ANSWER_MAX = 200  # answerCallbackQuery

_TAG = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    """The length as Telegram counts it: UTF-16 code units (encoded in C, not counted in a loop:
    this runs for every message sent)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit_text(text: str, lang: str | None = None) -> str:
    """A message text that Telegram accepts."""
    return fit_lines([], text.split("\n"), [], TEXT_MAX, lang)


def fit_caption(text: str, lang: str | None = None) -> str:
    """A caption that Telegram accepts."""
    return fit_lines([], text.split("\n"), [], CAPTION_MAX, lang)


def fit_html(text: str, lang: str | None = None) -> tuple[str, bool]:
    """(text, still HTML): an HTML text that fits is kept; one that does not is sent as plain
    text, since cutting it could split a tag and get the whole message refused."""
    if utf16_len(text) <= TEXT_MAX:
        return text, True
    return fit_text(html.unescape(_TAG.sub("", text)), lang), False


def fit_lines(
    head: list[str],
    middle: list[str],
    tail: list[str],
    limit: int,
    lang: str | None = None,
    *,
    more_key: str = "more_lines",
) -> str:
    """`head`, as many `middle` lines as fit, then `tail`, joined by newlines, at most `limit`.

    What is left out of the middle is named by `more_key` ("…and {count} more lines"). Head and
    tail are kept whole unless they alone are too long; then the text is cut, marked likewise.
    """
    whole = "\n".join([*head, *middle, *tail])
    if utf16_len(whole) <= limit:
        return whole
    language = lang or "en"
    # Lengths of the kept parts: head and tail with their newlines, then each middle line.
    fixed = sum(utf16_len(line) + 1 for line in (*head, *tail))
    kept_units = [0]
    for line in middle:
        kept_units.append(kept_units[-1] + utf16_len(line) + 1)
    # Without a head or tail, a note alone would say nothing: cut inside the first line instead.
    fewest = 0 if head or tail else 1
    for keep in range(len(middle) - 1, fewest - 1, -1):
        note = t(language, more_key, count=len(middle) - keep)
        if fixed + kept_units[keep] + utf16_len(note) <= limit:
            return "\n".join([*head, *middle[:keep], note, *tail])
    return cut(whole, limit, language)


def cut(text: str, limit: int, lang: str = "en") -> str:
    """`text` cut after as many characters as fit, with "…(N more characters)" at the end."""
    if utf16_len(text) <= limit:
        return text
    # The note's length depends on the count, which depends on the note: start from the longest.
    note = t(lang, "more_chars", count=len(text))
    budget = max(0, limit - utf16_len(note))
    kept = _prefix(text, budget)
    return kept + t(lang, "more_chars", count=len(text) - len(kept))


def _prefix(text: str, units: int) -> str:
    """The longest prefix of `text` of at most `units` UTF-16 code units (pairs never split)."""
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return text[:index]
    return text
