"""Updates received from Telegram: kept from arrival until handled, by one replica, in order.

Telegram forgets an update once the next poll (or the webhook's 200) acknowledges it; the inbox
keeps it from then on (written a batch at a time: see bot.telegram.inbox). The replica that
received it owns it and handles it; a replica that stopped leaves its unhandled updates to the
others. Each update's person (chat, user) is kept too, so a person's next update can wait until
their earlier ones are handled, wherever they are. A handled update stays a while (without its
body), so a copy of it is known as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database, Row
from storage.replicas import ORPHANED

# Rows per statement: well under every engine's limit on bound parameters.
_ROWS = 150

Key = tuple[int, int]


@dataclass(frozen=True)
class Recorded:
    """What the inbox made of a batch of updates written to it."""

    new: set[int]  # the others were there already (copies): handled where they first came
    # New ones behind an earlier update of the same person that another replica holds unhandled.
    behind: set[int]


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

    async def record(
        self,
        *,
        keep: list[tuple[int, str, Key | None]],
        forget: list[int],
        look_behind: bool = False,
    ) -> Recorded:
        """Keep some updates (owned by this replica, unless they are here already) and mark
        others handled, in one transaction (a batch costs one commit). With `look_behind`, also
        which new ones wait for an earlier update of their person held by another replica (read
        after the commit: a person's earlier update handled meanwhile holds nothing up)."""
        now = self.db.clock()
        writes: list[tuple[str, tuple[object, ...]]] = []
        for start in range(0, len(keep), _ROWS):
            rows = keep[start : start + _ROWS]
            writes.append(
                (
                    "INSERT INTO inbox (update_id, body, received_at, owner, chat_id, user_id)"
                    " VALUES "
                    + ", ".join("(?, ?, ?, ?, ?, ?)" for _ in rows)
                    + " ON CONFLICT DO NOTHING RETURNING update_id",
                    tuple(
                        value
                        for update_id, body, key in rows
                        for value in (update_id, body, now, self.me, *(key or (None, None)))
                    ),
                )
            )
        for start in range(0, len(forget), _ROWS):
            ids = forget[start : start + _ROWS]
            # The body is no longer needed; the row stays a while so a copy is known as one.
            writes.append(
                (
                    "UPDATE inbox SET handled_at = ?, body = '' WHERE update_id IN"
                    f" ({', '.join('?' * len(ids))})",
                    (now, *ids),
                )
            )
        inserted: list[Row] = []
        if len(writes) == 1:  # a statement commits on its own: no transaction round trips
            inserted = await self.db.write_returning(*writes[0])
        elif writes:
            async with self.db.transaction() as tx:
                for sql, params in writes:
                    inserted += await tx.fetchall(sql, params)
        new = {int(row[0]) for row in inserted}
        ids = sorted(new)
        behind: set[int] = set()
        for start in range(0, len(ids) if look_behind else 0, _ROWS):
            chunk = ids[start : start + _ROWS]
            waiting = await self.db.fetchall(
                "SELECT i.update_id FROM inbox AS i WHERE i.update_id IN"
                f" ({', '.join('?' * len(chunk))}) AND EXISTS (SELECT 1 FROM inbox AS e"
                " WHERE e.chat_id = i.chat_id AND e.user_id = i.user_id"
                " AND e.update_id < i.update_id AND e.handled_at IS NULL"
                " AND (e.owner IS NULL OR e.owner <> ?))",
                (*chunk, self.me),
            )
            behind.update(int(row[0]) for row in waiting)
        return Recorded(new=new, behind=behind)

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
