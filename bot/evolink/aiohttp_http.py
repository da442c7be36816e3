"""The Evolink client's requests sent through aiohttp (`Http`, see bot.evolink.client): for a small
request about a quarter of the CPU of httpx's own exchange (httpcore, h11, anyio; aiohttp's HTTP
parser is in C). Task queries go this way, a thousand tasks in flight meaning dozens a second, and
so do the Files API uploads of every user's file. The answer is handed on as an httpx.Response,
and a failure as the httpx error it would have been, so EvolinkClient's error mapping and retries
are the same code whichever way a request goes."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import httpx

from bot.runtime.http_session import LazySession, environment_proxy, form_data

# What httpx.AsyncClient asks for: only the encodings httpx decodes (it decodes them here too).
_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
# aiohttp has no timeout for sending a body (its read timeout starts once the body is sent): an
# upload that stalls is given up after this long in all (50 MB at 1 Mbit/s takes 400 s).
UPLOAD_SECONDS = 600.0


class AiohttpHttp:
    """Requests over `limit` kept-alive aiohttp connections, each answer read whole and returned
    as an httpx.Response (no redirects followed, no cookies kept)."""

    def __init__(
        self,
        *,
        timeout: httpx.Timeout,
        tls: ssl.SSLContext | bool = True,
        proxy: str | None = None,
        limit: int = 1,
    ) -> None:
        connect, read = timeout.connect, timeout.read
        self._session = LazySession(
            tls=tls,
            limit=limit,
            timeout=aiohttp.ClientTimeout(sock_connect=connect, sock_read=read),
            decompress=False,
            proxy=proxy,
        )
        self._upload_timeout = aiohttp.ClientTimeout(
            total=UPLOAD_SECONDS, sock_connect=connect, sock_read=read
        )

    @classmethod
    def to(
        cls, url: str, *, timeout: httpx.Timeout, tls: ssl.SSLContext | bool, limit: int = 1
    ) -> AiohttpHttp:
        """Requests to `url`'s server, through the proxy the environment names for it."""
        return cls(timeout=timeout, tls=tls, proxy=environment_proxy(url), limit=limit)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request (a JSON body, or files as (name, handle, MIME type) in a multipart
        body); its answer, read whole (see httpx.AsyncClient.request)."""
        upload: dict[str, Any] = {}
        if files:
            upload = {"data": form_data({}, files), "timeout": self._upload_timeout}
        try:
            async with self._session.get().request(
                method,
                url,
                headers={**_HEADERS, **(headers or {})},
                json=json,
                allow_redirects=False,
                **upload,
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
        """Close its connections."""
        await self._session.aclose()
