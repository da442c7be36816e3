"""Fixtures: the fake servers on loopback, the database (SQLite, or a fresh PostgreSQL database),
and the whole bot started against them."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.runtime import runner
from bot.services import BotApplication
from tests.fakes.evolink import FakeEvolink
from tests.fakes.s3 import FakeS3
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotUnderTest

MakeBot = Callable[..., Awaitable[BotUnderTest]]

ENGINES = ("sqlite", "postgresql")
# `@on_both_engines` runs a test once on SQLite and once on a fresh PostgreSQL database: tests
# that take `database_url` (or `make_bot`, `store`...) get None (SQLite) or that database's URL.
on_both_engines = pytest.mark.parametrize("database_url", ENGINES, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the PostgreSQL server for tests (TEST_DATABASE_URL; scripts/with-postgres)."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        if os.environ.get("TEST_POSTGRES_REQUIRED") == "1":
            pytest.fail("TEST_POSTGRES_REQUIRED=1 but TEST_DATABASE_URL is not set", pytrace=False)
        pytest.skip(
            "PostgreSQL variant: TEST_DATABASE_URL is not set (./scripts/test sets it when"
            " PostgreSQL's server programs are installed; or run scripts/with-postgres pytest)"
        )
    return url


def _on_server(server: str, sql: str) -> None:
    """Run one statement as the test server's superuser (from sync fixtures: own loop)."""
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The test server's URL, in a new, empty schema of its own, dropped after the test.

    A schema, not a database: CREATE DATABASE forces checkpoints and takes 30-300 ms; a schema
    takes one. asyncpg hands the URL's query parameters to the server as settings.
    """
    schema = f"test_{secrets.token_hex(6)}"
    _on_server(postgres_server, f"CREATE SCHEMA {schema}")
    parts = urlsplit(postgres_server)
    yield urlunsplit(parts._replace(query=f"search_path={schema}"))
    _on_server(postgres_server, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite under DATA_DIR) unless `on_both_engines` asked for PostgreSQL."""
    engine = getattr(request, "param", "sqlite")
    if engine == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def evolink() -> AsyncIterator[FakeEvolink]:
    async with FakeEvolink() as fake:
        fake.callback_retry_delays = (0.1, 0.2, 0.4)
        yield fake


@pytest.fixture
def s3() -> Iterator[FakeS3]:
    """An S3-compatible server (moto behind a SigV4 gate) on loopback."""
    with FakeS3() as fake:
        yield fake


@pytest.fixture
async def make_bot(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path, database_url: str | None
) -> AsyncIterator[MakeBot]:
    """`await make_bot(media_hosting="local", ...)` starts the bot with those settings."""
    bots: list[BotUnderTest] = []

    async def factory(**overrides: object) -> BotUnderTest:
        if database_url is not None:
            overrides.setdefault("database_url", database_url)
        bot = BotUnderTest(telegram, evolink, tmp_path / "data", **overrides)
        bots.append(bot)
        await bot.start()
        return bot

    yield factory
    for bot in bots:
        await bot.stop()


@pytest.fixture
def applications(monkeypatch: pytest.MonkeyPatch) -> list[BotApplication]:
    """The Application of each bot `make_bot` starts, to look at (or drive) its services."""
    built: list[BotApplication] = []
    original = runner.build_application

    def recording(settings: Any, **kwargs: Any) -> BotApplication:
        application = original(settings, **kwargs)
        built.append(application)
        return application

    monkeypatch.setattr(runner, "build_application", recording)
    return built
