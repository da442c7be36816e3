"""Running the bot: Telegram long polling and the web server, in one process and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn
from telegram import Update

from bot.app import BotApplication, build_application
from bot.settings import Settings
from bot.web import create_web_app

log = logging.getLogger(__name__)


class _WebServer(uvicorn.Server):
    """uvicorn without its own signal handling: the runner owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    sockets: list[socket.socket] | None = None,
    handle_signals: bool = False,
) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM when `handle_signals`), then shut down cleanly."""
    application = build_application(settings)
    services = application.bot_data.services
    web_app = create_web_app(
        store=services.store,
        local_host=services.local_host,
        on_callback=services.tracker.hint,
    )
    config = uvicorn.Config(
        web_app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = _WebServer(config)
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    await _start_bot(application)
    web_task = asyncio.create_task(server.serve(sockets=sockets), name="web-server")
    log.info(
        "bot running: long polling, web server on %s:%s", settings.http_host, settings.http_port
    )
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({web_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await web_task
        await _stop_bot(application)
        log.info("bot stopped")


async def _start_bot(application: BotApplication) -> None:
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=30)
    await application.start()


async def _stop_bot(application: BotApplication) -> None:
    assert application.updater is not None
    if application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
    await application.shutdown()
