"""A bare python-telegram-bot echo bot, for bench.throughput: ``python -m bench._echo_bot``.

One MessageHandler that replies with the text it got; long polling as bot.runtime.runner does it
(allowed_updates=ALL_TYPES, timeout 30). Configured by the same variables as the bot:
TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL, TELEGRAM_FILE_BASE_URL; BENCH_RATE_LIMITER is
``shipped`` (AIORateLimiter(max_retries=3), as the bot) or ``off``. Stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench._limiter import make_limiter


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply with the same text."""
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


async def serve() -> None:
    """Poll until SIGTERM or SIGINT."""
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .base_file_url(os.environ["TELEGRAM_FILE_BASE_URL"])
        .rate_limiter(make_limiter(os.environ.get("BENCH_RATE_LIMITER", "shipped")))
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=30)
        await application.start()
        await stop.wait()
        await application.updater.stop()
        await application.stop()


if __name__ == "__main__":
    asyncio.run(serve())
