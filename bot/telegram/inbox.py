"""Every update is in the inbox before Telegram can consider it delivered, and is handled once,
by the replica that received it, after the same person's earlier updates.

Long polling confirms a batch of updates with the next getUpdates, and a webhook's 200 confirms
its update. So the updates are written to the inbox table in batches (one transaction for a
whole getUpdates batch, or for the webhook requests that came meanwhile, and for the handled
ones to mark); the next getUpdates waits until the batch is written
(`bot.telegram.requests.GatedGetUpdates`), and a webhook answers once its update is. From then on
a crash cannot lose an update: the next start, or a live replica, takes it over
(`bot.runtime.replicas`).

With one process an update is queued at once and handled while its batch is written (one handled
before it was written is never written). With several replicas an update is queued once its batch
is written: a copy of one that is in the inbox already (Telegram sending it again, perhaps to
another replica) is dropped, and one that came behind an earlier update of the same person held by
another replica waits for it (`PersonTurns`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update

from bot.telegram.update_order import Key, PerChatUpdateProcessor, update_key
from storage.inbox import InboxStore, Recorded

log = logging.getLogger(__name__)

# How long an update waits between looks at a person's earlier updates held by another replica.
FIRST_WAIT_SECONDS = 0.02
LONGEST_WAIT_SECONDS = 0.5


class DurableUpdateQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, writing each Telegram update to the inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: InboxStore | None = None  # set once the database exists
        self.shared = False  # several replicas share the inbox: queue an update once written
        # Updates that may have to wait for an earlier one of the same person held by another
        # replica, or left by a stopped one: their turn looks at the inbox (see PersonTurns).
        self.behind: set[int] = set()
        self._to_keep: dict[int, tuple[str, Key | None]] = {}  # put, not yet written
        self._to_forget: list[int] = []  # handled, their rows to be marked so
        # Resolved once `_to_keep` is written (None when that failed).
        self._kept: asyncio.Future[Recorded | None] | None = None
        self._writing: asyncio.Future[Recorded | None] | None = None  # the batch being written
        self._writer: asyncio.Task[None] | None = None
        # The last getUpdates batch as Telegram sent it, by update id: storing that text is much
        # cheaper than serialising python-telegram-bot's objects again (Update.to_dict).
        self._as_sent: dict[int, str] = {}

    def received(self, body: bytes) -> None:
        """A getUpdates answer arrived; its updates are put next, each kept as it was sent."""
        try:
            updates = json.loads(body).get("result")
        except (ValueError, AttributeError, RecursionError):
            updates = None
        self._as_sent = {
            update["update_id"]: json.dumps(update)
            for update in (updates if isinstance(updates, list) else [])
            if isinstance(update, dict) and isinstance(update.get("update_id"), int)
        }

    async def put(self, item: object) -> None:
        """Queue the update; it is written with the next batch (see `durable`). With several
        replicas it is queued once written, and only if it is not a copy."""
        if self.inbox is not None and isinstance(item, Update):
            as_sent = self._as_sent.pop(item.update_id, None) or json.dumps(item.to_dict())
            self._to_keep[item.update_id] = (as_sent, update_key(item))
            if self._kept is None:
                self._kept = asyncio.get_running_loop().create_future()
            batch = self._kept
            self._write_soon()
            if self.shared:
                await asyncio.wait({batch})  # a cancelled put does not cancel the batch
                recorded = batch.result()
                if recorded is not None:  # None: not written; the bot goes on serving
                    if item.update_id not in recorded.new:
                        log.info(
                            "update %s is a copy of one received before; not handled again",
                            item.update_id,
                        )
                        return
                    if item.update_id in recorded.behind:
                        self.behind.add(item.update_id)
        self.put_nowait(item)

    async def put_durably(self, item: Update, as_sent: dict[str, Any] | None = None) -> None:
        """Queue the update and return once it is written (a webhook answers 200 after this);
        `as_sent` is the update as Telegram sent it, when known."""
        if as_sent is not None:
            self._as_sent[item.update_id] = json.dumps(as_sent)
        await self.put(item)
        await self.durable()

    async def durable(self) -> None:
        """Wait until every update put so far is in the inbox (or was handled meanwhile)."""
        waits = [f for f in (self._writing, self._kept) if f is not None]
        if waits:
            await asyncio.wait(waits)

    async def handled(self, update_id: int) -> None:
        """The update was handled: its row is marked so (it is not written at all if it was
        not yet)."""
        if self._to_keep.pop(update_id, None) is None:
            self._to_forget.append(update_id)
            self._write_soon()

    def requeue(self, update: Update) -> None:
        """Queue an update that is in the inbox already (taken over from a stopped replica)."""
        self.behind.add(update.update_id)
        self.put_nowait(update)

    def _write_soon(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="inbox-writer")

    async def _write(self) -> None:
        assert self.inbox is not None
        while self._to_keep or self._to_forget or self._kept is not None:
            keep, forget, done = self._to_keep, self._to_forget, self._kept
            self._to_keep, self._to_forget, self._kept = {}, [], None
            self._writing = done
            recorded: Recorded | None = None
            try:
                recorded = await self.inbox.record(
                    keep=[(update_id, body, key) for update_id, (body, key) in keep.items()],
                    forget=forget,
                    look_behind=self.shared,
                )
            except Exception:
                # The bot goes on serving; these updates are only in memory now.
                log.exception("the inbox could not be written (%s updates)", len(keep))
            finally:
                self._writing = None
                if done is not None:
                    done.set_result(recorded)


class PersonTurns:
    """An update's turn, across replicas: once the person's earlier updates held by live
    replicas are handled; those a stopped replica left are taken over and handled here first.

    Only updates that arrived behind another replica's update of the same person (or were taken
    over) look at the inbox; the others (every update, with one process) go at once.
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
                if self._processor.handled_here(other.update_id):
                    continue  # handled here (its mark may still be on its way to the inbox)
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
