"""The bot's web server: health, signed media, and Evolink's callbacks (hints, never trusted)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.health import Health
from bot.hosting import LocalHost
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import Metrics
from bot.telegram_webhook import BodyTooLarge, read_limited
from storage import Store
from storage.models import Task

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 256 * 1024
# What an upstream task id may look like (task-unified-<seconds>-<8 characters> today).
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

NOT_FOUND = PlainTextResponse("Not Found", status_code=404)


def create_web_app(
    *,
    store: Store,
    local_host: LocalHost | None,
    on_callback: Callable[[Task, str | None], Awaitable[None]],
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
        """Evolink says a task changed. Only the secret in the path identifies our task; the
        body's task id is a lead for a task whose submit answer was lost, checked with the task
        query before anything is believed, so a forged or stale body changes nothing."""
        task = await store.tasks.by_callback_secret(request.path_params["secret"])
        if task is None:
            return NOT_FOUND
        try:
            body = await read_limited(request, MAX_CALLBACK_BYTES)
        except BodyTooLarge:
            return PlainTextResponse("Payload Too Large", status_code=413)
        except ClientDisconnect:
            return PlainTextResponse("Bad Request", status_code=400)
        claim = _task_id(body) if task.upstream_id is None else None
        await on_callback(task, claim)
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


def _task_id(body: bytes) -> str | None:
    """The task id a callback body names, if it names one plausibly."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and _TASK_ID.fullmatch(found) else None
