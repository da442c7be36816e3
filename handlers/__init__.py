"""Telegram handlers: thin callbacks that hand the real work to `bot`."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from bot.services import BotApplication
from handlers import buttons, commands, media
from handlers.access import gate
from handlers.errors import on_error

_NEW_MESSAGE = filters.UpdateType.MESSAGE
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
    """Attach the access gate, every handler and the error handler."""
    application.add_handler(TypeHandler(Update, gate), group=-1)
    for names, callback in (
        (["start"], commands.start),
        (["help"], commands.help_),
        (["generate"], commands.generate),
        (["cancel"], commands.cancel),
        (["status"], commands.status),
        (["history"], commands.history),
        (["settings"], commands.settings),
        (["balance"], commands.balance),
        (["stats"], commands.stats),
    ):
        application.add_handler(CommandHandler(names, callback, filters=_NEW_MESSAGE))
    # Button data comes back from the client: an id too long for SQLite's integers never matches.
    for callback, pattern in (
        (buttons.draft_button, r"^d:\d{1,18}:"),
        (buttons.settings_button, r"^s:[ug]:-?\d{1,18}:"),
        (buttons.history_button, r"^h:\d{1,18}:"),
        (buttons.result_button, r"^r:\d{1,18}:"),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    # Any other button (an old keyboard, forged data) is answered, so no spinner hangs.
    application.add_handler(CallbackQueryHandler(buttons.stale_button))
    application.add_handler(MessageHandler(_NEW_MESSAGE & _MEDIA, media.media))
    # In a group only replies reach the prompt handler: the bot is not a party to the talk.
    text = _NEW_MESSAGE & filters.TEXT & ~filters.COMMAND
    application.add_handler(
        MessageHandler(text & (filters.ChatType.PRIVATE | filters.REPLY), media.prompt)
    )
    application.add_error_handler(on_error)
