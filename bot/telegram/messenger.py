"""Sending and editing text in chats, with the failure cases every caller would otherwise repeat."""

from __future__ import annotations

import logging
from collections import OrderedDict

from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.telegram.text_limits import fit_html, fit_text
from storage.models import ChatKey

log = logging.getLogger(__name__)

# How many messages' last text the messenger remembers, to skip edits that change nothing.
REMEMBERED_MESSAGES = 4096


class Messenger:
    """Text messages to a user's chat and topic; failures are logged and reported as None/False.

    An edit that would leave a message as it is, is not sent at all: Telegram would answer
    "message is not modified", and the call would count against the chat's flood limit.
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._shown: OrderedDict[tuple[int, int], tuple[str, object]] = OrderedDict()

    def _remember(self, chat_id: int, message_id: int, shown: tuple[str, object]) -> None:
        self._shown[(chat_id, message_id)] = shown
        self._shown.move_to_end((chat_id, message_id))
        while len(self._shown) > REMEMBERED_MESSAGES:
            self._shown.popitem(last=False)

    async def send(
        self,
        key: ChatKey,
        text: str,
        *,
        reply_to: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
        html: bool = False,
        lang: str | None = None,
    ) -> int | None:
        """Send `text`, as a reply when the message still exists; returns the new message id.

        A text over Telegram's limit is cut to fit, saying so in `lang`.
        """
        text, html = _fit(text, html, lang)
        try:
            message = await self.bot.send_message(
                chat_id=key.chat_id,
                text=text,
                message_thread_id=key.topic_id or None,
                reply_parameters=reply_parameters(reply_to),
                reply_markup=markup,
                parse_mode=ParseMode.HTML if html else None,
                disable_web_page_preview=True,
            )
        except Forbidden:
            log.info("chat %s: the bot may not write here (blocked or removed)", key.chat_id)
            return None
        except TelegramError as exc:
            # Also a flood limit that outlasted the rate limiter's retries (RetryAfter), a group
            # that became a supergroup (ChatMigrated)...: the caller records that nothing went.
            log.warning("chat %s: send failed: %s", key.chat_id, exc)
            return None
        self._remember(key.chat_id, message.message_id, (text, _markup_key(markup)))
        return message.message_id

    async def edit(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        markup: InlineKeyboardMarkup | None = None,
        html: bool = False,
        lang: str | None = None,
    ) -> bool:
        """Replace a message's text (and keyboard); an unchanged text counts as success."""
        text, html = _fit(text, html, lang)
        shown = (text, _markup_key(markup))
        if self._shown.get((chat_id, message_id)) == shown:
            return True
        try:
            await self.bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=text,
                reply_markup=markup,
                parse_mode=ParseMode.HTML if html else None,
                disable_web_page_preview=True,
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True
            log.info("chat %s: edit of %s failed: %s", chat_id, message_id, exc)
            return False
        except TelegramError as exc:
            log.warning("chat %s: edit of %s failed: %s", chat_id, message_id, exc)
            return False
        self._remember(chat_id, message_id, shown)
        return True

    async def drop_keyboard(self, chat_id: int, message_id: int) -> None:
        """Take the buttons off a message that is no longer the live one (its text stays)."""
        known = self._shown.get((chat_id, message_id))
        if known is not None and known[1] is None:
            return
        try:
            await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
        except TelegramError as exc:
            log.info("chat %s: buttons of %s not removed: %s", chat_id, message_id, exc)
            return
        if known is not None:
            self._remember(chat_id, message_id, (known[0], None))

    async def send_or_edit(
        self,
        key: ChatKey,
        message_id: int | None,
        text: str,
        *,
        reply_to: int | None = None,
        markup: InlineKeyboardMarkup | None = None,
        lang: str | None = None,
    ) -> int | None:
        """Edit the message when there is one that still exists, else send a new one."""
        if message_id is not None and await self.edit(
            key.chat_id, message_id, text, markup=markup, lang=lang
        ):
            return message_id
        return await self.send(key, text, reply_to=reply_to, markup=markup, lang=lang)


def _fit(text: str, html: bool, lang: str | None) -> tuple[str, bool]:
    return fit_html(text, lang) if html else (fit_text(text, lang), False)


def _markup_key(markup: InlineKeyboardMarkup | None) -> object:
    """A comparable form of a keyboard (None for none)."""
    return None if markup is None else markup.to_json()


def reply_parameters(message_id: int | None) -> ReplyParameters | None:
    """Reply to `message_id`, or send plainly when there is none."""
    if message_id is None:
        return None
    # A deleted request message must not stop the answer: send it without the reply then.
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)
