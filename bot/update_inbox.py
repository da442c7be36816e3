"""Every update is written to the inbox before Telegram can consider it delivered, and handled
once, by the replica that received it, after the same person's earlier updates.

Long polling confirms a batch with the next getUpdates, and a webhook's 200 confirms its update;
python-telegram-bot calls `update_queue.put` for each update before either happens. So this
queue writes the update first: from then on a crash cannot lose it (see `PersonTurns` and
`bot.replicas`: a live replica takes over what a stopped one left). A copy of an update that is
in the inbox already (Telegram sending it again, perhaps to another replica) is not queued.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from telegram import Update

from bot.update_order import Key, PerChatUpdateProcessor, update_key
from storage.inbox import InboxStore

log = logging.getLogger(__name__)

# How long an update waits between looks at a person's earlier updates held by another replica.
FIRST_WAIT_SECONDS = 0.02
LONGEST_WAIT_SECONDS = 0.5


class DurableUpdateQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, persisting each Telegram update as it is put."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: InboxStore | None = None  # set once the database exists
        # Updates that arrived while an earlier one of the same person was held by another
        # replica: their turn waits for it (see PersonTurns).
        self.behind: set[int] = set()

    async def put(self, item: object) -> None:
        """Write the update to the inbox, then queue it (the queue is unbounded: no wait)."""
        if self.inbox is not None and isinstance(item, Update):
            arrival = await self.inbox.put(
                item.update_id, json.dumps(item.to_dict()), update_key(item)
            )
            if not arrival.new:
                log.info(
                    "update %s is a copy of one received before; not handled again", item.update_id
                )
                return
            if arrival.behind:
                self.behind.add(item.update_id)
        self.put_nowait(item)

    def requeue(self, update: Update) -> None:
        """Queue an update that is in the inbox already (taken over from a stopped replica)."""
        self.behind.add(update.update_id)
        self.put_nowait(update)


class PersonTurns:
    """An update's turn, across replicas: once the person's earlier updates held by live
    replicas are handled; those a stopped replica left are taken over and handled here first.

    Only updates that arrived behind another replica's update of the same person look at the
    inbox; the others (every update, with one process) go at once.
    """

    def __init__(
        self,
        *,
        queue: DurableUpdateQueue,
        inbox: InboxStore,
        processor: PerChatUpdateProcessor,
        alive_since: Callable[[], float],
    ) -> None:
        self._queue = queue
        self._inbox = inbox
        self._processor = processor
        self._alive_since = alive_since

    async def __call__(self, update_id: int, key: Key) -> None:
        """Return once `update_id` may be handled."""
        if update_id not in self._queue.behind:
            return
        self._queue.behind.discard(update_id)
        wait = FIRST_WAIT_SECONDS
        while True:
            earlier = await self._inbox.earlier(key, update_id, alive_since=self._alive_since())
            blocked = False
            for other in earlier:
                if other.alive and other.owner != self._inbox.me:
                    blocked = True  # its replica handles it; then this one's turn comes
                    break
                # Left by a stopped replica (or taken over here, queued behind this one).
                body = await self._inbox.take(other.update_id, from_owner=other.owner)
                if body is None:
                    blocked = True  # someone else took it just now: look again
                    break
                log.info("update %s taken over from a stopped replica", other.update_id)
                await self._processor.handle_out_of_line(other.update_id, body)
            if not blocked:
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_SECONDS)
