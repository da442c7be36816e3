"""Media the bot has seen in groups, so a reply to one album item can bring the whole album."""

from __future__ import annotations

from storage.db import Database, Row
from storage.models import ChatKey, SeenMedia


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
        """Forget media seen before `older_than` (unix seconds), and one-shot albums too."""
        await self.db.write("DELETE FROM albums WHERE created_at < ?", (older_than,))
        return await self.db.write("DELETE FROM group_media WHERE created_at < ?", (older_than,))

    async def expect_album(self, key: ChatKey, media_group_id: str) -> None:
        """The rest of this album belongs to `key`'s one-shot request (whichever replica its
        items reach)."""
        await self.db.write(
            "INSERT INTO albums (chat_id, media_group_id, user_id, topic_id, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (key.chat_id, media_group_id, key.user_id, key.topic_id, self.db.clock()),
        )

    async def oneshot_album_of(
        self, chat_id: int, media_group_id: str, *, since: float
    ) -> ChatKey | None:
        """Whose one-shot request an album started at or after `since` belongs to, if any."""
        row = await self.db.fetchone(
            "SELECT user_id, topic_id FROM albums WHERE chat_id = ? AND media_group_id = ?"
            " AND created_at >= ?",
            (chat_id, media_group_id, since),
        )
        if row is None:
            return None
        return ChatKey(chat_id=chat_id, user_id=int(row[0]), topic_id=int(row[1]))


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
