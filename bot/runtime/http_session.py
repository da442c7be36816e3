"""An aiohttp session as the bot's clients use them: opened on first use (aiohttp needs the
running event loop), no cookies kept, the certificate store loaded once by the caller, through the
proxy the environment names for the server it talks to (as httpx.AsyncClient would)."""

from __future__ import annotations

import ssl
import urllib.request
from typing import Any

import aiohttp
import httpx


class LazySession:
    """One aiohttp.ClientSession, made when first asked for, closed by `aclose`."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | bool = True,
        limit: int = 100,
        timeout: aiohttp.ClientTimeout | None = None,
        decompress: bool = True,
        proxy: str | None = None,
    ) -> None:
        self._tls, self._limit, self._decompress, self._proxy = tls, limit, decompress, proxy
        self._timeout = timeout or aiohttp.ClientTimeout(total=None)
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """The session, opened now if it is not yet."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ssl=self._tls),
                timeout=self._timeout,
                auto_decompress=self._decompress,
                cookie_jar=aiohttp.DummyCookieJar(),
                proxy=self._proxy,
            )
        return self._session

    @property
    def opened(self) -> bool:
        """Whether the session is open."""
        return self._session is not None

    async def aclose(self) -> None:
        """Close the session and its connections (it opens again if asked for)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`<scheme>_proxy` or `all_proxy`, unless
    `no_proxy` exempts its host), or None: as httpx.AsyncClient would use."""
    target = httpx.URL(url)
    if urllib.request.proxy_bypass(target.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(target.scheme) or proxies.get("all")


def form_data(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    """A multipart body: the fields, then each file as (name, content or handle, MIME type)."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (file_name, content, mime_type) in files.items():
        form.add_field(name, content, filename=file_name, content_type=mime_type)
    return form
