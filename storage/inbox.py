"""Updates received from Telegram and not yet handled: replayed after a crash."""

from __future__ import annotations

from storage.db import Database

# Rows per statement: well under every engine's limit on bound parameters.
_ROWS = 200


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

    async def record(self, *, keep: list[tuple[int, str]], forget: list[int]) -> None:
        """Keep some updates and forget others, in one transaction (a batch costs one commit)."""
        now = self.db.clock()
        async with self.db.transaction() as tx:
            for start in range(0, len(keep), _ROWS):
                rows = keep[start : start + _ROWS]
                await tx.write(
                    "INSERT INTO inbox (update_id, body, received_at) VALUES "
                    + ", ".join("(?, ?, ?)" for _ in rows)
                    + " ON CONFLICT DO NOTHING",
                    tuple(value for update_id, body in rows for value in (update_id, body, now)),
                )
            for start in range(0, len(forget), _ROWS):
                ids = forget[start : start + _ROWS]
                await tx.write(
                    f"DELETE FROM inbox WHERE update_id IN ({', '.join('?' * len(ids))})",
                    tuple(ids),
                )

    async def done(self, update_id: int) -> None:
        """The update was handled."""
        await self.db.write("DELETE FROM inbox WHERE update_id = ?", (update_id,))

    async def pending(self) -> list[tuple[int, str]]:
        """Updates a previous run received but did not finish, oldest first."""
        rows = await self.db.fetchall("SELECT update_id, body FROM inbox ORDER BY update_id")
        return [(int(row[0]), str(row[1])) for row in rows]
