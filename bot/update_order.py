"""Updates from different people run side by side; one person's updates stay in order; an update
is kept in the database from its arrival until it has been handled, so a crash loses none."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import deque
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from storage.inbox import InboxStore

Key = tuple[int, int]
SEEN_LIMIT = 10_000


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across (chat, user) pairs, sequential within one.

    A slow call for one user (a credits query, a file download) must not hold up anyone else,
    while one user's album, caption and /generate must still be handled in the order sent.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[Key, asyncio.Lock] = {}
        self._users: dict[Key, int] = {}
        self.inbox: InboxStore | None = None  # set once the database exists
        # Update ids seen by this process: after a crash an update may come back twice, once
        # replayed from the inbox and once re-sent by Telegram.
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        # Inbox writes finish in arrival order, so each update queues for its person's lock in
        # that order (on PostgreSQL, writes on several pooled connections could overtake).
        self._arrivals = asyncio.Lock()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Keep the update until handled; wait for this person's earlier updates; handle it."""
        if self.inbox is None or not isinstance(update, Update):
            await self._in_order(update, coroutine)
            return
        if self._already_seen(update.update_id):
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never awaited: close it, or Python warns
            return
        # Telegram considers an update delivered as soon as the next poll asks for later ones;
        # from here until it is handled, only this row remembers it.
        async with self._arrivals:
            await self.inbox.put(update.update_id, json.dumps(update.to_dict()))
        try:
            await self._in_order(update, coroutine)
        finally:
            await self.inbox.done(update.update_id)

    def _already_seen(self, update_id: int) -> bool:
        if update_id in self._seen:
            return True
        self._seen.add(update_id)
        self._seen_order.append(update_id)
        if len(self._seen_order) > SEEN_LIMIT:
            self._seen.discard(self._seen_order.popleft())
        return False

    async def _in_order(self, update: object, coroutine: Awaitable[Any]) -> None:
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
