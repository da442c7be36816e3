"""A strict fake of the Evolink API (api.evolink.ai) and its Files API (files-api.evolink.ai).

Both are real HTTP servers (uvicorn) on 127.0.0.1, running in the current asyncio loop, so the
bot's real httpx code talks to them. The submit call is validated like the real service (see
the API reference, seedance-2.0-fast-reference-to-video.md): the body against its schema, and
every reference URL is downloaded and probed (Pillow for images, PyAV for video and audio)
against the documented limits. Tests drive tasks with set_progress / complete / fail, inject
faults with fail_next / set_delay / set_answer_delay (handled at once, answered late) /
respond_next (any answer, verbatim) / break_next_answer (the task is created, then the answer is
a 5xx, a reset connection, a cut-off body, a corrupt gzip body or an answer after the client gave
up), and read what happened in submissions, rejected, tasks, uploads, task_queries,
callbacks_sent and requests (every request, as it came).

Like the real API as far as it is documented, it does not honour an `Idempotency-Key` unless a
test asks it to (`honours_idempotency_key`): a second POST is a second paid task.

A task can also run on its own, with the clock (`follow_timeline`, or `timeline` for every new
submit): pending (queued) for a while, then processing with its progress growing in step with
the work done, then completed (with its callback) at the moment drawn for it; `completed_at`
says when.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import mimetypes
import secrets
import shutil
import socket
import string
import struct
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote

import av
import httpx
import uvicorn
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.fakes.server import QuickServer
from tests.mediagen import write_video

MODEL = "seedance-2.0-fast-reference-to-video"
SUBMIT_PATH = "/v1/videos/generations"
MB = 1024 * 1024
Handler = Callable[[Request], Awaitable[Response]]
Kind = Literal["image", "video", "audio"]

_ERROR_DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request", "Invalid request parameters", "invalid_request_error"),
    401: ("unauthorized", "Invalid or expired token", "authentication_error"),
    402: (
        "insufficient_quota",
        "Insufficient quota. Please top up your account.",
        "insufficient_quota",
    ),
    403: (
        "model_access_denied",
        f"Token does not have access to model: {MODEL}",
        "invalid_request_error",
    ),
    404: ("task_not_found", "Task not found", "invalid_request_error"),
    413: ("request_too_large", "Request body too large", "invalid_request_error"),
    429: ("rate_limit_exceeded", "Too many requests, please try again later", "rate_limit_error"),
    500: ("internal_error", "Internal server error", "api_error"),
    502: ("upstream_error", "Upstream service error", "api_error"),
    503: ("service_unavailable_error", "Service temporarily unavailable", "api_error"),
}
FILES_ACCEPTED_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/quicktime"}
    | {"audio/mpeg", "audio/mp3", "audio/wav", "audio/x-wav", "audio/wave"}
)


@dataclass
class FetchedReference:
    """One reference URL as the fake downloaded and probed it."""

    kind: Kind
    url: str
    size: int
    format: str  # JPEG/PNG/WEBP, mp4/mov, mp3/wav
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: float | None = None
    sha256: str = ""
    codec: str | None = None


@dataclass
class Submission:
    """An accepted POST /v1/videos/generations."""

    task_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    references: list[FetchedReference]


@dataclass
class FakeTask:
    """Server-side state of one generation task."""

    task_id: str
    created: int
    duration: int
    quality: str
    aspect_ratio: str
    generate_audio: bool
    content_filter: bool
    credits_reserved: float
    callback_url: str | None = None
    idempotency_key: str | None = None
    status: str = "pending"
    progress: int = 0
    results: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    result_path: Path | None = None
    expired: bool = False
    # Running on its own: (start, seconds queued, seconds processing), see follow_timeline.
    timeline: tuple[float, float, float] | None = None
    completed_at: float | None = None  # time.time() when it turned completed
    estimated_time: int = 120

    def to_json(self) -> dict[str, Any]:
        """The task as GET /v1/tasks/{id} (and the callback) shows it."""
        body: dict[str, Any] = {
            "created": self.created,
            "id": self.task_id,
            "model": MODEL,
            "object": "video.generation.task",
            "progress": self.progress,
            "status": self.status,
            "task_info": {
                "can_cancel": self.status in ("pending", "processing"),
                "estimated_time": self.estimated_time,
                "video_duration": self.duration,
            },
            "type": "video",
            "usage": {
                "billing_rule": "per_second",
                "credits_reserved": self.credits_reserved,
                "user_group": "default",
            },
        }
        if self.status == "completed":
            body["results"] = list(self.results)
        if self.status == "failed" and self.error is not None:
            body["error"] = dict(self.error)
        return body


@dataclass
class StoredFile:
    """A file received by the Files API."""

    file_id: str
    file_name: str
    mime_type: str
    size: int
    path: Path
    original_name: str = ""
    upload_path: str = ""
    deleted: bool = False


@dataclass
class _Canned:
    prefix: str
    status: int
    body: bytes
    content_type: str
    times: int


BrokenAnswer = Literal["500", "502", "503", "504", "reset", "cut", "gzip", "late"]


@dataclass
class _Fault:
    prefix: str
    status: int
    code: str
    message: str
    retry_after: float | None
    times: int
    delay: float


class _RequestError(Exception):
    """A refusal of the submit call; becomes an error response."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        *,
        status: int = 400,
        code: str = "invalid_request",
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.param = status, param
        self.error: dict[str, Any] = {"code": code, "message": message, "type": type_}
        if param is not None:
            self.error["param"] = param


