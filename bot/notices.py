"""What a user reads about a request they made: news as a new reply, progress as quiet edits.

An edit does not notify anyone and is easily missed in a busy group, so anything the user must
read (a refusal, a failure, an unconfirmed submit) is a new message replying to their request;
the request's status message is only edited, to point at it or to show progress.
"""

from __future__ import annotations

from bot.messenger import Messenger
from bot.texts import t
from storage.models import Task


class Notices:
    """Messages about one task, in its chat and topic, replying to the request."""

    def __init__(self, messenger: Messenger) -> None:
        self._messenger = messenger

    async def news(self, task: Task, text: str, *, status_key: str = "status_see_reply") -> bool:
        """Tell the user something new; the status message then shows `status_key`'s words."""
        sent = await self._messenger.send(task.key, text, reply_to=task.request_message_id)
        if task.status_message_id is not None:
            await self._messenger.edit(
                task.key.chat_id, task.status_message_id, t(task.language, status_key)
            )
        return sent is not None

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
