"""uvicorn as the bot runs it: no signal handling of its own (the runner owns shutdown), and a
tick once a second instead of ten times (an idle bot wakes for nothing else that often)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn


class WebServer(uvicorn.Server):
    """A uvicorn server that leaves signals alone and stops at once when told (`exit`)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """No handlers: whoever runs the server decides when it stops."""
        yield

    def exit(self) -> None:
        """Stop serving (as setting `should_exit` does), without waiting for the next tick."""
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        # uvicorn's on_tick refreshes the Date header every tenth tick: its counter goes up by
        # ten here, so once a second, as in uvicorn.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 1.0)
