"""Whatever a stranger sends to the bot's web server: never a 5xx, never a traceback, and the
server keeps answering.

The real starlette app (`bot.web.routes.create_web_app`, with the webhook route of
`bot.telegram.webhook`) is driven through httpx's ASGITransport: hypothesis picks methods, paths
(around every route, with valid and broken percent-escapes, non-ASCII and invalid UTF-8),
query strings, headers (a lying or odd Content-Length, the right and wrong secrets, Range...)
and bodies (empty, binary, invalid UTF-8, deeply nested JSON, over the limits). Requests that
carry a valid signed media URL, a real callback secret or the webhook secret reach the code
behind the checks, not just the 404s. One test speaks raw HTTP to the real uvicorn server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import ApplicationBuilder

from bot.evolink import EvolinkClient
from bot.evolink.upstream import Upstream
from bot.hosting import LocalHost
from bot.hosting.signing import UrlSigner
from bot.runtime.metrics import Metrics
from bot.telegram.webhook import SECRET_HEADER, enqueue_into, webhook_route
from bot.web.asgi_guard import QuietBrokenConnections
from bot.web.health import Health
from bot.web.routes import create_web_app
from storage import SqliteDatabase, Store
from storage.models import ChatKey, Options, Task

T = TypeVar("T")

WEBHOOK_SECRET = "webhook-secret_0123456789"
METRICS_TOKEN = "metrics-token-0123456789abcdef"
EXAMPLES = 250  # per route
VISIBLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))


class _Problems(logging.Handler):
    """Records at ERROR or above, and any record carrying a traceback, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info or record.stack_info:
            self.records.append(record)

    def report(self) -> str:
        return "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in self.records)


class Site:
    """The bot's web app with every route in use, on an event loop of its own (hypothesis calls
    the test synchronously, once per example)."""

    def __init__(self, tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.media = tmp / "media"
        (self.media / "d1").mkdir(parents=True)
        self.file = self.media / "d1" / "r1-photo.jpg"
        self.file.write_bytes(b"\xff\xd8" + bytes(range(256)) * 40)
        self.host = LocalHost(
            media_dir=self.media,
            public_url="http://bot.test",
            signer=UrlSigner(b"k" * 32),
            ttl_seconds=3600,
        )
        self.store = Store(SqliteDatabase(tmp / "db.sqlite3"))
        self.callbacks: list[int] = []
        self.application = ApplicationBuilder().token("123456:ABCdefGHIjklMNOpqrSTU").build()
        upstream = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json={}))
        )
        evolink = EvolinkClient(
            upstream, api_key="k", base_url="http://up.test", files_base_url="http://files.test"
        )

        async def on_callback(task: Task, claim: str | None) -> None:
            self.callbacks.append(task.id)

        self.app = create_web_app(
            store=self.store,
            local_host=self.host,
            on_callback=on_callback,
            health=Health(store=self.store, upstream=Upstream(evolink, base_url="http://up.test")),
            metrics=Metrics(),
            metrics_token=METRICS_TOKEN,
            telegram_webhook=webhook_route(
                "/telegram", secret=WEBHOOK_SECRET, on_update=enqueue_into(self.application)
            ),
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://bot.test"
        )
        self.run(self._open())
        self.media_path = urlsplit(self.run(self._sign())).path

    async def _open(self) -> None:
        await self.store.open()
        key = ChatKey(chat_id=1, user_id=1)
        draft = await self.store.drafts.get_or_create(key, language="en", options=Options())
        task = await self.store.tasks.create_from_draft(
            draft, request_message_id=None, callback_secret="real-callback-secret"
        )
        assert task is not None

    async def _sign(self) -> str:
        return (await self.host.host(self.file, file_name="x.jpg", mime_type="image/jpeg")).url

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.store.close())
        self.loop.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = Site(tmp_path_factory.mktemp("web"))
    yield site
    site.close()


@pytest.fixture
def problems() -> Iterator[_Problems]:
    handler = _Problems()
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


# --- strategies ------------------------------------------------------------------------------

