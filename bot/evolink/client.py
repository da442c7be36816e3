"""The Evolink API client: submit, task query, credits and file uploads, with bounded retries."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from bot.evolink.errors import (
    EvolinkError,
    MalformedResponse,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unreachable,
    error_for_status,
)
from bot.evolink.models import (
    Credits,
    ErrorBody,
    GenerationRequest,
    UploadAnswer,
    UploadedFile,
    VideoTask,
)
from bot.evolink.outcome import Accepted, Refused, SubmitOutcome, Unknown

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


class Http(Protocol):
    """What the client sends its requests through: an httpx.AsyncClient, or for the task queries
    and the Files API uploads `bot.evolink.aiohttp_http.AiohttpHttp`."""

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        """Send one request (httpx.AsyncClient.request's keywords json, headers, files); its
        answer, read whole."""
        ...


class RetryPolicy:
    """How often and how long to wait before another try of a retryable failure."""

    def __init__(self, attempts: int = 4, base: float = 1.0, cap: float = 30.0) -> None:
        self.attempts = attempts
        self.base = base
        self.cap = cap

    def delay(self, attempt: int, error: EvolinkError, retry_after: float | None) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap * 2)
        backoff = min(self.cap, self.base * float(2 ** (attempt - 1)))
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto


class EvolinkClient:
    """Calls the Evolink API and its Files API with one API key."""

    def __init__(
        self,
        http: Http,
        *,
        api_key: str,
        base_url: str,
        files_base_url: str,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        on_error: Callable[[EvolinkError], None] | None = None,
    ) -> None:
        self._http = http
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._base = base_url.rstrip("/")
        self._files_base = files_base_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_error = on_error

    async def submit(self, request: GenerationRequest, *, idempotency_key: str) -> SubmitOutcome:
        """Create a generation task (this spends credits); never raises for an HTTP failure.

        Only an answer that proves no task was created is `Refused`, and only a request that
        provably never left (no connection) or was turned away for its rate is tried again: a
        5xx, a dropped connection or an unreadable 200 may hide a task that exists and is being
        paid for, so it is `Unknown` and left to the caller, never re-sent.
        """
        url = f"{self._base}/v1/videos/generations"
        headers = {**self._auth, "Idempotency-Key": idempotency_key}
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await self._http.request(
                    "POST", url, json=request.body(), headers=headers
                )
            except _NOT_SENT as exc:
                error: EvolinkError = Unreachable(type(exc).__name__, maybe_sent=False)
            except httpx.HTTPError as exc:
                return Unknown(type(exc).__name__)
            else:
                if not response.is_success:
                    self._count(_error(response))
                outcome = _submit_outcome(response, url)
                if not isinstance(outcome, Refused) or not outcome.error.retryable:
                    return outcome
                error, retry_after = outcome.error, _retry_after(response)
            if attempt >= self._retry.attempts:
                return Refused(error)
            await self._wait_before_retry("POST", url, error, attempt, retry_after)

    async def get_task(self, task_id: str) -> VideoTask:
        """The task's current state."""
        return await self._call("GET", f"{self._base}/v1/tasks/{task_id}", VideoTask)

    async def credits(self) -> Credits:
        """The account's credit balance."""
        return await self._call("GET", f"{self._base}/v1/credits", Credits)

    async def probe(self) -> int | None:
        """The HTTP status of one GET /v1/credits (no retry), or None when the API does not
        answer: for the start-up and health checks."""
        try:
            response = await self._send("GET", f"{self._base}/v1/credits", None, None, None)
        except Unreachable:
            return None
        return response.status_code

    async def upload(self, path: Path, *, file_name: str, mime_type: str) -> UploadedFile:
        """Stream a file to the Files API; returns where the upstream can fetch it (72 h)."""

        def files() -> dict[str, Any]:
            # A fresh handle per try: httpx streams it in chunks, and a retry must start over.
            return {"file": (file_name, path.open("rb"), mime_type)}

        answer = await self._call(
            "POST",
            f"{self._files_base}/api/v1/files/upload/stream",
            UploadAnswer,
            files_factory=files,
        )
        if not answer.success or answer.data is None:
            raise MalformedResponse("upload_failed", answer.msg or "the Files API refused the file")
        return answer.data

    async def delete_file(self, file_id: str) -> bool:
        """Delete an uploaded file from the Files API; False when it was already gone.

        `DELETE /api/v1/files/{file_id}` is not in the published reference; Evolink's own tools
        use it.
        """
        try:
            answer = await self._call(
                "DELETE", f"{self._files_base}/api/v1/files/{quote(file_id, safe='')}", UploadAnswer
            )
        except NotFound:
            return False
        if not answer.success:
            raise MalformedResponse("delete_failed", answer.msg or "the file was not deleted")
        return True

    async def _call(
        self,
        method: str,
        url: str,
        model: type[M],
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        files_factory: Callable[[], dict[str, Any]] | None = None,
    ) -> M:
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = await self._send(method, url, json, headers, files_factory)
                if response.is_success:
                    return _parse(model, response, url)
                retry_after = _retry_after(response)
                error = _error(response)
                self._count(error)
            except Unreachable as exc:
                error = exc
            if not error.retryable or attempt >= self._retry.attempts:
                raise error
            await self._wait_before_retry(method, url, error, attempt, retry_after)

    def _count(self, error: EvolinkError) -> None:
        if self._on_error is not None:
            self._on_error(error)

    async def _wait_before_retry(
        self, method: str, url: str, error: EvolinkError, attempt: int, retry_after: float | None
    ) -> None:
        delay = self._retry.delay(attempt, error, retry_after)
        log.warning(
            "evolink %s %s failed (%s), try %d of %d in %.1fs",
            method,
            httpx.URL(url).path,
            error,
            attempt + 1,
            self._retry.attempts,
            delay,
        )
        await self._sleep(delay)

    async def _send(
        self,
        method: str,
        url: str,
        json: dict[str, Any] | None,
        headers: dict[str, str] | None,
        files_factory: Callable[[], dict[str, Any]] | None,
    ) -> httpx.Response:
        files = files_factory() if files_factory else None
        try:
            return await self._http.request(
                method, url, json=json, headers={**self._auth, **(headers or {})}, files=files
            )
        except _NOT_SENT as exc:
            raise Unreachable(type(exc).__name__, maybe_sent=False) from None
        except httpx.HTTPError as exc:  # a broken connection, or a body that cannot be decoded
            raise Unreachable(type(exc).__name__, maybe_sent=True) from None
        finally:
            if files:
                for value in files.values():
                    value[1].close()


# Failures before any byte of the request left: the connection was never made.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _submit_outcome(response: httpx.Response, url: str) -> SubmitOutcome:
    """What an answer to the generation POST proves about the task."""
    status = response.status_code
    if response.is_success:
        try:
            return Accepted(_parse(VideoTask, response, url))
        except MalformedResponse as exc:
            return Unknown(f"HTTP {status} with an unreadable body ({exc.message})")
    # A gateway may refuse an oversized body or a request rate before the API sees it.
    if 400 <= status < 500 and (_has_error_body(response) or status in _REFUSED_ANY_BODY):
        return Refused(_error(response))
    return Unknown(f"HTTP {status}")


_REFUSED_ANY_BODY = {PayloadTooLarge.status, RateLimited.status}


def _has_error_body(response: httpx.Response) -> bool:
    """Whether the answer carries the API's own error object (not a proxy's page)."""
    try:
        payload = response.json()
    except ValueError:
        return False
    return isinstance(payload, dict) and isinstance(payload.get("error"), dict)


def _parse(model: type[M], response: httpx.Response, url: str) -> M:
    # The URL asked, not response.url: an answer through aiohttp carries no request.
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise MalformedResponse(
            "malformed_response",
            f"unexpected answer from {httpx.URL(url).path}: {exc.error_count()} problems",
        ) from None


def _error(response: httpx.Response) -> EvolinkError:
    code, message = "http_" + str(response.status_code), response.reason_phrase
    try:
        payload = response.json()
        body = ErrorBody.model_validate(payload.get("error") or {})
        code, message = body.code, body.message or message
    except (ValueError, AttributeError, ValidationError):
        pass
    return error_for_status(response.status_code, code, message)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


__all__ = ["EvolinkClient", "Http", "RateLimited", "RetryPolicy"]
