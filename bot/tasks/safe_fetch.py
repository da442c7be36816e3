"""Following redirects only to the public internet, so no upstream can point the bot inward."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx


class UnsafeRedirect(httpx.HTTPError):
    """A redirect pointed at a private, loopback or link-local address."""


async def is_public(url: httpx.URL) -> bool:
    """Whether every address the URL's host resolves to is globally routable."""
    host = url.host
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, url.port or 443)
        except socket.gaierror:
            return False
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return bool(addresses) and all(address.is_global for address in addresses)


async def checked_redirect(response: httpx.Response) -> httpx.URL:
    """Where a redirect leads, refusing any target that is not on the public internet."""
    target = response.url.join(response.headers.get("location", ""))
    if target.scheme not in {"http", "https"} or not await is_public(target):
        raise UnsafeRedirect("redirect to a non-public address refused")
    return target
