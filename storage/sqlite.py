"""SQLite through aiosqlite: one connection per process, WAL, serialised write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar, cast

import aiosqlite

from storage.db import Clock, Connection, DatabaseUnavailable, IntegrityError, Params, Row
from storage.migrations import SQLITE_MIGRATIONS, apply_migrations, schema_version

_T = TypeVar("_T")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


class _Statements:
    """The three statement kinds on the shared aiosqlite connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        # One trip to aiosqlite's thread (execute, fetch and close together).
        try:
            rows = await self._conn.execute_fetchall(sql, params)
        except sqlite3.IntegrityError as exc:  # INSERT ... RETURNING
            raise IntegrityError(str(exc)) from exc
        return cast(list[Row], list(rows))

    async def write(self, sql: str, params: Params = ()) -> int:
        try:
            cursor = await self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        return cursor.rowcount

    async def write_many(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            await self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc


async def _to_the_end(step: Awaitable[_T]) -> _T:
    """Await `step`; if the caller is cancelled meanwhile, still let it finish first."""
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


class SqliteDatabase:
    """One aiosqlite connection shared by the process; writes go through `transaction()`."""

    engine = "sqlite"
    skip_locked = ""

    def __init__(self, path: Path, *, clock: Clock = time.time) -> None:
        self.path = path
        self.clock = clock
        self._conn: aiosqlite.Connection | None = None
        self._statements: _Statements | None = None
        # One connection is shared by every coroutine: without this lock a statement from one
        # coroutine could land inside another's open transaction.
        self._write_lock = asyncio.Lock()

    @property
    def _open(self) -> _Statements:
        if self._statements is None:
            raise RuntimeError("database is not open")
        return self._statements

    async def open(self) -> None:
        """Open (creating if needed) and bring the schema up to date; no-op when open."""
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            self._conn.row_factory = aiosqlite.Row
            for pragma in _PRAGMAS:
                await self._conn.execute(pragma)
            self._statements = _Statements(self._conn)
            async with self.transaction() as tx:
                await apply_migrations(tx, SQLITE_MIGRATIONS, self.clock())
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise DatabaseUnavailable(
                f"cannot open the SQLite database {self.path}: {exc}"
            ) from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
            self._statements = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """An IMMEDIATE transaction, committed on success and rolled back on any error.

        Cancellation-safe: a caller cancelled while BEGIN, COMMIT or ROLLBACK runs in
        aiosqlite's thread waits for it to end, and never leaves a transaction open behind it.
        """
        statements = self._open
        conn = self._conn
        assert conn is not None
        async with self._write_lock:
            try:
                await _to_the_end(conn.execute("BEGIN IMMEDIATE"))
                yield statements
            except BaseException:
                if conn.in_transaction:
                    await _to_the_end(conn.execute("ROLLBACK"))
                raise
            await _to_the_end(conn.execute("COMMIT"))

    # A statement on its own is a transaction of its own (the connection commits each one
    # outside BEGIN ... COMMIT): one trip to aiosqlite's thread instead of three, each trip a
    # hand-over between threads. It still waits for a transaction under way, never landing in it.

    async def write(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        statements = self._open
        async with self._write_lock:
            return await _to_the_end(statements.write(sql, params))

    async def write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one write statement in its own transaction; the rows its RETURNING gave."""
        statements = self._open
        async with self._write_lock:
            return await _to_the_end(statements.fetchall(sql, params))

    async def write_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each set of parameters, all in one transaction."""
        async with self.transaction() as tx:
            await tx.write_many(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        return await self._open.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        return await self._open.fetchall(sql, params)

    async def schema_version(self) -> int:
        """The number of migrations applied."""
        return await schema_version(self._open)
