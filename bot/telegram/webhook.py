"""Telegram's webhook: updates POSTed to the bot's own web server, as an alternative to polling.

The route checks the secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (in constant
time) before it reads anything, limits the body, and only enqueues the update: the reply is sent
at once, and python-telegram-bot's Application handles the update as it would a polled one.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.telegram.inbox import DurableUpdateQueue
from bot.web.http_limits import read_body
from bot.web.untrusted_json import parse_object

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Updates are small (a message with its entities, a callback query): 1 MB is generous.
MAX_UPDATE_BYTES = 1024 * 1024

OnUpdate = Callable[[dict[str, Any]], Awaitable[None]]


def webhook_route(
    path: str, *, secret: str, on_update: OnUpdate, max_bytes: int = MAX_UPDATE_BYTES
) -> Route:
    """`POST path`: Telegram's updates, for requests carrying the secret.

    A missing or wrong secret is answered 403, as python-telegram-bot's own webhook server does:
    the path is no secret (it is in the configuration and in getWebhookInfo), the header is the
    credential, and a 403 in getWebhookInfo's `last_error_message` tells the operator that the
    secret, not the URL, is wrong. The check comes before the body is read.
    """
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse("Forbidden", status_code=403)
        body = await read_body(request, max_bytes)
        if isinstance(body, Response):
            return body
        data = parse_object(body)
        if data is None:
            return PlainTextResponse("Bad Request: malformed JSON", status_code=400)
        if not _is_update_id(data.get("update_id")):
            return PlainTextResponse("Bad Request: not an Update", status_code=400)
        await on_update(data)
        return Response(status_code=200)

    return Route(path, receive, methods=["POST"], name="telegram_webhook")


def _is_update_id(value: object) -> bool:
    # A positive integer the database can store (bool is an int to Python, not to Telegram).
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def enqueue_into(application: Application[Any, Any, Any, Any, Any, Any]) -> OnUpdate:
    """An `on_update` that puts the update in a python-telegram-bot Application's queue, and
    returns once it is written to the inbox when the queue keeps one: the 200 that follows tells
    Telegram to forget it.

    The pattern of python-telegram-bot's custom webhook examples. An update PTB cannot parse is
    logged and dropped (answered 200), as polling would: refusing it would make Telegram send it
    again and again, holding back every later update.
    """

    async def on_update(data: dict[str, Any]) -> None:
        try:
            update = Update.de_json(data, application.bot)
        except Exception as exc:
            # A warning, not a traceback: the sender, not the bot, is at fault.
            log.warning(
                "webhook: update %s could not be parsed (%s); dropped",
                data.get("update_id"),
                f"{type(exc).__name__}: {exc}"[:200],
            )
            return
        queue = application.update_queue
        if isinstance(queue, DurableUpdateQueue):
            await queue.put_durably(update, as_sent=data)
        else:
            await queue.put(update)

    return on_update
