"""Task queries spread over a few one-connection HTTP clients.

httpx's connection pool looks over every connection it holds on each request (and asks each idle
one whether its socket is readable), so one pool of eight connections costs more CPU per request
than eight pools of one. A thousand tasks in flight mean dozens of queries a second: they go
through lanes, each a client of its own with a single kept-alive connection, one query at a time.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from bot.evolink.client import EvolinkClient
from bot.evolink.models import VideoTask


class TaskReader(Protocol):
    """Whatever answers the task query (an EvolinkClient, or lanes of them)."""

    async def get_task(self, task_id: str) -> VideoTask:
        """The task as the upstream sees it now."""
        ...


class QueryLanes:
    """`get_task` on the first free lane; callers wait while every lane is busy."""

    def __init__(self, lanes: list[EvolinkClient]) -> None:
        if not lanes:
            raise ValueError("at least one lane")
        self._free: asyncio.Queue[EvolinkClient] = asyncio.Queue()
        for lane in lanes:
            self._free.put_nowait(lane)

    async def get_task(self, task_id: str) -> VideoTask:
        """The task as the upstream sees it now (see EvolinkClient.get_task)."""
        lane = await self._free.get()
        try:
            return await lane.get_task(task_id)
        finally:
            self._free.put_nowait(lane)
