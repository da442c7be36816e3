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


class _Recent:
    """A set of the latest update ids (bounded: the oldest are forgotten)."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self._ids: set[int] = set()
        self._order: deque[int] = deque()
        self._limit = limit

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._ids

    def add(self, update_id: int) -> bool:
        """Add it; False when it was there already."""
        if update_id in self._ids:
            return False
        self._ids.add(update_id)
        self._order.append(update_id)
        if len(self._order) > self._limit:
            self._ids.discard(self._order.popleft())
        return True


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across (chat, user) pairs, sequential within one.

    A slow call for one user (a credits query, a file download) must not hold up anyone else,
    while one user's album, caption and /generate must still be handled in the order sent.
    With several replicas, `turn` waits (at an update's turn here) for the person's earlier
    updates that another replica holds, and hands over those a stopped replica left, which
    `handle_out_of_line` then handles here first.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(_UNBOUNDED)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        # Per person, the end of the line: the last update that took a place in it.
        self._tails: dict[Key, asyncio.Future[None]] = {}
        # Called with an update's id once it was handled (the inbox marks it then), before the
        # person's next update may start.
        self.on_handled: Callable[[int], Awaitable[None]] | None = None
        # Waits until no earlier update of the person is unhandled elsewhere (several replicas).
        self.turn: Callable[[int, Key], Awaitable[None]] | None = None
        # Handles an update given as its JSON body (for those handled out of line).
        self.handle_body: Callable[[str], Awaitable[None]] | None = None
        # Update ids seen by this process: after a crash an update may come back twice, once
        # replayed from the inbox and once re-sent by Telegram.
        self._seen = _Recent()
        # Update ids handled out of line (taken over from a stopped replica by a later update
        # of the same person): their copy in the queue, if any, is dropped at its turn.
        self._taken = _Recent()
        # Update ids handled by this process (their mark in the inbox may not be written yet).
        self._handled = _Recent()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for this person's earlier updates and a free slot; handle; mark it handled."""
        update_id = update.update_id if isinstance(update, Update) else None
        if update_id is not None and not self._seen.add(update_id):
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
            if update_id is not None and key is not None and self.turn is not None:
                await self.turn(update_id, key)
            if update_id is not None and update_id in self._taken:
                return  # handled out of line meanwhile
            handled = True
            await self._handle(update_id, coroutine)
        finally:
            if not handled:
                _discard(coroutine)  # cancelled while waiting: replayed after a restart
            mine.set_result(None)
            if key is not None and self._tails.get(key) is mine:
                del self._tails[key]

    async def handle_out_of_line(self, update_id: int, body: str) -> None:
        """Handle an update (its JSON) now, within the turn of a later update of the person."""
        assert self.handle_body is not None
        self._seen.add(update_id)
        self._taken.add(update_id)
        await self._handle(update_id, self.handle_body(body))

    async def _handle(self, update_id: int | None, coroutine: Awaitable[Any]) -> None:
        """Run the handler in a slot, then mark the update handled (a handler's error too: it
        would fail again; a cancellation not: the update is taken up again after a restart)."""
        failure: Exception | None = None
        async with self._slots:
            try:
                await coroutine
            except Exception as exc:
                failure = exc
        if update_id is not None:
            self._handled.add(update_id)
            if self.on_handled is not None:
                await self.on_handled(update_id)
        if failure is not None:
            raise failure

    def handled_here(self, update_id: int) -> bool:
        """Whether this process handled the update (recently)."""
        return update_id in self._handled

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _discard(coroutine: Awaitable[Any]) -> None:
    if inspect.iscoroutine(coroutine):
        coroutine.close()  # never awaited: close it, or Python warns


def update_key(update: object) -> Key | None:
    """The person an update comes from: (chat, user); None for updates without a chat."""
    if not isinstance(update, Update) or update.effective_chat is None:
        return None
    user = update.effective_user
    return (update.effective_chat.id, user.id if user else 0)


_key = update_key
