"""The Evolink client: shapes, typed errors, bounded retries, and no blind resubmits."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import AsyncIterator, Callable
from email.parser import BytesParser
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
    aiohttp_http,
)
from bot.evolink import errors as api
from bot.evolink.aiohttp_http import AiohttpHttp
from bot.runtime.http_session import environment_proxy
from tests.fakes.handler_server import Handler, HandlerServer

MakeClient = Callable[..., EvolinkClient]
GZIP_JSON = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

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


def _client(handler: Handler, sleeps: list[float] | None = None) -> EvolinkClient:
    """A client through an httpx.AsyncClient on a fake transport."""
    transport = httpx.MockTransport(handler)
    return _evolink(httpx.AsyncClient(transport=transport), "https://api.test", sleeps)


def _evolink(
    http: Http,
    base_url: str,
    sleeps: list[float] | None,
    files_base_url: str = "https://files.test",
) -> EvolinkClient:
    async def sleep(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)

    return EvolinkClient(
        http,
        api_key="sk-test",
        base_url=base_url,
        files_base_url=files_base_url,
        retry=RetryPolicy(attempts=3, base=0.5),
        sleep=sleep,
    )


@pytest.fixture(params=["client", "aiohttp"])
async def make_client(request: pytest.FixtureRequest) -> AsyncIterator[MakeClient]:
    """Makes a client for a handler, either way the bot's requests go: through an
    httpx.AsyncClient, or over a loopback socket through an AiohttpHttp (task queries, uploads)."""
    servers: list[HandlerServer] = []
    lanes: list[AiohttpHttp] = []

    def make(handler: Handler, sleeps: list[float] | None = None) -> EvolinkClient:
        if request.param == "client":
            return _client(handler, sleeps)
        servers.append(HandlerServer(handler))
        lanes.append(AiohttpHttp(timeout=httpx.Timeout(7.0)))
        return _evolink(lanes[-1], servers[-1].url, sleeps, files_base_url=servers[-1].url)

    yield make
    for lane in lanes:
        await lane.aclose()
    for server in servers:
        await server.aclose()


def _request() -> GenerationRequest:
    return GenerationRequest(prompt="a cat", image_urls=["https://x/1.jpg"])


async def test_submit_sends_the_documented_body_and_headers(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=TASK)

    outcome = await make_client(handler).submit(_request(), idempotency_key="draft-key-1")
    assert isinstance(outcome, Accepted)
    task = outcome.task
    assert task.id == TASK["id"]
    assert task.usage.credits_reserved == 50
    assert task.task_info.estimated_time == 165
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/videos/generations")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["idempotency-key"] == "draft-key-1"
    assert request.headers["content-type"].startswith("application/json")
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


async def test_integer_error_codes_of_older_versions_are_accepted(
    make_client: MakeClient,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": 40001, "message": "bad"}})

    with pytest.raises(api.BadRequest) as info:
        await make_client(handler).get_task("t")
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
            200, stream=httpx.ByteStream(b"\x1f\x8b\x08\x00 not gzip"), headers=GZIP_JSON
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


async def test_5xx_is_retried_with_bounded_backoff_then_raised(make_client: MakeClient) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"error": {"code": "service_unavailable_error"}})

    sleeps: list[float] = []
    with pytest.raises(api.ServerError):
        await make_client(handler, sleeps).get_task("t")
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


async def test_a_task_query_with_a_corrupt_body_is_a_typed_error(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(b"\x1f\x8bnope"), headers=GZIP_JSON)

    with pytest.raises(Unreachable):
        await make_client(handler).get_task("t1")


async def test_task_query_tolerates_extra_and_missing_fields(make_client: MakeClient) -> None:
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

    task = await make_client(handler).get_task("t1")
    assert task.result_url == "https://cdn/x.mp4"
    assert task.progress == 100
    assert task.usage.credits_reserved is None


async def test_malformed_json_is_a_typed_error(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>oops</html>")

    with pytest.raises(api.MalformedResponse):
        await make_client(handler).get_task("t1")


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


async def test_upload_streams_multipart_and_returns_the_file_url(
    tmp_path: Path, make_client: MakeClient
) -> None:
    path = tmp_path / "a.jpg"
    data = b"\xff\xd8" + bytes(range(256)) * 800
    path.write_bytes(data)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "success": True,
                "code": 200,
                "data": {"file_id": "f1", "file_url": "https://files.test/f1/a.jpg"},
            },
        )

    uploaded = await make_client(handler).upload(path, file_name="a.jpg", mime_type="image/jpeg")
    assert uploaded.file_url == "https://files.test/f1/a.jpg"
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/api/v1/files/upload/stream")
    assert request.headers["Authorization"] == "Bearer sk-test"
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data")
    form = BytesParser().parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.content
    )
    (part,) = form.get_payload()
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "a.jpg" and part.get_content_type() == "image/jpeg"
    assert part.get_payload(decode=True) == data


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


LaneClient = Callable[..., tuple[EvolinkClient, HandlerServer]]


@pytest.fixture
async def lane_client() -> AsyncIterator[LaneClient]:
    """Makes a client through an AiohttpHttp to a loopback server answering with `handler`."""
    opened: list[tuple[AiohttpHttp, HandlerServer]] = []

    def make(handler: Handler, *, read_timeout: float = 7.0) -> tuple[EvolinkClient, HandlerServer]:
        lane = AiohttpHttp(timeout=httpx.Timeout(read_timeout, connect=2.0))
        server = HandlerServer(handler)
        opened.append((lane, server))
        return _evolink(lane, server.url, [], files_base_url=server.url), server

    yield make
    for lane, server in opened:
        await lane.aclose()
        await server.aclose()


async def test_a_lane_sends_the_key_and_the_encodings_it_reads_and_keeps_its_connection(
    lane_client: LaneClient,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=gzip.compress(json.dumps(TASK).encode()), headers=GZIP_JSON
        )

    client, server = lane_client(handler)
    first, second = await client.get_task("task-1"), await client.get_task("task-2")
    assert first.id == second.id == TASK["id"]  # the gzip body decoded
    assert [(r.method, r.url.path) for r in seen] == [
        ("GET", "/v1/tasks/task-1"),
        ("GET", "/v1/tasks/task-2"),
    ]
    assert seen[0].headers["Authorization"] == "Bearer sk-test"
    assert seen[0].headers["Accept-Encoding"] == "gzip, deflate"
    assert server.connections == 1


@pytest.mark.parametrize(
    ("answer", "sent"),
    [
        # The connection drops once the request has arrived: aiohttp sends a query again at once
        # when its connection drops (RFC 9112 allows it for a GET), before the policy's tries.
        (None, 2 * 3),
        # It claims more body than it sends, then the server closes the connection.
        (
            httpx.Response(
                200,
                headers={"Content-Length": "900", "Connection": "close"},
                stream=httpx.ByteStream(b"{"),
            ),
            3,
        ),
    ],
    ids=["dropped", "truncated"],
)
async def test_a_lane_whose_answer_is_lost_says_the_query_may_have_been_sent(
    answer: httpx.Response | None, sent: int, lane_client: LaneClient
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if answer is None:
            raise ConnectionResetError
        return answer

    client, _ = lane_client(handler)
    with pytest.raises(Unreachable) as info:
        await client.get_task("t1")
    assert info.value.maybe_sent is True
    assert calls == sent  # a query is safe to repeat: tried as often as the policy allows


async def test_a_lane_that_waits_past_its_read_timeout_gives_up(lane_client: LaneClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=TASK)

    client, server = lane_client(handler, read_timeout=0.2)
    server.delay = 5.0
    with pytest.raises(Unreachable) as info:
        await client.get_task("t1")
    assert info.value.maybe_sent is True and "ReadTimeout" in info.value.message


async def test_an_upload_is_given_up_after_its_time_in_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lane_client: LaneClient
) -> None:
    monkeypatch.setattr(aiohttp_http, "UPLOAD_SECONDS", 0.3)
    path = tmp_path / "a.jpg"
    path.write_bytes(b"\xff\xd8" + b"x" * 1000)
    client, server = lane_client(
        lambda r: httpx.Response(200, json={"success": True}), read_timeout=30.0
    )
    server.delay = 5.0  # each answer: longer than the upload may take, within the read timeout
    with pytest.raises(Unreachable) as info:
        await client.upload(path, file_name="a.jpg", mime_type="image/jpeg")
    assert info.value.maybe_sent is True and "ReadTimeout" in info.value.message


async def test_a_lane_to_a_closed_port_knows_nothing_was_sent() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        lane = AiohttpHttp(timeout=httpx.Timeout(2.0))
        try:
            with pytest.raises(Unreachable) as info:
                await _evolink(lane, f"http://127.0.0.1:{port}", []).get_task("t1")
        finally:
            await lane.aclose()
    assert info.value.maybe_sent is False and "ConnectError" in info.value.message


async def test_a_lane_goes_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []

    def proxy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=TASK)

    server = HandlerServer(proxy)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    lane = AiohttpHttp.to("http://api.evolink.invalid", timeout=httpx.Timeout(2.0), tls=True)
    try:
        await _evolink(lane, "http://api.evolink.invalid", []).get_task("t1")
    finally:
        await lane.aclose()
        await server.aclose()
    assert [str(r.url) for r in seen] == ["http://api.evolink.invalid/v1/tasks/t1"]


def test_lanes_go_through_the_proxy_the_environment_names(
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
