"""/settings: defaults for new drafts, per user and (set by admins) per group."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.drafts import options
from bot.telegram.texts import t
from storage import Store
from storage.models import Options


class SettingsMenu:
    """Shows and changes stored defaults. Scope `u` is a user, `g` a group."""

    def __init__(self, *, store: Store, defaults: Options) -> None:
        self._store = store
        self._defaults = defaults

    async def current(self, scope: str, target: int) -> Options:
        """The defaults stored for the user or group (the bot's own when none are)."""
        prefs = self._store.preferences
        found = await (prefs.user_options(target) if scope == "u" else prefs.chat_options(target))
        return found or self._defaults

    async def apply(self, scope: str, target: int, action: str, *, by: int) -> Options | None:
        """Change one option and store it; None if the action is not an option change."""
        changed = options.apply(await self.current(scope, target), action)
        if changed is None:
            return None
        prefs = self._store.preferences
        if scope == "u":
            await prefs.set_user_options(target, changed)
        else:
            await prefs.set_chat_options(target, changed, by=by)
        return changed

    @staticmethod
    def text(lang: str, scope: str, opts: Options) -> str:
        """The settings message."""
        title = t(lang, "settings_title" if scope == "u" else "settings_group_title")
        return f"{title}\n{options.describe(lang, opts)}"

    @staticmethod
    def keyboard(
        lang: str, scope: str, target: int, opts: Options, menu: str | None = None
    ) -> InlineKeyboardMarkup:
        """The option buttons, or a submenu of them."""
        prefix = f"s:{scope}:{target}"
        if menu is not None:
            found = options.submenu(lang, prefix, opts, menu)
            if found is not None:
                return found
        return options.main_keyboard(lang, prefix, opts, draft=False)
