"""The web server's outermost layer: a connection the server already gave up on is no error.

uvicorn answers a request whose body turns out malformed (broken chunked encoding, say) with a
400 of its own while the route may still be running; the route's response then fails inside
uvicorn's `send`, and uvicorn logs it as "Exception in ASGI application" with a traceback. Anyone
can trigger that, so it is noted in one line instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

DISCONNECT_WAIT_SECONDS = 5.0


class _SendFailed(Exception):
    pass


class QuietBrokenConnections:
    """Wraps an ASGI app; a failing `send` ends the request quietly."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, turning a failure to send into one log line."""

        async def guarded_send(message: Message) -> None:
            try:
                await send(message)
            except Exception as exc:
                raise _SendFailed(f"{type(exc).__name__}: {exc}") from None

        try:
            await self._app(scope, receive, guarded_send)
        except _SendFailed as exc:
            log.info("%s %s: the connection was already closed (%s)", *_where(scope), exc)
            # Return only once the server has seen the connection go: it would otherwise log
            # the response it never finished as an error of its own.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(DISCONNECT_WAIT_SECONDS):
                    while (await receive())["type"] != "http.disconnect":
                        pass


def _where(scope: Scope) -> tuple[str, str]:
    # The path only, never the query string: it may carry anything.
    return str(scope.get("method", "-")), str(scope.get("path", "-"))[:200]
