"""The one error handler: log with the traceback, apologise to the user without details."""

from __future__ import annotations

import logging

from telegram import Update

from bot.services import BotContext
from bot.telegram.texts import t
from handlers.common import language, reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the exception; tell the user something went wrong, never what."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await reply(update, t(language(update), "internal_error"))
        except Exception:  # the chat may be gone; the error is logged above
            log.debug("could not tell the user about the error", exc_info=True)