# Path segments: plain, percent-escaped arbitrary bytes (invalid UTF-8 included), non-ASCII,
# dot segments and NULs.
raw_bytes_escaped = st.binary(max_size=24).map(lambda b: "".join(f"%{x:02X}" for x in b))
segment = st.one_of(
    st.text(max_size=24).map(lambda s: quote(s, safe="")),
    raw_bytes_escaped,
    st.sampled_from(["", ".", "..", "%2e%2e", "%00", "%", "%zz", "x%2Fy", "é", "😀", "a" * 300]),
    st.from_regex(r"[0-9]{1,30}", fullmatch=True),
    st.sampled_from(["1", "+1", " 1", "1_0", "١٢٣", "²", "99999999999999999999", "-5"]),
)


def joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("/".join)


ROUTES = {
    "any": ["any"],
    "media": ["media", "media-valid-sig", "media-valid"],
    "callback": ["callback"],
    "webhook": ["webhook"],
    "health-metrics": ["fixed"],
}


@st.composite
def paths(draw: st.DrawFn, site_media_path: str, route: str) -> str:
    expires, signature, rest = site_media_path.removeprefix("/media/").split("/", 2)
    choice = draw(st.sampled_from(ROUTES[route]))
    if choice == "any":
        return "/" + draw(st.lists(segment, max_size=5).map("/".join))
    if choice == "media":
        return "/media/" + draw(joined(segment, segment, segment))
    if choice == "media-valid-sig":
        # A real signature with something else altered.
        altered = draw(st.sampled_from(["expires", "path", "signature-suffix"]))
        if altered == "expires":
            return f"/media/{draw(segment)}/{signature}/{rest}"
        if altered == "path":
            return f"/media/{expires}/{signature}/{draw(segment)}"
        return f"/media/{expires}/{signature}{draw(segment)}/{rest}"
    if choice == "media-valid":
        return site_media_path
    if choice == "callback":
        secret = draw(st.sampled_from(["real-callback-secret"] * 3 + ["other"]))
        secret = draw(st.one_of(st.just(secret), segment))
        return f"/callbacks/evolink/{secret}" + draw(st.sampled_from(["", "", "", "/", "/x"]))
    if choice == "webhook":
        return draw(st.sampled_from(["/telegram"] * 3 + ["/telegram/", "/TELEGRAM", "//telegram"]))
    return draw(st.sampled_from(["/healthz", "/metrics", "/healthz/", "/metrics/", "/", "/media/"]))


any_method = st.one_of(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]),
    st.from_regex(r"[A-Z]{1,12}", fullmatch=True),
)
# Mostly the method the route serves, so the examples get past the 405.
ROUTE_METHODS = {"callback": ["POST"], "webhook": ["POST"], "media": ["GET", "HEAD"]}


def methods(route: str) -> st.SearchStrategy[str]:
    usual = ROUTE_METHODS.get(route, ["GET"])
    return st.one_of(st.sampled_from(usual), st.sampled_from(usual), any_method)


query = st.one_of(st.just(""), st.text(max_size=40).map(quote), raw_bytes_escaped)
header_value = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b and b"\0" not in b),
    st.text(max_size=60).map(lambda s: s.encode("utf-8")),
    st.sampled_from(
        [b"", b"\xb2", b"\xb2\xb3", b"-1", b"1" * 5000, b"99999999999999999999999", b"0", b"12a"]
    ),
)
# Content-Length values that look like numbers to some parsers and not to others.
content_lengths = st.one_of(
    st.sampled_from(
        [b"\xb2", b"\xb9", b"\xd9\xa3", b"1" * 5000, b"9" * 25, b"-1", b" 5", b"0x10", b"1e3", b""]
    ),
    st.integers(min_value=0, max_value=10**30).map(lambda n: str(n).encode()),
    header_value,
)
headers = st.dictionaries(
    st.sampled_from(
        [
            "content-length",
            "content-type",
            "authorization",
            SECRET_HEADER.lower(),
            "range",
            "if-range",
            "if-none-match",
            "if-modified-since",
            "accept-encoding",
            "transfer-encoding",
            "cookie",
            "host",
            "x-anything",
        ]
    ),
    st.one_of(
        header_value,
        st.sampled_from(
            [
                WEBHOOK_SECRET.encode(),
                f"Bearer {METRICS_TOKEN}".encode(),
                b"Bearer wrong",
                b"bytes=0-10",
                b"bytes=-5",
                b"bytes=10-5",
                b"bytes=0-0,5-,-3",
                b"bytes=99999999999999999999-",
                b"bytes=" + b"0-1," * 500,
                b"application/json",
                b"multipart/form-data; boundary=x",
            ]
        ),
    ),
    max_size=6,
)


