"""The database interface the stores use, whichever engine is behind it.

SQL handed to it is portable between SQLite (3.35 or newer) and PostgreSQL: `?` placeholders,
`ON CONFLICT ... DO NOTHING` / `DO UPDATE`, `RETURNING`, `NULLS FIRST`, no JSON functions.
Each engine maps its driver's errors onto the ones below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Clock = Callable[[], float]
Params = tuple[object, ...]


class Row(Protocol):
    """A result row: by column name or by position (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class IntegrityError(Exception):
    """A write broke a unique, foreign-key or not-null rule; nothing of it was written."""


class DatabaseUnavailable(Exception):
    """The database could not be opened or reached; the message says why, without secrets."""


class Connection(Protocol):
    """Where statements run: the database itself (each call on its own), or one transaction."""

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of a query, or None."""
        ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of a query."""
        ...

    async def write(self, sql: str, params: Params = ()) -> int:
        """Run one statement that changes rows; returns how many it changed."""
        ...

    async def write_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement once for each set of parameters, in one trip to the driver (on
        the database itself, all of them in one transaction)."""
        ...


class Database(Connection, Protocol):
    """An open-able database with real transactions. `write` runs in a transaction of its own.

    A conditional update (`UPDATE ... WHERE id = ? AND status IN (...)`) changes the row for
    exactly one of several concurrent callers on every engine: the others get 0.
    """

    clock: Clock
    engine: str  # "sqlite" or "postgresql"
    # Appended to the subquery that picks rows to claim (`UPDATE ... WHERE id IN (SELECT ...
    # LIMIT n<skip_locked>)`): on PostgreSQL " FOR UPDATE SKIP LOCKED", so replicas claiming at
    # once take disjoint rows without waiting; empty on SQLite, where one writer runs at a time.
    skip_locked: str

    async def open(self) -> None:
        """Connect and bring the schema up to date; DatabaseUnavailable when that fails."""
        ...

    async def close(self) -> None:
        """Release every connection (idempotent)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """Statements that commit together, or not at all when the block raises."""
        ...

    async def write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one write statement with a RETURNING clause in a transaction of its own; its rows.

        (A write through `fetchall` could land inside another caller's open transaction on
        SQLite, whose one connection is shared.)
        """
        ...

    async def schema_version(self) -> int:
        """The number of migrations applied."""
        ...
