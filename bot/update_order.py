"""Updates from different people run side by side; one person's updates stay in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Key = tuple[int, int]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across (chat, user) pairs, sequential within one.

    A slow call for one user (a credits query, a file download) must not hold up anyone else,
    while one user's album, caption and /generate must still be handled in the order sent.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[Key, asyncio.Lock] = {}
        self._users: dict[Key, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this person's earlier updates, then handle this one."""
        key = _key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # nobody waiting: forget the lock
                del self._users[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _key(update: object) -> Key | None:
    if not isinstance(update, Update) or update.effective_chat is None:
        return None
    user = update.effective_user
    return (update.effective_chat.id, user.id if user else 0)