class GenerationRequest(BaseModel):
    """The seed's VideoGenerationRequest, strictly (no coercion, no unknown fields)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: Literal["seedance-2.0-fast-reference-to-video"]
    prompt: str = Field(min_length=1)
    image_urls: list[str] = Field(default_factory=list, max_length=9)
    video_urls: list[str] = Field(default_factory=list, max_length=3)
    audio_urls: list[str] = Field(default_factory=list, max_length=3)
    duration: int = Field(default=5, ge=4, le=15)
    quality: Literal["480p", "720p"] = "720p"
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"] = "16:9"
    generate_audio: bool = True
    content_filter: bool = True
    callback_url: str | None = None


class LoopbackServer:
    """Any ASGI app served by uvicorn on 127.0.0.1:<random port> in the current loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.url = ""
        self._server: QuickServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Bind, serve and wait until uvicorn is listening; returns the base URL."""
        # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections, as real
        # servers do (else ~40 ms of Nagle + delayed ACK when an answer goes out in two writes).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            access_log=False,
            ws="none",
            # Longer than clients' pools keep idle connections (httpx: 5 s), as real servers
            # do: at equal timeouts a pooled connection may close just as it is reused.
            timeout_keep_alive=75,
        )
        self._server = QuickServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                await self._task
                raise RuntimeError("uvicorn stopped during startup")
            await asyncio.sleep(0.005)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    def connections(self) -> list[Any]:
        """uvicorn's protocol objects of the open connections (each has .client, .transport)."""
        return list(self._server.server_state.connections) if self._server is not None else []

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait for it."""
        if self._server is not None and self._task is not None:
            self._server.exit()
            await self._task
            self._server = self._task = None


def _error(
    status: int,
    code: str,
    message: str,
    type_: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    inner: dict[str, Any] = {"code": code, "message": message, "type": type_}
    if param is not None:
        inner["param"] = param
    return JSONResponse({"error": inner}, status_code=status, headers=headers)


class _Aborting(Response):
    """Resets the connection (RST, no FIN), optionally after the headers and part of a body."""

    def __init__(self, transport: asyncio.Transport, *, partial: bool) -> None:
        super().__init__(status_code=200)
        self._transport, self._partial = transport, partial

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._partial:
            headers = [(b"content-type", b"application/json"), (b"content-length", b"400")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"id": "task-', "more_body": True})
            await asyncio.sleep(0.05)  # let the partial answer reach the client first
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()


def _is_private_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    flags = (ip.is_private, ip.is_loopback, ip.is_link_local, ip.is_reserved, ip.is_multicast)
    return any(flags) or ip.is_unspecified


def _sniff_mime(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"GIF8"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if head[8:12] == b"WEBP" else "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return "audio/mpeg"
    return None


def _probe_image(path: Path) -> tuple[str, int, int]:
    with Image.open(path) as img:
        img.load()
        return str(img.format), img.width, img.height


def _probe_av(path: Path, kind: str) -> dict[str, Any]:
    with path.open("rb") as fh:
        brand = fh.read(12)[8:12]
    with av.open(str(path)) as container:
        info: dict[str, Any] = {"container": container.format.name, "brand": brand}
        streams = container.streams.video if kind == "video" else container.streams.audio
        if not streams:
            return {**info, "missing": kind}
        stream = streams[0]
        info["codec"] = stream.codec_context.name
        if isinstance(stream, av.video.stream.VideoStream):
            info["width"] = stream.codec_context.width
            info["height"] = stream.codec_context.height
            rate = stream.average_rate or stream.base_rate or stream.guessed_rate
            info["fps"] = float(rate) if rate else 0.0
            next(container.decode(video=0))  # must be decodable
        if container.duration is not None:
            info["duration"] = container.duration / 1_000_000
        elif stream.duration is not None and stream.time_base is not None:
            info["duration"] = float(stream.duration * stream.time_base)
        else:
            info["duration"] = 0.0
        return info


def _copy_file(src: IO[bytes], dest: Path) -> None:
    src.seek(0)
    with dest.open("wb") as out:
        shutil.copyfileobj(src, out, MB)


# Result videos rendered so far in this process, by (audio, seconds, size): each fake task
# that completes gets the same video as the earlier ones of its kind, here or in other tests,
# without encoding it again.
_RENDERED: dict[tuple[bool, float, tuple[int, int]], bytes] = {}


def _render_result(
    path: Path, audio: bool, seconds: float, size: tuple[int, int], pad_to_bytes: int | None
) -> None:
    write_video(path, width=size[0], height=size[1], seconds=seconds, audio=audio)
    current = path.stat().st_size
    if pad_to_bytes is None or pad_to_bytes <= current:
        return
    total = max(pad_to_bytes - current, 16)
    header = (
        total.to_bytes(4, "big") + b"free"
        if total < 2**32
        else (1).to_bytes(4, "big") + b"free" + total.to_bytes(8, "big")
    )
    remaining = total - len(header)
    with path.open("ab") as out:
        out.write(header)
        while remaining > 0:
            n = min(remaining, 4 * MB)
            out.write(bytes(n))
            remaining -= n


class FakeEvolink:
    """The Evolink API and Files API, strict, on two loopback servers."""

    max_body_bytes = 64 * MB
    files_max_bytes = 100 * MB
    files_max_count = 2000

    def __init__(
        self,
        api_key: str = "sk-test-evolink-key",
        *,
        allow_insecure_callbacks: bool = True,
        auto_progress: bool = False,
    ) -> None:
        self.api_key = api_key
        self.allow_insecure_callbacks = allow_insecure_callbacks
        self.auto_progress = auto_progress
        self.base_url = ""
        self.files_base_url = ""
        self.submissions: list[Submission] = []
        self.rejected: list[dict[str, Any]] = []
        self.tasks: dict[str, FakeTask] = {}
        self.uploads: list[StoredFile] = []
        self.task_queries: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, as it came
        self.callbacks_sent: list[tuple[str, int | None]] = []
        self.idempotent_replays = 0
        self.honours_idempotency_key = False
        self.credits = 1000.0
        self.used_credits = 0.0
        self.callback_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
        # For each new submit, (seconds queued, seconds processing): it then runs on its own.
        self.timeline: Callable[[], tuple[float, float]] | None = None
        self.on_complete: Callable[[FakeTask], None] | None = None
        self.files_accepted_types: set[str] = set(FILES_ACCEPTED_TYPES)
        self.limits: dict[str, int] = {"image": 30 * MB, "video": 50 * MB, "audio": 15 * MB}
        self._faults: list[_Fault] = []
        self._delays: dict[str, float] = {}
        self._answer_delays: dict[str, float] = {}
        self._canned: list[_Canned] = []
        self._broken_answers: list[tuple[BrokenAnswer, float]] = []
        self._idempotency: dict[str, str] = {}
        self._idem_locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._servers: list[LoopbackServer] = []
        self._tmp: Path | None = None
        self._http: httpx.AsyncClient | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start both servers (API and Files API)."""
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-evolink-"))
        for sub in ("refs", "results", "files"):
            (self._tmp / sub).mkdir()
        self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        api, files = LoopbackServer(self._api_app()), LoopbackServer(self._files_app())
        self._servers = [api, files]
        self.base_url = await api.start()
        self.files_base_url = await files.start()

    async def stop(self) -> None:
        """Cancel pending callbacks, stop the servers and remove temp files."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await asyncio.gather(*(server.stop() for server in self._servers))
        self._servers = []
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def __aenter__(self) -> FakeEvolink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test controls
    async def wait_for_submission(
        self,
        count: int = 1,
        timeout: float = 10.0,
    ) -> Submission:
        """Wait until `count` submits were accepted; returns submissions[count - 1]."""
        deadline = time.monotonic() + timeout
        while len(self.submissions) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self.submissions)} of {count} submissions after "
                    f"{timeout} s; last rejected: {self.rejected[-3:]}"
                )
            await asyncio.sleep(0.01)
        return self.submissions[count - 1]

    async def wait_for_callbacks(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled callback delivery (with its retries) is over."""
        async with asyncio.timeout(timeout):
            while self._background:
                await asyncio.gather(*self._background, return_exceptions=True)

    def set_progress(self, task_id: str, progress: int) -> None:
        """Move a task to processing at `progress` percent."""
        task = self.tasks[task_id]
        task.status, task.progress = "processing", max(0, min(100, progress))

    async def complete(
        self,
        task_id: str,
        *,
        audio: bool | None = None,
        seconds: float = 2.0,
        size: tuple[int, int] = (640, 360),
        pad_to_bytes: int | None = None,
    ) -> None:
        """Render the result MP4, mark the task completed and send its callback (if any)."""
        task = self.tasks[task_id]
        path = self._dir("results") / f"{task_id}.mp4"
        with_audio = task.generate_audio if audio is None else audio
        rendered = _RENDERED.get((with_audio, seconds, size))
        if rendered is not None and pad_to_bytes is None:
            await asyncio.to_thread(path.write_bytes, rendered)  # the same video again
        else:
            await asyncio.to_thread(_render_result, path, with_audio, seconds, size, pad_to_bytes)
            if pad_to_bytes is None:
                _RENDERED[(with_audio, seconds, size)] = await asyncio.to_thread(path.read_bytes)
        task.status, task.progress, task.error = "completed", 100, None
        task.result_path, task.expired = path, False
        task.results = [f"{self.base_url}/results/{task_id}.mp4"]
        task.completed_at = time.time()
        self._schedule_callback(task)
        if self.on_complete is not None:
            self.on_complete(task)

    def follow_timeline(
        self, task_id: str, *, queued: float, processing: float, started_ago: float = 0.0
    ) -> None:
        """The task runs on its own, from `started_ago` seconds back: pending for `queued`
        seconds, then processing for `processing` seconds (its progress in step with the time
        spent), then completed."""
        task = self.tasks[task_id]
        start = time.time() - started_ago
        task.timeline = (start, queued, processing)
        self._on_timeline(task)
        delay = max(0.0, start + queued + processing - time.time())
        job = asyncio.create_task(self._complete_at(task_id, delay))
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def _complete_at(self, task_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.tasks[task_id].status in ("pending", "processing"):
            await self.complete(task_id)

    def _on_timeline(self, task: FakeTask) -> None:
        """Bring a task that runs on its own up to date with the clock."""
        if task.timeline is None or task.status not in ("pending", "processing"):
            return
        start, queued, processing = task.timeline
        elapsed = time.time() - start - queued
        if elapsed >= 0:
            task.status = "processing"
            task.progress = min(99, int(100 * elapsed / processing))

    async def fail(
        self,
        task_id: str,
        *,
        code: str = "content_policy_violation",
        message: str = "The request was rejected by the content safety system.",
    ) -> None:
        """Mark the task failed with {code, message, type: task_error}; callback as complete()."""
        task = self.tasks[task_id]
        task.status, task.results = "failed", []
        task.error = {"code": code, "message": message, "type": "task_error"}
        self._schedule_callback(task)

    def expire_result(self, task_id: str) -> None:
        """The result link now answers 404 (its 24 h lifetime is over)."""
        self.tasks[task_id].expired = True

    def break_next_answer(self, how: BrokenAnswer, *, delay: float = 0.0) -> None:
        """The next submit creates (and charges) its task, then its answer is broken: a 5xx with
        an error body, a connection reset before any byte ("reset"), headers and part of the body
        then the connection closed ("cut"), a 200 whose gzip body is corrupt ("gzip"), or the
        right answer `delay` seconds later ("late", for a client that gives up first)."""
        self._broken_answers.append((how, delay))

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next `times` requests under `path_prefix` answer `status` with an error body.

        code/message default to the documented ones for that status.
        """
        d_code, d_message, _ = _ERROR_DEFAULTS.get(status, ("error", "Error", "api_error"))
        self._faults.append(
            _Fault(
                path_prefix, status, code or d_code, message or d_message, retry_after, times, delay
            )
        )

    def set_delay(self, path_prefix: str, seconds: float) -> None:
        """Every request under `path_prefix` sleeps `seconds` first (0 removes the delay)."""
        if seconds > 0:
            self._delays[path_prefix] = seconds
        else:
            self._delays.pop(path_prefix, None)

    def set_answer_delay(self, path_prefix: str, seconds: float) -> None:
        """Requests under `path_prefix` are handled at once but answered `seconds` later.

        A submit is then accepted (and charged) while the client still waits for the answer:
        a client that gives up meanwhile cannot know the task id. 0 removes the delay.
        """
        if seconds > 0:
            self._answer_delays[path_prefix] = seconds
        else:
            self._answer_delays.pop(path_prefix, None)

    def respond_next(
        self,
        path_prefix: str,
        body: bytes | str | dict[str, Any] | list[Any],
        *,
        status: int = 200,
        times: int = 1,
        content_type: str = "application/json",
    ) -> None:
        """The next `times` requests under `path_prefix` get this answer verbatim, unhandled.

        For answers the real API might give and the strict fake never does: malformed JSON,
        missing or extra fields, another task's body.
        """
        if isinstance(body, dict | list):
            raw = json.dumps(body).encode()
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body
        self._canned.append(_Canned(path_prefix, status, raw, content_type, times))

    async def send_callback(
        self, task_id: str, body: dict[str, Any] | None = None, url: str | None = None
    ) -> int:
        """POST a callback now (forged/duplicate ones too); returns the bot's HTTP status."""
        task = self.tasks.get(task_id)
        target = url or (task.callback_url if task else None)
        if target is None:
            raise ValueError(f"no callback URL for {task_id}")
        payload = body if body is not None else self.tasks[task_id].to_json()
        status = await self._post_callback(task_id, target, payload)
        if status is None:
            raise ConnectionError(f"callback to {target} failed")
        return status

    # ------------------------------------------------------------------ plumbing
    def _dir(self, name: str) -> Path:
        if self._tmp is None:
            raise RuntimeError("FakeEvolink is not started")
        return self._tmp / name

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip(), self.api_key)

    def _guard(self, handler: Handler, *, auth: bool = True) -> Handler:
        """Wrap a route with delays, injected faults and the Bearer check."""

        async def endpoint(request: Request) -> Response:
            path = request.url.path
            self.requests.append((request.method, path))
            delay = max((s for p, s in self._delays.items() if path.startswith(p)), default=0.0)
            if delay:
                await asyncio.sleep(delay)
            fault = next((f for f in self._faults if path.startswith(f.prefix)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                _, _, type_ = _ERROR_DEFAULTS.get(fault.status, ("", "", "api_error"))
                headers = (
                    {"Retry-After": f"{fault.retry_after:g}"}
                    if fault.retry_after is not None
                    else None
                )
                return await self._refuse(
                    request, _error(fault.status, fault.code, fault.message, type_, headers=headers)
                )
            canned = next((c for c in self._canned if path.startswith(c.prefix)), None)
            if canned is not None:
                canned.times -= 1
                if canned.times <= 0:
                    self._canned.remove(canned)
                if path.startswith("/v1/tasks/"):
                    self.task_queries.append(path.removeprefix("/v1/tasks/"))
                return Response(canned.body, canned.status, media_type=canned.content_type)
            if auth and not self._authorized(request):
                return await self._refuse(request, _error(401, *_ERROR_DEFAULTS[401]))
            response = await handler(request)
            after = max(
                (s for p, s in self._answer_delays.items() if path.startswith(p)), default=0.0
            )
            if after:
                await asyncio.sleep(after)
            return response

        return endpoint

    async def _refuse(self, request: Request, response: JSONResponse) -> JSONResponse:
        """Record a refused submit (fault or auth) in `rejected`, then return the response."""
        if request.url.path == SUBMIT_PATH and request.method == "POST":
            body: Any = None
            if int(request.headers.get("content-length") or 0) <= MB:
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    body = json.loads(await request.body())
            error = json.loads(bytes(response.body))["error"]
            self.rejected.append({"status": response.status_code, "error": error, "body": body})
        return response

    @staticmethod
    async def _not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(
            status,
            "not_found" if status == 404 else "method_not_allowed",
            f"{request.method} {request.url.path}: {status}",
            "invalid_request_error",
        )

    def _api_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(SUBMIT_PATH, self._guard(self._submit), methods=["POST"]),
                Route("/v1/tasks/{task_id}", self._guard(self._get_task), methods=["GET"]),
                Route("/v1/credits", self._guard(self._get_credits), methods=["GET"]),
                Route("/results/{task_id}.mp4", self._guard(self._get_result, auth=False)),
            ],
            exception_handlers={404: self._not_found, 405: self._not_found},
        )

    def _files_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/v1/files/upload/stream", self._guard(self._upload), methods=["POST"]),
                Route("/api/v1/files/quota", self._guard(self._quota), methods=["GET"]),
                Route(
                    "/api/v1/files/{file_id}", self._guard(self._delete_file), methods=["DELETE"]
                ),
                Route("/files/{file_id}/{name}", self._guard(self._get_file, auth=False)),
            ],
            exception_handlers={404: self._not_found, 405: self._not_found},
        )

    # ------------------------------------------------------------------ submit
    async def _submit(self, request: Request) -> Response:
        body: Any = None
        try:
            raw = await self._read_body(request)
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise _RequestError("request body is not valid JSON") from None
            key = request.headers.get("idempotency-key")
            if not key or not self.honours_idempotency_key:
                response = await self._accept(request, body, key)
            else:
                async with self._idem_locks.setdefault(key, asyncio.Lock()):
                    if key in self._idempotency:
                        self.idempotent_replays += 1
                        return JSONResponse(self.tasks[self._idempotency[key]].to_json())
                    response = await self._accept(request, body, key)
        except _RequestError as exc:
            self.rejected.append({"status": exc.status, "error": exc.error, "body": body})
            return JSONResponse({"error": exc.error}, status_code=exc.status)
        if not self._broken_answers:
            return response
        how, delay = self._broken_answers.pop(0)
        return await self._break(request, how, delay, response)

    async def _break(
        self, request: Request, how: BrokenAnswer, delay: float, response: Response
    ) -> Response:
        """The task exists and is charged; the client gets anything but its answer."""
        if how == "late":
            await asyncio.sleep(delay)
            return response
        if how == "gzip":
            garbage = b"\x1f\x8b\x08\x00" + secrets.token_bytes(64)
            return Response(garbage, 200, {"Content-Encoding": "gzip"}, "application/json")
        if how in {"reset", "cut"}:
            return _Aborting(self._connection_of(request), partial=how == "cut")
        code, message, type_ = _ERROR_DEFAULTS.get(
            int(how), ("gateway_timeout", "Gateway timeout", "api_error")
        )
        return _error(int(how), code, message, type_)

    def _connection_of(self, request: Request) -> asyncio.Transport:
        """The server side of the TCP connection that carried `request`."""
        client = (request.client.host, request.client.port) if request.client else None
        for server in self._servers:
            for protocol in server.connections():
                if tuple(getattr(protocol, "client", None) or ()) == client:
                    transport: asyncio.Transport = protocol.transport
                    return transport
        raise RuntimeError(f"no connection from {client}")

    async def _read_body(self, request: Request) -> bytes:
        too_big = _RequestError(
            f"request body exceeds {self.max_body_bytes} bytes (64 MB)",
            status=413,
            code="request_too_large",
        )
        if int(request.headers.get("content-length") or 0) > self.max_body_bytes:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    async def _accept(self, request: Request, body: Any, key: str | None) -> Response:
        req = self._validate(body)
        references = await self._fetch_references(req)
        reserved = round(
            req.duration
            * (1.2 if req.quality == "720p" else 0.8)
            * (1.0 if req.content_filter else 1.1),
            2,
        )
        if reserved > self.credits:
            raise _RequestError(
                "Insufficient quota. Please top up your account.",
                status=402,
                code="insufficient_quota",
                type_="insufficient_quota",
            )
        created = int(time.time())
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        task = FakeTask(
            task_id=f"task-unified-{created}-{suffix}",
            created=created,
            duration=req.duration,
            quality=req.quality,
            aspect_ratio=req.aspect_ratio,
            generate_audio=req.generate_audio,
            content_filter=req.content_filter,
            credits_reserved=reserved,
            callback_url=req.callback_url,
            idempotency_key=key,
        )
        self.credits = round(self.credits - reserved, 2)
        self.used_credits = round(self.used_credits + reserved, 2)
        self.tasks[task.task_id] = task
        if self.timeline is not None:
            queued, processing = self.timeline()
            self.follow_timeline(task.task_id, queued=queued, processing=processing)
        if key:
            self._idempotency[key] = task.task_id
        self.submissions.append(Submission(task.task_id, body, dict(request.headers), references))
        return JSONResponse(task.to_json())

    def _validate(self, body: Any) -> GenerationRequest:
        if not isinstance(body, dict):
            raise _RequestError("request body must be a JSON object")
        for key, value in body.items():
            if value is None:
                raise _RequestError(f"{key} must not be null (omit the field instead)", key)
        try:
            req = GenerationRequest.model_validate(body)
        except ValidationError as exc:
            errors = exc.errors()
            parts = []
            for err in errors:
                loc = ".".join(str(p) for p in err["loc"])
                parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
            first = errors[0]["loc"]
            raise _RequestError("; ".join(parts), str(first[0]) if first else None) from None
        if not req.prompt.strip():
            raise _RequestError("prompt must not be empty", "prompt")
        if req.audio_urls and not (req.image_urls or req.video_urls):
            raise _RequestError(
                "audio_urls cannot be used alone: add at least one image_urls or video_urls entry",
                "audio_urls",
            )
        for name in ("image_urls", "video_urls", "audio_urls"):
            for i, url in enumerate(getattr(req, name)):
                if not self._is_http_url(url):
                    raise _RequestError(f"{name}[{i}] must be an absolute http(s) URL", name)
        if req.callback_url is not None:
            self._check_callback_url(req.callback_url)
        return req

    @staticmethod
    def _is_http_url(url: str) -> bool:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return False
        return parsed.scheme in ("http", "https") and bool(parsed.host)

    def _check_callback_url(self, url: str) -> None:
        if len(url) > 2048:
            raise _RequestError(f"callback_url is {len(url)} characters (max 2048)", "callback_url")
        if not self._is_http_url(url):
            raise _RequestError("callback_url must be an absolute HTTPS URL", "callback_url")
        if self.allow_insecure_callbacks:
            return
        parsed = httpx.URL(url)
        if parsed.scheme != "https":
            raise _RequestError("callback_url must use HTTPS", "callback_url")
        if _is_private_host(parsed.host):
            raise _RequestError(
                "callback_url must not point to a private or loopback address", "callback_url"
            )

    # ------------------------------------------------------------------ references
    async def _fetch_references(self, req: GenerationRequest) -> list[FetchedReference]:
        refs: list[FetchedReference] = []
        groups: tuple[tuple[Kind, list[str]], ...] = (
            ("image", req.image_urls),
            ("video", req.video_urls),
            ("audio", req.audio_urls),
        )
        for kind, urls in groups:
            for i, url in enumerate(urls):
                refs.append(await self._fetch_one(kind, f"{kind}_urls[{i}]", url))
        for kind in ("video", "audio"):
            total = sum(r.duration or 0.0 for r in refs if r.kind == kind)
            if total > 15:
                raise _RequestError(
                    f"{kind}_urls: total duration {total:.2f} s exceeds 15 s", f"{kind}_urls"
                )
        return refs

    async def _fetch_one(self, kind: Kind, label: str, url: str) -> FetchedReference:
        param = label.split("[")[0]
        limit = self.limits[kind]
        path = self._dir("refs") / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        assert self._http is not None
        try:
            async with self._http.stream("GET", url) as resp:
                if not 200 <= resp.status_code < 300:
                    raise _RequestError(
                        f"{label} could not be downloaded: {resp.status_code}", param
                    )
                out = await asyncio.to_thread(path.open, "wb")
                try:
                    async for chunk in resp.aiter_bytes(MB):
                        size += len(chunk)
                        if size > limit:
                            raise _RequestError(f"{label} is larger than {limit // MB} MB", param)
                        digest.update(chunk)
                        out.write(chunk)
                finally:
                    out.close()
            return await self._probe(kind, label, url, path, size, digest.hexdigest())
        except httpx.HTTPError as exc:
            raise _RequestError(
                f"{label} could not be downloaded: {type(exc).__name__}", param
            ) from None
        finally:
            path.unlink(missing_ok=True)

    async def _probe(
        self, kind: Kind, label: str, url: str, path: Path, size: int, sha256: str
    ) -> FetchedReference:
        param = label.split("[")[0]

        def refuse(why: str) -> _RequestError:
            return _RequestError(f"{label}: {why}", param)

        ref = FetchedReference(kind=kind, url=url, size=size, format="", sha256=sha256)
        if kind == "image":
            try:
                fmt, w, h = await asyncio.to_thread(_probe_image, path)
            except Exception:  # Pillow cannot read it
                raise refuse("is not a readable image (JPEG, PNG, WEBP)") from None
            if fmt not in ("JPEG", "PNG", "WEBP"):
                raise refuse(f"image format {fmt} is not supported (JPEG, PNG, WEBP)")
            ref.format, ref.width, ref.height = fmt, w, h
        else:
            try:
                info = await asyncio.to_thread(_probe_av, path, kind)
            except Exception:  # PyAV cannot read it
                raise refuse(f"is not a readable {kind} file") from None
            container = str(info["container"])
            if kind == "video" and "mp4" not in container and "mov" not in container:
                raise refuse(f"container {container} is not supported (MP4, MOV)")
            if kind == "audio" and container not in ("mp3", "wav"):
                raise refuse(f"audio format {container} is not supported (MP3, WAV)")
            if "missing" in info:
                raise refuse(f"has no {info['missing']} stream")
            is_qt = info.get("brand") == b"qt  "
            ref.format = container if kind == "audio" else ("mov" if is_qt else "mp4")
            ref.duration, ref.codec = float(info["duration"]), str(info["codec"])
            if not 2 <= ref.duration <= 15:
                raise refuse(f"duration {ref.duration:.2f} s is outside 2..15 s")
            if kind == "audio":
                return ref
            w, h, ref.fps = int(info["width"]), int(info["height"]), float(info["fps"])
            ref.width, ref.height = w, h
        w, h = ref.width or 0, ref.height or 0
        if not (300 <= w <= 6000 and 300 <= h <= 6000):
            raise refuse(f"{w}x{h}: width and height must each be 300..6000 px")
        if kind == "video" and not 409_600 <= w * h <= 2_086_876:
            raise refuse(f"{w}x{h} = {w * h} pixels, outside 409600..2086876")
        if not 0.4 <= w / h <= 2.5:
            raise refuse(f"aspect ratio {w / h:.2f} (width/height) is outside 0.4..2.5")
        if kind == "video" and not 24 <= (ref.fps or 0) <= 60:
            raise refuse(f"frame rate {ref.fps:.3f} fps is outside 24..60")
        return ref

    # ------------------------------------------------------------------ tasks
    async def _get_task(self, request: Request) -> Response:
        task_id = request.path_params["task_id"]
        self.task_queries.append(task_id)
        task = self.tasks.get(task_id)
        if task is None:
            return _error(
                404, "task_not_found", f"Task {task_id} not found", "invalid_request_error"
            )
        if self.auto_progress and task.status in ("pending", "processing"):
            if task.progress >= 100:
                await self.complete(task_id)
            else:
                self.set_progress(task_id, task.progress + 50)
        self._on_timeline(task)
        return JSONResponse(task.to_json())

    async def _get_credits(self, request: Request) -> Response:
        remaining, used = round(self.credits, 2), round(self.used_credits, 2)
        return JSONResponse(
            {
                "success": True,
                "message": "ok",
                "data": {
                    "token": {
                        "remaining_credits": remaining,
                        "unlimited_credits": False,
                        "used_credits": used,
                    },
                    "user": {"remaining_credits": remaining, "used_credits": used},
                },
            }
        )

    async def _get_result(self, request: Request) -> Response:
        task = self.tasks.get(request.path_params["task_id"])
        if task is None or task.result_path is None or task.expired:
            return _error(
                404, "not_found", "The file does not exist or has expired", "invalid_request_error"
            )
        return FileResponse(task.result_path, media_type="video/mp4")

    # ------------------------------------------------------------------ callbacks
    def _schedule_callback(self, task: FakeTask) -> None:
        if task.callback_url:
            job = asyncio.create_task(
                self._deliver_callback(task.task_id, task.callback_url, task.to_json())
            )
            self._background.add(job)
            job.add_done_callback(self._background.discard)

    async def _deliver_callback(self, task_id: str, url: str, body: dict[str, Any]) -> None:
        for delay in (0.0, *self.callback_retry_delays):
            if delay:
                await asyncio.sleep(delay)
            status = await self._post_callback(task_id, url, body)
            if status is not None and 200 <= status < 300:
                return

    async def _post_callback(self, task_id: str, url: str, body: dict[str, Any]) -> int | None:
        assert self._http is not None
        try:
            resp = await self._http.post(url, json=body, timeout=10.0)
        except httpx.HTTPError:
            self.callbacks_sent.append((task_id, None))
            return None
        self.callbacks_sent.append((task_id, resp.status_code))
        return resp.status_code

    # ------------------------------------------------------------------ Files API
    @staticmethod
    def _files_ok(data: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"success": True, "code": 200, "msg": "ok", "data": data})

    @staticmethod
    def _files_error(status: int, msg: str) -> JSONResponse:
        return JSONResponse(
            {"success": False, "code": status, "msg": msg, "data": None}, status_code=status
        )

    async def _upload(self, request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > self.files_max_bytes + MB:
            return self._files_error(413, "File too large (max 100 MB)")
        try:
            async with request.form(max_files=1, max_fields=10) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    return self._files_error(400, "multipart field 'file' is required")
                size = upload.size if upload.size is not None else 0
                if size > self.files_max_bytes:
                    return self._files_error(413, "File too large (max 100 MB)")
                original = upload.filename or ""
                wanted = form.get("file_name")
                name = Path(wanted if isinstance(wanted, str) and wanted else original).name
                name = name.strip() if name.strip() not in ("", ".", "..") else "file"
                upload_path = form.get("upload_path")
                upload_path = upload_path if isinstance(upload_path, str) else ""
                head = await upload.read(16)
                declared = (upload.content_type or "").split(";")[0].strip().lower()
                if declared in ("", "application/octet-stream"):
                    declared = mimetypes.guess_type(name)[0] or "application/octet-stream"
                mime = _sniff_mime(head) or declared
                if mime not in self.files_accepted_types:
                    return self._files_error(400, f"Unsupported file type: {mime}")
                if len(self._live_files()) >= self.files_max_count:
                    return self._files_error(403, "File quota exceeded")
                file_id = f"file_{uuid.uuid4().hex[:24]}"
                dest = self._dir("files") / file_id / name
                dest.parent.mkdir()
                await asyncio.to_thread(_copy_file, upload.file, dest)
        except HTTPException as exc:
            return self._files_error(exc.status_code, str(exc.detail))
        now = datetime.now(UTC)
        self.uploads.append(StoredFile(file_id, name, mime, size, dest, original, upload_path))
        url = f"{self.files_base_url}/files/{file_id}/{quote(name)}"
        return self._files_ok(
            {
                "file_id": file_id,
                "file_name": name,
                "original_name": original,
                "file_size": size,
                "mime_type": mime,
                "upload_path": upload_path,
                "file_url": url,
                "download_url": url,
                "upload_time": now.isoformat(timespec="seconds"),
                "expires_at": (now + timedelta(hours=72)).isoformat(timespec="seconds"),
            }
        )

    def _live_files(self) -> list[StoredFile]:
        return [f for f in self.uploads if not f.deleted]

    async def _quota(self, request: Request) -> Response:
        used = len(self._live_files())
        remain = max(0, self.files_max_count - used)
        return self._files_ok(
            {"used_files": used, "max_files": self.files_max_count, "remain_files": remain}
        )

    async def _delete_file(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        stored = next((f for f in self._live_files() if f.file_id == file_id), None)
        if stored is None:
            return self._files_error(404, f"File {file_id} not found")
        stored.deleted = True
        stored.path.unlink(missing_ok=True)
        return self._files_ok({"file_id": file_id})

    async def _get_file(self, request: Request) -> Response:
        file_id, name = request.path_params["file_id"], request.path_params["name"]
        stored = next(
            (f for f in self._live_files() if f.file_id == file_id and f.file_name == name), None
        )
        if stored is None:
            return self._files_error(404, "File not found or expired")
        return FileResponse(stored.path, media_type=stored.mime_type)
