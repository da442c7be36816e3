"""A fake Telegram Bot API server: a real HTTP server on 127.0.0.1 for python-telegram-bot.

Point PTB at it with ``base_url=fake.base_url`` and ``base_file_url=fake.base_file_url``. The
user side (``send_text``, ``send_photo``, ``press_button`` ...) queues updates that ``getUpdates``
long-polls out; everything the bot does is recorded in ``calls`` and ``messages``. Faults:
``fail_next`` (an error answer), ``set_delay`` (a slow answer; the call still takes effect),
``block`` (the user blocked the bot: 403 on every send and edit to that chat).

When the bot has set a webhook, queued updates are POSTed to it instead, one at a time and in
order, with the ``X-Telegram-Bot-Api-Secret-Token`` header; a non-2xx answer is retried after
``webhook_retry_delays`` and then the update is given up, as Telegram does. Every attempt is in
``webhook_deliveries``. Like a self-hosted Bot API server, the fake accepts http:// webhooks.

Conventions: keys starting with ``_`` in stored dicts (``_has_audio``, ``_deleted``, ``_source``)
are test-only and never sent to the bot. PTB sends form fields with JSON-encoded values for
non-strings; they are decoded into ``Call.params`` with ints, bools, dicts and lists typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import io
import json
import logging
import mimetypes
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TypedDict, Unpack
from urllib.parse import urlsplit

import av
import httpx
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import QuickServer

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
MB = 1024 * 1024
KEEP_ALIVE_SECONDS = 75
MAX_UPLOAD = 50 * MB  # multipart uploads
MAX_DOWNLOAD = 20 * MB  # getFile, and what Telegram fetches from a URL
URL_FAILED = "Bad Request: failed to get HTTP URL content"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_INT_PARAMS = {"chat_id", "message_id", "message_thread_id", "reply_to_message_id", "offset"}
_INT_PARAMS |= {"limit", "timeout", "duration", "width", "height", "user_id", "cache_time"}
_BOOL_PARAMS = {"disable_notification", "protect_content", "supports_streaming", "has_spoiler"}
_BOOL_PARAMS |= {"allow_sending_without_reply", "show_alert", "drop_pending_updates", "is_big"}
_TEXT_PARAMS = {"text", "caption", "data", "title", "description", "url", "secret_token"}
_TEXT_PARAMS |= {"parse_mode", "callback_query_id", "file_id", "action", "file_name"}
_PREFIX = {"photo": "AgAC", "video": "BAAC", "document": "BQAC", "voice": "AwAC", "audio": "CQAC"}
_FOLDER = {"photo": "photos", "video": "videos", "document": "documents", "audio": "music"}
_FOLDER |= {"animation": "animations", "voice": "voice"}
_EXT = {"photo": ".jpg", "video": ".mp4", "voice": ".oga", "audio": ".mp3", "animation": ".mp4"}
_TAG_RE = re.compile(r"<[^>]*>")
_CHAT_WRITES = ("send", "edit", "copy", "forward")  # methods a blocked chat refuses


class UserOptions(TypedDict, total=False):
    """Keyword options of the user-side ``send_*`` methods."""

    chat_type: str  # "private" (default), "group", "supergroup" or "channel"
    message_thread_id: int | None
    reply_to_message_id: int | None
    language_code: str  # default "en"
    caption: str | None
    media_group_id: str | None


@dataclass
class UploadedFile:
    """A multipart file part the bot uploaded, saved in the fake's temp dir (gone after stop)."""

    filename: str | None
    content_type: str | None
    path: Path
    size: int


@dataclass
class Call:
    """One Bot API request, recorded when answered; ``response`` is the JSON the fake sent."""

    method: str
    params: JSONDict
    files: dict[str, UploadedFile]
    at: float
    response: JSONDict | None = None

    @property
    def ok(self) -> bool:
        """Whether the fake answered ``{"ok": true}``."""
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call (``None`` for errors)."""
        return (self.response or {}).get("result")

    @property
    def text(self) -> str:
        """The ``text`` or ``caption`` parameter, or ``""``."""
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class WebhookDelivery:
    """One POST of an update to the webhook; ``status`` is None when no answer came."""

    update_id: int
    url: str
    status: int | None
    at: float

    @property
    def ok(self) -> bool:
        """Whether the bot answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str  # relative, as getFile reports it
    path: Path
    size: int
    file_name: str | None = None
    mime_type: str | None = None
    info: JSONDict = field(default_factory=dict)  # Bot API objects already made, by kind


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def body(self) -> JSONDict:
        """The JSON body Telegram would answer."""
        out: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


Params = JSONDict
Files = dict[str, UploadedFile]
Handler = Callable[["FakeTelegram", Params, Files], Awaitable[Any]]


def _media(kind: str) -> Handler:
    """The handler of sendPhoto, sendVideo, ...: ``kind`` is the file parameter's name."""

    async def send(self: FakeTelegram, p: Params, files: Files) -> Any:
        caption = _checked_caption(p.get("caption"), p.get("parse_mode"))
        msg = self._bot_message(p)
        stored = await self._resolve_input(kind, p, files)
        msg.update(await self._media_fields(kind, stored))
        if caption:
            msg.update(caption=caption, _source=[p.get("caption"), p.get("parse_mode")])
        return self._commit(msg)

    return send


