"""A budget of progress edits per group chat, so replies and deliveries always go first.

Telegram lets a bot send about 20 messages a minute into one group, edits included, and
python-telegram-bot's rate limiter queues whatever is over in arrival order. Every running task
edits its progress message now and then; a few tasks in one group could take most of the 20 and
hold up the answers people are waiting for. Progress edits in a group therefore draw on a token
bucket of that chat (a few a minute, shared by all its tasks); when it is empty the edit is
skipped, and the next poll shows the newer figure if the budget allows by then. Private chats
have one reader and a per-chat limit of their own: no budget there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Of a group's 20 messages a minute, progress gets at most this many; the rest is for replies,
# summaries and the videos themselves.
PROGRESS_EDITS_PER_MINUTE = 4.0
BURST = 2.0
_PRUNE_EVERY = 256


class EditBudget:
    """Token buckets per group chat, refilled continuously; full buckets are forgotten."""

    def __init__(
        self,
        *,
        per_minute: float = PROGRESS_EDITS_PER_MINUTE,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = min(BURST, per_minute) if burst is None else burst
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, when counted)
        self._calls = 0

    def allow(self, chat_id: int) -> bool:
        """Whether a progress edit may go to this chat now (and count it if so)."""
        if chat_id > 0:
            return True  # a private chat
        now = self._clock()
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune(now)
        tokens = self._tokens(chat_id, now)
        if tokens < 1.0:
            self._buckets[chat_id] = (tokens, now)
            return False
        self._buckets[chat_id] = (tokens - 1.0, now)
        return True

    def _tokens(self, chat_id: int, now: float) -> float:
        tokens, then = self._buckets.get(chat_id, (self._burst, now))
        return min(self._burst, tokens + (now - then) * self._rate)

    def _prune(self, now: float) -> None:
        # A full bucket is the same as none: drop it, so memory follows the busy groups only.
        self._buckets = {
            chat: entry
            for chat, entry in self._buckets.items()
            if self._tokens(chat, now) < self._burst
        }

    def __len__(self) -> int:
        return len(self._buckets)
