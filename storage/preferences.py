"""Per-user and per-group defaults, one-time notices, and media seen in groups."""

from __future__ import annotations

from storage.db import Database
from storage.models import Options


class PreferenceStore:
    """Defaults that drafts start from, and what the bot should say only once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def user_options(self, user_id: int) -> Options | None:
        """A user's saved defaults, if they saved any."""
        row = await self.db.fetchone(
            "SELECT options FROM user_settings WHERE user_id = ?", (user_id,)
        )
        return Options.from_json(row["options"]) if row else None

    async def set_user_options(self, user_id: int, options: Options) -> None:
        """Save a user's defaults."""
        await self.db.write(
            "INSERT INTO user_settings (user_id, options, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET options = excluded.options,"
            " updated_at = excluded.updated_at",
            (user_id, options.to_json(), self.db.clock()),
        )

    async def chat_options(self, chat_id: int) -> Options | None:
        """A group's defaults, set by one of its admins."""
        row = await self.db.fetchone(
            "SELECT options FROM chat_settings WHERE chat_id = ?", (chat_id,)
        )
        return Options.from_json(row["options"]) if row else None

    async def set_chat_options(self, chat_id: int, options: Options, *, by: int) -> None:
        """Save a group's defaults."""
        await self.db.write(
            "INSERT INTO chat_settings (chat_id, options, updated_by, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET"
            " options = excluded.options, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (chat_id, options.to_json(), by, self.db.clock()),
        )

    async def first_notice(self, chat_id: int, user_id: int, reason: str) -> bool:
        """True the first time this (chat, user, reason) is seen: say it then, not again."""
        added = await self.db.write(
            "INSERT INTO notices (chat_id, user_id, reason, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (chat_id, user_id, reason, self.db.clock()),
        )
        return added == 1

    async def forget_notices(self, chat_id: int, user_id: int) -> None:
        """Let a notice be given again (e.g. a quota that reset)."""
        await self.db.write(
            "DELETE FROM notices WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
        )
