"""A small round-robin HTTP load balancer on loopback, for running several bot replicas.

Each request goes to the next backend in turn. A backend that refuses the connection (a replica
that was killed) is skipped for that request, as a real balancer's passive health check does
(Caddy's `lb_try_duration`); a request whose answer is cut off is answered 502, so the sender
(Telegram, Evolink) tries again. Counts what each backend got.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.evolink import LoopbackServer

# Headers that belong to one hop, not to the request or answer (RFC 9110 7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}


class RoundRobin:
    """`await RoundRobin([url1, url2, ...]).start()` returns the balancer's own base URL."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.url = ""
        self.served: Counter[str] = Counter()  # backend -> requests it answered
        self.updates: dict[int, str] = {}  # Telegram update id -> the backend that answered it
        self._turn = itertools.count()
        self._client = httpx.AsyncClient(timeout=30.0, trust_env=False)
        app = Starlette(
            routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "HEAD"])]
        )
        self._server = LoopbackServer(app)

    async def start(self) -> str:
        """Serve on 127.0.0.1; returns the base URL."""
        self.url = await self._server.start()
        return self.url

    async def stop(self) -> None:
        """Stop serving and close the connections to the backends."""
        await self._server.stop()
        await self._client.aclose()

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        first = next(self._turn)
        for attempt in range(len(self.backends)):
            backend = self.backends[(first + attempt) % len(self.backends)]
            url = (
                backend + request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            try:
                answer = await self._client.request(
                    request.method, url, content=body, headers=headers
                )
            except httpx.ConnectError:
                continue  # that replica is down: the next one
            except httpx.HTTPError:
                return Response(status_code=502)  # cut off mid-answer: the sender retries
            self.served[backend] += 1
            if answer.status_code == 200 and (update_id := _update_id(body)) is not None:
                self.updates[update_id] = backend
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            for decoded in ("content-length", "content-encoding"):  # httpx decoded the body
                kept.pop(decoded, None)
            return Response(answer.content, status_code=answer.status_code, headers=kept)
        return Response(status_code=502)


def _update_id(body: bytes) -> int | None:
    """The update id of a Telegram webhook request's body, if it is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    found = data.get("update_id") if isinstance(data, dict) else None
    return found if isinstance(found, int) else None
