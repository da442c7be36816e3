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

# Tests that take seconds each (several of them tens), roughly slowest first: they are started
# first, so that a run spread over workers (scripts/test hands tests out a few at a time) does
# not end with one worker still busy with a long test while the others sit idle. A name stands
# for every parameter of the test.
SLOW_FIRST = (
    "tests/test_fuzz_updates.py::test_odd_updates_never_break_the_handlers",
    "tests/test_update_fairness.py::test_a_sigkill_in_the_middle_of_a_backlog_loses_none_of_it",
    "tests/test_faults_process.py::test_sigkill_at_random_points_never_loses_or_doubles_a_request",
    "tests/test_update_fairness.py::test_one_persons_flood_does_not_delay_another_persons_reply",
    "tests/test_e2e_replicas.py::test_three_replicas_one_replica_killed_every_request_delivered_once",
    "tests/test_bench_smoke.py::test_latency_idle_and_throughput_benches_run",
    "tests/test_bench_smoke.py::test_replicas_bench_runs",
    "tests/test_bench_smoke.py::test_soak_and_files_api_benches_run",
    "tests/test_faults_upstream.py::test_queries_that_time_out_until_the_deadline_end_in_a_clear_message",
    "tests/test_faults_upstream.py::test_task_queries_that_time_out_are_retried_and_the_video_still_arrives",
    "tests/test_media_real_files.py::test_sent_as_files_each_gets_the_right_answer",
    "tests/test_media_burst.py::test_a_burst_of_heavy_files_gets_every_user_an_answer_and_others_are_still_served",
    "tests/test_faults_telegram.py::test_a_flood_limit_that_outlasts_the_retries_ends_the_delivery_as_failed",
    "tests/test_transcripts.py::test_a_whole_conversation_reads_right",
    "tests/test_media_video.py::test_4k_is_downscaled_into_the_pixel_range",
    "tests/test_faults_process.py::test_updates_fetched_but_not_yet_handled_survive_a_sigkill",
    "tests/test_faults_upstream.py::test_a_task_that_finishes_after_the_deadline_is_still_delivered",
    "tests/test_faults_telegram.py::test_a_user_who_blocked_the_bot_gets_no_retry_loop",
    "tests/test_faults_telegram.py::test_a_flood_limit_on_the_video_that_outlasts_the_retries_gives_the_link",
    "tests/test_faults_upstream.py::test_an_unreachable_api_is_retried_a_few_times_then_reported",
    "tests/test_web_surface.py::test_no_request_gets_a_5xx_or_logs_a_traceback",
    "tests/test_faults_paid_once.py::test_without_callbacks_the_user_reads_the_truth_and_nothing_is_resent",
    "tests/test_e2e_process.py",
    "tests/test_startup.py",
    "tests/test_e2e_media_sandbox.py",
    "tests/test_e2e_media_kinds.py",
    "tests/test_faults_telegram.py",
    "tests/test_faults_upstream.py",
    "tests/test_faults_paid_once.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of SLOW_FIRST first, in its order; the others after, in their own order."""

    def rank(item: pytest.Item) -> int:
        name = item.nodeid.split("[", 1)[0]
        for place, slow in enumerate(SLOW_FIRST):
            if name == slow or name.startswith(slow + "::"):
                return place
        return len(SLOW_FIRST)

    items.sort(key=rank)


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
