"""A request: from the user's open draft, after every check, to a task row and its submit."""

from __future__ import annotations

import secrets

from bot.access import AccessPolicy
from bot.drafts import DraftService
from bot.messenger import Messenger
from bot.metrics import Metrics
from bot.submit import Submitter
from bot.texts import t
from storage import Store
from storage.models import ChatKey, RefStatus, Task


class Generator:
    """Checks a draft can be made into a video, closes it into one task and starts the submit."""

    def __init__(
        self,
        *,
        store: Store,
        drafts: DraftService,
        messenger: Messenger,
        access: AccessPolicy,
        submitter: Submitter,
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._messenger = messenger
        self._access = access
        self._submitter = submitter
        self._metrics = metrics

    async def generate(
        self, key: ChatKey, language: str, *, request_message_id: int | None, prompt: str | None
    ) -> Task | None:
        """Turn the user's open draft into a task and start its submit; answers the user.

        Returns the task when one was created; the submit itself continues in the background.
        """
        if prompt and not await self._drafts.set_prompt(key, language, prompt, announce=False):
            return None
        draft = await self._store.drafts.open_draft(key)
        if draft is None:
            running = await self._store.tasks.running_for(key)
            text_key = "already_submitted" if running else "nothing_to_generate"
            await self._reply(key, t(language, text_key), request_message_id)
            return None
        refs = await self._store.drafts.references(draft.id)
        usable = [r for r in refs if r.status is not RefStatus.REJECTED]
        # A file still being read ("auto") may well be a picture: the submit checks again.
        if not any(r.kind in {"image", "video", "auto"} for r in usable):
            await self._reply(key, t(language, "need_visual"), request_message_id)
            return None
        if not draft.prompt.strip():
            await self._reply(key, t(language, "need_prompt"), request_message_id)
            return None
        refusal = await self._access.quota_refusal(key.user_id)
        if refusal is not None:
            text = t(language, refusal.text_key, limit=refusal.limit)
            await self._reply(key, text, request_message_id)
            return None
        task = await self._store.tasks.create_from_draft(
            draft,
            request_message_id=request_message_id,
            callback_secret=secrets.token_urlsafe(24),
        )
        if task is None:
            await self._reply(key, t(language, "already_submitted"), request_message_id)
            return None
        self._metrics.requests.inc()
        if draft.summary_message_id is not None:
            # The draft is closed: its buttons go, its text stays as a record of the request.
            await self._messenger.edit(
                key.chat_id, draft.summary_message_id, await self._drafts.summary_text(draft)
            )
        pending = self._drafts.pending(draft.id)
        text = (
            t(language, "waiting_for_files", count=pending)
            if pending
            else t(language, "submitting")
        )
        status_id = await self._messenger.send(key, text, reply_to=request_message_id)
        await self._store.tasks.update(task.id, status_message_id=status_id)
        self._submitter.start(task.id)
        return await self._store.tasks.get(task.id)

    async def generate_when_quiet(
        self, key: ChatKey, language: str, draft_id: int, *, request_message_id: int | None
    ) -> None:
        """Generate once the rest of an album has arrived (a caption starting with /generate)."""
        await self._drafts.wait_quiet(draft_id)
        await self.generate(key, language, request_message_id=request_message_id, prompt=None)

    async def _reply(self, key: ChatKey, text: str, reply_to: int | None) -> None:
        await self._messenger.send(key, text, reply_to=reply_to)
