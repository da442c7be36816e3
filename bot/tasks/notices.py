"""What a user reads about a request they made: news as a new reply, progress as quiet edits.

An edit does not notify anyone and is easily missed in a busy group, so anything the user must
read (a refusal, a failure, an unconfirmed submit) is a new message replying to their request;
the request's status message is only edited, to point at it or to show progress.
"""

from __future__ import annotations

import math

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.edit_budget import EditBudget
from bot.telegram.messenger import Messenger
from bot.telegram.text_limits import fit_caption
from bot.telegram.texts import t
from storage.models import Task


class Notices:
    """Messages about one task, in its chat and topic, replying to the request."""

    def __init__(self, messenger: Messenger, *, progress_budget: EditBudget | None = None) -> None:
        self._messenger = messenger
        # Progress edits in groups draw on this; everything else is sent as it comes.
        self._progress_budget = progress_budget or EditBudget()

    async def news(
        self,
        task: Task,
        text: str,
        *,
        status_key: str = "status_see_reply",
        markup: InlineKeyboardMarkup | None = None,
    ) -> bool:
        """Tell the user something new; the status message then shows `status_key`'s words."""
        sent = await self._messenger.send(
            task.key, text, reply_to=task.request_message_id, markup=markup
        )
        if task.status_message_id is not None:
            await self._messenger.edit(
                task.key.chat_id, task.status_message_id, t(task.language, status_key)
            )
        return sent is not None

    def may_show_progress(self, task: Task) -> bool:
        """Whether the chat's edit budget has room for a progress edit now."""
        return self._progress_budget.allow(task.key.chat_id)

    async def status(self, task: Task, text: str) -> bool:
        """Show progress in the status message, quietly; False when there is none to edit."""
        if task.status_message_id is None:
            return False
        return await self._messenger.edit(task.key.chat_id, task.status_message_id, text)


def credits_text(language: str, credits: float | None, key: str) -> str:
    """The credits part of a message, empty when the API did not say."""
    if credits is None:
        return ""
    return t(language, key, credits=f"{credits:g}")


def progress_text(task: Task, progress: int, *, now: float) -> str:
    """The status line of a task being made: percent, credits reserved, time left if known."""
    lang = task.language
    credits = credits_text(lang, task.credits_reserved, "progress_credits")
    eta = ""
    if task.estimated_time:
        left = task.estimated_time - (now - (task.submitted_at or task.created_at))
        if left > 45:
            eta = t(lang, "progress_eta", minutes=math.ceil(left / 60))
        elif left > -120:  # well past the estimate, a promise would mislead
            eta = t(lang, "progress_eta_soon")
    return t(lang, "progress", progress=progress, credits=credits, eta=eta)


# How much of the prompt a video's caption repeats (captions hold 1,024 characters).
CAPTION_PROMPT_CHARS = 120


def video_caption(task: Task) -> str:
    """What a delivered video says of itself: its prompt (shortened), length, quality, cost."""
    prompt = task.prompt.strip()
    if len(prompt) > CAPTION_PROMPT_CHARS:
        prompt = prompt[: CAPTION_PROMPT_CHARS - 1].rstrip() + "…"
    caption = t(
        task.language,
        "done_caption",
        prompt=prompt,
        duration=task.options.duration,
        quality=task.options.quality,
        credits=credits_text(task.language, task.credits_reserved, "credits_caption"),
    )
    return fit_caption(caption, task.language)


def result_keyboard(task: Task, *, failed: bool = False) -> InlineKeyboardMarkup:
    """Under a video: make it again (its cost shown) or edit it; under a failure: try again."""
    lang = task.language
    if failed:
        again = t(lang, "btn_try_again")
    elif task.credits_reserved is not None:
        again = t(lang, "btn_again_cost", credits=f"{task.credits_reserved:g}")
    else:
        again = t(lang, "btn_again_video")
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(again, callback_data=f"r:{task.id}:again"),
                InlineKeyboardButton(t(lang, "btn_edit"), callback_data=f"r:{task.id}:edit"),
            ]
        ]
    )
