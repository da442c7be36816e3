"""uvicorn for the fakes: a stop that takes milliseconds, not tenths.

On the way out uvicorn sleeps 0.1 s, then polls its open connections every 0.1 s: about a
quarter of a second per server, three servers per test that starts the bot. Here `exit()` wakes
the server at once (bot.web.server) and the connections are polled often.
"""

from __future__ import annotations

import asyncio
import socket

from bot.web.server import WebServer

_POLL_SECONDS = 0.005


class QuickServer(WebServer):
    """The bot's uvicorn server (no signal handling, `exit` stops it at once), shut down
    promptly."""

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
