"""Telegram handlers: thin callbacks that hand the real work to `bot`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CommandHandler, MessageHandler, filters

from handlers import commands, media
from handlers.errors import on_error

if TYPE_CHECKING:
    from bot.app import BotApplication

_PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
_MEDIA = (
    filters.PHOTO
    | filters.Document.ALL
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.VOICE
    | filters.AUDIO
    | filters.Sticker.ALL
)


def register(application: BotApplication) -> None:
    """Attach every handler and the error handler."""
    application.add_handler(CommandHandler(["start", "help"], commands.start))
    application.add_handler(CommandHandler("generate", commands.generate))
    application.add_handler(CommandHandler("cancel", commands.cancel))
    application.add_handler(CommandHandler("status", commands.status))
    application.add_handler(MessageHandler(_PRIVATE & _MEDIA, media.media))
    application.add_handler(
        MessageHandler(_PRIVATE & filters.TEXT & ~filters.COMMAND, media.prompt)
    )
    application.add_error_handler(on_error)
