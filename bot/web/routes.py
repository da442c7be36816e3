"""The bot's web server: health, signed media, and Evolink's callbacks (hints, never trusted)."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.hosting import LocalHost
from bot.runtime.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.runtime.metrics import Metrics
from bot.web.health import Health
from bot.web.http_limits import read_body
from bot.web.untrusted_json import parse_object
from storage import Store
from storage.models import Task

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 256 * 1024
# What an upstream task id may look like (task-unified-<seconds>-<8 characters> today).
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Expiry times are unix seconds: 12 digits last until the year 33658.
_MAX_EXPIRY_DIGITS = 12

NOT_FOUND = PlainTextResponse("Not Found", status_code=404)


def create_web_app(
    *,
    store: Store,
    local_host: LocalHost | None,
    on_callback: Callable[[Task, str | None], Awaitable[None]],
    health: Health | None = None,
    metrics: Metrics | None = None,
    metrics_token: str | None = None,
    telegram_webhook: Route | None = None,
) -> Starlette:
    """The starlette app; `local_host` is None unless media are served from here.

    `/metrics` answers only requests bearing `metrics_token` (without one it does not exist).
    `telegram_webhook` is the route Telegram POSTs updates to, in webhook mode.
    """
    expected_authorization = f"Bearer {metrics_token}".encode() if metrics_token else None

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
        """Prometheus exposition, for the holder of METRICS_TOKEN only."""
        if metrics is None or expected_authorization is None:
            return NOT_FOUND
        given = request.headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(given, expected_authorization):
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return Response(await metrics.render(store), media_type=METRICS_CONTENT_TYPE)

    async def media(request: Request) -> Response:
        """A reference file, for whoever holds a valid signed URL."""
        if local_host is None:
            return NOT_FOUND
        expires_text: str = request.path_params["expires"]
        # int() would also take "+1", " 1", "1_0" or "١": only plain ASCII digits are an expiry.
        if not (
            expires_text.isascii()
            and expires_text.isdigit()
            and len(expires_text) <= _MAX_EXPIRY_DIGITS
        ):
            return NOT_FOUND
        expires = int(expires_text)
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
        body = await read_body(request, MAX_CALLBACK_BYTES)
        if isinstance(body, Response):
            return body
        claim = _task_id(body) if task.upstream_id is None else None
        await on_callback(task, claim)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_route, methods=["GET"]),
            Route("/media/{expires}/{signature}/{path:path}", media, methods=["GET", "HEAD"]),
            Route("/callbacks/evolink/{secret}", evolink_callback, methods=["POST"]),
            *([telegram_webhook] if telegram_webhook is not None else []),
        ]
    )
    # Every URL is used exactly as the bot hands it out. Starlette's "/x/" → "/x" redirect would
    # only build a Location from whatever Host header a stranger sends.
    app.router.redirect_slashes = False
    return app


def _task_id(body: bytes) -> str | None:
    """The task id a callback body names, if it names one plausibly."""
    data = parse_object(body)
    found = data.get("id") if data is not None else None
    return found if isinstance(found, str) and _TASK_ID.fullmatch(found) else None
