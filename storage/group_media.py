"""Media the bot has seen in groups, so a reply to one album item can bring the whole album."""

from __future__ import annotations

from storage.db import Database, Row
from storage.models import SeenMedia


class GroupMediaStore:
    """Remembers files posted in groups for a while (pruned by age)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def remember(self, chat_id: int, media: SeenMedia) -> None:
        """Record one media message (idempotent)."""
        await self.db.write(
            "INSERT INTO group_media (chat_id, message_id, media_group_id, kind,"
            " source, telegram_file_id, telegram_file_unique_id, file_name, size, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                chat_id,
                media.message_id,
                media.media_group_id,
                media.kind,
                media.source,
                media.file_id,
                media.file_unique_id,
                media.file_name,
                media.size,
                self.db.clock(),
            ),
        )

    async def album(self, chat_id: int, media_group_id: str) -> list[SeenMedia]:
        """Every item of an album seen in the chat, in the order they were sent."""
        rows = await self.db.fetchall(
            "SELECT * FROM group_media WHERE chat_id = ? AND media_group_id = ?"
            " ORDER BY message_id",
            (chat_id, media_group_id),
        )
        return [_seen(row) for row in rows]

    async def prune(self, older_than: float) -> int:
        """Forget media seen before `older_than` (unix seconds)."""
        return await self.db.write("DELETE FROM group_media WHERE created_at < ?", (older_than,))


def _seen(row: Row) -> SeenMedia:
    return SeenMedia(
        kind=row["kind"],
        source=row["source"],
        file_id=row["telegram_file_id"],
        file_unique_id=row["telegram_file_unique_id"],
        message_id=row["message_id"],
        media_group_id=row["media_group_id"],
        file_name=row["file_name"],
        size=row["size"],
    )