class FakeTelegram:
    """The fake Bot API. Use as ``async with FakeTelegram() as fake:``.

    Bot API methods are the ``api_<methodName>`` coroutines; names match case-insensitively.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz0123",  # noqa: S107
        *,
        bot_id: int = 123456,
        bot_username: str = "seedance_test_bot",
    ) -> None:
        self.token = token
        self.bot_user: JSONDict = dict(
            id=bot_id, is_bot=True, first_name="Seedance", username=bot_username
        )
        self.base_url = self.base_file_url = ""
        self.calls: list[Call] = []
        self.messages: dict[int, dict[int, JSONDict]] = {}
        self.webhook: JSONDict = {"url": ""}
        self.commands: list[Any] = []
        self.admins: dict[int, set[int]] = {}
        self.local_mode = False  # behave as a self-hosted Bot API server started with --local
        # Telegram's privacy mode for bots: in groups the bot gets only commands, replies to its
        # own messages and mentions of it (off here by default: as for a bot that is an admin).
        self.privacy_mode = False
        self._holding: list[JSONDict] | None = None  # chat_id -> user ids that administer it
        self._updates: list[JSONDict] = []
        self._languages: dict[int, str] = {}  # user id -> the language_code their app sends
        self._next_update_id = 1000
        self._allowed_updates: list[str] = []
        self._chats: dict[int, JSONDict] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}  # by file_id
        self._paths: dict[str, _StoredFile] = {}  # by file_path
        self._counter = 0
        self._failures: dict[str, list[ApiError]] = {}
        # method (lower case), or method@chat_id -> seconds before handling
        self._delays: dict[str, float] = {}
        self.blocked: set[int] = set()  # chats whose user blocked the bot
        self._callback_ids: set[str] = set()
        self._update_event, self._call_event = asyncio.Event(), asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._tmp: Path | None = None
        self._server: QuickServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_retry_delays: tuple[float, ...] = (0.1, 0.3, 1.0)
        self._webhook_task: asyncio.Task[None] | None = None
        self._methods = {n[4:].lower(): n[4:] for n in dir(self) if n.startswith("api_")}

    # ------------------------------------------------------------------ lifecycle

    async def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1 (on `port`, or a free one) in the running loop; return once it
        accepts. A bot pointed at a port before the fake starts there sees Telegram come up."""
        if self._task is not None:
            raise RuntimeError("FakeTelegram already started")
        self._closing = False
        self._update_event, self._call_event = asyncio.Event(), asyncio.Event()
        routes = [
            Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", self._download_route),
        ]
        app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})
        config = uvicorn.Config(app, log_level="warning", log_config=None, lifespan="off")
        config.ws, config.timeout_graceful_shutdown = "none", 1  # no websockets; quick stop
        # Like Telegram, keep idle connections open longer than clients' pools do (httpx: 5 s):
        # at equal timeouts a pooled connection may be closed just as it is reused (ReadError).
        config.timeout_keep_alive = KEEP_ALIVE_SECONDS
        self._server = QuickServer(config)
        # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections (else ~40 ms
        # of Nagle + delayed ACK per request).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        root = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.base_url, self.base_file_url = f"{root}/bot", f"{root}/file/bot"
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("the fake Telegram server did not start")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Release pending long polls, stop the server, delete the temp dir."""
        self._closing = True
        self._wake_pollers()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._server is not None and self._task is not None:
            self._server.exit()
            await self._task
        if self._sock is not None:
            self._sock.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._server = self._task = self._sock = self._tmp = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ user side

    def send_text(
        self, chat_id: int, user_id: int, text: str, **opts: Unpack[UserOptions]
    ) -> JSONDict:
        """A user writes ``text``; a leading ``/command`` gets a ``bot_command`` entity."""
        fields: JSONDict = {"text": text}
        if entity := _command_entity(text):
            fields["entities"] = [entity]
        return self._user_message(chat_id, user_id, fields, opts)

    def send_photo(
        self, chat_id: int, user_id: int, data: bytes, **opts: Unpack[UserOptions]
    ) -> JSONDict:
        """A user sends a photo: a thumbnail (<=320 px) and the original bytes, largest last."""
        sizes = self._photo_sizes(self._store_bytes(data, "photo"))
        if sizes is None:
            raise ValueError("send_photo: data is not an image Pillow can read")
        return self._user_message(chat_id, user_id, {"photo": sizes}, opts)

    def send_document(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str | None = None,
        **opts: Unpack[UserOptions],
    ) -> JSONDict:
        """A user sends a file as a document."""
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._store_bytes(data, "document", file_name=file_name, mime_type=mime)
        return self._user_message(chat_id, user_id, {"document": self._document(stored)}, opts)

    def send_video(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        width: int,
        height: int,
        duration: int,
        mime_type: str = "video/mp4",
        **opts: Unpack[UserOptions],
    ) -> JSONDict:
        """A user sends a video (size and duration as given, not probed)."""
        stored = self._store_bytes(data, "video", mime_type=mime_type)
        video = self._ids(stored) | dict(width=width, height=height, duration=duration)
        video |= {"mime_type": mime_type, "file_size": stored.size}
        stored.info["video"] = video
        return self._user_message(chat_id, user_id, {"video": video}, opts)

    def send_voice(
        self, chat_id: int, user_id: int, data: bytes, *, duration: int, **opts: Unpack[UserOptions]
    ) -> JSONDict:
        """A user sends a voice note (audio/ogg)."""
        stored = self._store_bytes(data, "voice", mime_type="audio/ogg")
        voice = self._ids(stored) | dict(duration=duration, mime_type="audio/ogg")
        voice["file_size"] = stored.size
        return self._user_message(chat_id, user_id, {"voice": voice}, opts)

    def send_video_note(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        length: int,
        duration: int,
        **opts: Unpack[UserOptions],
    ) -> JSONDict:
        """A user sends a round video note (square, ``length`` px)."""
        stored = self._store_bytes(data, "video_note", mime_type="video/mp4")
        note = self._ids(stored) | dict(length=length, duration=duration, file_size=stored.size)
        return self._user_message(chat_id, user_id, {"video_note": note}, opts)

    def send_animation(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        width: int,
        height: int,
        duration: int,
        file_name: str = "animation.mp4",
        **opts: Unpack[UserOptions],
    ) -> JSONDict:
        """A user sends a GIF-like animation (Telegram fills ``document`` too)."""
        stored = self._store_bytes(data, "animation", file_name=file_name, mime_type="video/mp4")
        animation = self._ids(stored) | dict(width=width, height=height, duration=duration)
        animation |= {"file_name": file_name, "mime_type": "video/mp4", "file_size": stored.size}
        fields = {"animation": animation, "document": self._document(stored)}
        return self._user_message(chat_id, user_id, fields, opts)

    def send_audio(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        duration: int,
        file_name: str,
        mime_type: str = "audio/mpeg",
        **opts: Unpack[UserOptions],
    ) -> JSONDict:
        """A user sends a music file."""
        stored = self._store_bytes(data, "audio", file_name=file_name, mime_type=mime_type)
        audio = self._ids(stored) | dict(duration=duration, file_name=file_name)
        audio |= {"mime_type": mime_type, "file_size": stored.size}
        return self._user_message(chat_id, user_id, {"audio": audio}, opts)

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        as_seen: JSONDict | None = None,
    ) -> JSONDict:
        """A user presses an inline button of a bot message; returns the callback_query dict.

        ``as_seen`` is the message as the user's phone still shows it (a copy taken earlier):
        a button the bot has removed since can still be tapped before the change arrives.
        """
        msg = as_seen if as_seen is not None else self._live_message(chat_id, message_id)
        if msg is None:
            raise ValueError(f"press_button: no message {message_id} in chat {chat_id}")
        rows = msg.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [button.get("callback_data") for row in rows for button in row]
        if data not in buttons:
            raise ValueError(f"press_button: no button {data!r} on message {message_id}: {buttons}")
        query_id = str(secrets.randbits(62))
        self._callback_ids.add(query_id)
        query: JSONDict = dict(id=query_id, chat_instance=str(abs(chat_id) * 7919), data=data)
        language = self._languages.get(user_id, "en")  # the user's app language, as last seen
        query |= {"from": _user(user_id, language), "message": copy.deepcopy(msg)}
        self.add_update({"callback_query": query})
        return query

    @contextlib.contextmanager
    def held(
        self, order: Callable[[list[JSONDict]], list[JSONDict]] = lambda updates: updates
    ) -> Iterator[None]:
        """Hold the updates made inside the block, then deliver them in ``order`` (e.g. reversed),
        as Telegram may when an album's items race each other."""
        self._holding = []
        try:
            yield
        finally:
            held, self._holding = self._holding, None
            for update in order(held):
                self.add_update(update)

    def store_message(self, message: JSONDict) -> JSONDict:
        """Keep a user's message as Telegram would, without queueing its update: for tests that
        build updates themselves and hand them to the bot directly. ``message_id`` is assigned
        (the chat's next); replies to it, edits and buttons on it then work."""
        message = {k: v for k, v in copy.deepcopy(message).items() if k != "message_id"}
        return copy.deepcopy(self._commit(message))

    def allow_callback_query(self, query_id: str) -> None:
        """Let answerCallbackQuery accept ``query_id`` (a query a test built itself)."""
        self._callback_ids.add(query_id)

    def add_update(self, update: JSONDict) -> None:
        """Queue any update dict for getUpdates (``update_id`` assigned when missing)."""
        if self._holding is not None:
            self._holding.append(update)
            return
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
        self._updates.append(update)
        self._wake_pollers()

    # ------------------------------------------------------------------ inspection

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Recorded calls, optionally only of ``method`` (any case) and/or to ``chat_id``."""
        return [c for c in self.calls if _matches(c, method, chat_id)]

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 10.0,
    ) -> Call:
        """The first call (past or future) matching ``predicate``; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._call_event
            if match := next((c for c in self.calls if predicate(c)), None):
                return match
            if (remaining := deadline - loop.time()) <= 0:
                raise AssertionError(f"no matching Bot API call within {timeout}s\n{self.dump()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_method(
        self,
        method: str,
        chat_id: int | None = None,
        timeout: float = 10.0,
        *,
        text_contains: str | None = None,
    ) -> Call:
        """Wait for a call of ``method`` (to ``chat_id``, with ``text_contains`` in its text)."""

        def predicate(call: Call) -> bool:
            return _matches(call, method, chat_id) and (text_contains or "") in call.text

        return await self.wait_for(predicate, timeout)

    def dump(self, last: int = 25) -> str:
        """The last calls, one a line, for assertion messages."""
        lines = [f"recent calls ({len(self.calls)} in all, {len(self._updates)} updates queued):"]
        for call in self.calls[-last:]:
            params = {k: _short(v) for k, v in call.params.items()}
            answer = "ok" if call.ok else (call.response or {}).get("description")
            lines.append(f"  {call.method} {params} files={sorted(call.files)} -> {answer}")
        return "\n".join(lines)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 400,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail, without side effects.

        ``description`` defaults to "Too Many Requests: retry after N" when ``retry_after`` is
        given, else "Bad Request: injected failure".
        """
        if description is None and retry_after is not None:
            description = f"Too Many Requests: retry after {retry_after}"
        error = ApiError(error_code, description or "Bad Request: injected failure", retry_after)
        self._failures.setdefault(method.lower(), []).extend([error] * times)

    @property
    def last_update_id(self) -> int:
        """The id of the update queued last."""
        return self._next_update_id - 1

    def unconfirmed_updates(self) -> int:
        """Updates not yet confirmed by a later getUpdates offset (still re-sent on request)."""
        return len(self._updates)

    def set_delay(self, method: str, seconds: float, *, chat_id: int | None = None) -> None:
        """Every call of ``method`` (in ``chat_id`` only, if given) waits ``seconds`` before it
        is handled (0 removes the delay).

        The call still takes effect after the delay even if the bot stopped waiting for the
        answer meanwhile, as with Telegram: a timed-out sendVideo may well have been sent.
        """
        key = method.lower() if chat_id is None else f"{method.lower()}@{chat_id}"
        if seconds > 0:
            self._delays[key] = seconds
        else:
            self._delays.pop(key, None)

    def block(self, chat_id: int) -> None:
        """The user of ``chat_id`` blocks the bot: every send or edit there answers 403."""
        self.blocked.add(chat_id)

    # ------------------------------------------------------------------ HTTP layer

    async def _api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _json(ApiError(401, "Unauthorized").body())
        params, files = await self._read_params(request)
        asked = request.path_params["method"]
        name = self._methods.get(asked.lower(), asked)
        call = Call(name, params, files, time.time())
        failures = self._failures.get(name.lower())
        delay = self._delays.get(f"{name.lower()}@{params.get('chat_id')}")
        if delay := delay or self._delays.get(name.lower()):
            await asyncio.sleep(delay)
        try:
            if name.lower() not in self._methods:
                raise ApiError(404, "Not Found")
            if params.get("chat_id") in self.blocked and name.lower().startswith(_CHAT_WRITES):
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if any(f.size > MAX_UPLOAD for f in files.values()):
                raise ApiError(413, "Request Entity Too Large")
            if failures:
                raise failures.pop(0)
            result = await getattr(self, "api_" + name)(params, files)
            body: JSONDict = {"ok": True, "result": _public(result)}
        except ApiError as exc:
            body = exc.body()
        except Exception as exc:  # a bug in the fake: answer 500 and log it
            log.exception("fake Telegram failed on %s", name)
            body = ApiError(500, f"Internal Server Error: fake bug {exc!r}").body()
        call.response = body
        self.calls.append(call)
        self._call_event.set()
        self._call_event = asyncio.Event()
        return _json(body)

    async def _read_params(self, request: Request) -> tuple[Params, Files]:
        raw: JSONDict = dict(request.query_params)
        files: Files = {}
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            raw.update(json.loads(await request.body() or b"{}"))
        elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            async with request.form(max_part_size=8 * MB) as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        files[key] = await self._save_upload(value)
                    else:
                        raw[key] = value
        return {key: _decode(key, value) for key, value in raw.items()}, files

    async def _save_upload(self, part: UploadFile) -> UploadedFile:
        dest = self._new_path("uploads", PurePosixPath(part.filename or "").suffix)
        size = await asyncio.to_thread(_copy_stream, part.file, dest)
        return UploadedFile(part.filename, part.content_type, dest, size)

    async def _download_route(self, request: Request) -> Response:
        stored = self._paths.get(request.path_params["file_path"])
        if request.path_params["token"] != self.token or stored is None:
            return _json(ApiError(404, "Not Found").body())
        return FileResponse(stored.path)

    # ------------------------------------------------------------------ simple methods

    async def api_getMe(self, p: Params, files: Files) -> Any:
        return self.bot_user | dict(
            can_join_groups=True,
            can_read_all_group_messages=not self.privacy_mode,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )

    async def api_sendChatAction(self, p: Params, files: Files) -> bool:
        return True

    api_setMessageReaction = api_sendChatAction

    async def api_setWebhook(self, p: Params, files: Files) -> bool:
        url, secret = str(p.get("url") or ""), p.get("secret_token")
        if url and not re.match(r"https?://[^/?#]+", url):
            raise ApiError(400, "Bad Request: bad webhook: invalid webhook URL specified")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self._updates.clear()
        if isinstance(p.get("allowed_updates"), list):
            self._allowed_updates = p["allowed_updates"]
        self.webhook = {"url": url, "secret_token": secret}
        if url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.create_task(self._deliver_webhook())
        self._wake_pollers()
        return True

    async def api_deleteWebhook(self, p: Params, files: Files) -> bool:
        self.webhook = {"url": ""}
        if p.get("drop_pending_updates"):
            self._updates.clear()
        self._wake_pollers()  # the webhook deliverer sees it is gone
        return True

    async def api_getWebhookInfo(self, p: Params, files: Files) -> Any:
        url, pending = self.webhook["url"], len(self._updates)
        info = dict(url=url, has_custom_certificate=False, pending_update_count=pending)
        failed = [d for d in self.webhook_deliveries if not d.ok]
        if url and failed:
            info["last_error_date"] = int(failed[-1].at)
            info["last_error_message"] = f"Wrong response from the webhook: {failed[-1].status}"
        return info

    async def _deliver_webhook(self) -> None:
        """POST queued updates to the webhook, one at a time, until the webhook is deleted."""
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
            while not self._closing and self.webhook["url"]:
                event = self._update_event
                pending = [u for u in self._updates if self._allowed(u)]
                if not pending:
                    await event.wait()
                    continue
                update = pending[0]
                if await self._post_update(client, update) is None:
                    continue  # the webhook went away: the update waits for getUpdates
                self._updates = [u for u in self._updates if u is not update]

    async def _post_update(self, client: httpx.AsyncClient, update: JSONDict) -> bool | None:
        """Deliver one update with retries: True if accepted, False if given up, None if the
        webhook was deleted meanwhile."""
        for delay in (0.0, *self.webhook_retry_delays):
            await asyncio.sleep(delay)
            url, secret = self.webhook["url"], self.webhook.get("secret_token")
            if not url or self._closing:
                return None
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
            try:
                response = await client.post(url, json=_public(update), headers=headers)
                status: int | None = response.status_code
            except httpx.HTTPError:
                status = None
            delivery = WebhookDelivery(update["update_id"], url, status, time.time())
            self.webhook_deliveries.append(delivery)
            if delivery.ok:
                return True
        log.warning("fake Telegram: gave up delivering update %s", update["update_id"])
        return False

    async def api_setMyCommands(self, p: Params, files: Files) -> bool:
        self.commands = list(p.get("commands") or [])
        return True

    api_deleteMyCommands = api_setMyCommands

    async def api_getMyCommands(self, p: Params, files: Files) -> Any:
        return self.commands

    async def api_getChatMember(self, p: Params, files: Files) -> Any:
        chat_id, user_id = int(p.get("chat_id", 0)), int(p.get("user_id", 0))
        status = "administrator" if user_id in self.admins.get(chat_id, set()) else "member"
        member: JSONDict = {"status": status, "user": _user(user_id, "en")}
        if status == "administrator":
            member |= {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        return member

    async def api_answerCallbackQuery(self, p: Params, files: Files) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        if query_id not in self._callback_ids:
            raise ApiError(400, QUERY_INVALID)
        self._callback_ids.discard(query_id)
        return True

    async def api_getFile(self, p: Params, files: Files) -> Any:
        stored = self._files.get(str(p.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if self.local_mode:
            # A self-hosted Bot API server in --local mode: no size limit, and the file is
            # handed over as an absolute path on the shared disk instead of by download.
            return self._ids(stored) | {"file_size": stored.size, "file_path": str(stored.path)}
        if stored.size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return self._ids(stored) | {"file_size": stored.size, "file_path": stored.file_path}

    async def api_getUpdates(self, p: Params, files: Files) -> Any:
        if self.webhook["url"]:
            raise ApiError(409, WEBHOOK_ACTIVE)
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        if isinstance(p.get("allowed_updates"), list):
            self._allowed_updates = p["allowed_updates"]
        # A newer getUpdates terminates an older one still waiting, as Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(float(p.get("timeout") or 0), 0.0)
        while True:
            event = self._update_event
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            if offset > 0:  # confirms (forgets) the updates before it
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            ready = [u for u in self._updates if self._allowed(u)][:limit]
            remaining = deadline - loop.time()
            if ready or self._closing or remaining <= 0:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _allowed(self, update: JSONDict) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in ("chat_member", "message_reaction", "message_reaction_count")

    def _wake_pollers(self) -> None:
        self._update_event.set()
        self._update_event = asyncio.Event()

    # ------------------------------------------------------------------ sending

    async def api_sendMessage(self, p: Params, files: Files) -> Any:
        text = _checked_text(p.get("text"), p.get("parse_mode"))
        msg = self._bot_message(p)
        msg.update(text=text, _source=[p.get("text"), p.get("parse_mode")])
        return self._commit(msg)

    api_sendPhoto = _media("photo")
    api_sendVideo = _media("video")
    api_sendDocument = _media("document")
    api_sendAnimation = _media("animation")
    api_sendAudio = _media("audio")
    api_sendVoice = _media("voice")

    async def _resolve_input(self, kind: str, p: Params, files: Files) -> _StoredFile:
        """The file to send: an upload, a URL (fetched now) or a known file_id."""
        value, upload = p.get(kind), files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime
            name = PurePosixPath(upload.filename).name if upload.filename else None
            return self._register(upload.path, upload.size, kind, name, mime)
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if value.startswith(("http://", "https://")):
            name = PurePosixPath(urlsplit(value).path).name or None
            dest = self._new_path("downloads", PurePosixPath(name or "").suffix)
            size = await asyncio.to_thread(_fetch_url, value, dest)
            return self._register(dest, size, kind, name, mimetypes.guess_type(name or "")[0])
        if (stored := self._files.get(value)) is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return stored

    async def _media_fields(self, kind: str, stored: _StoredFile) -> JSONDict:
        """The message fields describing ``stored`` sent as ``kind``."""
        if kind == "photo":
            if (sizes := stored.info.get("photo") or self._photo_sizes(stored)) is None:
                raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            width, height = sizes[-1]["width"], sizes[-1]["height"]
            if width + height > 10000 or max(width, height) > 20 * min(width, height):
                raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
            return {"photo": sizes}
        if kind == "document":
            return {"document": self._document(stored)}
        if kind == "video" and "video" in stored.info:
            return {"video": stored.info["video"]}
        probe = await asyncio.to_thread(_probe, stored.path)
        if kind in ("video", "animation") and (probe is None or "width" not in probe):
            raise ApiError(400, "Bad Request: wrong type of the web page content")
        obj = self._ids(stored) | (probe or {"duration": 0}) | {"file_size": stored.size}
        if kind == "video":
            stored.info["video"] = obj = obj | {"mime_type": "video/mp4"}
            return {"video": obj}
        obj.pop("_has_audio", None)
        name, mime = stored.file_name or f"file{_EXT[kind]}", stored.mime_type
        if kind == "animation":  # Telegram also fills ``document`` for animations
            obj |= {"file_name": name, "mime_type": mime or "video/mp4"}
            return {"animation": obj, "document": self._document(stored)}
        obj = {k: v for k, v in obj.items() if k not in ("width", "height")}
        if kind == "voice":
            return {"voice": obj | {"mime_type": "audio/ogg"}}
        return {"audio": obj | {"file_name": name, "mime_type": mime or "audio/mpeg"}}

    def _bot_message(self, p: Params) -> JSONDict:
        """Check chat, reply and markup; the message without its id (``_commit`` gives one)."""
        chat_id = p.get("chat_id")
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):  # "@channel" names are not supported
            raise ApiError(400, "Bad Request: chat not found")
        msg: JSONDict = {"from": dict(self.bot_user), "chat": dict(self._chat(chat_id))}
        msg["date"] = int(time.time())
        if p.get("message_thread_id"):
            msg.update(message_thread_id=p["message_thread_id"], is_topic_message=True)
        if (reply := self._reply_target(chat_id, p)) is not None:
            msg["reply_to_message"] = reply
        if markup := _inline_markup(p):
            msg["reply_markup"] = markup
        return msg

    def _reply_target(self, chat_id: int, p: Params) -> JSONDict | None:
        """A copy of the message replied to (reply_parameters or reply_to_message_id)."""
        rp = p.get("reply_parameters")
        if isinstance(rp, dict):
            message_id, allow = rp.get("message_id"), rp.get("allow_sending_without_reply")
            chat_id = rp.get("chat_id", chat_id)
        else:
            message_id, allow = p.get("reply_to_message_id"), p.get("allow_sending_without_reply")
        if message_id is None:
            return None
        if (target := self._live_message(chat_id, message_id)) is None:
            if allow is True:
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        reply = copy.deepcopy(target)
        reply.pop("reply_to_message", None)
        return reply

    def _commit(self, msg: JSONDict) -> JSONDict:
        """Give ``msg`` the chat's next message_id and store it."""
        chat_id = msg["chat"]["id"]
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        msg = {"message_id": message_id, **msg}
        self.messages.setdefault(chat_id, {})[message_id] = msg
        return msg

    # ------------------------------------------------------------------ editing

    def _edit_target(self, p: Params) -> JSONDict:
        if p.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        if (msg := self._live_message(p.get("chat_id"), p.get("message_id"))) is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return msg

    def _apply_edit(self, msg: JSONDict, key: str, value: str | None, p: Params) -> Any:
        """Set ``key`` (text or caption) and reply_markup; a missing markup removes it."""
        source = [p.get(key), p.get("parse_mode")] if value else None
        markup = _inline_markup(p)
        if msg.get("_source") == source and msg.get("reply_markup") == markup:
            raise ApiError(400, NOT_MODIFIED)
        for k, v in ((key, value), ("_source", source), ("reply_markup", markup)):
            if v:
                msg[k] = v
            else:
                msg.pop(k, None)
        msg["edit_date"] = int(time.time())
        return msg

    async def api_editMessageText(self, p: Params, files: Files) -> Any:
        msg = self._edit_target(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(msg, "text", _checked_text(p.get("text"), p.get("parse_mode")), p)

    async def api_editMessageCaption(self, p: Params, files: Files) -> Any:
        msg = self._edit_target(p)
        if "text" in msg:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = _checked_caption(p.get("caption"), p.get("parse_mode"))
        return self._apply_edit(msg, "caption", caption, p)

    async def api_editMessageReplyMarkup(self, p: Params, files: Files) -> Any:
        msg = self._edit_target(p)
        key = "text" if "text" in msg else "caption"
        if msg.get(key) is not None:  # keep the text as it is
            p = p | {key: msg["_source"][0], "parse_mode": msg["_source"][1]}
        return self._apply_edit(msg, key, msg.get(key), p)

    async def api_deleteMessage(self, p: Params, files: Files) -> bool:
        if (msg := self._live_message(p.get("chat_id"), p.get("message_id"))) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        msg["_deleted"] = True
        return True

    # ------------------------------------------------------------------ helpers

    def _live_message(self, chat_id: Any, message_id: Any) -> JSONDict | None:
        msg = self.messages.get(chat_id, {}).get(message_id) if isinstance(chat_id, int) else None
        return None if msg is None or msg.get("_deleted") else msg

    def _chat(self, chat_id: int, chat_type: str | None = None, forum: bool = False) -> JSONDict:
        """The chat dict, remembered from the user side (default: a private chat)."""
        chat = self._chats.get(chat_id)
        if chat is None or (chat_type and chat["type"] != chat_type):
            chat_type = chat_type or "private"
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = f"User{chat_id}"
            else:
                chat["title"] = f"Test {chat_type} {abs(chat_id)}"
            self._chats[chat_id] = chat
        if forum and chat["type"] == "supergroup":
            chat["is_forum"] = True
        return chat

    def _user_message(
        self, chat_id: int, user_id: int, fields: JSONDict, opts: UserOptions
    ) -> JSONDict:
        """Store a message from a user and queue its update."""
        thread_id = opts.get("message_thread_id")
        chat = self._chat(chat_id, opts.get("chat_type", "private"), forum=thread_id is not None)
        language = opts.get("language_code") or self._languages.get(user_id, "en")
        self._languages[user_id] = language
        msg: JSONDict = {"from": _user(user_id, language)}
        msg["chat"] = dict(chat)
        msg["date"] = int(time.time())
        if thread_id is not None:
            msg.update(message_thread_id=thread_id, is_topic_message=True)
        if (reply_to := opts.get("reply_to_message_id")) is not None:
            msg["reply_to_message"] = self._reply_target(chat_id, {"reply_to_message_id": reply_to})
        if (group := opts.get("media_group_id")) is not None:
            msg["media_group_id"] = group
        msg.update(fields)
        if (caption := opts.get("caption")) is not None:
            msg["caption"] = caption
            if entity := _command_entity(caption):
                msg["caption_entities"] = [entity]
        msg = self._commit(msg)
        if self._bot_may_see(msg):
            self.add_update({"message": copy.deepcopy(msg)})
        return msg

    def _bot_may_see(self, msg: JSONDict) -> bool:
        """Whether Telegram would give the bot this message (privacy mode in groups)."""
        if not self.privacy_mode or msg["chat"]["type"] not in ("group", "supergroup"):
            return True
        text = str(msg.get("text") or msg.get("caption") or "")
        replied = msg.get("reply_to_message") or {}
        return (
            text.startswith("/")
            or f"@{self.bot_user['username']}" in text
            or (replied.get("from") or {}).get("id") == self.bot_user["id"]
        )

    def _new_path(self, folder: str, suffix: str) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="fake-telegram-"))
        self._counter += 1
        (self._tmp / folder).mkdir(exist_ok=True)
        return self._tmp / folder / f"file_{self._counter}{suffix[:10]}"

    def _register(
        self,
        path: Path,
        size: int,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> _StoredFile:
        """Make a saved file known under a new file_id and a getFile file_path."""
        self._counter += 1
        suffix = PurePosixPath(file_name or "").suffix if kind == "document" else _EXT.get(kind)
        file_path = f"{_FOLDER.get(kind, kind)}/file_{self._counter}{suffix or ''}"
        file_id = _PREFIX.get(kind, "CgAC") + "AgIRAAM" + secrets.token_urlsafe(36)
        unique_id = "AQAD" + secrets.token_urlsafe(9)
        stored = _StoredFile(file_id, unique_id, file_path, path, size, file_name, mime_type)
        self._files[file_id] = self._paths[file_path] = stored
        return stored

    def _store_bytes(self, data: bytes, kind: str, **kw: Any) -> _StoredFile:
        path = self._new_path("stored", PurePosixPath(kw.get("file_name") or "").suffix)
        path.write_bytes(data)
        return self._register(path, len(data), kind, **kw)

    def _photo_sizes(self, stored: _StoredFile) -> list[JSONDict] | None:
        """PhotoSizes (a <=320 px thumbnail first when bigger), or None if not an image."""
        thumb: Image.Image | None = None
        try:
            with Image.open(stored.path) as img:
                width, height = img.size
                if max(width, height) > 320:
                    thumb = img.convert("RGB")
                    thumb.thumbnail((320, 320))
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        sizes = []
        if thumb is not None:
            buf = io.BytesIO()
            thumb.save(buf, "JPEG", quality=80)
            small = self._store_bytes(buf.getvalue(), "photo")
            sizes.append(self._ids(small) | dict(width=thumb.width, height=thumb.height))
            sizes[-1]["file_size"] = small.size
        sizes.append(self._ids(stored) | dict(width=width, height=height, file_size=stored.size))
        stored.info["photo"] = sizes
        return sizes

    def _document(self, stored: _StoredFile) -> JSONDict:
        mime = stored.mime_type or "application/octet-stream"
        name = stored.file_name or "file"
        return self._ids(stored) | dict(file_name=name, mime_type=mime, file_size=stored.size)

    @staticmethod
    def _ids(stored: _StoredFile) -> JSONDict:
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}


