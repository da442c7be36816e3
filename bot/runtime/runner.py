"""Running the bot: Telegram updates (long polling or webhook) and the web server, in one process
and one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable

import uvicorn
from telegram import Update
from telegram.error import BadRequest

from bot.app import build_application, set_commands
from bot.runtime.startup import (
    StartupError,
    Stopped,
    host_of,
    listen_socket,
    until_telegram_answers,
    writable_data_dir,
)
from bot.services import BotApplication
from bot.settings import Settings
from bot.telegram.webhook import enqueue_into, webhook_route
from bot.web.asgi_guard import QuietBrokenConnections
from bot.web.health import Health
from bot.web.routes import create_web_app
from bot.web.server import WebServer

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    sockets: list[socket.socket] | None = None,
    handle_signals: bool = False,
) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM when `handle_signals`), then shut down cleanly.

    Raises StartupError (one line naming the setting) for what only the operator can fix.
    """
    writable_data_dir(settings.data_dir)
    if sockets is None:
        sockets = [listen_socket(settings.http_host, settings.http_port)]
    application = build_application(settings)
    services = application.bot_data.services
    webhook = settings.webhook_enabled
    web_app = create_web_app(
        store=services.store,
        local_host=services.local_host,
        on_callback=services.tracker.on_callback,
        health=Health(store=services.store, upstream=services.upstream),
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
    server = WebServer(config)
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    # The database first: a wrong DATABASE_URL is reported before Telegram is even asked.
    await services.store.open()
    upstream_check: asyncio.Task[None] | None = None
    web_task: asyncio.Task[None] | None = None
    stop_task = asyncio.create_task(stop.wait())
    try:
        await _start_bot(application, settings, stop, polling=not webhook)
        if settings.callbacks_note:
            log.info(settings.callbacks_note)
        # Only now: a rejected token must stay the one line printed.
        upstream_check = asyncio.create_task(services.upstream.watch(), name="upstream-check")
        web_task = asyncio.create_task(server.serve(sockets=sockets), name="web-server")
        if webhook:
            # Telegram may POST as soon as the webhook is set: serve first, then set it.
            await _until_serving(server, web_task)
            await _set_webhook(application, settings, stop)
        log.info(
            "bot running: %s, web server on %s:%s",
            f"webhook at {settings.telegram_webhook_url}" if webhook else "long polling",
            settings.http_host,
            settings.http_port,
        )
        await asyncio.wait({web_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    except Stopped:
        log.info("stopped before Telegram answered")
    finally:
        server.exit()
        stop_task.cancel()
        if upstream_check is not None:
            upstream_check.cancel()
            await asyncio.gather(upstream_check, return_exceptions=True)
        if web_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await web_task
        for sock in sockets:
            sock.close()
        await _stop_bot(application)
        if web_task is not None:
            log.info("bot stopped")


async def _start_bot(
    application: BotApplication, settings: Settings, stop: asyncio.Event, *, polling: bool
) -> None:
    """Each Bot API call of the start-up is tried until Telegram answers (or `stop` is set)."""

    async def until_answered(method: str, call: Callable[[], Awaitable[object]]) -> None:
        where = host_of(settings.telegram_api_base_url)
        await until_telegram_answers(method, call, stop=stop, where=where)

    await until_answered("getMe", application.initialize)
    if application.post_init is not None:
        await application.post_init(application)
    await until_answered("setMyCommands", lambda: set_commands(application))
    assert application.updater is not None
    if polling:
        # A bot that ran by webhook switches back. start_polling calls deleteWebhook once more;
        # bootstrap_retries=-1 has it retried quietly should Telegram fail it in between.
        await until_answered("deleteWebhook", application.bot.delete_webhook)
        await application.updater.start_polling(
            allowed_updates=Update.ALL_TYPES, timeout=30, bootstrap_retries=-1
        )
    await application.start()


async def _until_serving(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Wait until uvicorn accepts connections (or fail if it stopped)."""
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the web server stopped during start-up")
        await asyncio.sleep(0.01)


async def _set_webhook(
    application: BotApplication, settings: Settings, stop: asyncio.Event
) -> None:
    """Point Telegram at our webhook; updates pending from polling days are kept."""

    async def set_webhook() -> bool:
        return await application.bot.set_webhook(
            settings.telegram_webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
            drop_pending_updates=False,
        )

    where = host_of(settings.telegram_api_base_url)
    try:
        await until_telegram_answers("setWebhook", set_webhook, stop=stop, where=where)
    except BadRequest as exc:  # a refusal: not HTTPS, a port Telegram does not call, ...
        raise StartupError(
            f"Telegram refused the webhook {settings.telegram_webhook_url} ({exc.message}): "
            "check TELEGRAM_WEBHOOK_URL"
        ) from None


async def _stop_bot(application: BotApplication) -> None:
    assert application.updater is not None
    if application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
    await application.shutdown()
    # python-telegram-bot shuts down only a bot whose start-up got past getMe: a bot stopped
    # before (a rejected token) would leave its connections open.
    await application.bot.request.shutdown()
