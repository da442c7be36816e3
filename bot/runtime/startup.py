"""Start-up: what the operator must fix is one line naming the setting; a Telegram that does not
answer yet is waited for, so that a service survives a network blip at boot."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter

log = logging.getLogger(__name__)

T = TypeVar("T")


class StartupError(Exception):
    """A problem only the operator can fix; the message is one line naming the setting."""


class Stopped(Exception):
    """The bot was asked to stop before it finished starting."""


def listen_socket(host: str, port: int) -> socket.socket:
    """The web server's socket, bound and listening now, so that a busy port stops the start
    before anything else happens (uvicorn binding it later would fail inside a task, unseen)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise StartupError(_bind_problem(host, port, exc)) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restarts despite TIME_WAIT
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StartupError(_bind_problem(host, port, exc)) from None
    sock.setblocking(False)
    return sock


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"HTTP_PORT {port} is already in use on HTTP_HOST {host}: stop whatever uses it, "
            "or set HTTP_PORT to a free port"
        )
    if exc.errno == errno.EACCES:
        return (
            f"HTTP_PORT {port} may not be used by this user on HTTP_HOST {host}: "
            "use a port above 1023"
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"HTTP_HOST {host} is not an address of this machine: use 0.0.0.0 (every address) "
            "or 127.0.0.1 (this machine only)"
        )
    return f"cannot listen on HTTP_HOST {host}, HTTP_PORT {port}: {exc.strerror or exc}"


def writable_data_dir(path: Path) -> None:
    """Create DATA_DIR if need be and check that files can be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise StartupError(
            f"DATA_DIR {path} cannot hold the bot's files ({exc.strerror or exc}): "
            "set DATA_DIR to a directory this user can write to"
        ) from None


def host_of(url: str) -> str:
    """The host (and port) of a URL, for log lines: never the path, where a token may be."""
    return urlsplit(url).netloc or url.split("/", 1)[0]


async def until_telegram_answers(
    method: str,
    call: Callable[[], Awaitable[T]],
    *,
    stop: asyncio.Event,
    where: str,
    first_delay: float = 1.0,
    max_delay: float = 60.0,
) -> T:
    """Run a Bot API call of the start-up until Telegram answers it.

    No answer (connection refused, DNS, time-out, 5xx, flood control) is one WARNING line and
    another try after 1, 2, 4 ... `max_delay` seconds; a rejected token is a StartupError; other
    refusals are raised as they are. Raises Stopped as soon as `stop` is set.
    """
    delay = first_delay
    while True:
        try:
            return await _unless_stopped(call(), stop)
        except InvalidToken:
            raise StartupError(
                "Telegram rejected TELEGRAM_BOT_TOKEN: ask @BotFather for the bot's current "
                "token (/token) or a new one (/revoke), and set TELEGRAM_BOT_TOKEN to it"
            ) from None
        except BadRequest:
            raise
        except RetryAfter as exc:
            wait, reason = max(delay, _seconds(exc.retry_after)), str(exc)
        except NetworkError as exc:  # TimedOut and 5xx answers are NetworkErrors too
            wait, reason = delay, str(exc)
        log.warning(
            "Telegram (%s) did not answer %s: %s; trying again in %g s", where, method, reason, wait
        )
        await _unless_stopped(asyncio.sleep(wait), stop)
        delay = min(max_delay, delay * 2)


async def _unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T:
    """`work`'s result, or Stopped (and `work` cancelled) once `stop` is set."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopping):
            if not pending.done():
                pending.cancel()
    if not task.done() or task.cancelled():
        await asyncio.gather(task, return_exceptions=True)
        raise Stopped
    return task.result()


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
