"""Storage: the database (SQLite by default, or PostgreSQL), drafts, tasks and the rest."""

from __future__ import annotations

import time
from pathlib import Path

from storage.db import Clock, Database, DatabaseUnavailable, IntegrityError
from storage.drafts import DraftStore
from storage.group_media import GroupMediaStore
from storage.inbox import InboxStore
from storage.preferences import PreferenceStore
from storage.sqlite import SqliteDatabase
from storage.tasks import TaskStore

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "DraftStore",
    "GroupMediaStore",
    "InboxStore",
    "IntegrityError",
    "PreferenceStore",
    "SqliteDatabase",
    "Store",
    "TaskStore",
    "database_at",
]


def database_at(url: str | None, *, sqlite_path: Path, clock: Clock = time.time) -> Database:
    """PostgreSQL at `url` (postgresql://...), or SQLite at `sqlite_path` when there is none."""
    if not url:
        return SqliteDatabase(sqlite_path, clock=clock)
    # Imported here: a bot on SQLite never loads the PostgreSQL driver.
    from storage.postgres import PostgresDatabase

    return PostgresDatabase(url, clock=clock)


class Store:
    """The database and its stores, opened and closed together."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.drafts = DraftStore(db)
        self.tasks = TaskStore(db)
        self.preferences = PreferenceStore(db)
        self.group_media = GroupMediaStore(db)
        self.inbox = InboxStore(db)

    async def open(self) -> None:
        """Open the database and apply migrations (once: opening an open store does nothing)."""
        await self.db.open()

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()

    async def ping(self) -> None:
        """Raise unless the database answers a query."""
        await self.db.fetchone("SELECT 1")
