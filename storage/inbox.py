"""Updates received from Telegram and not yet handled: replayed after a crash."""

from __future__ import annotations

from storage.db import Database


class InboxStore:
    """Telegram forgets an update once the next poll acknowledges it; this keeps it until done."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, update_id: int, body: str) -> None:
        """Keep an update until `done` (idempotent)."""
        await self.db.write(
            "INSERT INTO inbox (update_id, body, received_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (update_id, body, self.db.clock()),
        )

    async def done(self, update_id: int) -> None:
        """The update was handled."""
        await self.db.write("DELETE FROM inbox WHERE update_id = ?", (update_id,))

    async def pending(self) -> list[tuple[int, str]]:
        """Updates a previous run received but did not finish, oldest first."""
        rows = await self.db.fetchall("SELECT update_id, body FROM inbox ORDER BY update_id")
        return [(int(row[0]), str(row[1])) for row in rows]
