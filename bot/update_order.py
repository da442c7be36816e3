"""Updates from different people run side by side; one person's updates stay in order, and one
person's backlog never delays anyone else."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Key = tuple[int, int]
SEEN_LIMIT = 10_000
# python-telegram-bot takes its own semaphore before `do_process_update`, that is before an
# update waits for its person's earlier ones: a backlog of one person would hold every slot.
# Its semaphore is made unbounded; ours is taken once an update's turn has come.
_UNBOUNDED = 2**30


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across (chat, user) pairs, sequential within one.

    A slow call for one user (a credits query, a file download) must not hold up anyone else,
    while one user's album, caption and /generate must still be handled in the order sent.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(_UNBOUNDED)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        # Per person, the end of the line: the last update that took a place in it.
        self._tails: dict[Key, asyncio.Future[None]] = {}
        # Called with an update's id once it was handled (the inbox forgets it then).
        self.on_handled: Callable[[int], Awaitable[None]] | None = None
        # Update ids seen by this process: after a crash an update may come back twice, once
        # replayed from the inbox and once re-sent by Telegram.
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this person's earlier updates and a free slot; handle; mark it handled."""
        update_id = update.update_id if isinstance(update, Update) else None
        if update_id is not None and self._already_seen(update_id):
            _discard(coroutine)
            return
        key = _key(update)
        # The place in line is taken before anything is awaited, so places follow arrival.
        previous = self._tails.get(key) if key is not None else None
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if key is not None:
            self._tails[key] = mine
        handled = False
        try:
            if previous is not None:
                await asyncio.wait({previous})  # never cancels the previous update's future
            async with self._slots:
                handled = True
                await coroutine
        finally:
            if not handled:
                _discard(coroutine)  # cancelled while waiting: replayed after a restart
            mine.set_result(None)
            if key is not None and self._tails.get(key) is mine:
                del self._tails[key]
        if update_id is not None and self.on_handled is not None:
            await self.on_handled(update_id)

    def _already_seen(self, update_id: int) -> bool:
        if update_id in self._seen:
            return True
        self._seen.add(update_id)
        self._seen_order.append(update_id)
        if len(self._seen_order) > SEEN_LIMIT:
            self._seen.discard(self._seen_order.popleft())
        return False

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _discard(coroutine: Awaitable[Any]) -> None:
    if inspect.iscoroutine(coroutine):
        coroutine.close()  # never awaited: close it, or Python warns


def _key(update: object) -> Key | None:
    if not isinstance(update, Update) or update.effective_chat is None:
        return None
    user = update.effective_user
    return (update.effective_chat.id, user.id if user else 0)
