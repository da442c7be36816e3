"""The commands: /start, /help, /generate, /cancel, /status."""

from __future__ import annotations

from telegram import Update

from bot.app import BotContext
from bot.status import status_text
from bot.texts import t
from handlers.common import chat_key, language, message_of


async def start(update: Update, context: BotContext) -> None:
    """Explain the bot in a few lines."""
    await message_of(update).reply_text(t(language(update), "help"))


async def generate(update: Update, context: BotContext) -> None:
    """Submit the user's draft, with the command's text as the prompt when given."""
    message = message_of(update)
    prompt = " ".join(context.args or []) or None
    await context.bot_data.services.submitter.generate(
        chat_key(update), language(update), request_message_id=message.message_id, prompt=prompt
    )


async def cancel(update: Update, context: BotContext) -> None:
    """Discard the draft."""
    await context.bot_data.services.drafts.cancel(chat_key(update), language(update))


async def status(update: Update, context: BotContext) -> None:
    """List the user's videos in progress."""
    services = context.bot_data.services
    tasks = await services.store.tasks.running_for(chat_key(update))
    text = status_text(language(update), tasks, now=services.store.db.clock())
    await message_of(update).reply_text(text)