@st.composite
def request_headers(draw: st.DrawFn) -> dict[str, bytes]:
    """Arbitrary headers; often the webhook's secret or the metrics token right, and an odd
    Content-Length."""
    head = draw(headers)
    if draw(st.integers(0, 3)):
        head[SECRET_HEADER.lower()] = WEBHOOK_SECRET.encode()
    if draw(st.booleans()):
        head["authorization"] = f"Bearer {METRICS_TOKEN}".encode()
    if draw(st.booleans()):
        head["content-length"] = draw(content_lengths)
    return head


def _nested(depth: int) -> bytes:
    return b'{"update_id": 1, "message": ' + b"[" * depth + b"]" * depth + b"}"


bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.binary(max_size=40).map(lambda b: b'{"update_id": 1, "x": "' + b + b'"}'),
    st.integers(min_value=1, max_value=200_000).map(_nested),
    st.integers(min_value=0, max_value=3 * 1024 * 1024).map(lambda n: b"{" * n),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b"null",
            b'{"update_id": true}',
            b'{"update_id": -1}',
            b'{"update_id": 1e400}',
            b'{"update_id": 123456789012345678901234567890}',
            b'{"update_id": 7, "message": "not an object"}',
            b'{"update_id": 8, "message": {"message_id": "x", "chat": 5}}',
            b'{"update_id": 9, "callback_query": {"id": [], "from": {}}}',
            json.dumps({"status": "completed", "id": "task-unified-1-abc"}).encode(),
        ]
    ),
)


# --- the properties --------------------------------------------------------------------------


def _check(
    site: Site, method: str, path: str, qs: str, head: dict[str, bytes], body: bytes
) -> None:
    # The target exactly as given (httpx would read "//x" as a host), non-ASCII escaped.
    target = quote(path + (f"?{qs}" if qs else ""), safe=VISIBLE_ASCII).encode()
    url = httpx.URL("http://bot.test").copy_with(raw_path=target)

    async def go() -> httpx.Response:
        return await site.client.request(method, url, headers=head, content=body)

    response = site.run(go())
    assert response.status_code < 500, (method, url, head, response.status_code, response.text)
    alive = site.run(site.client.get("/healthz"))
    assert alive.status_code == 200, alive.text


@pytest.mark.parametrize("route", list(ROUTES))
def test_no_request_gets_a_5xx_or_logs_a_traceback(
    site: Site, problems: _Problems, route: str
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        method=methods(route),
        path=paths(site.media_path, route),
        qs=query,
        head=request_headers(),
        body=bodies,
    )
    def check(method: str, path: str, qs: str, head: dict[str, bytes], body: bytes) -> None:
        _check(site, method, path, qs, head, body)

    check()
    assert not problems.records, problems.report()


def test_the_routes_still_do_their_jobs(site: Site, problems: _Problems) -> None:
    """The same app, with the right credentials: the fixes did not close the front door."""

    async def go() -> None:
        media = await site.client.get(site.media_path)
        assert media.status_code == 200 and media.content == site.file.read_bytes()
        ranged = await site.client.get(site.media_path, headers={"Range": "bytes=0-1"})
        assert ranged.status_code == 206 and ranged.content == b"\xff\xd8"
        assert (await site.client.get("/metrics")).status_code == 401
        auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        scrape = await site.client.get("/metrics", headers=auth)
        assert scrape.status_code == 200 and "seedance_tasks" in scrape.text
        before = len(site.callbacks)
        hinted = await site.client.post("/callbacks/evolink/real-callback-secret", content=b"{}")
        assert hinted.status_code == 200 and len(site.callbacks) == before + 1
        update = {
            "update_id": 42,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "text": "hi",
            },
        }
        queued = await site.client.post(
            "/telegram", json=update, headers={SECRET_HEADER: WEBHOOK_SECRET}
        )
        assert queued.status_code == 200
        got = site.application.update_queue.get_nowait()
        while isinstance(got, Update) and got.update_id != 42:
            got = site.application.update_queue.get_nowait()
        assert isinstance(got, Update) and got.update_id == 42

    site.run(go())
    assert not problems.records, problems.report()


