"""Messages that build a draft: photos, videos, sounds, files, and text that sets the prompt."""

from __future__ import annotations

from telegram import Message, Update

from bot.services import BotContext
from bot.telegram.texts import t
from handlers.common import chat_key, is_private, language, message_of, reply
from storage.models import SeenMedia

COMMAND = "/generate"


async def media(update: Update, context: BotContext) -> None:
    """Add the message's file to the draft; a caption starting with /generate also submits."""
    message = message_of(update)
    services = context.bot_data.services
    incoming = describe(message)
    oneshot = _oneshot_prompt(message.caption, context.bot.username)
    if incoming is None:
        if is_private(update):
            lang = language(update)
            what = t(lang, "what_stickers" if message.sticker else "what_other")
            await reply(update, t(lang, "unsupported_kind", what=what))
        return
    await services.generator.media_received(
        chat_key(update),
        language(update),
        incoming,
        caption=message.caption,
        oneshot=oneshot,
        message_id=message.message_id,
    )


async def prompt(update: Update, context: BotContext) -> None:
    """Text that sets the draft's prompt (in a group: a reply to the bot's draft or question)."""
    message = message_of(update)
    replied = message.reply_to_message
    to_bot = (
        replied.message_id
        if replied is not None
        and replied.from_user is not None
        and replied.from_user.id == context.bot.id
        else None
    )
    await context.bot_data.services.generator.prompt_given(
        chat_key(update),
        language(update),
        message.text or "",
        message_id=message.message_id,
        replied_to_bot=to_bot,
    )


def _oneshot_prompt(caption: str | None, bot_username: str | None) -> str | None:
    """The prompt of a caption like "/generate a fox" (or "/generate@bot ..."), else None."""
    if not caption:
        return None
    command, _, rest = caption.strip().partition(" ")
    name, _, mention = command.partition("@")
    if name.lower() != COMMAND or (mention and mention.lower() != (bot_username or "").lower()):
        return None
    return rest.strip() or ""


# Telegram's message attributes, and what each becomes in a draft. Documents are read to find
# out what they hold: their name and mime type are not trusted.
_SOURCES = (
    ("video", "video"),
    ("video_note", "video"),
    ("animation", "video"),
    ("voice", "audio"),
    ("audio", "audio"),
    ("document", "auto"),
)


def describe(message: Message) -> SeenMedia | None:
    """The message's usable file, or None when it carries nothing the bot can use."""
    if message.photo:
        largest = message.photo[-1]
        return SeenMedia(
            kind="image",
            source="photo",
            file_id=largest.file_id,
            file_unique_id=largest.file_unique_id,
            message_id=message.message_id,
            media_group_id=message.media_group_id,
            size=largest.file_size,
        )
    # An animation also fills `document`: it is checked first, as a video.
    for attribute, kind in _SOURCES:
        file = getattr(message, attribute, None)
        if file is not None:
            return SeenMedia(
                kind=kind,
                source=attribute,
                file_id=file.file_id,
                file_unique_id=file.file_unique_id,
                message_id=message.message_id,
                media_group_id=message.media_group_id,
                file_name=getattr(file, "file_name", None) if attribute == "document" else None,
                size=file.file_size,
            )
    return None
