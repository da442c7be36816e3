"""Bot API requests through aiohttp: python-telegram-bot's bodies, timeouts and errors."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from email.parser import BytesParser

import httpx
import pytest
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.aiohttp_request import AiohttpRequest
from tests.fakes.handler_server import Handler, HandlerServer

OK = {"ok": True, "result": True}
Served = Callable[..., Awaitable[tuple[AiohttpRequest, HandlerServer]]]


@pytest.fixture
async def request_to() -> AsyncIterator[Served]:
    """Makes an initialised AiohttpRequest and a loopback server answering with `handler`."""
    opened: list[tuple[AiohttpRequest, HandlerServer]] = []

    async def make(
        handler: Handler, *, read_timeout: float = 5.0
    ) -> tuple[AiohttpRequest, HandlerServer]:
        request = AiohttpRequest(read_timeout=read_timeout, media_write_timeout=5.0)
        await request.initialize()
        opened.append((request, HandlerServer(handler)))
        return opened[-1]

    yield make
    for request, server in opened:
        await request.shutdown()
        await server.aclose()


def _data(**values: object) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])


async def test_a_call_sends_its_fields_as_a_form_and_returns_the_answer(request_to: Served) -> None:
    request, server = await request_to(lambda r: httpx.Response(200, json=OK))
    status, body = await request.do_request(
        f"{server.url}/bot1:x/sendMessage", "POST", _data(chat_id=7, text="héllo & more")
    )
    assert status == 200 and body == b'{"ok":true,"result":true}'
    (sent,) = server.requests
    assert sent.headers["User-Agent"] == BaseRequest.USER_AGENT
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert httpx.QueryParams(sent.content.decode()) == httpx.QueryParams(
        {"chat_id": "7", "text": "héllo & more"}
    )


async def test_an_upload_is_multipart_with_the_file_its_name_and_type(request_to: Served) -> None:
    request, server = await request_to(lambda r: httpx.Response(200, json=OK))
    video = InputFile(io.BytesIO(b"\x00\x01mp4 bytes"), filename="clip.mp4")
    await request.do_request(
        f"{server.url}/bot1:x/sendVideo", "POST", _data(chat_id=7, video=video)
    )
    (sent,) = server.requests
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    form = BytesParser().parsebytes(
        f"Content-Type: {sent.headers['Content-Type']}\r\n\r\n".encode() + sent.content
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in form.get_payload()
    }
    assert parts["chat_id"].get_payload(decode=True) == b"7"
    assert parts["video"].get_filename() == "clip.mp4"
    assert parts["video"].get_content_type() == "video/mp4"
    assert parts["video"].get_payload(decode=True) == b"\x00\x01mp4 bytes"


async def test_no_answer_in_time_is_timed_out(request_to: Served) -> None:
    request, server = await request_to(lambda r: httpx.Response(200, json=OK), read_timeout=0.2)
    server.delay = 5.0
    with pytest.raises(TimedOut):
        await request.do_request(f"{server.url}/bot1:x/getMe", "POST")


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        request = AiohttpRequest(read_timeout=2.0, media_write_timeout=2.0)
        await request.initialize()
        try:
            with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
                await request.do_request(f"http://127.0.0.1:{port}/bot1:x/getMe", "POST")
        finally:
            await request.shutdown()


async def test_a_dropped_connection_is_a_network_error(request_to: Served) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise ConnectionResetError

    request, server = await request_to(handler)
    with pytest.raises(NetworkError):
        await request.do_request(
            f"{server.url}/bot1:x/sendMessage", "POST", _data(chat_id=1, text="x")
        )


async def test_a_request_before_initialize_is_refused() -> None:
    request = AiohttpRequest(read_timeout=1.0, media_write_timeout=1.0)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot1:x/getMe", "POST")


async def test_an_answer_that_is_not_http_is_a_network_error_that_does_not_quote_the_url() -> None:
    async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(not_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(read_timeout=2.0, media_write_timeout=2.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as failed:
            await request.do_request(f"http://127.0.0.1:{port}/bot1:secret-half/getMe", "POST")
    finally:
        await request.shutdown()
        server.close()
        await server.wait_closed()
    assert "secret-half" not in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


async def test_requests_go_through_the_proxy_given(request_to: Served) -> None:
    _, server = await request_to(lambda r: httpx.Response(200, json=OK))
    request = AiohttpRequest(read_timeout=2.0, media_write_timeout=2.0, proxy=server.url)
    await request.initialize()
    try:
        await request.do_request("http://telegram.invalid/bot1:x/getMe", "POST")
    finally:
        await request.shutdown()
    assert [str(r.url) for r in server.requests] == ["http://telegram.invalid/bot1:x/getMe"]
