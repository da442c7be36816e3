"""/history: a user's latest videos, and sending a delivered one again from Telegram's copy."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.tasks.notices import result_keyboard, video_caption
from bot.telegram.messenger import reply_parameters
from bot.telegram.text_limits import TEXT_MAX, fit_lines
from bot.telegram.texts import t
from storage import Store
from storage.models import ChatKey, Delivery, Task, TaskStatus

log = logging.getLogger(__name__)

MAX_RESEND_BUTTONS = 5


class HistoryService:
    """Lists tasks and re-sends delivered videos by file id (works after the 24 h link expired)."""

    def __init__(self, *, store: Store, bot: Bot) -> None:
        self._store = store
        self._bot = bot

    async def render(self, key: ChatKey, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
        """The /history message and its "send again" buttons."""
        tasks = await self._store.tasks.history(key)
        if not tasks:
            return t(lang, "history_none"), None
        lines: list[str] = []
        buttons: list[list[InlineKeyboardButton]] = []
        for task in tasks:
            when = datetime.fromtimestamp(task.created_at, UTC).strftime("%Y-%m-%d %H:%M")
            prompt = task.prompt if len(task.prompt) <= 60 else task.prompt[:59] + "…"
            lines.append(
                t(
                    lang,
                    "history_line",
                    id=task.id,
                    when=when,
                    state=_state(lang, task),
                    prompt=prompt,
                )
            )
            if task.delivered_file_id and len(buttons) < MAX_RESEND_BUTTONS:
                buttons.append(
                    [
                        InlineKeyboardButton(
                            t(lang, "btn_again", id=task.id), callback_data=f"h:{task.id}:again"
                        )
                    ]
                )
        text = fit_lines(
            [t(lang, "history_title")], lines, [], TEXT_MAX, lang, more_key="more_videos"
        )
        return text, InlineKeyboardMarkup(buttons) if buttons else None

    async def resend(self, task_id: int, key: ChatKey, *, reply_to: int | None) -> bool:
        """Send a delivered video again into the user's chat; False if it can't be."""
        task = await self._store.tasks.get(task_id)
        if task is None or task.key.user_id != key.user_id or not task.delivered_file_id:
            return False
        try:
            await self._bot.send_video(
                chat_id=key.chat_id,
                video=task.delivered_file_id,
                caption=video_caption(task),
                reply_markup=result_keyboard(task),
                message_thread_id=key.topic_id or None,
                reply_parameters=reply_parameters(reply_to or None),
            )
        except TelegramError as exc:
            log.warning("task %s: resend failed: %s", task_id, exc)
            return False
        return True


def _state(lang: str, task: Task) -> str:
    if task.status is TaskStatus.COMPLETED:
        if task.delivery in {Delivery.NONE, Delivery.SENDING}:
            return t(lang, "history_state_running")
        if task.delivered_file_id:
            return t(lang, "history_state_delivered")
        return t(lang, "history_state_link")
    if not task.status.final:
        return t(lang, "history_state_running")
    if task.status is TaskStatus.REFUSED:
        return t(lang, "history_state_refused")
    if task.status is TaskStatus.UNKNOWN:
        return t(lang, "history_state_unknown")
    return t(lang, "history_state_failed")
