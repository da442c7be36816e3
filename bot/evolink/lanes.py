"""Task queries spread over a few one-connection lanes (see bot.runtime.lanes), each sent through
aiohttp: a thousand tasks in flight mean dozens of queries a second, and for a small GET aiohttp
(its HTTP parser in C) costs about a quarter of the CPU of httpx's own exchange (httpcore, h11,
anyio). The answer is handed on as an httpx.Response, and a failure as the httpx error it would
have been, so EvolinkClient's error mapping and retries are the same code for every request."""

from __future__ import annotations

import ssl
from typing import Any, Protocol

import aiohttp
import httpx

from bot.evolink.client import EvolinkClient
from bot.evolink.models import VideoTask
from bot.runtime.http_session import LazySession, environment_proxy
from bot.runtime.lanes import Lanes

# What httpx.AsyncClient asks for: only the encodings httpx decodes (it decodes them here too).
_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}


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


class AiohttpLane:
    """Bodiless requests over one kept-alive aiohttp connection, each answer read whole and
    returned as an httpx.Response (no redirects followed, no cookies kept)."""

    def __init__(
        self,
        *,
        timeout: httpx.Timeout,
        tls: ssl.SSLContext | bool = True,
        proxy: str | None = None,
    ) -> None:
        self._session = LazySession(
            tls=tls,
            limit=1,
            timeout=aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read),
            decompress=False,
        )
        self._proxy = proxy

    @classmethod
    def to(cls, url: str, *, timeout: httpx.Timeout, tls: ssl.SSLContext) -> AiohttpLane:
        """Requests to `url`'s server, through the proxy the environment names for it."""
        return cls(timeout=timeout, tls=tls, proxy=environment_proxy(url))

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request without a body; its answer, read whole (see httpx.AsyncClient)."""
        if json is not None or files is not None:
            raise ValueError("AiohttpLane sends requests without a body")
        try:
            async with self._session.get().request(
                method,
                url,
                headers={**_HEADERS, **(headers or {})},
                allow_redirects=False,
                proxy=self._proxy,
            ) as answer:
                body = await answer.read()
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc)) from None
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from None
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from None
        except aiohttp.ClientError as exc:  # dropped, reset, or not HTTP: the request may be in
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from None
        # Still encoded (aiohttp is told not to decode): httpx decodes it, and raises
        # httpx.DecodingError for a corrupt body, as it would have itself. No httpx.Request
        # goes with it: parsing its URL again would cost a fifth of the query's CPU.
        return httpx.Response(answer.status, headers=answer.raw_headers, content=body)

    async def aclose(self) -> None:
        """Close the lane's connection."""
        await self._session.aclose()
