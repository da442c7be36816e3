"""The Evolink client: shapes, typed errors, bounded retries, and no blind resubmits."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bot.evolink import (
    Accepted,
    EvolinkClient,
    GenerationRequest,
    Http,
    Refused,
    RetryPolicy,
    Unknown,
    Unreachable,
)
from bot.evolink import errors as api
from bot.evolink.lanes import DirectHttp, environment_proxy

BOTH_WAYS = pytest.mark.parametrize("through", ["client", "direct"])

TASK = {
    "created": 1761313744,
    "id": "task-unified-1774857405-abc12345",
    "model": "seedance-2.0-fast-reference-to-video",
    "object": "video.generation.task",
    "progress": 0,
    "status": "pending",
    "task_info": {"can_cancel": True, "estimated_time": 165, "video_duration": 8},
    "type": "video",
    "usage": {"billing_rule": "per_second", "credits_reserved": 50, "user_group": "default"},
}


def _client(handler, sleeps: list[float] | None = None, through: str = "client") -> EvolinkClient:  # type: ignore[no-untyped-def]
    """A client on a fake transport: through an httpx.AsyncClient, or `direct` as the task
    queries go (bot.evolink.lanes.DirectHttp)."""

    async def sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)

    transport = httpx.MockTransport(handler)
    http: Http = (
        DirectHttp(transport, timeout=httpx.Timeout(7.0))
        if through == "direct"
        else httpx.AsyncClient(transport=transport)
    )
    return EvolinkClient(
        http,
        api_key="sk-test",
        base_url="https://api.test",
        files_base_url="https://files.test",
        retry=RetryPolicy(attempts=3, base=0.5),
        sleep=sleep,
    )


def _request() -> GenerationRequest:
    return GenerationRequest(prompt="a cat", image_urls=["https://x/1.jpg"])


async def test_submit_sends_the_documented_body_and_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=TASK)

    outcome = await _client(handler).submit(_request(), idempotency_key="draft-key-1")
    assert isinstance(outcome, Accepted)
    task = outcome.task
    assert task.id == TASK["id"]
    assert task.usage.credits_reserved == 50
    assert task.task_info.estimated_time == 165
    request = seen[0]
    assert request.url == "https://api.test/v1/videos/generations"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["idempotency-key"] == "draft-key-1"
    body = json.loads(request.content)
    assert body["model"] == "seedance-2.0-fast-reference-to-video"
    assert body["image_urls"] == ["https://x/1.jpg"]
    assert "callback_url" not in body


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "invalid_request", api.BadRequest),
        (401, "unauthorized", api.Unauthorized),
        (402, "insufficient_quota", api.QuotaExceeded),
        (403, "model_access_denied", api.Forbidden),
        (404, "task_not_found", api.NotFound),
        (413, "payload_too_large", api.PayloadTooLarge),
    ],
)
async def test_client_errors_are_typed_refusals_and_not_retried(
    status: int, code: str, error: type
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"error": {"code": code, "message": "why", "type": "x"}})

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert calls == 1
    assert isinstance(outcome, Refused) and isinstance(outcome.error, error)
    assert outcome.error.code == code and outcome.error.message == "why"
    assert outcome.error.status == status


@BOTH_WAYS
async def test_integer_error_codes_of_older_versions_are_accepted(through: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": 40001, "message": "bad"}})

    with pytest.raises(api.BadRequest) as info:
        await _client(handler, through=through).get_task("t")
    assert info.value.code == "40001"


async def test_429_honours_retry_after_then_succeeds() -> None:
    answers = [
        httpx.Response(
            429, headers={"Retry-After": "7"}, json={"error": {"code": "rate_limit_exceeded"}}
        ),
        httpx.Response(200, json=TASK),
    ]
    sleeps: list[float] = []
    outcome = await _client(lambda r: answers.pop(0), sleeps).submit(
        _request(), idempotency_key="k"
    )
    assert isinstance(outcome, Accepted) and outcome.task.status == "pending"
    assert sleeps == [7.0]


async def test_a_rate_limit_that_lasts_is_a_refusal_after_bounded_tries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, text="slow down")  # a gateway's page, not the API's body

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert isinstance(outcome, Refused) and isinstance(outcome.error, api.RateLimited)
    assert calls == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
async def test_a_server_error_to_the_submit_is_unknown_and_never_resent(status: int) -> None:
    # A gateway may answer 502 or 504 while the task was created behind it.
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"error": {"code": "upstream_error", "message": "x"}})

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert isinstance(outcome, Unknown) and str(status) in outcome.reason
    assert calls == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<html>oops</html>"),
        httpx.Response(200, json={"status": "pending"}),  # no task id
        httpx.Response(
            200, content=b"\x1f\x8b\x08\x00 not gzip", headers={"Content-Encoding": "gzip"}
        ),
        httpx.Response(302, headers={"Location": "https://elsewhere/"}),
        httpx.Response(400, text="<html>Bad Gateway Request</html>"),  # a proxy's page
    ],
    ids=["html", "no-id", "corrupt-gzip", "redirect", "400-without-api-body"],
)
async def test_an_answer_that_proves_nothing_is_unknown(answer: httpx.Response) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return answer

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert isinstance(outcome, Unknown)
    assert calls == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError],
)
async def test_a_connection_lost_after_sending_is_unknown_and_never_resent(
    failure: type[httpx.TransportError],
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise failure("gone", request=request)

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert isinstance(outcome, Unknown) and outcome.reason == failure.__name__
    assert calls == 1


@BOTH_WAYS
async def test_5xx_is_retried_with_bounded_backoff_then_raised(through: str) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"error": {"code": "service_unavailable_error"}})

    sleeps: list[float] = []
    with pytest.raises(api.ServerError):
        await _client(handler, sleeps, through=through).get_task("t")
    assert calls == 3
    assert len(sleeps) == 2 and all(0 < s <= 30 for s in sleeps)


async def test_a_refused_connection_is_retried_because_nothing_was_sent() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=TASK)

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert isinstance(outcome, Accepted) and outcome.task.id == TASK["id"] and calls == 2


async def test_a_service_that_cannot_be_reached_at_all_is_a_refusal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no route", request=request)

    outcome = await _client(handler).submit(_request(), idempotency_key="k")
    assert isinstance(outcome, Refused) and isinstance(outcome.error, Unreachable)
    assert outcome.error.maybe_sent is False


@BOTH_WAYS
async def test_a_task_query_with_a_corrupt_body_is_a_typed_error(through: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x1f\x8bnope", headers={"Content-Encoding": "gzip"})

    with pytest.raises(Unreachable):
        await _client(handler, through=through).get_task("t1")


@BOTH_WAYS
async def test_task_query_tolerates_extra_and_missing_fields(through: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "t1",
                "status": "completed",
                "progress": "100",
                "results": ["https://cdn/x.mp4"],
                "brand_new_field": {"a": 1},
            },
        )

    task = await _client(handler, through=through).get_task("t1")
    assert task.result_url == "https://cdn/x.mp4"
    assert task.progress == 100
    assert task.usage.credits_reserved is None


@BOTH_WAYS
async def test_malformed_json_is_a_typed_error(through: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>oops</html>")

    with pytest.raises(api.MalformedResponse):
        await _client(handler, through=through).get_task("t1")


async def test_credits() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/credits"
        return httpx.Response(
            200,
            json={
                "success": True,
                "data": {
                    "token": {
                        "remaining_credits": 12.5,
                        "unlimited_credits": False,
                        "used_credits": 3,
                    },
                    "user": {"remaining_credits": 99, "used_credits": 1},
                },
            },
        )

    credits = await _client(handler).credits()
    assert credits.data.token.remaining_credits == 12.5


async def test_upload_streams_multipart_and_returns_the_file_url(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(b"\xff\xd8" + b"x" * 200_000)
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        seen.append(request)
        assert b'name="file"; filename="a.jpg"' in body
        assert len(body) > 200_000
        return httpx.Response(
            200,
            json={
                "success": True,
                "code": 200,
                "data": {"file_id": "f1", "file_url": "https://files.test/f1/a.jpg"},
            },
        )

    uploaded = await _client(handler).upload(path, file_name="a.jpg", mime_type="image/jpeg")
    assert uploaded.file_url == "https://files.test/f1/a.jpg"
    assert seen[0].url == "https://files.test/api/v1/files/upload/stream"
    assert seen[0].headers["content-type"].startswith("multipart/form-data")


async def test_delete_file_asks_the_files_api_and_tells_gone_from_deleted() -> None:
    seen: list[tuple[str, str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.raw_path.decode()))
        if request.url.path.endswith("/file_1"):
            return httpx.Response(200, json={"success": True, "code": 200, "data": {}})
        return httpx.Response(404, json={"success": False, "code": 404, "msg": "not found"})

    client = _client(handler)
    assert await client.delete_file("file_1") is True
    assert await client.delete_file("file/../2") is False  # gone (and the id stays one segment)
    assert seen == [
        ("DELETE", "/api/v1/files/file_1"),
        ("DELETE", "/api/v1/files/file%2F..%2F2"),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"image_urls": [f"https://x/{i}.jpg" for i in range(10)]},
        {"video_urls": [f"https://x/{i}.mp4" for i in range(4)]},
        {"duration": 3},
        {"duration": 16},
        {"quality": "1080p"},
        {"aspect_ratio": "2:1"},
        {"prompt": "   "},
        {"prompt": "x" * 10_001},
        {"image_urls": [], "audio_urls": ["https://x/a.mp3"]},
        {"image_urls": ["ftp://x/1.jpg"]},
    ],
)
def test_requests_the_api_would_reject_cannot_be_built(changes: dict[str, object]) -> None:
    data: dict[str, object] = {"prompt": "a cat", "image_urls": ["https://x/1.jpg"], **changes}
    with pytest.raises(ValidationError):
        GenerationRequest.model_validate(data)


async def test_a_direct_task_query_sends_the_key_the_encodings_it_reads_and_its_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=TASK)

    task = await _client(handler, through="direct").get_task("task-1")
    assert task.id == TASK["id"]
    (request,) = seen
    assert request.method == "GET" and str(request.url) == "https://api.test/v1/tasks/task-1"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert request.extensions["timeout"]["read"] == 7.0


async def test_direct_requests_carry_no_body() -> None:
    direct = DirectHttp(
        httpx.MockTransport(lambda r: httpx.Response(200)), timeout=httpx.Timeout(1)
    )
    with pytest.raises(ValueError, match="without a body"):
        await direct.request("POST", "https://api.test/v1/x", json={"a": 1})


def test_direct_requests_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert environment_proxy("https://api.evolink.ai") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert environment_proxy("https://api.evolink.ai") == "http://proxy.internal:3128"
    monkeypatch.setenv("NO_PROXY", "evolink.ai")
    assert environment_proxy("https://api.evolink.ai") is None
