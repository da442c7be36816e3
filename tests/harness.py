"""The whole bot, started in-process against the fake Telegram and Evolink servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.runtime.runner import serve
from bot.settings import Settings, load_settings
from storage import Store, database_at
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import Call, FakeTelegram


def _listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


# What the tests' scraper presents to /metrics (the route does not exist without a token).
METRICS_TOKEN = "metrics-token-for-the-tests"


class BotUnderTest:
    """Starts, stops and restarts the real bot (`bot.runtime.runner.serve`) on a fixed data
    directory."""

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
        """Start the bot and wait until it is polling Telegram (or has set its webhook).

        ``{port}`` in a string override becomes the bot's port, e.g.
        ``telegram_webhook_url="http://127.0.0.1:{port}/telegram"``.
        """
        sock = _listening_socket(self.port)
        self.port = sock.getsockname()[1]
        overrides = {
            name: value.replace("{port}", str(self.port)) if isinstance(value, str) else value
            for name, value in self.overrides.items()
        }
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
                # The bot is on http://127.0.0.1 and the fake Evolink allows that (the real one
                # does not): tests may set evolink_callbacks="on".
                "evolink_callbacks_insecure": True,
                "poll_interval_seconds": 0.2,
                "progress_edit_seconds": 0,
                "album_quiet_seconds": 0.3,
                # One media worker to warm up at each start, not one per CPU (tests that need
                # files converted side by side ask for more).
                "media_workers": 1,
                "data_dir": self.data_dir,
                "metrics_token": METRICS_TOKEN,
                **overrides,
            }
        )
        started = time.time()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(serve(self.settings, stop=self._stop, sockets=[sock]))
        # Polling starts right after deleteWebhook; the first getUpdates is a held long poll.
        # In webhook mode, setWebhook comes once the web server accepts connections.
        await self.telegram.wait_for(lambda c: _ready_call(c) and c.at >= started)

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

    async def metrics(self) -> str:
        """GET /metrics, as the operator's scraper does (with the metrics token)."""
        token = self.settings.metrics_token if self.settings is not None else None
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{self.port}/metrics", headers=headers)
        answer.raise_for_status()
        return answer.text

    def store(self) -> Store:
        """A Store on the bot's database (to be opened and closed by the caller)."""
        assert self.settings is not None
        url = self.settings.database_url
        return Store(
            database_at(
                url.get_secret_value() if url else None, sqlite_path=self.settings.database_path
            )
        )

    async def reply_to(self, chat_id: int, *, text_contains: str, timeout: float = 15.0) -> Call:
        """The bot's message (sent or edited) in `chat_id` whose text contains the words."""
        return await self.telegram.wait_for(
            lambda c: (
                c.ok
                and c.method in {"sendMessage", "editMessageText"}
                and str(c.params.get("chat_id")) == str(chat_id)
                and text_contains in c.text
            ),
            timeout=timeout,
        )

    async def video_in(self, chat_id: int, timeout: float = 20.0) -> Call:
        """The bot's successful sendVideo in `chat_id`."""
        return await self.telegram.wait_for(
            lambda c: (
                c.method == "sendVideo" and c.ok and str(c.params.get("chat_id")) == str(chat_id)
            ),
            timeout=timeout,
        )


def _ready_call(call: Call) -> bool:
    """The Bot API call a starting bot makes once updates can flow (polling or webhook)."""
    return call.ok and call.method in {"deleteWebhook", "setWebhook"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """The bot as users run it, `python -m bot` configured by environment, in a child process.

    Used where only a real process will do: SIGKILL at arbitrary points, SIGTERM, start-up.
    """

    def __init__(
        self, telegram: FakeTelegram, evolink: FakeEvolink, data_dir: Path, **env: str
    ) -> None:
        self.telegram = telegram
        self.evolink = evolink
        self.data_dir = data_dir
        self.port = _free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(data_dir.parent),
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_FILE_BASE_URL": telegram.base_file_url,
            "EVOLINK_API_KEY": evolink.api_key,
            "EVOLINK_BASE_URL": evolink.base_url,
            "EVOLINK_FILES_BASE_URL": evolink.files_base_url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port),
            "POLL_INTERVAL_SECONDS": "0.2",
            "PROGRESS_EDIT_SECONDS": "0",
            "ALBUM_QUIET_SECONDS": "0.3",
            "MEDIA_WORKERS": "1",  # as in BotUnderTest
            "DATA_DIR": str(data_dir),
            "LOG_LEVEL": "INFO",
            "EVOLINK_CALLBACKS_INSECURE": "true",  # as in BotUnderTest
            **env,
        }
        self.log_path = data_dir.parent / "bot-process.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start `python -m bot` and wait until it polls Telegram."""
        started = time.time()
        await self.launch()
        await self.telegram.wait_for(lambda c: _ready_call(c) and c.at >= started, timeout=30)

    async def launch(self) -> None:
        """Start `python -m bot`, without waiting for anything."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self.env,
                cwd=self.data_dir.parent,
                stdout=log,
                stderr=log,
            )

    async def exit_code(self, timeout: float = 30.0) -> int:
        """Wait for the process to end by itself; its exit status."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, as `docker stop` sends; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)

    @property
    def log(self) -> str:
        """Everything the process wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
