"""What every handler needs from an update: who, where, which language."""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.telegram.text_limits import fit_text
from bot.telegram.texts import language_for
from storage.models import ChatKey

log = logging.getLogger(__name__)


def chat_key(update: Update) -> ChatKey:
    """The (chat, user, forum topic) a draft or task belongs to."""
    message = update.effective_message
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    assert user is not None
    topic = message.message_thread_id if message and message.is_topic_message else None
    return ChatKey(chat_id=chat.id, user_id=user.id, topic_id=topic or 0)


def language(update: Update) -> str:
    """The language to answer in."""
    user = update.effective_user
    return language_for(user.language_code if user else None)


def message_of(update: Update) -> Message:
    """The update's message (the filters guarantee there is one)."""
    message = update.effective_message
    assert message is not None
    return message


def is_private(update: Update) -> bool:
    """Whether the update comes from a one-to-one chat with the bot."""
    return update.effective_chat is not None and update.effective_chat.type == "private"


async def is_group_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Whether the user administers the group (asked of Telegram, which knows best)."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.info("chat %s: could not check admin rights: %s", chat_id, exc)
        return False
    return member.status in {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


async def reply(update: Update, text: str, *, markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer the update's message (cut to Telegram's limit, saying so, if it must be)."""
    await message_of(update).reply_text(fit_text(text, language(update)), reply_markup=markup)
