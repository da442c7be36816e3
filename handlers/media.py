"""Messages that build a draft: photos, image files, and text that sets the prompt."""

from __future__ import annotations

from telegram import Message, Update

from bot.app import BotContext
from bot.drafts import IncomingMedia
from bot.texts import t
from handlers.common import chat_key, language, message_of


async def media(update: Update, context: BotContext) -> None:
    """Add the message's photo or file to the draft; the checking happens in the background."""
    message = message_of(update)
    incoming = describe(message)
    if incoming is None:
        what = unsupported_kind(message)
        await message.reply_text(t(language(update), "unsupported_kind", what=what))
        return
    await context.bot_data.services.drafts.add_media(
        chat_key(update), language(update), incoming, message.caption
    )


async def prompt(update: Update, context: BotContext) -> None:
    """A plain text message sets the draft's prompt."""
    message = message_of(update)
    await context.bot_data.services.drafts.set_prompt(
        chat_key(update), language(update), message.text or ""
    )


def describe(message: Message) -> IncomingMedia | None:
    """The message's usable file, or None when it carries nothing the bot can use yet."""
    if message.photo:
        largest = message.photo[-1]
        return IncomingMedia(
            kind="image",
            source="photo",
            file_id=largest.file_id,
            file_unique_id=largest.file_unique_id,
            message_id=message.message_id,
            media_group_id=message.media_group_id,
            size=largest.file_size,
        )
    if message.document:
        # Whether it really is an image is decided by reading it, not by its name or type.
        doc = message.document
        return IncomingMedia(
            kind="image",
            source="document",
            file_id=doc.file_id,
            file_unique_id=doc.file_unique_id,
            message_id=message.message_id,
            media_group_id=message.media_group_id,
            file_name=doc.file_name,
            size=doc.file_size,
        )
    return None


def unsupported_kind(message: Message) -> str:
    """A short name for what the user sent."""
    for attribute, name in (
        ("video", "videos"),
        ("video_note", "video notes"),
        ("animation", "GIFs"),
        ("voice", "voice notes"),
        ("audio", "audio files"),
        ("sticker", "stickers"),
    ):
        if getattr(message, attribute, None):
            return name
    return "this kind of message"
