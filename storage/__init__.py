"""Storage: the database (SQLite by default, or PostgreSQL), drafts, tasks and the rest."""

from __future__ import annotations

import time
from pathlib import Path

from storage.db import Clock, Database, DatabaseUnavailable, IntegrityError
from storage.drafts import DraftStore
from storage.group_media import GroupMediaStore
from storage.inbox import InboxStore
from storage.oneshots import OneshotStore
from storage.preferences import PreferenceStore
from storage.replicas import ReplicaStore, new_replica_id
from storage.sqlite import SqliteDatabase
from storage.tasks import TaskStore

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "DraftStore",
    "GroupMediaStore",
    "InboxStore",
    "IntegrityError",
    "OneshotStore",
    "PreferenceStore",
    "ReplicaStore",
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
    """The database and its stores, opened and closed together.

    `replica_id` names this process among the bot's processes on the database: the work it
    takes in hand (updates, files being checked, submits, sends) is marked as its own.
    """

    def __init__(self, db: Database, *, replica_id: str | None = None) -> None:
        self.db = db
        self.replica_id = replica_id or new_replica_id()
        me = self.replica_id
        self.drafts = DraftStore(db, me)
        self.tasks = TaskStore(db, me)
        self.preferences = PreferenceStore(db)
        self.group_media = GroupMediaStore(db)
        self.inbox = InboxStore(db, me)
        self.oneshots = OneshotStore(db, me)
        self.replicas = ReplicaStore(db, me)

    async def open(self) -> None:
        """Open the database and apply migrations (once: opening an open store does nothing)."""
        await self.db.open()

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()

    async def ping(self) -> None:
        """Raise unless the database answers a query."""
        await self.db.fetchone("SELECT 1")
