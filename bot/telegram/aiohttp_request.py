"""python-telegram-bot's Bot API requests sent through aiohttp: for a small request about a
quarter of the CPU httpx takes (its HTTP parser is in C), and the bot sends one or more for
every update it answers and every video it delivers."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.runtime.http_session import LazySession, form_data

CONNECT_TIMEOUT = 5.0  # python-telegram-bot's own default


class AiohttpRequest(BaseRequest):
    """One kept-alive connection to the Bot API (`limit` more if given), with
    python-telegram-bot's timeouts and errors (TimedOut, NetworkError) as HTTPXRequest has them.

    aiohttp has no timeout for sending a body: an upload may take `media_write_timeout` seconds
    and the answer `read_timeout` more, in all."""

    def __init__(
        self,
        *,
        read_timeout: float | None,
        media_write_timeout: float,
        tls: ssl.SSLContext | bool = True,
        limit: int = 1,
        proxy: str | None = None,
    ) -> None:
        self._read_timeout = read_timeout
        self._media_write_timeout = media_write_timeout
        self._session = LazySession(tls=tls, limit=limit, proxy=proxy)

    @property
    def read_timeout(self) -> float | None:
        """Seconds to wait for Telegram's answer."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (in the running event loop)."""
        self._session.get()

    async def shutdown(self) -> None:
        """Close the session and its connection."""
        await self._session.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See BaseRequest.do_request."""
        if not self._session.opened:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = CONNECT_TIMEOUT if isinstance(connect_timeout, DefaultValue) else connect_timeout
        total = None
        body: Any = fields or None
        if files:
            body = form_data(fields or {}, files)
            write = (
                self._media_write_timeout
                if isinstance(write_timeout, DefaultValue)
                else write_timeout
            )
            total = None if write is None or read is None else write + read
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        try:
            async with self._session.get().request(
                method,
                url,
                data=body,
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise TimedOut from None
        except aiohttp.ClientError as exc:
            # Only a failed connection's text is kept (it names the host): others may quote the
            # URL, and with it the bot token.
            detail = f": {exc}" if isinstance(exc, aiohttp.ClientConnectorError) else ""
            raise NetworkError(f"aiohttp.{type(exc).__name__}{detail}") from None
