"""What each engine must get right on its own: SQLite databases of earlier releases upgrade in
place; on PostgreSQL, concurrent callers (several coroutines, later several replicas) race for
the same rows and exactly one wins each race, and replicas starting together migrate once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from storage import DatabaseUnavailable, SqliteDatabase, Store
from storage.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from storage.models import ChatKey, Delivery, Options, TaskStatus
from storage.postgres import PostgresDatabase, numbered
from tests.records import add_photo

ALICE = ChatKey(chat_id=-1001234567890, user_id=7_000_000_001)  # ids beyond 32 bits, as Telegram's


# --- SQLite: databases written by earlier releases ----------------------------------------------

# Release 0.1.0 (three migrations) wrote its schema and its rows like this.
RELEASE_0_1_MIGRATIONS = 3


def _database_of_release_0_1(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    for version, script in enumerate(SQLITE_MIGRATIONS[:RELEASE_0_1_MIGRATIONS], start=1):
        conn.executescript(script)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 1.0)", (version,))
    options = json.dumps(
        {
            "aspect_ratio": "16:9",
            "content_filter": True,
            "duration": 8,
            "generate_audio": True,
            "quality": "480p",
        },
        sort_keys=True,
    )
    conn.execute(
        "INSERT INTO drafts (id, chat_id, user_id, state, prompt, options, idempotency_key,"
        " created_at, updated_at) VALUES (1, ?, ?, 'submitted', 'a fox', ?, 'k1', 1.0, 1.0)",
        (ALICE.chat_id, ALICE.user_id, options),
    )
    conn.execute(
        "INSERT INTO tasks (id, draft_id, chat_id, user_id, idempotency_key, callback_secret,"
        " upstream_id, status, prompt, options, credits_reserved, created_at, updated_at)"
        " VALUES (1, 1, ?, ?, 'k1', 's1', 'up-1', 'processing', 'a fox', ?, 12.0, 1.0, 1.0)",
        (ALICE.chat_id, ALICE.user_id, options),
    )
    conn.commit()
    conn.close()


async def test_a_database_of_the_previous_release_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    _database_of_release_0_1(path)
    store = Store(SqliteDatabase(path))
    await store.open()
    try:
        assert await store.db.schema_version() == len(SQLITE_MIGRATIONS)
        task = await store.tasks.get(1)
        assert task is not None and task.status is TaskStatus.PROCESSING
        assert task.options.duration == 8 and task.key == ALICE
        # The options moved into columns: the credit estimate reads the old task.
        assert await store.tasks.credit_rate("480p", True) == pytest.approx(1.5)
        assert await store.tasks.credit_rate("720p", True) is None
        # And the upgraded database takes new work.
        draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
        assert await store.tasks.create_from_draft(
            draft, request_message_id=None, callback_secret="s2"
        )
    finally:
        await store.close()


async def test_a_database_newer_than_the_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = Store(SqliteDatabase(path))
    await store.open()
    newer = len(SQLITE_MIGRATIONS) + 1
    await store.db.write("INSERT INTO schema_migrations VALUES (?, 0)", (newer,))
    await store.close()
    with pytest.raises(DatabaseUnavailable, match="newer than this release"):
        await store.open()


# --- PostgreSQL: races ---------------------------------------------------------------------------


@pytest.fixture
async def pg(postgres_url: str):  # type: ignore[no-untyped-def]
    store = Store(PostgresDatabase(postgres_url))
    await store.open()
    yield store
    await store.close()


async def _running_task(store: Store) -> int:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    task = await store.tasks.create_from_draft(draft, request_message_id=None, callback_secret="s")
    assert task is not None
    assert await store.tasks.update(task.id, status=TaskStatus.PENDING, upstream_id="up")
    return task.id


async def _lock_waiters(url: str, holder: asyncpg.Connection) -> int:
    """Statements waiting for a lock the `holder` connection holds, or queued behind one that
    does (other tests running at the same time on the server may have lock waits of their own)."""
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity AS a"
                " WHERE a.datname = current_database() AND a.wait_event_type = 'Lock'"
                # Directly, or behind a statement that waits for it (in the row's queue).
                " AND ($1 = ANY(pg_blocking_pids(a.pid)) OR EXISTS (SELECT 1 FROM"
                " unnest(pg_blocking_pids(a.pid)) AS b(pid)"
                " WHERE $1 = ANY(pg_blocking_pids(b.pid))))",
                holder.get_server_pid(),
            )
        )
    finally:
        await conn.close()


async def test_two_conditional_updates_blocked_on_one_row_exactly_one_wins(
    pg: Store, postgres_url: str
) -> None:
    task_id = await _running_task(pg)
    holder = await asyncpg.connect(postgres_url)
    try:
        locked = holder.transaction()
        await locked.start()
        await holder.execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", task_id)
        # A poll and a callback both see 'pending' finish, and both try to move it on.
        moves = [
            asyncio.create_task(
                pg.tasks.update(
                    task_id,
                    status=status,
                    expect_status=[TaskStatus.PENDING, TaskStatus.PROCESSING],
                )
            )
            for status in (TaskStatus.COMPLETED, TaskStatus.FAILED)
        ]
        for _ in range(100):  # both statements are inside PostgreSQL, waiting for the row
            if await _lock_waiters(postgres_url, holder) == 2:
                break
            await asyncio.sleep(0.02)
        assert await _lock_waiters(postgres_url, holder) == 2
        await locked.commit()
        outcomes = await asyncio.gather(*moves)
    finally:
        await holder.close()
    assert sorted(outcomes) == [False, True]
    task = await pg.tasks.get(task_id)
    assert task is not None
    winner = TaskStatus.COMPLETED if outcomes[0] else TaskStatus.FAILED
    assert task.status is winner


async def test_of_many_concurrent_delivery_claims_one_wins(pg: Store) -> None:
    task_id = await _running_task(pg)
    await pg.tasks.update(task_id, status=TaskStatus.COMPLETED)
    claims = await asyncio.gather(
        *(
            pg.tasks.update(task_id, delivery=Delivery.SENDING, expect_delivery=[Delivery.NONE])
            for _ in range(20)
        )
    )
    assert claims.count(True) == 1


async def test_a_draft_tapped_generate_on_at_once_becomes_one_task(pg: Store) -> None:
    draft = await pg.drafts.get_or_create(ALICE, language="en", options=Options())
    created = await asyncio.gather(
        *(
            pg.tasks.create_from_draft(draft, request_message_id=i, callback_secret=f"s{i}")
            for i in range(5)
        )
    )
    assert len([t for t in created if t is not None]) == 1
    row = await pg.db.fetchone("SELECT COUNT(*) FROM tasks")
    assert row is not None and row[0] == 1


async def test_album_items_arriving_at_once_take_distinct_positions(pg: Store) -> None:
    draft = await pg.drafts.get_or_create(ALICE, language="en", options=Options())
    refs = await asyncio.gather(
        *(
            pg.drafts.add_reference(
                draft.id,
                kind="image",
                source="photo",
                file_id=f"f{i}",
                file_unique_id=f"u{i}",
                message_id=100 + i,
                media_group_id="album",
                file_name=None,
                size=3_000_000_000,  # sizes beyond 32 bits (local Bot API server)
            )
            for i in range(9)
        )
    )
    assert sorted(r.position for r in refs if r is not None) == list(range(1, 10))
    # The same message again (an update replayed after a crash) adds nothing.
    again = await pg.drafts.add_reference(
        draft.id,
        kind="image",
        source="photo",
        file_id="f0",
        file_unique_id="u0",
        message_id=100,
        media_group_id="album",
        file_name=None,
        size=1,
    )
    assert again is None
    assert len(await pg.drafts.references(draft.id)) == 9


async def test_a_notice_is_given_once_however_many_ask_at_once(pg: Store) -> None:
    firsts = await asyncio.gather(
        *(pg.preferences.first_notice(ALICE.chat_id, ALICE.user_id, "quota") for _ in range(5))
    )
    assert firsts.count(True) == 1


async def test_a_transaction_is_invisible_to_others_until_it_commits(pg: Store) -> None:
    draft = await pg.drafts.get_or_create(ALICE, language="en", options=Options())
    async with pg.db.transaction() as tx:
        await tx.write("UPDATE drafts SET prompt = 'inside' WHERE id = ?", (draft.id,))
        outside = await pg.drafts.get(draft.id)  # another pooled connection
        assert outside is not None and outside.prompt == ""
    after = await pg.drafts.get(draft.id)
    assert after is not None and after.prompt == "inside"


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    databases = [PostgresDatabase(postgres_url) for _ in range(4)]
    await asyncio.gather(*(db.open() for db in databases))
    try:
        for db in databases:
            assert await db.schema_version() == len(POSTGRES_MIGRATIONS)
        rows = await databases[0].fetchall("SELECT version FROM schema_migrations")
        assert sorted(row[0] for row in rows) == list(range(1, len(POSTGRES_MIGRATIONS) + 1))
    finally:
        await asyncio.gather(*(db.close() for db in databases))


async def test_the_password_stays_out_of_reprs_and_errors(postgres_url: str) -> None:
    wrong = postgres_url.replace("@", "x-wrong-pass@", 1)
    db = PostgresDatabase(wrong)
    assert "wrong-pass" not in repr(db)
    with pytest.raises(DatabaseUnavailable) as info:
        await db.open()
    assert "password authentication failed" in str(info.value)
    assert "wrong-pass" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_placeholders_are_numbered_outside_quoted_text() -> None:
    sql = "UPDATE t SET a = ?, b = 'what?' WHERE c = ? AND d IN (?, ?)"
    assert numbered(sql) == "UPDATE t SET a = $1, b = 'what?' WHERE c = $2 AND d IN ($3, $4)"


# --- Both engines: a single-process database takes on replicas ----------------------------------

# The release before replicas: SQLite's migrations 1-7, PostgreSQL's 1-2.
SINGLE_PROCESS_SQLITE = 7
SINGLE_PROCESS_POSTGRES = 2
_LEFT_UPDATE = '{"update_id": 41}'


async def test_a_single_process_sqlite_database_upgrades_and_its_work_is_taken_over(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    for version, script in enumerate(SQLITE_MIGRATIONS[:SINGLE_PROCESS_SQLITE], start=1):
        conn.executescript(script)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 1.0)", (version,))
    conn.execute("INSERT INTO inbox VALUES (41, ?, 1.0)", (_LEFT_UPDATE,))
    conn.commit()
    conn.close()
    await _upgraded_and_taken_over(Store(SqliteDatabase(path)), len(SQLITE_MIGRATIONS))


@pytest.mark.parametrize("refs_columns_in_2", [True, False])
async def test_a_single_process_postgres_database_upgrades_and_its_work_is_taken_over(
    postgres_url: str, refs_columns_in_2: bool
) -> None:
    # Migration 2 gained the refs columns late: a database may have run it without them.
    scripts = list(POSTGRES_MIGRATIONS[:SINGLE_PROCESS_POSTGRES])
    if not refs_columns_in_2:
        scripts[-1] = "\n".join(
            line for line in scripts[-1].splitlines() if "ALTER TABLE refs" not in line
        )
    conn = await asyncpg.connect(postgres_url)  # the URL's search_path: the test's schema
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        for version, script in enumerate(scripts, start=1):
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1, 1.0)", version)
        await conn.execute("INSERT INTO inbox VALUES (41, $1, 1.0)", _LEFT_UPDATE)
    finally:
        await conn.close()
    await _upgraded_and_taken_over(Store(PostgresDatabase(postgres_url)), len(POSTGRES_MIGRATIONS))


async def _upgraded_and_taken_over(store: Store, migrations: int) -> None:
    await store.open()
    try:
        assert await store.db.schema_version() == migrations
        # The update the single process left unhandled has no owner: a replica takes it over.
        assert await store.inbox.take_orphans(alive_since=0.0) == [(41, _LEFT_UPDATE)]
        draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
        ref = await add_photo(store, draft.id, size=None)
        assert ref is not None and ref.attempts == 1 and ref.owner == store.replica_id
    finally:
        await store.close()
