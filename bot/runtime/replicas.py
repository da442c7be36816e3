"""This process among the bot's processes on one database: its heartbeat, and taking over the
work a stopped process left (updates, files being checked, submits, sends).

Every replica beats every `timeout / 3` seconds. Work in hand carries its replica's id; when a
replica has not beaten for `timeout` seconds, the others see its work as orphaned and take it
over, each piece by a conditional update, so exactly one of them gets each. A replica that
stops cleanly says so, and its work is taken over at once. With one process (REPLICAS=1) there
is nobody to wait for: at start, whatever a previous run left is taken over at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from bot.runtime.background import Loop
from storage import Store
from storage.db import Clock

log = logging.getLogger(__name__)

Recovery = Callable[[float], Awaitable[None]]  # called with the time live replicas beat since


class Replica:
    """The heartbeat of this process, and the passes that take over orphaned work."""

    def __init__(
        self, *, store: Store, sole: bool, timeout: float, clock: Clock = time.time
    ) -> None:
        self.id = store.replica_id
        self._store = store
        self._sole = sole
        self._timeout = timeout
        self._clock = clock
        self._recoveries: list[tuple[str, Recovery]] = []
        self._loop = Loop(self._run, name="replica")

    def alive_since(self) -> float:
        """Replicas that beat since then are alive; work of the others is orphaned."""
        return self._clock() - self._timeout

    def on_recovery(self, name: str, recovery: Recovery) -> None:
        """Run `recovery` at start and then now and then, to take over orphaned work."""
        self._recoveries.append((name, recovery))

    async def join(self) -> None:
        """Beat for the first time; as the only process, declare every other one gone."""
        await self._store.replicas.beat()
        if self._sole:
            await self._store.replicas.forget_others()
        log.info("replica %s joined", self.id)

    async def recover(self) -> None:
        """One pass of every recovery (each failure is logged; the others still run)."""
        since = self.alive_since()
        for name, recovery in self._recoveries:
            try:
                await recovery(since)
            except Exception:
                log.exception("taking over the %s of stopped replicas failed", name)

    def start(self) -> None:
        """Beat, and look for orphaned work, until stopped."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop beating and leave: what this process still held is anyone's at once."""
        await self._loop.stop()
        try:
            await self._store.replicas.leave()
        except Exception:
            log.warning(
                "replica %s could not sign off; it is taken for gone after %.0f s",
                self.id,
                self._timeout,
            )

    async def _run(self) -> None:
        beat_every = self._timeout / 3
        recover_every = self._timeout / 2
        next_recovery = self._clock() + recover_every
        while True:
            await asyncio.sleep(beat_every * random.uniform(0.9, 1.0))  # noqa: S311 - spreading
            try:
                await self._store.replicas.beat()
            except Exception:
                log.exception("replica heartbeat failed")
                continue
            if self._clock() >= next_recovery:
                next_recovery = self._clock() + recover_every
                await self.recover()
