"""One-shot requests: a file whose caption starts with /generate, made into a video once the
rest of its album is in. Kept here so that the request survives the process (or replica) that
received it: a live replica makes it if that one stops first."""

from __future__ import annotations

from storage.db import Database, Row
from storage.models import ChatKey, Oneshot
from storage.replicas import ORPHANED


class OneshotStore:
    """Pending one-shot requests, and the albums they are waiting for."""

    def __init__(self, db: Database, me: str) -> None:
        self.db = db
        self.me = me

    async def add(
        self,
        key: ChatKey,
        *,
        language: str,
        draft_id: int,
        request_message_id: int,
        media_group_id: str | None,
    ) -> Oneshot:
        """Record a one-shot request this replica makes once its album is in."""
        rows = await self.db.write_returning(
            "INSERT INTO oneshots (chat_id, topic_id, user_id, language, media_group_id,"
            " draft_id, request_message_id, owner, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                key.chat_id,
                key.topic_id,
                key.user_id,
                language,
                media_group_id,
                draft_id,
                request_message_id,
                self.me,
                self.db.clock(),
            ),
        )
        return _oneshot(rows[0])

    async def album_of(self, chat_id: int, media_group_id: str, *, since: float) -> ChatKey | None:
        """Whose one-shot request an album started at or after `since` belongs to, if any."""
        row = await self.db.fetchone(
            "SELECT user_id, topic_id FROM oneshots WHERE chat_id = ? AND media_group_id = ?"
            " AND created_at >= ? ORDER BY id LIMIT 1",
            (chat_id, media_group_id, since),
        )
        if row is None:
            return None
        return ChatKey(chat_id=chat_id, user_id=int(row[0]), topic_id=int(row[1]))

    async def done(self, oneshot_id: int) -> None:
        """The request was made (or refused): nothing is left to do for it."""
        await self.db.write("UPDATE oneshots SET done = 1 WHERE id = ?", (oneshot_id,))

    async def orphaned(self, *, alive_since: float) -> list[Oneshot]:
        """Requests not yet made whose replica stopped (see storage.replicas)."""
        rows = await self.db.fetchall(
            f"SELECT * FROM oneshots WHERE done = 0 AND {ORPHANED} ORDER BY id", (alive_since,)
        )
        return [_oneshot(row) for row in rows]

    async def take(self, oneshot: Oneshot) -> bool:
        """Make a request this replica's, if the owner seen in `oneshot` still has it."""
        return (
            await self.db.write(
                "UPDATE oneshots SET owner = ? WHERE id = ? AND done = 0"
                " AND COALESCE(owner, '') = ?",
                (self.me, oneshot.id, oneshot.owner or ""),
            )
            == 1
        )

    async def prune(self, older_than: float) -> int:
        """Forget requests made (or given up) before `older_than`."""
        return await self.db.write("DELETE FROM oneshots WHERE created_at < ?", (older_than,))


def _oneshot(row: Row) -> Oneshot:
    return Oneshot(
        id=int(row["id"]),
        key=ChatKey(chat_id=row["chat_id"], user_id=row["user_id"], topic_id=row["topic_id"]),
        language=row["language"],
        media_group_id=row["media_group_id"],
        draft_id=int(row["draft_id"]),
        request_message_id=int(row["request_message_id"]),
        owner=row["owner"],
    )
