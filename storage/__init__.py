"""SQLite storage: the database, drafts and tasks."""

from storage.db import Database
from storage.drafts import DraftStore
from storage.group_media import GroupMediaStore
from storage.inbox import InboxStore
from storage.preferences import PreferenceStore
from storage.tasks import TaskStore

__all__ = [
    "Database",
    "DraftStore",
    "GroupMediaStore",
    "InboxStore",
    "PreferenceStore",
    "Store",
    "TaskStore",
]


class Store:
    """The database and its two stores, opened and closed together."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.drafts = DraftStore(db)
        self.tasks = TaskStore(db)
        self.preferences = PreferenceStore(db)
        self.group_media = GroupMediaStore(db)
        self.inbox = InboxStore(db)

    async def open(self) -> None:
        """Open the database and apply migrations."""
        await self.db.open()

    async def close(self) -> None:
        """Close the database."""
        await self.db.close()
