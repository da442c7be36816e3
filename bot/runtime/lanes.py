"""A few one-connection HTTP clients ("lanes"), each carrying one request at a time.

httpcore's connection pool looks at every connection it holds, and every request waiting for
one, each time a request starts or ends: one pool of eight connections costs more CPU per
request than eight pools of one, and more the more requests wait. So busy paths (Telegram's
Bot API requests, task queries) use lanes: callers wait their turn in order, and the most
recently freed lane goes first, so a quiet bot keeps a single connection warm.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Lanes(Generic[T]):
    """Hands out a free lane per caller; callers wait while every lane is busy."""

    def __init__(self, lanes: Sequence[T]) -> None:
        if not lanes:
            raise ValueError("at least one lane")
        self.all = tuple(lanes)
        self._free = list(lanes)
        self._turns = asyncio.Semaphore(len(lanes))

    @contextlib.asynccontextmanager
    async def take(self) -> AsyncIterator[T]:
        """A lane for one request, back in the pool when the request is over."""
        async with self._turns:
            lane = self._free.pop()
            try:
                yield lane
            finally:
                self._free.append(lane)
