"""The gate in front of every handler: allow-lists, told once to whoever is refused."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.services import BotContext
from bot.telegram.texts import t
from handlers.common import language, reply


async def gate(update: Update, context: BotContext) -> None:
    """Stop updates from users the bot is not open to; say why once per chat."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    services = context.bot_data.services
    if services.access.allows(user.id, chat.id):
        return
    text = t(language(update), "not_allowed")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif _addressed_to_bot(update) and await services.store.preferences.first_notice(
        chat.id, user.id, "not_allowed"
    ):
        await reply(update, text)  # _addressed_to_bot: there is a message
    raise ApplicationHandlerStop


def _addressed_to_bot(update: Update) -> bool:
    message = update.effective_message
    if message is None or update.edited_message is not None:
        return False
    if update.effective_chat is not None and update.effective_chat.type == "private":
        return True
    return (message.text or message.caption or "").startswith("/")
