"""Evolink's rules for `callback_url`, checked once at start-up rather than on every submit.

The API takes only HTTPS URLs of at most 2048 characters that do not point into a private
network (127.0.0.1, 10.x, 172.16-31.x, 192.168.x...); a submit with any other is refused.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from bot import limits

CALLBACK_PATH = "callbacks/evolink/"
# bot.tasks.submit makes each task's secret with secrets.token_urlsafe(24), 32 characters; the check
# allows twice that, so a longer secret later cannot slip past it.
LONGEST_SECRET = 64


def callback_url(base_url: str, secret: str) -> str:
    """The URL Evolink calls back for the task with this secret."""
    return base_url.rstrip("/") + "/" + CALLBACK_PATH + secret


def problem(base_url: str) -> str | None:
    """Why Evolink would refuse callback URLs under `base_url`, in a few words; None if it
    would take them. Only the URL itself is judged: a public name is not resolved."""
    parts = urlsplit(base_url)
    if parts.scheme != "https":
        return f"it is {parts.scheme or 'not a'}:// URL, and Evolink calls back over HTTPS only"
    host = parts.hostname or ""
    if not _public_host(host):
        return f"{host or 'its host'} is not a public address, and Evolink calls none other"
    longest = len(callback_url(base_url, "x" * LONGEST_SECRET))
    if longest > limits.CALLBACK_URL_MAX_CHARS:
        return (
            f"callback URLs under it would be up to {longest} characters, "
            f"over Evolink's {limits.CALLBACK_URL_MAX_CHARS}"
        )
    return None


def _public_host(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # A name: "localhost", and single labels (a container's name) never reach the internet.
        name = host.rstrip(".").lower()
        return "." in name and not (name == "localhost" or name.endswith(".localhost"))
    return ip.is_global and not ip.is_multicast
