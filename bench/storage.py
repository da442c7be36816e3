"""The storage layer's cost on the hot path, against bare driver calls doing the same writes.

Run with ``python -m bench.storage`` from the repository root (``--help`` for the sizes).

Per Telegram update the bot writes the update into the inbox and deletes it once handled
(``inbox put + done``: two write transactions); every task state change is a conditional update
(``UPDATE tasks ... WHERE id = ? AND status IN (...)``, one write transaction). Each is timed
through the Store and through the driver directly (aiosqlite with the same pragmas and the same
BEGIN IMMEDIATE/COMMIT), in the same run, on the same database file; figures are medians of
the repeats, in operations per second, and the ratio store/bare (1.00 = no cost).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite

from bench._common import Result, load, machine, table
from storage import Database, Store
from storage.models import ChatKey, Options, TaskStatus

BODY = '{"update_id": 1, "message": {"text": "a red fox runs through fresh snow"}}'


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    ops: int = 2000
    repeats: int = 5

    @classmethod
    def tiny(cls) -> Config:
        """A run of a second, for the smoke test."""
        return cls(ops=20, repeats=1)


Op = Callable[[int], Awaitable[None]]


async def _rate(op: Op, ops: int) -> float:
    started = time.perf_counter()
    for i in range(ops):
        await op(i)
    return ops / (time.perf_counter() - started)


async def _sqlite_bare(path: Path) -> tuple[aiosqlite.Connection, Op, Op]:
    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        await conn.execute(f"PRAGMA {pragma}")

    async def write(sql: str, params: tuple[object, ...]) -> None:
        await conn.execute("BEGIN IMMEDIATE")
        await conn.execute(sql, params)
        await conn.execute("COMMIT")

    async def inbox(i: int) -> None:
        update_id = 10_000_000 + i
        await write(
            "INSERT OR IGNORE INTO inbox (update_id, body, received_at) VALUES (?, ?, ?)",
            (update_id, BODY, time.time()),
        )
        await write("DELETE FROM inbox WHERE update_id = ?", (update_id,))

    async def task(i: int) -> None:
        old, new = _flip(i)
        await write(
            "UPDATE tasks SET status = ?, updated_at = ? WHERE id = ? AND status IN (?)",
            (new.value, time.time(), 1, old.value),
        )

    return conn, inbox, task


def _flip(i: int) -> tuple[TaskStatus, TaskStatus]:
    pair = (TaskStatus.PENDING, TaskStatus.PROCESSING)
    return (pair[i % 2], pair[1 - i % 2])


async def _store_ops(store: Store, task_id: int) -> tuple[Op, Op]:
    async def inbox(i: int) -> None:
        await store.inbox.put(20_000_000 + i, BODY)
        await store.inbox.done(20_000_000 + i)

    async def task(i: int) -> None:
        old, new = _flip(i)
        assert await store.tasks.update(task_id, status=new, expect_status=[old])

    return inbox, task


async def _seed_task(store: Store) -> int:
    draft = await store.drafts.get_or_create(ChatKey(1, 1), language="en", options=Options())
    task = await store.tasks.create_from_draft(
        draft, request_message_id=None, callback_secret=secrets.token_hex(8)
    )
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.PENDING)
    return task.id


async def run(cfg: Config) -> Result:
    """Time both sides, alternating them per repeat so drift in the machine hits both."""
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        path = Path(tmp) / "bot.sqlite3"
        store = Store(Database(path))
        await store.open()
        task_id = await _seed_task(store)
        store_inbox, store_task = await _store_ops(store, task_id)
        conn, bare_inbox, bare_task = await _sqlite_bare(path)
        rates: dict[str, list[float]] = {}
        try:
            for _ in range(cfg.repeats):
                for name, op in (
                    ("sqlite inbox bare", bare_inbox),
                    ("sqlite inbox store", store_inbox),
                    ("sqlite task bare", bare_task),
                    ("sqlite task store", store_task),
                ):
                    rates.setdefault(name, []).append(await _rate(op, cfg.ops))
        finally:
            await conn.close()
            await store.close()
    figures = {name: statistics.median(values) for name, values in rates.items()}
    rows = []
    for engine in ("sqlite",):
        for what, label in (
            ("inbox", "inbox put + done (per update)"),
            ("task", "task conditional update"),
        ):
            bare, ours = figures[f"{engine} {what} bare"], figures[f"{engine} {what} store"]
            rows.append((engine, label, f"{bare:.0f}", f"{ours:.0f}", f"{ours / bare:.2f}"))
    text = "\n".join(
        [
            f"Storage hot path, ops/s (median of {cfg.repeats} × {cfg.ops}); {machine()}; {load()}",
            table(("engine", "operation", "bare", "store", "store/bare"), rows, left=2),
        ]
    )
    return Result(text=text, figures=figures)


def main() -> None:
    """Parse the sizes, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=Config.ops)
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    args = parser.parse_args()
    result = asyncio.run(run(Config(ops=args.ops, repeats=args.repeats)))
    print(result.text)


if __name__ == "__main__":
    main()