@pytest.mark.parametrize(
    "signature",
    ["é" * 43, "😀", "\u00ff" * 10, "AAAA\u0100", "%C3%A9" * 5],
)
def test_a_non_ascii_signature_is_a_plain_404(site: Site, signature: str) -> None:
    expires, _, rest = site.media_path.removeprefix("/media/").split("/", 2)
    response = site.run(site.client.get(f"/media/{expires}/{quote(signature)}/{rest}"))
    assert response.status_code == 404


def test_deep_json_to_the_webhook_is_a_400(site: Site, problems: _Problems) -> None:
    for depth in (33, 1000, 100_000):
        body = b'{"update_id": 5, "message": ' + b"[" * depth + b"]" * depth + b"}"
        response = site.run(
            site.client.post("/telegram", content=body, headers={SECRET_HEADER: WEBHOOK_SECRET})
        )
        assert response.status_code == 400, depth
    assert not problems.records, problems.report()


@pytest.mark.parametrize("length", [b"\xb2", b"\xd9\xa3", b"1" * 5000, b"9" * 25, b" 7 "])
@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("/callbacks/evolink/real-callback-secret", {}),
        ("/telegram", {SECRET_HEADER: WEBHOOK_SECRET.encode()}),
    ],
)
def test_an_odd_content_length_is_never_a_500(
    site: Site, problems: _Problems, path: str, head: dict[str, bytes], length: bytes
) -> None:
    _check(site, "POST", path, "", {**head, "content-length": length}, b"{}")
    assert not problems.records, problems.report()


def test_metrics_do_not_exist_without_a_token(tmp_path: Path) -> None:
    async def go() -> int:
        store = Store(SqliteDatabase(tmp_path / "db.sqlite3"))
        await store.open()

        async def on_callback(task: Task) -> None:
            raise AssertionError

        app = create_web_app(
            store=store, local_host=None, on_callback=on_callback, metrics=Metrics()
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bot.test"
        ) as client:
            auth = {"Authorization": "Bearer "}
            status = (await client.get("/metrics", headers=auth)).status_code
        await store.close()
        return status

    assert asyncio.run(go()) == 404


# --- the real server -------------------------------------------------------------------------

RAW_REQUESTS = [
    b"GET /media/1/\xc3\xa9\xff/x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /media/%FF%FE/%C3%A9/%00 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /callbacks/evolink/x HTTP/1.1\r\nHost: a\r\nContent-Length: \xb2\r\n\r\n",
    b"POST /telegram HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST /telegram HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
    b"GET " + b"/" * 20_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"BREW /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\n\r\n",
]


async def _raw(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), 10)
    except ConnectionError:
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def test_the_real_server_survives_raw_garbage(site: Site, problems: _Problems) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Wrapped as bot.runtime.runner.serve wraps it.
    app = QuietBrokenConnections(site.app)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)

    async def go() -> list[bytes]:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.01)
        try:
            answers = [await _raw(port, payload) for payload in RAW_REQUESTS]
            async with httpx.AsyncClient() as http:
                health = await http.get(f"http://127.0.0.1:{port}/healthz")
                assert health.status_code == 200
                media = await http.get(f"http://127.0.0.1:{port}{site.media_path}")
                assert media.status_code == 200
            return answers
        finally:
            server.should_exit = True
            await serving

    answers = site.run(go())
    for payload, answer in zip(RAW_REQUESTS, answers, strict=True):
        status_line = answer.split(b"\r\n", 1)[0]
        assert not status_line.startswith(b"HTTP/1.1 5"), (payload[:80], status_line)
    assert not problems.records, problems.report()
