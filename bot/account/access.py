"""Who may use the bot, and how much."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.runtime.durations import utc_midnight
from bot.settings import Settings
from storage import Store
from storage.db import Clock


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: a text key and its parameters."""

    text_key: str
    limit: int


class AccessPolicy:
    """Allow-lists, admins, and per-user quotas from the settings."""

    def __init__(self, settings: Settings, store: Store, *, clock: Clock = time.time) -> None:
        self._users = settings.allowed_user_ids
        self._chats = settings.allowed_chat_ids
        self._admins = settings.admin_user_ids
        self._daily = settings.daily_generations_per_user
        self._running = settings.max_running_tasks_per_user
        self._store = store
        self._clock = clock

    def is_admin(self, user_id: int) -> bool:
        """Whether the user is one of the bot's admins."""
        return user_id in self._admins

    def allows(self, user_id: int, chat_id: int) -> bool:
        """Whether the user may use the bot in that chat (both lists empty: everyone)."""
        if not self._users and not self._chats:
            return True
        return user_id in self._admins or user_id in self._users or chat_id in self._chats

    async def quota_refusal(self, user_id: int) -> Refusal | None:
        """Why the user may not start another video now, or None."""
        if self.is_admin(user_id):
            return None
        if self._running and await self._store.tasks.running_count(user_id) >= self._running:
            return Refusal("quota_running", self._running)
        if self._daily:
            now = self._clock()
            midnight = utc_midnight(now)
            if await self._store.tasks.created_since(user_id, midnight) >= self._daily:
                return Refusal("quota_daily", self._daily)
        return None
