"""How the bot's HTTP requests to Telegram go out.

httpcore's connection pool looks at every open connection, and every request waiting for one,
each time a request starts or ends: with many connections or many waiting requests that costs
more CPU than the bot's own work per update. So requests to Telegram wait their turn here, in
order, and only a few are on the wire at once (Telegram takes 30 messages a second at most).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.request import HTTPXRequest

# Requests on the wire at once. A video in flight holds one for seconds (see bot.delivery).
IN_FLIGHT = 8
# Seconds to wait for Telegram's answer, and to send an upload (a video up to 50 MB).
READ_TIMEOUT = 30.0
MEDIA_WRITE_TIMEOUT = 300.0


class BoundedRequest(HTTPXRequest):
    """Telegram's Bot API requests, at most `in_flight` at once; the others wait in order."""

    def __init__(self, *, in_flight: int = IN_FLIGHT) -> None:
        super().__init__(
            connection_pool_size=in_flight,
            read_timeout=READ_TIMEOUT,
            media_write_timeout=MEDIA_WRITE_TIMEOUT,
        )
        self._turns = asyncio.Semaphore(in_flight)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Wait for a turn, then send."""
        async with self._turns:
            return await super().do_request(*args, **kwargs)


class GatedGetUpdates(HTTPXRequest):
    """The request that long-polls getUpdates, sent only once `gate` returns: for the bot, once
    the inbox holds every update the previous poll returned (asking for later ones is what
    tells Telegram to forget those)."""

    def __init__(self, gate: Callable[[], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(connection_pool_size=1, **kwargs)
        self._gate = gate

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        """Wait for the gate, then send."""
        if url.endswith("/getUpdates"):
            await self._gate()
        return await super().do_request(url, method, *args, **kwargs)
