"""Every update is written to the inbox before Telegram can consider it delivered.

Long polling confirms a batch with the next getUpdates, and a webhook's 200 confirms its update;
python-telegram-bot calls `update_queue.put` for each update before either happens. So this
queue writes the update first: from then on a crash cannot lose it, and the next start replays
it (see `PerChatUpdateProcessor`, which marks it handled).
"""

from __future__ import annotations

import asyncio
import json

from telegram import Update

from storage.inbox import InboxStore


class DurableUpdateQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue, persisting each Telegram update as it is put."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: InboxStore | None = None  # set once the database exists

    async def put(self, item: object) -> None:
        """Write the update to the inbox, then queue it (the queue is unbounded: no wait)."""
        if self.inbox is not None and isinstance(item, Update):
            await self.inbox.put(item.update_id, json.dumps(item.to_dict()))
        self.put_nowait(item)
