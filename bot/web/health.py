"""What `GET /healthz` reports: the event loop, the database, and whether Evolink answers and
takes the API key."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bot.evolink.upstream import Upstream
from storage import Store


class Health:
    """Liveness with a cached view of the upstream, refreshed in the background."""

    def __init__(self, *, store: Store, upstream: Upstream, upstream_ttl: float = 60.0) -> None:
        self._store = store
        self._upstream = upstream
        self._ttl = upstream_ttl
        self._checked_at = float("-inf")
        self._refresh: asyncio.Task[None] | None = None

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """(alive, details). Alive means the loop turns and the database answers; an unreachable
        upstream is reported but does not make the bot unhealthy (restarting would not help)."""
        started = time.perf_counter()
        await asyncio.sleep(0)
        lag_ms = round((time.perf_counter() - started) * 1000, 2)
        database = "ok"
        try:
            await asyncio.wait_for(self._store.ping(), 5)
        except Exception:
            database = "unavailable"
        self._refresh_upstream()
        alive = database == "ok"
        details = {
            "status": "ok" if alive else "error",
            "database": database,
            "upstream": self._upstream.state.value,
            "loop_lag_ms": lag_ms,
        }
        return alive, details

    def _refresh_upstream(self) -> None:
        if time.monotonic() - self._checked_at < self._ttl:
            return
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._check_upstream())

    async def _check_upstream(self) -> None:
        with contextlib.suppress(Exception):
            await self._upstream.check()
        self._checked_at = time.monotonic()
