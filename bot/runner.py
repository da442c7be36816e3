"""Running the bot: Telegram updates (long polling or webhook) and the web server, in one process
and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn
from telegram import Update
from telegram.error import NetworkError

from bot.app import BotApplication, build_application
from bot.asgi_guard import QuietBrokenConnections
from bot.health import Health
from bot.settings import Settings
from bot.telegram_webhook import enqueue_into, webhook_route
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
    webhook = settings.webhook_enabled
    web_app = create_web_app(
        store=services.store,
        local_host=services.local_host,
        on_callback=services.tracker.hint,
        health=Health(store=services.store, client=services.evolink),
        metrics=services.metrics,
        metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
        telegram_webhook=webhook_route(
            settings.webhook_path,
            secret=settings.webhook_secret,
            on_update=enqueue_into(application),
        )
        if webhook
        else None,
    )
    config = uvicorn.Config(
        QuietBrokenConnections(web_app),
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

    if settings.callbacks_note:
        log.info(settings.callbacks_note)
    await _start_bot(application, polling=not webhook)
    web_task = asyncio.create_task(server.serve(sockets=sockets), name="web-server")
    stop_task = asyncio.create_task(stop.wait())
    try:
        if webhook:
            # Telegram may POST as soon as the webhook is set: serve first, then set it.
            await _until_serving(server, web_task)
            await _set_webhook(application, settings)
        log.info(
            "bot running: %s, web server on %s:%s",
            f"webhook at {settings.telegram_webhook_url}" if webhook else "long polling",
            settings.http_host,
            settings.http_port,
        )
        await asyncio.wait({web_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await web_task
        await _stop_bot(application)
        log.info("bot stopped")


async def _start_bot(application: BotApplication, *, polling: bool) -> None:
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    assert application.updater is not None
    if polling:
        # start_polling calls deleteWebhook first, so a bot that ran by webhook switches back.
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=30)
    await application.start()


async def _until_serving(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Wait until uvicorn accepts connections (or fail if it stopped)."""
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the web server stopped during start-up")
        await asyncio.sleep(0.01)


async def _set_webhook(application: BotApplication, settings: Settings) -> None:
    """Point Telegram at our webhook; updates pending from polling days are kept."""
    for attempt in range(5):
        try:
            await application.bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=settings.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
                drop_pending_updates=False,
            )
            return
        except NetworkError as exc:  # no answer (a refusal is fatal: wrong URL, not HTTPS...)
            if attempt == 4:
                raise
            log.warning("setWebhook failed (%s); trying again", exc)
            await asyncio.sleep(2**attempt)


async def _stop_bot(application: BotApplication) -> None:
    assert application.updater is not None
    if application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
    await application.shutdown()
