"""/balance: the account's credits for the bot's admins, everyone else's own usage.

The Evolink account is the operator's: its balance is none of a user's business, and in a group
it would be shown to everyone there, so even an admin reads it only in a private chat.
"""

from __future__ import annotations

import logging
import time

from bot.account.access import AccessPolicy
from bot.evolink import EvolinkClient, EvolinkError
from bot.evolink import errors as api
from bot.runtime.durations import utc_midnight
from bot.telegram.texts import t
from storage import Store
from storage.db import Clock

log = logging.getLogger(__name__)


class Balance:
    """Answers /balance according to who asks, and where."""

    def __init__(
        self,
        *,
        store: Store,
        client: EvolinkClient,
        access: AccessPolicy,
        daily_limit: int,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._access = access
        self._daily = daily_limit
        self._clock = clock

    async def text(self, lang: str, user_id: int, *, private: bool) -> str:
        """The answer to /balance."""
        mine = await self.usage_text(lang, user_id)
        if not self._access.is_admin(user_id):
            return mine
        if not private:
            return mine + "\n" + t(lang, "balance_admin_private")
        return await self.account_text(lang) + "\n\n" + mine

    async def usage_text(self, lang: str, user_id: int) -> str:
        """A user's own videos today, those in progress, and the credits they reserved."""
        now = self._clock()
        usage = await self._store.tasks.usage(user_id, since=utc_midnight(now))
        today = (
            t(lang, "usage_today_limit", count=usage.today, limit=self._daily)
            if self._daily and not self._access.is_admin(user_id)
            else t(lang, "usage_today", count=usage.today)
        )
        return "\n".join(
            (
                t(lang, "usage_title"),
                today,
                t(lang, "usage_running", count=usage.running),
                t(
                    lang,
                    "usage_credits",
                    today=f"{usage.credits_today:g}",
                    total=f"{usage.credits_total:g}",
                ),
            )
        )

    async def account_text(self, lang: str) -> str:
        """The Evolink account's credits, in words."""
        try:
            credits = await self._client.credits()
        except EvolinkError as exc:
            log.warning("credits query failed: %s", exc)
            refused = isinstance(exc, api.Unauthorized | api.Forbidden)
            return t(lang, "balance_key_refused" if refused else "balance_failed")
        side = (
            credits.data.token
            if credits.data.token.remaining_credits is not None
            else credits.data.user
        )
        if side.remaining_credits is None:
            return t(lang, "balance_unknown")
        used = (
            t(lang, "balance_used", used=f"{side.used_credits:g}")
            if side.used_credits is not None
            else ""
        )
        return t(lang, "balance", remaining=f"{side.remaining_credits:g}", used=used)
