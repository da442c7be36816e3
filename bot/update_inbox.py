"""Every update is in the inbox before Telegram can consider it delivered.

Long polling confirms a batch of updates with the next getUpdates, and a webhook's 200 confirms
its update. So the updates are written to the inbox table in batches (one transaction for a
whole getUpdates batch, and for the handled ones to forget); the next getUpdates waits until the
batch is written (`bot.telegram_requests.GatedGetUpdates`), and a webhook answers once its
update is. From then on a crash cannot lose an update: the next start replays it
(`bot.app.post_init`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from telegram import Update

from storage.inbox import InboxStore

log = logging.getLogger(__name__)


class DurableUpdateQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, writing each Telegram update to the inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: InboxStore | None = None  # set once the database exists
        self._to_keep: dict[int, str] = {}  # put, not yet written
        self._to_forget: list[int] = []  # handled, their rows to be deleted
        self._kept: asyncio.Future[None] | None = None  # resolved once `_to_keep` is written
        self._writing: asyncio.Future[None] | None = None  # the batch being written now
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
        """Queue the update at once; it is written with the next batch (see `durable`)."""
        if self.inbox is not None and isinstance(item, Update):
            as_sent = self._as_sent.pop(item.update_id, None)
            self._to_keep[item.update_id] = as_sent or json.dumps(item.to_dict())
            if self._kept is None:
                self._kept = asyncio.get_running_loop().create_future()
            self._write_soon()
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
        """The update was handled: its row goes (it is not written at all if it was not yet)."""
        if self._to_keep.pop(update_id, None) is None:
            self._to_forget.append(update_id)
            self._write_soon()

    def _write_soon(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="inbox-writer")

    async def _write(self) -> None:
        assert self.inbox is not None
        while self._to_keep or self._to_forget or self._kept is not None:
            keep, forget, done = self._to_keep, self._to_forget, self._kept
            self._to_keep, self._to_forget, self._kept = {}, [], None
            self._writing = done
            try:
                await self.inbox.record(keep=list(keep.items()), forget=forget)
            except Exception:
                # The bot goes on serving; these updates are only in memory now.
                log.exception("the inbox could not be written (%s updates)", len(keep))
            finally:
                self._writing = None
                if done is not None:
                    done.set_result(None)
