"""Task queries spread over a few one-connection lanes (see bot.runtime.lanes), each an
EvolinkClient through its own `AiohttpHttp` connection: a thousand tasks in flight mean dozens of
queries a second."""

from __future__ import annotations

from typing import Protocol

from bot.evolink.client import EvolinkClient
from bot.evolink.models import VideoTask
from bot.runtime.lanes import Lanes


class TaskReader(Protocol):
    """Whatever answers the task query (an EvolinkClient, or lanes of them)."""

    async def get_task(self, task_id: str) -> VideoTask:
        """The task as the upstream sees it now."""
        ...


class QueryLanes:
    """`get_task` on the first free lane; callers wait while every lane is busy."""

    def __init__(self, lanes: list[EvolinkClient]) -> None:
        self._lanes = Lanes(lanes)

    async def get_task(self, task_id: str) -> VideoTask:
        """The task as the upstream sees it now (see EvolinkClient.get_task)."""
        async with self._lanes.take() as lane:
            return await lane.get_task(task_id)
