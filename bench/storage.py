"""The storage layer's cost on the hot path, against bare driver calls doing the same writes.

Run with ``python -m bench.storage`` from the repository root (``--help`` for the sizes); with a
PostgreSQL URL (``--postgres URL``, or TEST_DATABASE_URL, as ``scripts/with-postgres python -m
bench.storage`` sets it) PostgreSQL is measured too, in a schema of its own, dropped afterwards.

Per Telegram update the bot writes the update into the inbox and marks it handled once handled
(``inbox put + done``: two write transactions at most; the bot batches them, this times one
update per batch, the dearest case); every task state change is a conditional update
(``UPDATE tasks ... WHERE id = ? AND status IN (...)``, one write transaction). Each is timed
through the Store and through the driver directly, doing the same statements the same way on
the store's own connection (SQLite: aiosqlite, BEGIN IMMEDIATE/COMMIT; PostgreSQL: the asyncpg
pool, one autocommit statement), in the same run, each side on rows of its own. Figures are
medians over rounds of 100 operations, the sides alternating round by round: operations per
second and their ratio store/bare (1.00 = no cost), and the event loop thread's CPU time per
operation, which is where the storage layer's own code runs (wall-clock rates on a shared
machine wander by 10-20 % from run to run; CPU time much less).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._common import Result, load, machine, table
from storage import SqliteDatabase, Store
from storage.models import ChatKey, Options, TaskStatus
from storage.postgres import PostgresDatabase, numbered

BODY = '{"update_id": 1, "message": {"text": "a red fox runs through fresh snow"}}'
INBOX_PUT = (
    "INSERT INTO inbox (update_id, body, received_at, owner, chat_id, user_id)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING update_id"
)
INBOX_DONE = "UPDATE inbox SET handled_at = ?, body = '' WHERE update_id IN (?)"
ROUND = 100  # operations per timed round; the sides alternate round by round
TASK_MOVE = "UPDATE tasks SET status = ?, updated_at = ? WHERE id = ? AND status IN (?)"


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    ops: int = 2000
    repeats: int = 5
    postgres: str = ""  # a server URL; empty: SQLite only

    @classmethod
    def tiny(cls) -> Config:
        """A run of a second, for the smoke test."""
        return cls(ops=20, repeats=1, postgres=os.environ.get("TEST_DATABASE_URL", ""))


Op = Callable[[int], Awaitable[None]]
Write = Callable[[str, tuple[object, ...]], Awaitable[object]]


async def _rate(op: Op, first: int, ops: int) -> tuple[float, float]:
    """Operations per second, and the event loop thread's CPU time per operation in µs."""
    started, cpu = time.perf_counter(), time.thread_time()
    for i in range(first, first + ops):
        await op(i)
    return ops / (time.perf_counter() - started), (time.thread_time() - cpu) / ops * 1e6


def _flip(i: int) -> tuple[TaskStatus, TaskStatus]:
    pair = (TaskStatus.PENDING, TaskStatus.PROCESSING)
    return (pair[i % 2], pair[1 - i % 2])


def _bare_ops(write: Write, task_id: int, first_update: int) -> tuple[Op, Op]:
    """The hot-path writes through the driver: the store's statements, no store."""

    async def inbox(i: int) -> None:
        update_id = first_update + i
        key = (1, update_id)
        await write(INBOX_PUT, (update_id, BODY, time.time(), "bare", *key))
        await write(INBOX_DONE, (time.time(), update_id))

    async def task(i: int) -> None:
        old, new = _flip(i)
        await write(TASK_MOVE, (new.value, time.time(), task_id, old.value))

    return inbox, task


def _store_ops(store: Store, task_id: int, first_update: int) -> tuple[Op, Op]:
    async def inbox(i: int) -> None:
        update_id = first_update + i
        await store.inbox.record(keep=[(update_id, BODY, (1, update_id))], forget=[])
        await store.inbox.record(keep=[], forget=[update_id])

    async def task(i: int) -> None:
        old, new = _flip(i)
        assert await store.tasks.update(task_id, status=new, expect_status=[old])

    return inbox, task


async def _seed_task(store: Store) -> int:
    key = ChatKey(1, secrets.randbelow(10**9))
    draft = await store.drafts.get_or_create(key, language="en", options=Options())
    task = await store.tasks.create_from_draft(
        draft, request_message_id=None, callback_secret=secrets.token_hex(8)
    )
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.PENDING)
    return task.id


