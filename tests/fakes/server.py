"""uvicorn for the fakes: no signal handling, and a stop that takes milliseconds, not tenths.

uvicorn looks at `should_exit` every 0.1 s, and on the way out sleeps 0.1 s, then polls its open
connections every 0.1 s: about a quarter of a second per server, three servers per test that
starts the bot. Here `exit()` wakes the server at once and the connections are polled often.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import uvicorn

_POLL_SECONDS = 0.005


class QuickServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling alone and stops promptly (`exit`)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()

    def exit(self) -> None:
        """Stop serving (as setting `should_exit` does), without waiting for the next tick."""
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        # on_tick refreshes the Date header every tenth tick: once a second, as in uvicorn.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        # Idle keep-alive connections close now; those with a request in hand once answered.
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        grace = self.config.timeout_graceful_shutdown
        deadline = loop.time() + (grace if grace is not None else float("inf"))
        state = self.server_state
        while (state.connections or state.tasks) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_SECONDS)
        for task in state.tasks:
            task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
