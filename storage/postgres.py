"""PostgreSQL through asyncpg: a connection pool, READ COMMITTED transactions, portable SQL.

The stores' SQL uses `?` placeholders; they become `$1, $2, ...` here (once per statement text).
Under READ COMMITTED a conditional `UPDATE ... WHERE status IN (...)` that waited for another
transaction's lock re-checks its WHERE against the committed row, so of two concurrent
callers exactly one changes it; that is what the stores' exactly-once moves rest on.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import unquote, urlsplit

import asyncpg

from storage.db import Clock, Connection, DatabaseUnavailable, IntegrityError, Params, Row
from storage.migrations import POSTGRES_MIGRATIONS, apply_migrations, schema_version

# pg_advisory_xact_lock key held while migrating: replicas starting together migrate once.
MIGRATION_LOCK = 0x5EED_DB_01
CONNECT_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 60.0
POOL_MAX_SIZE = 10


_CONNECT_ERRORS = (
    OSError,
    TimeoutError,
    ValueError,  # a DSN asyncpg cannot parse
    asyncpg.PostgresError,  # refused by the server: password, database, permissions
    asyncpg.InterfaceError,
)


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...`, leaving quoted literals alone."""
    out: list[str] = []
    count = 0
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        elif char == "?" and not quoted:
            count += 1
            out.append(f"${count}")
            continue
        out.append(char)
    return "".join(out)


def _rowcount(status: str) -> int:
    """Rows changed, from a command tag such as `UPDATE 1` or `INSERT 0 1`."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Statements:
    """The three statement kinds on the pool (each on its own) or on one connection."""

    def __init__(
        self,
        target: asyncpg.Pool[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
    ) -> None:
        self._target = target

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        try:
            return cast(Row | None, await self._target.fetchrow(numbered(sql), *params))
        except asyncpg.IntegrityConstraintViolationError as exc:  # INSERT ... RETURNING
            raise IntegrityError(str(exc)) from exc

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return cast(list[Row], await self._target.fetch(numbered(sql), *params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def write(self, sql: str, params: Params = ()) -> int:
        try:
            return _rowcount(await self._target.execute(numbered(sql), *params))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc

    async def write_many(self, sql: str, rows: Sequence[Params]) -> None:
        try:
            await self._target.executemany(numbered(sql), rows)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(str(exc)) from exc


class PostgresDatabase:
    """A pool of asyncpg connections to the database at `url` (postgresql://user:pw@host/db)."""

    engine = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self, url: str, *, clock: Clock = time.time, max_size: int = POOL_MAX_SIZE
    ) -> None:
        self.clock = clock
        self._url = url
        self._max_size = max_size
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._statements: _Statements | None = None

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.where!r})"

    @property
    def where(self) -> str:
        """host:port/database, without the user's password."""
        parts = urlsplit(self._url)
        database = parts.path.lstrip("/") or parts.username or ""
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{database}"

    async def open(self) -> None:
        """Connect and bring the schema up to date; DatabaseUnavailable (secret-free) if not.

        A no-op when already open.
        """
        if self._pool is not None:
            return
        try:
            self._pool = await asyncpg.create_pool(
                self._url,
                min_size=1,
                max_size=self._max_size,
                timeout=CONNECT_TIMEOUT_SECONDS,
                command_timeout=COMMAND_TIMEOUT_SECONDS,
                server_settings={"application_name": "seedance-bot"},
            )
        except _CONNECT_ERRORS as exc:
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {self.where}: {self._redact(exc)}"
            ) from None
        self._statements = _Statements(self._pool)
        try:
            async with self.transaction() as tx:
                await tx.fetchone("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                await apply_migrations(tx, POSTGRES_MIGRATIONS, self.clock())
        except _CONNECT_ERRORS as exc:
            await self.close()
            raise DatabaseUnavailable(
                f"cannot bring the schema at {self.where} up to date: {self._redact(exc)}"
            ) from None
        except BaseException:
            await self.close()
            raise

    def _redact(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        password = urlsplit(self._url).password
        for secret in (self._url, password, unquote(password or "")):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    async def close(self) -> None:
        """Close the pool (idempotent); connections still busy after 10 s are cut."""
        pool, self._pool, self._statements = self._pool, None, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), 10)
        except TimeoutError:
            pool.terminate()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A READ COMMITTED transaction on one pooled connection: committed, or rolled back."""
        if self._pool is None:
            raise RuntimeError("database is not open")
        async with self._pool.acquire() as conn, conn.transaction():
            yield _Statements(conn)

    async def write(self, sql: str, params: Params = ()) -> int:
        """Run one statement (autocommit); returns the rows it changed."""
        return await self._open_statements().write(sql, params)

    async def write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement (autocommit); the rows its RETURNING gave."""
        return await self._open_statements().fetchall(sql, params)

    async def write_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement for each set of parameters, all in one transaction (asyncpg's
        executemany is atomic)."""
        await self._open_statements().write_many(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        return await self._open_statements().fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        return await self._open_statements().fetchall(sql, params)

    async def schema_version(self) -> int:
        """The number of migrations applied."""
        return await schema_version(self._open_statements())

    def _open_statements(self) -> _Statements:
        if self._statements is None:
            raise RuntimeError("database is not open")
        return self._statements
