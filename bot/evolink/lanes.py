"""Task queries spread over a few one-connection lanes (see bot.runtime.lanes), each request sent
straight through an httpx transport: a thousand tasks in flight mean dozens of queries a second,
and httpx.AsyncClient's per-request layers (URL merging, cookies, auth and redirect handling,
event hooks) cost about as much CPU as the exchange itself."""

from __future__ import annotations

import urllib.request
from typing import Any, Protocol

import httpx

from bot.evolink.client import EvolinkClient
from bot.evolink.models import VideoTask
from bot.runtime.lanes import Lanes

# What httpx.AsyncClient sends by default (its User-Agent, and only the encodings it always reads).
_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}


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


class DirectHttp:
    """Bodiless requests straight through one transport, each answer read whole: the part of
    httpx.AsyncClient.request a task query needs (no redirects followed, no cookies kept)."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: httpx.Timeout) -> None:
        self._transport = transport
        self._extensions = {"timeout": timeout.as_dict()}

    @classmethod
    def to(
        cls, url: str, *, timeout: httpx.Timeout, limits: httpx.Limits, verify: Any
    ) -> DirectHttp:
        """Requests to `url`'s server, through the proxy the environment names for it (as
        httpx.AsyncClient would use: HTTPS_PROXY, ALL_PROXY, NO_PROXY...)."""
        return cls(
            httpx.AsyncHTTPTransport(limits=limits, verify=verify, proxy=environment_proxy(url)),
            timeout=timeout,
        )

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
            raise ValueError("DirectHttp sends requests without a body")
        request = httpx.Request(
            method, url, headers={**_HEADERS, **(headers or {})}, extensions=self._extensions
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async def aclose(self) -> None:
        """Close the transport's connection."""
        await self._transport.aclose()


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`<scheme>_proxy` or `all_proxy`, unless
    `no_proxy` exempts its host), or None."""
    target = httpx.URL(url)
    if urllib.request.proxy_bypass(target.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(target.scheme) or proxies.get("all")