# ---------------------------------------------------------------------- module helpers


def _json(body: JSONDict) -> JSONResponse:
    return JSONResponse(body, status_code=200 if body["ok"] else body["error_code"])


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json(ApiError(404, "Not Found").body())


def _user(user_id: int, language_code: str) -> JSONDict:
    name = f"User{user_id}"
    return dict(id=user_id, is_bot=False, first_name=name, language_code=language_code)


def _short(value: Any) -> Any:
    return value[:80] + "…" if isinstance(value, str) and len(value) > 80 else value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entity(text: str | None) -> JSONDict | None:
    if not text or not re.match(r"/\w", text):
        return None
    return {"type": "bot_command", "offset": 0, "length": _utf16_len(text.split()[0])}


def _plain(text: Any, parse_mode: Any) -> str:
    """The text as users see it: for parse_mode HTML, tags removed and entities unescaped."""
    plain = "" if text is None else str(text)
    if isinstance(parse_mode, str) and parse_mode.lower() == "html":
        plain = html.unescape(_TAG_RE.sub("", plain))
    return plain


def _checked_text(text: Any, parse_mode: Any) -> str:
    plain = _plain(text, parse_mode)
    if not plain.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if _utf16_len(plain) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return plain


def _checked_caption(caption: Any, parse_mode: Any) -> str | None:
    plain = _plain(caption, parse_mode)
    if _utf16_len(plain) > 1024:
        raise ApiError(400, "Bad Request: message caption is too long")
    return plain or None


