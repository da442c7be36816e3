"""The whole bot, started in-process against the fake Telegram and Evolink servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path
from typing import Any

from bot.runner import serve
from bot.settings import Settings, load_settings
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import Call, FakeTelegram


def _listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class BotUnderTest:
    """Starts, stops and restarts the real bot (`bot.runner.serve`) on a fixed data directory."""

    def __init__(
        self, telegram: FakeTelegram, evolink: FakeEvolink, data_dir: Path, **overrides: Any
    ) -> None:
        self.telegram = telegram
        self.evolink = evolink
        self.data_dir = data_dir
        self.overrides = overrides
        self.port = 0
        self.settings: Settings | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the bot and wait until it is polling Telegram."""
        sock = _listening_socket(self.port)
        self.port = sock.getsockname()[1]
        self.settings = load_settings(
            **{
                "telegram_bot_token": self.telegram.token,
                "telegram_api_base_url": self.telegram.base_url,
                "telegram_file_base_url": self.telegram.base_file_url,
                "evolink_api_key": self.evolink.api_key,
                "evolink_base_url": self.evolink.base_url,
                "evolink_files_base_url": self.evolink.files_base_url,
                "public_base_url": f"http://127.0.0.1:{self.port}",
                "http_host": "127.0.0.1",
                "http_port": self.port,
                "evolink_callbacks": "off",
                "poll_interval_seconds": 0.2,
                "progress_edit_seconds": 0,
                "album_quiet_seconds": 0.3,
                "data_dir": self.data_dir,
                **self.overrides,
            }
        )
        started = time.time()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(serve(self.settings, stop=self._stop, sockets=[sock]))
        # Polling starts right after deleteWebhook; the first getUpdates is a held long poll.
        await self.telegram.wait_for(lambda c: c.method == "deleteWebhook" and c.at >= started)

    async def stop(self) -> None:
        """Shut the bot down the way SIGTERM would."""
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        await asyncio.wait_for(self._task, 20)
        self._task = None

    async def crash(self) -> None:
        """Stop the bot abruptly: cancel everything, no clean shutdown of the work in flight."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def restart(self) -> None:
        """Stop, then start again on the same data directory and port."""
        await self.stop()
        await self.start()

    # -- conveniences for tests ---------------------------------------------------------------

    async def reply_to(self, chat_id: int, *, text_contains: str, timeout: float = 15.0) -> Call:
        """The bot's message (sent or edited) in `chat_id` whose text contains the words."""
        return await self.telegram.wait_for(
            lambda c: c.ok
            and c.method in {"sendMessage", "editMessageText"}
            and str(c.params.get("chat_id")) == str(chat_id)
            and text_contains in c.text,
            timeout=timeout,
        )

    async def video_in(self, chat_id: int, timeout: float = 20.0) -> Call:
        """The bot's successful sendVideo in `chat_id`."""
        return await self.telegram.wait_for(
            lambda c: c.method == "sendVideo" and c.ok and str(c.params.get("chat_id")) == str(chat_id),
            timeout=timeout,
        )
