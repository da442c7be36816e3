"""The bot as a real process: SIGTERM shuts it down cleanly, SIGKILL at any moment loses nothing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import on_both_engines
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotProcess
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

CHAT = 701


@pytest.fixture
async def process(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path, database_url: str | None
) -> AsyncIterator[BotProcess]:
    env = {"DATABASE_URL": database_url} if database_url else {}
    bot = BotProcess(telegram, evolink, tmp_path / "data", **env)
    yield bot
    await bot.kill()


def _videos(telegram: FakeTelegram) -> int:
    return len([c for c in telegram.sent("sendVideo") if c.ok])


async def test_sigterm_stops_the_bot_cleanly(process: BotProcess) -> None:
    await process.start()
    assert await process.terminate() == 0
    assert "bot stopped" in process.log
    assert "Traceback" not in process.log


async def test_sigkill_while_a_reference_uploads_then_restart(
    process: BotProcess, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    evolink.set_delay("/api/v1/files/upload/stream", 2)
    await process.start()
    telegram.send_photo(CHAT, CHAT, image_bytes(800, 800), caption="a lighthouse at night")
    telegram.send_text(CHAT, CHAT, "/generate")
    await telegram.wait_for(
        lambda c: c.method == "sendMessage" and "Getting your files ready" in c.text
    )
    await process.kill()  # the task row exists, the upload was cut, nothing was submitted
    assert evolink.submissions == []
    evolink.set_delay("/api/v1/files/upload/stream", 0)
    await process.start()
    submission = await evolink.wait_for_submission(timeout=20)
    await evolink.complete(submission.task_id)
    await telegram.wait_for(lambda c: c.method == "sendVideo" and c.ok, timeout=20)
    await asyncio.sleep(0.5)
    assert len(evolink.submissions) == 1
    assert _videos(telegram) == 1


async def test_sigkill_during_the_submit_never_submits_twice(
    process: BotProcess, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    evolink.set_delay("/v1/videos/generations", 2)  # the submit is on the wire when we kill
    await process.start()
    telegram.send_photo(CHAT, CHAT, image_bytes(800, 800), caption="a storm at sea")
    await telegram.wait_for(lambda c: c.method == "sendMessage" and "image 1" in c.text)
    telegram.send_text(CHAT, CHAT, "/generate")
    await telegram.wait_for(lambda c: c.method == "sendMessage" and "Submitting" in c.text)
    await asyncio.sleep(1.0)
    await process.kill()
    evolink.set_delay("/v1/videos/generations", 0)
    await asyncio.sleep(1.5)  # the server may or may not have finished the request
    submitted = len(evolink.submissions)
    await process.start()
    # The bot cannot know the task id: it says so instead of paying a second time.
    await telegram.wait_for(
        lambda c: c.method in {"sendMessage", "editMessageText"} and "can't tell" in c.text,
        timeout=20,
    )
    await asyncio.sleep(0.5)
    assert len(evolink.submissions) == submitted <= 1


@on_both_engines
async def test_sigkill_after_completion_before_delivery(
    process: BotProcess, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    await process.start()
    telegram.send_photo(CHAT, CHAT, image_bytes(800, 800), caption="a desert road")
    await telegram.wait_for(lambda c: c.method == "sendMessage" and "image 1" in c.text)
    telegram.send_text(CHAT, CHAT, "/generate")
    submission = await evolink.wait_for_submission(timeout=20)
    await telegram.wait_for(lambda c: "credits reserved" in c.text)
    await process.kill()
    await evolink.complete(submission.task_id)
    await process.start()
    await telegram.wait_for(lambda c: c.method == "sendVideo" and c.ok, timeout=20)
    await process.kill()
    await process.start()
    await asyncio.sleep(1.0)
    assert _videos(telegram) == 1
    assert len(evolink.submissions) == 1


@on_both_engines
async def test_secrets_never_appear_in_logs_requests_or_the_database(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path, database_url: str | None
) -> None:
    bot = BotProcess(
        telegram,
        evolink,
        tmp_path / "data",
        LOG_LEVEL="DEBUG",
        MEDIA_HOSTING="local",
        EVOLINK_CALLBACKS="on",
        **({"DATABASE_URL": database_url} if database_url else {}),
    )
    try:
        await bot.start()
        async with httpx.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{bot.port}/healthz")
        assert health.json()["database"] == "ok"
        telegram.send_photo(CHAT, CHAT, image_bytes(800, 800), caption="a quiet harbour")
        telegram.send_document(CHAT, CHAT, b"not an image", file_name="x.txt")
        await telegram.wait_for(lambda c: c.method == "sendMessage" and "image 1" in c.text)
        telegram.send_text(CHAT, CHAT, "/generate")
        submission = await evolink.wait_for_submission(timeout=20)
        await evolink.complete(submission.task_id)
        await telegram.wait_for(lambda c: c.method == "sendVideo" and c.ok, timeout=20)
        assert await bot.terminate() == 0
    finally:
        await bot.kill()
    token, key = telegram.token, evolink.api_key
    log = bot.log
    assert "DEBUG" in log  # the most talkative level was on
    assert token not in log
    assert token.split(":")[1] not in log
    assert key not in log
    for call in telegram.calls:
        assert key not in repr(call.params)
        assert token not in repr(call.params)
    for sent in evolink.submissions:
        assert token not in repr(sent.body)
        assert all(
            "api.telegram.org" not in u and "/file/bot" not in u for u in sent.body["image_urls"]
        )
    sqlite_file = tmp_path / "data" / "bot.sqlite3"
    if database_url is None:
        database = sqlite_file.read_bytes()
        assert token.encode() not in database
        assert key.encode() not in database
    else:
        assert not sqlite_file.exists()  # the bot really ran on PostgreSQL
        password = urlsplit(database_url).password
        assert password and password not in log and password not in health.text
        assert database_url not in log


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _refused_start(bot: BotProcess, password: str) -> str:
    await bot.launch()
    assert await bot.exit_code() == 2
    assert "Traceback" not in bot.log
    lines = bot.log.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Configuration error: DATABASE_URL: ")
    assert password not in bot.log
    return lines[0]


async def test_an_unreachable_database_stops_the_start_in_one_line(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    password = "p4ss-w0rd-never-shown"
    url = f"postgresql://bot:{password}@127.0.0.1:{_closed_port()}/bot"
    bot = BotProcess(telegram, evolink, tmp_path / "data", DATABASE_URL=url)
    line = await _refused_start(bot, password)
    assert "cannot connect to PostgreSQL at 127.0.0.1" in line


async def test_a_wrong_database_password_stops_the_start_in_one_line(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path, postgres_url: str
) -> None:
    password = "p4ss-w0rd-never-shown"
    parts = urlsplit(postgres_url)
    url = urlunsplit(parts._replace(netloc=f"bot:{password}@{parts.hostname}:{parts.port}"))
    bot = BotProcess(telegram, evolink, tmp_path / "data", DATABASE_URL=url)
    line = await _refused_start(bot, password)
    assert "password authentication failed" in line


async def test_sigkill_before_the_submit_answer_is_recorded_then_the_callback_delivers_once(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    # The task is created upstream, the bot dies before it has the answer, the task completes
    # while it is down: after the restart, the callback names the task and its video arrives,
    # once, with no second submit.
    bot = BotProcess(telegram, evolink, tmp_path / "data", EVOLINK_CALLBACKS="on")
    evolink.callback_retry_delays = (1.0, 2.0, 4.0)  # as the real API retries
    evolink.break_next_answer("late", delay=30)
    try:
        await bot.start()
        telegram.send_photo(CHAT, CHAT, image_bytes(800, 800), caption="a night train")
        await telegram.wait_for(lambda c: c.method == "sendMessage" and "image 1" in c.text)
        telegram.send_text(CHAT, CHAT, "/generate")
        submission = await evolink.wait_for_submission(timeout=20)
        await asyncio.sleep(0.3)
        await bot.kill()  # the answer was never received, let alone recorded
        await evolink.complete(submission.task_id)  # the callback finds nobody listening
        await bot.start()  # …and its retries reach the restarted bot
        await telegram.wait_for(lambda c: c.method == "sendVideo" and c.ok, timeout=20)
        await evolink.wait_for_callbacks()
        await asyncio.sleep(1.0)
    finally:
        await bot.kill()
    assert _videos(telegram) == 1
    assert len(evolink.submissions) == 1 and len(evolink.tasks) == 1
    posts = [r for r in evolink.requests if r == ("POST", "/v1/videos/generations")]
    assert len(posts) == 1