def _inline_markup(p: Params) -> JSONDict | None:
    """The reply_markup a message keeps (inline keyboards only), checked."""
    markup = p.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup if markup.get("inline_keyboard") else None


def _decode(key: str, value: Any) -> Any:
    """Type a form value as Telegram reads it (PTB JSON-encodes all non-string values)."""
    if not isinstance(value, str):
        return value
    if key in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in _BOOL_PARAMS and value in ("true", "false"):
        return value == "true"
    if key not in _TEXT_PARAMS and value.startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _public(obj: Any) -> Any:
    """A copy of ``obj`` without the test-only ``_keys``."""
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_public(v) for v in obj]
    return obj


def _matches(call: Call, method: str | None, chat_id: int | None) -> bool:
    return (method is None or call.method.lower() == method.lower()) and (
        chat_id is None or call.params.get("chat_id") == chat_id
    )


def _copy_stream(src: BinaryIO, dest: Path) -> int:
    """Copy a (spooled) upload to ``dest`` in 1 MB chunks; its size."""
    src.seek(0)
    with dest.open("wb") as out:
        shutil.copyfileobj(src, out, MB)
        return out.tell()


def _fetch_url(url: str, dest: Path) -> int:
    """Download like Telegram: no redirects, 10 s, at most 20 MB; the size, or ApiError."""
    size = 0
    try:
        with (
            httpx.Client(follow_redirects=False, timeout=10.0, trust_env=False) as client,
            client.stream("GET", url) as response,
            dest.open("wb") as out,
        ):
            if response.status_code != 200:
                raise ApiError(400, URL_FAILED)
            for chunk in response.iter_bytes(256 * 1024):
                size += len(chunk)
                if size > MAX_DOWNLOAD:
                    raise ApiError(400, URL_FAILED)
                out.write(chunk)
    except httpx.HTTPError as exc:
        raise ApiError(400, URL_FAILED) from exc
    return size


def _probe(path: Path) -> JSONDict | None:
    """duration, width/height (if a video stream) and ``_has_audio`` by PyAV; None if no media."""
    try:
        with av.open(str(path)) as container:
            if container.format.name == "image2" or container.format.name.endswith("_pipe"):
                return None  # a still image, not a video
            seconds = container.duration / av.time_base if container.duration else 0.0
            out: JSONDict = {"duration": round(seconds)}
            if container.streams.video:
                ctx = container.streams.video[0].codec_context
                out.update(width=ctx.width, height=ctx.height)
            out["_has_audio"] = bool(container.streams.audio)
            return out if container.streams.video or container.streams.audio else None
    except (av.FFmpegError, OSError, ValueError):
        return None