async def _measure(engine: str, store: Store, bare: Write, cfg: Config) -> dict[str, float]:
    """Both sides on the same connection(s) and database, each on rows of its own, alternating
    in short rounds so that other work on the machine, which comes and goes over seconds, weighs
    on both alike."""
    bare_inbox, bare_task = _bare_ops(bare, await _seed_task(store), first_update=1)
    store_inbox, store_task = _store_ops(store, await _seed_task(store), first_update=10**9)
    rates: dict[str, list[float]] = {}
    for repeat in range(cfg.repeats * max(1, cfg.ops // ROUND)):
        for name, op in (
            ("inbox bare", bare_inbox),
            ("inbox store", store_inbox),
            ("task bare", bare_task),
            ("task store", store_task),
        ):
            rate, cpu = await _rate(op, repeat * ROUND, min(ROUND, cfg.ops))
            rates.setdefault(f"{engine} {name}", []).append(rate)
            rates.setdefault(f"{engine} {name} cpu", []).append(cpu)
    return {name: statistics.median(values) for name, values in rates.items()}


async def _sqlite(cfg: Config) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        db = SqliteDatabase(Path(tmp) / "bot.sqlite3")
        store = Store(db)
        await store.open()
        conn = db._conn  # the bare side: the store's own aiosqlite connection
        assert conn is not None

        async def write(sql: str, params: tuple[object, ...]) -> None:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute_fetchall(sql, params)  # as the store: RETURNING rows read
            await conn.execute("COMMIT")

        try:
            return await _measure("sqlite", store, write, cfg)
        finally:
            await store.close()


async def _postgres(cfg: Config) -> dict[str, float]:
    schema = f"bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(cfg.postgres)
    await admin.execute(f"CREATE SCHEMA {schema}")
    db = PostgresDatabase(
        urlunsplit(urlsplit(cfg.postgres)._replace(query=f"search_path={schema}"))
    )
    store = Store(db)
    try:
        await store.open()
        pool = db._pool  # the bare side: the store's own asyncpg pool
        assert pool is not None

        async def write(sql: str, params: tuple[object, ...]) -> None:
            await pool.fetch(numbered(sql), *params)

        return await _measure("postgresql", store, write, cfg)
    finally:
        await store.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def run(cfg: Config) -> Result:
    """Measure SQLite, and PostgreSQL when there is a server."""
    figures = await _sqlite(cfg)
    engines = ["sqlite"]
    if cfg.postgres:
        figures |= await _postgres(cfg)
        engines.append("postgresql")
    rows = []
    for engine in engines:
        for what, label in (
            ("inbox", "inbox put + done (per update)"),
            ("task", "task conditional update"),
        ):
            bare, ours = figures[f"{engine} {what} bare"], figures[f"{engine} {what} store"]
            cpu_bare = figures[f"{engine} {what} bare cpu"]
            cpu_ours = figures[f"{engine} {what} store cpu"]
            rows.append(
                (
                    engine,
                    label,
                    f"{bare:.0f}",
                    f"{ours:.0f}",
                    f"{ours / bare:.2f}",
                    f"{cpu_bare:.0f}",
                    f"{cpu_ours:.0f}",
                    f"{cpu_ours - cpu_bare:+.0f}",
                )
            )
    text = "\n".join(
        [
            f"Storage hot path, ops/s (median of {cfg.repeats} × {cfg.ops} in rounds of {ROUND});"
            f" {machine()}; {load()}",
            table(
                (
                    "engine",
                    "operation",
                    "bare ops/s",
                    "store ops/s",
                    "store/bare",
                    "bare CPU µs",
                    "store CPU µs",
                    "added µs",
                ),
                rows,
                left=2,
            ),
            "CPU µs: the event loop thread's CPU time per operation (the driver's own threads and"
            " the server excluded), where the storage layer's Python code runs.",
            "" if cfg.postgres else "PostgreSQL not measured: no server URL (--postgres)",
        ]
    )
    return Result(text=text.rstrip(), figures=figures)


def main() -> None:
    """Parse the sizes, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=Config.ops)
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL", ""),
        help="a PostgreSQL server URL (default: TEST_DATABASE_URL)",
    )
    args = parser.parse_args()
    result = asyncio.run(run(Config(ops=args.ops, repeats=args.repeats, postgres=args.postgres)))
    print(result.text)


if __name__ == "__main__":
    main()
