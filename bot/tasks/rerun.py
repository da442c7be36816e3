"""Under a video, or a failure: make it again (one tap, one new task) or edit it as a new draft."""

from __future__ import annotations

import secrets

from bot.account.access import AccessPolicy
from bot.drafts.service import DraftService
from bot.tasks.generate import Generator
from bot.telegram.texts import t
from storage import Store
from storage.models import ChatKey, Draft, Task


class Rerun:
    """The buttons under a result. Each returns a short answer for the button, or None."""

    def __init__(
        self, *, store: Store, drafts: DraftService, generator: Generator, access: AccessPolicy
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._generator = generator
        self._access = access

    async def again(
        self, task_id: int, key: ChatKey, language: str, *, request_message_id: int | None
    ) -> str | None:
        """The same files, prompt and options, as a new paid task (once per video)."""
        source = await self._own(task_id, key)
        if source is None:
            return t(language, "not_your_video")
        if source.rerun_task_id is not None:
            return t(language, "rerun_already", id=source.rerun_task_id)
        refusal = await self._access.quota_refusal(key.user_id)
        if refusal is not None:
            return t(language, refusal.text_key, limit=refusal.limit)
        draft = await self._copy(source, open_=False)
        assert draft is not None  # a submitted copy never meets the one-open-draft rule
        task = await self._store.tasks.create_rerun(
            source,
            draft,
            request_message_id=request_message_id,
            callback_secret=secrets.token_urlsafe(24),
        )
        if task is None:  # another tap got there first
            again = await self._store.tasks.get(task_id)
            return t(language, "rerun_already", id=again.rerun_task_id if again else task_id)
        await self._generator.start(task)
        return None

    async def edit(self, task_id: int, key: ChatKey, language: str) -> str | None:
        """A new open draft with the same files, prompt and options, to change before making."""
        source = await self._own(task_id, key)
        if source is None:
            return t(language, "not_your_video")
        draft = await self._copy(source, open_=True)
        if draft is None:
            return t(language, "edit_draft_open")
        await self._drafts.refresh_summary(draft.id, anew=True)
        return None

    async def _copy(self, source: Task, *, open_: bool) -> Draft | None:
        """A new draft with the source's files, prompt and options, its files read again."""
        draft = await self._store.drafts.clone(
            source.draft_id,
            prompt=source.prompt,
            options=source.options,
            language=source.language,
            open_=open_,
        )
        if draft is not None:
            for ref in await self._store.drafts.references(draft.id):
                self._drafts.start_processing(draft.key, draft.language, ref)
        return draft

    async def _own(self, task_id: int, key: ChatKey) -> Task | None:
        task = await self._store.tasks.get(task_id)
        return task if task is not None and task.key == key else None
