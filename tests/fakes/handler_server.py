"""An httpx-style handler served over a real loopback socket (HTTP/1.1, kept alive): what
httpx.MockTransport is for httpx, for a client that opens its own connections.

A handler that raises drops the connection once the request has arrived (the request left, no
answer came); a response built with `stream=httpx.ByteStream(...)` goes out byte for byte, so a
body can be corrupt or shorter than the Content-Length it claims (one is added if it has none). A
response that says `Connection: close` is followed by the connection's end; `delay` holds every
answer back that many seconds. A request in absolute form (`GET http://host/path`, as a client
sends it to a forward proxy) keeps its own URL: the server stands in for a proxy too. Every
request that arrived is in `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


class HandlerServer:
    """Serves `handler` on 127.0.0.1; ready as soon as it is made (the socket listens)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.delay = 0.0
        self.connections = 0
        self.requests: list[httpx.Request] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._writers: set[asyncio.StreamWriter] = set()
        self._server = asyncio.ensure_future(asyncio.start_server(self._serve, sock=self._sock))

    async def aclose(self) -> None:
        """Stop listening and close every connection."""
        server = await self._server
        server.close()
        for writer in self._writers:
            writer.close()
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while request := await _read_request(reader, self.url):
                self.requests.append(request)
                try:
                    response = self.handler(request)
                except Exception:  # the handler's way of dropping the connection
                    writer.transport.abort()
                    return
                await asyncio.sleep(self.delay)
                body = b"".join(response.stream)  # type: ignore[arg-type]
                writer.write(_head(response, len(body)) + body)
                await writer.drain()
                if response.headers.get("Connection") == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


async def _read_request(reader: asyncio.StreamReader, base: str) -> httpx.Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection
    line, *fields = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _ = line.split(" ", 2)
    headers = [tuple(field.split(": ", 1)) for field in fields]
    length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
    body = await reader.readexactly(length)
    url = target if target.startswith("http://") else base + target
    return httpx.Request(method, url, headers=headers, content=body)


def _head(response: httpx.Response, length: int) -> bytes:
    lines = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
    lines += [f"{name}: {value}" for name, value in response.headers.multi_items()]
    if "content-length" not in response.headers:
        lines.append(f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
