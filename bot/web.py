"""The bot's web server: health, signed media, and Evolink's callbacks (hints, never trusted)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.health import Health
from bot.hosting import LocalHost
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import Metrics
from storage import Store
from storage.models import Task

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 256 * 1024

NOT_FOUND = PlainTextResponse("Not Found", status_code=404)


def create_web_app(
    *,
    store: Store,
    local_host: LocalHost | None,
    on_callback: Callable[[Task], Awaitable[None]],
    health: Health | None = None,
    metrics: Metrics | None = None,
    telegram_webhook: Route | None = None,
) -> Starlette:
    """The starlette app; `local_host` is None unless media are served from here.

    `telegram_webhook` is the route Telegram POSTs updates to, in webhook mode.
    """

    async def healthz(request: Request) -> Response:
        """Liveness: the loop turns and the database can be read; Evolink's state is reported."""
        if health is None:
            try:
                await store.ping()
            except Exception:
                log.exception("health check: database unavailable")
                return JSONResponse({"status": "error", "database": "unavailable"}, 503)
            return JSONResponse({"status": "ok"})
        alive, details = await health.report()
        return JSONResponse(details, status_code=200 if alive else 503)

    async def metrics_route(request: Request) -> Response:
        """Prometheus exposition."""
        if metrics is None:
            return NOT_FOUND
        return Response(await metrics.render(store), media_type=METRICS_CONTENT_TYPE)

    async def media(request: Request) -> Response:
        """A reference file, for whoever holds a valid signed URL."""
        if local_host is None:
            return NOT_FOUND
        try:
            expires = int(request.path_params["expires"])
        except ValueError:
            return NOT_FOUND
        path = local_host.resolve(
            expires, request.path_params["signature"], request.path_params["path"]
        )
        if path is None:
            return NOT_FOUND
        return FileResponse(path)

    async def evolink_callback(request: Request) -> Response:
        """Evolink says a task changed. Only the secret in the path identifies it."""
        task = await store.tasks.by_callback_secret(request.path_params["secret"])
        if task is None:
            return NOT_FOUND
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_CALLBACK_BYTES:
            return PlainTextResponse("Payload Too Large", status_code=413)
        # The body is not needed: the task is fetched again from the API before anything is
        # believed, so a forged or stale body changes nothing.
        await on_callback(task)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_route, methods=["GET"]),
            Route("/media/{expires}/{signature}/{path:path}", media, methods=["GET", "HEAD"]),
            Route("/callbacks/evolink/{secret}", evolink_callback, methods=["POST"]),
            *([telegram_webhook] if telegram_webhook is not None else []),
        ]
    )
