"""Request bodies from strangers: the declared length read safely, the body read up to a limit."""

from __future__ import annotations

import sys

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

# More digits than any real body has; also keeps int() far from its 4,300-digit guard.
_MAX_LENGTH_DIGITS = 18


class TooLarge(Exception):
    """The body is (or claims to be) over the limit."""


def declared_length(request: Request) -> int | None:
    """The Content-Length the client claims, or None when it is absent or not a number.

    Only ASCII digits count: str.isdigit() also accepts "²" or "٣", which int() then refuses.
    """
    value = request.headers.get("content-length", "").strip()
    if not value or not value.isascii() or not value.isdigit():
        return None
    return int(value) if len(value) <= _MAX_LENGTH_DIGITS else sys.maxsize


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or TooLarge as soon as it passes `limit` (a lying Content-Length included)."""
    length = declared_length(request)
    if length is not None and length > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


async def read_body(request: Request, limit: int) -> bytes | Response:
    """The body (see `read_limited`), or the answer to give instead: 413 past `limit`, 400 when
    the client went away before it was all sent."""
    try:
        return await read_limited(request, limit)
    except TooLarge:
        return PlainTextResponse("Payload Too Large", status_code=413)
    except ClientDisconnect:
        return PlainTextResponse("Bad Request", status_code=400)
