"""What every handler needs from an update: who, where, which language."""

from __future__ import annotations

from telegram import Message, Update

from bot.texts import language_for
from storage.models import ChatKey


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
