"""The bot's processes on one database: who is alive, and periodic jobs one of them runs at a time.

Each process (a replica) has an id and beats in `replicas` every few seconds. Work in hand (an
update being handled, a file being checked, a submit, a send) carries its owner's id; work whose
owner stopped beating is orphaned, and a live replica takes it over with a conditional update
that names the owner it saw, so of several replicas reaching for it exactly one gets it.
"""

from __future__ import annotations

import os
import secrets
import socket

from storage.db import Database

# Work whose owner is not a live replica (none, or one silent since the bound parameter).
ORPHANED = "(owner IS NULL OR owner NOT IN (SELECT id FROM replicas WHERE seen_at >= ?))"


def new_replica_id() -> str:
    """An id for this process: readable in logs (host, pid), unique across restarts."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


class ReplicaStore:
    """Heartbeats of the bot's processes, and leases on periodic jobs."""

    def __init__(self, db: Database, me: str) -> None:
        self.db = db
        self.me = me

    async def beat(self) -> None:
        """This replica is alive now (registering it the first time)."""
        now = self.db.clock()
        await self.db.write(
            "INSERT INTO replicas (id, started_at, seen_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            (self.me, now, now),
        )

    async def leave(self) -> None:
        """This replica stops: its unfinished work is anyone's at once."""
        await self.db.write("DELETE FROM replicas WHERE id = ?", (self.me,))

    async def forget_others(self) -> int:
        """Declare every other replica gone (the only process on this database is starting)."""
        return await self.db.write("DELETE FROM replicas WHERE id <> ?", (self.me,))

    async def alive(self, since: float) -> list[str]:
        """Replicas that beat at or after `since`."""
        rows = await self.db.fetchall(
            "SELECT id FROM replicas WHERE seen_at >= ? ORDER BY id", (since,)
        )
        return [str(row[0]) for row in rows]

    async def claim_job(self, name: str, *, every: float) -> bool:
        """Whether this replica runs job `name` now: true for one replica per `every` seconds."""
        now = self.db.clock()
        return (
            await self.db.write(
                "INSERT INTO jobs (name, owner, until) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until"
                " WHERE jobs.until <= ?",
                (name, self.me, now + every, now),
            )
            == 1
        )
