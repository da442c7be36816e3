"""Fixtures: the fake servers on loopback, and the whole bot started against them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import runner
from bot.app import BotApplication
from tests.fakes.evolink import FakeEvolink
from tests.fakes.s3 import FakeS3
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotUnderTest

MakeBot = Callable[..., Awaitable[BotUnderTest]]


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
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> AsyncIterator[MakeBot]:
    """`await make_bot(media_hosting="local", ...)` starts the bot with those settings."""
    bots: list[BotUnderTest] = []

    async def factory(**overrides: object) -> BotUnderTest:
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
