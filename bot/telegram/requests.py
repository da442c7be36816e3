"""How the bot's HTTP requests to Telegram go out: a few at once, in lanes of one connection
each (see bot.runtime.lanes), in order (Telegram takes 30 messages a second at most)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram.request import BaseRequest, HTTPXRequest

from bot.runtime.lanes import Lanes
from bot.telegram.aiohttp_request import AiohttpRequest

# Requests on the wire at once. A video in flight holds one for seconds (see bot.tasks.delivery).
IN_FLIGHT = 8
# Seconds to wait for Telegram's answer, and to send an upload (a video up to 50 MB).
READ_TIMEOUT = 30.0
MEDIA_WRITE_TIMEOUT = 300.0


class BoundedRequest(BaseRequest):
    """Telegram's Bot API requests, at most `in_flight` at once; the others wait in order."""

    def __init__(self, *, in_flight: int = IN_FLIGHT, proxy: str | None = None) -> None:
        tls = httpx.create_ssl_context()  # loaded once, not once per lane
        self._lanes = Lanes(
            [
                AiohttpRequest(
                    read_timeout=READ_TIMEOUT,
                    media_write_timeout=MEDIA_WRITE_TIMEOUT,
                    tls=tls,
                    proxy=proxy,
                )
                for _ in range(in_flight)
            ]
        )

    @property
    def read_timeout(self) -> float | None:
        """Seconds to wait for Telegram's answer."""
        return self._lanes.all[0].read_timeout

    async def initialize(self) -> None:
        """Open every lane's client."""
        await asyncio.gather(*(lane.initialize() for lane in self._lanes.all))

    async def shutdown(self) -> None:
        """Close every lane's client."""
        await asyncio.gather(*(lane.shutdown() for lane in self._lanes.all))

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Wait for a free lane, then send."""
        async with self._lanes.take() as lane:
            return await lane.do_request(*args, **kwargs)


class GatedGetUpdates(HTTPXRequest):
    """The request that long-polls getUpdates, sent only once `gate` returns: for the bot, once
    the inbox holds every update the previous poll returned (asking for later ones is what
    tells Telegram to forget those)."""

    def __init__(
        self,
        gate: Callable[[], Awaitable[None]],
        on_answer: Callable[[bytes], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(connection_pool_size=1, **kwargs)
        self._gate = gate
        self._on_answer = on_answer

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        """Wait for the gate, then send; a getUpdates answer is shown to `on_answer`."""
        polls = url.endswith("/getUpdates")
        if polls:
            await self._gate()
        status, body = await super().do_request(url, method, *args, **kwargs)
        if polls and status == 200 and self._on_answer is not None:
            self._on_answer(body)
        return status, body
