"""Updates received from Telegram: kept from arrival until handled, by one replica, in order.

Telegram forgets an update once the next poll (or the webhook's 200) acknowledges it; the inbox
keeps it from then on. The replica that received it owns it and handles it; a replica that
stopped leaves its unhandled updates to the others. Each update's person (chat, user) is kept
too, so a person's next update can wait until their earlier ones are handled, wherever they are.
A handled update stays a while (without its body), so a copy of it is known as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database
from storage.replicas import ORPHANED

Key = tuple[int, int]


@dataclass(frozen=True)
class Arrival:
    """What the inbox made of an update put into it."""

    new: bool  # False: it was there already (a copy): it is handled where it first came
    # An earlier update of the same person, held by another replica, is not handled yet.
    behind: bool


@dataclass(frozen=True)
class Earlier:
    """An unhandled update of a person, older than the one whose turn it is."""

    update_id: int
    owner: str | None
    alive: bool  # its owner is a live replica


class InboxStore:
    """Telegram forgets an update once the next poll acknowledges it; this keeps it until done."""

    def __init__(self, db: Database, me: str) -> None:
        self.db = db
        self.me = me

    async def put(self, update_id: int, body: str, key: Key | None) -> Arrival:
        """Keep an update, owned by this replica, unless it is here already (one statement)."""
        if key is None:
            rows = await self.db.write_returning(
                "INSERT INTO inbox (update_id, body, received_at, owner) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING 0",
                (update_id, body, self.db.clock(), self.me),
            )
        else:
            rows = await self.db.write_returning(
                "INSERT INTO inbox (update_id, body, received_at, owner, chat_id, user_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                " RETURNING (SELECT COUNT(*) FROM inbox AS e WHERE e.chat_id = ?"
                " AND e.user_id = ? AND e.update_id < ? AND e.handled_at IS NULL"
                " AND (e.owner IS NULL OR e.owner <> ?))",
                (update_id, body, self.db.clock(), self.me, *key, *key, update_id, self.me),
            )
        if not rows:
            return Arrival(new=False, behind=False)
        return Arrival(new=True, behind=int(rows[0][0]) > 0)

    async def done(self, update_id: int) -> None:
        """The update was handled (its body is no longer needed)."""
        await self.db.write(
            "UPDATE inbox SET handled_at = ?, body = '' WHERE update_id = ?",
            (self.db.clock(), update_id),
        )

    async def earlier(self, key: Key, update_id: int, *, alive_since: float) -> list[Earlier]:
        """The person's unhandled updates older than `update_id`, oldest first."""
        rows = await self.db.fetchall(
            "SELECT i.update_id, i.owner, CASE WHEN r.id IS NULL THEN 0 ELSE 1 END"
            " FROM inbox AS i LEFT JOIN replicas AS r ON r.id = i.owner AND r.seen_at >= ?"
            " WHERE i.chat_id = ? AND i.user_id = ? AND i.update_id < ?"
            " AND i.handled_at IS NULL ORDER BY i.update_id",
            (alive_since, *key, update_id),
        )
        return [Earlier(int(row[0]), row[1], bool(row[2])) for row in rows]

    async def take(self, update_id: int, *, from_owner: str | None) -> str | None:
        """Make an unhandled update this replica's, if `from_owner` still holds it; its body."""
        rows = await self.db.write_returning(
            "UPDATE inbox SET owner = ? WHERE update_id = ? AND handled_at IS NULL"
            " AND COALESCE(owner, '') = ? RETURNING body",
            (self.me, update_id, from_owner or ""),
        )
        return str(rows[0][0]) if rows else None

    async def take_orphans(self, *, alive_since: float, limit: int = 100) -> list[tuple[int, str]]:
        """Unhandled updates whose owner stopped, made this replica's; oldest first."""
        rows = await self.db.write_returning(
            "UPDATE inbox SET owner = ? WHERE update_id IN (SELECT update_id FROM inbox"
            f" WHERE handled_at IS NULL AND {ORPHANED} ORDER BY update_id LIMIT ?"
            f"{self.db.skip_locked}) RETURNING update_id, body",
            (self.me, alive_since, limit),
        )
        return sorted((int(row[0]), str(row[1])) for row in rows)

    async def prune(self, handled_before: float) -> int:
        """Forget updates handled before `handled_before` (Telegram no longer sends copies)."""
        return await self.db.write(
            "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?", (handled_before,)
        )
