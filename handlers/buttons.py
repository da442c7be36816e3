"""Inline buttons: draft options and actions, settings, and /history's "send again"."""

from __future__ import annotations

from telegram import CallbackQuery, Update

from bot.services import BotContext
from bot.telegram.text_limits import fit_text
from bot.telegram.texts import t
from handlers.common import chat_key, is_group_admin, language
from storage.models import DraftState


async def draft_button(update: Update, context: BotContext) -> None:
    """A button under a draft summary: options, menus, prompt ideas, Generate, Cancel."""
    query = _query(update)
    lang = language(update)
    services = context.bot_data.services
    _, draft_id, action = (query.data or "").split(":", 2)
    draft = await services.store.drafts.get(int(draft_id))
    if draft is None or draft.state is not DraftState.OPEN:
        await query.answer(t(lang, "draft_closed"))
        return
    if draft.key.user_id != query.from_user.id:
        await query.answer(t(lang, "not_your_draft"), show_alert=True)
        return
    drafts = services.drafts
    pressed = query.message.message_id if query.message else None
    if pressed != await drafts.summary_message_id(draft.id):
        # An older message of this draft: only the newest one has live buttons.
        await query.answer(t(lang, "draft_moved"))
        if pressed is not None and getattr(query.message, "reply_markup", None) is not None:
            await services.messenger.drop_keyboard(draft.key.chat_id, pressed)
        return
    # The press is answered after the change is shown, so the button's spinner ends with it.
    if action == "gen":
        message_id = query.message.message_id if query.message else None
        await services.generator.generate(
            draft.key, lang, request_message_id=message_id, prompt=None
        )
    elif action == "x":
        await drafts.cancel(draft.key, lang)
    elif action == "back":
        await drafts.show_menu(draft, None)
    elif action.startswith("menu="):
        await drafts.show_menu(draft, action.removeprefix("menu="))
    elif action.startswith("idea="):
        await drafts.send_idea(draft, action.removeprefix("idea="))
    elif action.startswith("rm=") and action[3:].isdigit():
        await drafts.remove(draft, int(action[3:]))
    else:
        await drafts.change_option(draft, action)
    await query.answer()


async def settings_button(update: Update, context: BotContext) -> None:
    """A button under /settings: change a stored default."""
    query = _query(update)
    lang = language(update)
    services = context.bot_data.services
    _, scope, target_text, action = (query.data or "").split(":", 3)
    target = int(target_text)
    user_id = query.from_user.id
    allowed = (
        target == user_id
        if scope == "u"
        else services.access.is_admin(user_id) or await is_group_admin(context.bot, target, user_id)
    )
    if not allowed:
        await query.answer(t(lang, "settings_admins_only"), show_alert=True)
        return
    menu = services.settings_menu
    if action == "done":
        await query.answer(t(lang, "settings_saved"))
        await query.edit_message_reply_markup(None)
        return
    opts = await menu.apply(scope, target, action, by=user_id) or await menu.current(scope, target)
    submenu = action.removeprefix("menu=") if action.startswith("menu=") else None
    await query.edit_message_text(
        fit_text(menu.text(lang, scope, opts), lang),
        reply_markup=menu.keyboard(lang, scope, target, opts, submenu),
    )
    await query.answer()


async def history_button(update: Update, context: BotContext) -> None:
    """ "Send again" under /history: re-send a delivered video from Telegram's copy."""
    query = _query(update)
    lang = language(update)
    _, task_id, _ = (query.data or "").split(":", 2)
    reply_to = query.message.message_id if query.message else None
    sent = await context.bot_data.services.history.resend(
        int(task_id), chat_key(update), reply_to=reply_to
    )
    await query.answer(t(lang, "history_resent" if sent else "history_gone"))


async def result_button(update: Update, context: BotContext) -> None:
    """Under a video or a failure: make it again, or edit it into a new draft."""
    query = _query(update)
    lang = language(update)
    _, task_id, action = (query.data or "").split(":", 2)
    rerun = context.bot_data.services.rerun
    if action == "again":
        answer = await rerun.again(
            int(task_id),
            chat_key(update),
            lang,
            request_message_id=query.message.message_id if query.message else None,
        )
    elif action == "edit":
        answer = await rerun.edit(int(task_id), chat_key(update), lang)
    else:
        answer = t(lang, "draft_closed")
    await query.answer(answer, show_alert=answer is not None)


async def stale_button(update: Update, context: BotContext) -> None:
    """A button the bot no longer knows: stop the spinner, change nothing."""
    await _query(update).answer(t(language(update), "draft_closed"))


def _query(update: Update) -> CallbackQuery:
    query = update.callback_query
    assert query is not None
    return query
