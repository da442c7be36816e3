"""The commands: /start, /help, /generate, /cancel, /status, /history, /settings, /balance."""

from __future__ import annotations

from telegram import Update

from bot.account.admin_stats import stats_text
from bot.account.task_status import status_text
from bot.services import BotContext
from bot.telegram.texts import t
from handlers.common import chat_key, is_group_admin, is_private, language, message_of, reply
from handlers.media import describe


async def start(update: Update, context: BotContext) -> None:
    """Greet: what the bot makes, that it costs credits, and one example (in a group: /help)."""
    if not is_private(update):
        await help_(update, context)
        return
    await reply(update, t(language(update), "start"))


async def help_(update: Update, context: BotContext) -> None:
    """The how-to: for a private chat, or for a group (with what privacy mode hides)."""
    lang = language(update)
    if is_private(update):
        text = t(lang, "help")
    else:
        text = t(lang, "help_group")
        if not context.bot.can_read_all_group_messages:
            text += t(lang, "help_group_privacy")
    await reply(update, text)


async def generate(update: Update, context: BotContext) -> None:
    """Submit the draft; as a reply to media, that media (and its album) is the draft."""
    message = message_of(update)
    services = context.bot_data.services
    key, lang = chat_key(update), language(update)
    prompt = " ".join(context.args or []) or None
    replied = message.reply_to_message
    media = describe(replied) if replied is not None else None
    if replied is not None and media is not None:
        await services.generator.generate_from_reply(
            key,
            lang,
            media,
            prompt=prompt or replied.caption,
            request_message_id=message.message_id,
        )
        return
    await services.generator.command(
        key, lang, request_message_id=message.message_id, prompt=prompt
    )


async def cancel(update: Update, context: BotContext) -> None:
    """Discard the draft."""
    await context.bot_data.services.drafts.cancel(
        chat_key(update), language(update), reply_to=message_of(update).message_id
    )


async def status(update: Update, context: BotContext) -> None:
    """List the user's videos in progress."""
    services = context.bot_data.services
    tasks = await services.store.tasks.running_for(chat_key(update))
    text = status_text(language(update), tasks, now=services.store.db.clock())
    await reply(update, text)


async def history(update: Update, context: BotContext) -> None:
    """The user's latest videos here, with "send again" buttons."""
    text, markup = await context.bot_data.services.history.render(
        chat_key(update), language(update)
    )
    await reply(update, text, markup=markup)


async def settings(update: Update, context: BotContext) -> None:
    """Defaults for new drafts: the user's own in private, the group's (admins) in a group."""
    services = context.bot_data.services
    key, lang = chat_key(update), language(update)
    if is_private(update):
        scope, target = "u", key.user_id
    elif services.access.is_admin(key.user_id) or await is_group_admin(
        context.bot, key.chat_id, key.user_id
    ):
        scope, target = "g", key.chat_id
    else:
        await reply(update, t(lang, "settings_admins_only"))
        return
    menu = services.settings_menu
    opts = await menu.current(scope, target)
    await reply(
        update, menu.text(lang, scope, opts), markup=menu.keyboard(lang, scope, target, opts)
    )


async def stats(update: Update, context: BotContext) -> None:
    """Today's numbers, for the bot's admins only (others get the help text)."""
    services = context.bot_data.services
    key = chat_key(update)
    if not services.access.is_admin(key.user_id):
        await help_(update, context)
        return
    text = await stats_text(services.store, now=services.store.db.clock())
    await reply(update, text)


async def balance(update: Update, context: BotContext) -> None:
    """The user's own usage; the account's credits too for the bot's admins, in private."""
    text = await context.bot_data.services.balance.text(
        language(update), chat_key(update).user_id, private=is_private(update)
    )
    await reply(update, text)
