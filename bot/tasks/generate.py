"""A request: from the user's open draft, after every check, to a task row and its submit."""

from __future__ import annotations

import logging
import secrets

from bot.account.access import AccessPolicy
from bot.drafts.service import DraftService
from bot.evolink.upstream import Upstream
from bot.runtime.background import Background
from bot.runtime.metrics import Metrics
from bot.tasks.submit import Submitter
from bot.telegram.messenger import Messenger
from bot.telegram.texts import t
from storage import Store
from storage.models import ChatKey, DraftState, Oneshot, RefStatus, SeenMedia, Task

log = logging.getLogger(__name__)


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
        background: Background,
        upstream: Upstream | None = None,
    ) -> None:
        self._store = store
        self._background = background
        self._drafts = drafts
        self._messenger = messenger
        self._access = access
        self._submitter = submitter
        self._metrics = metrics
        self._upstream = upstream

    async def command(
        self, key: ChatKey, language: str, *, request_message_id: int, prompt: str | None
    ) -> None:
        """/generate that replies to no media: the open draft becomes the request. In a group a
        draft only exists once media was given with a reply or a "/generate ..." caption."""
        if not key.private and await self._store.drafts.open_draft(key) is None:
            await self._reply(key, t(language, "reply_without_media"), request_message_id)
            return
        await self.generate(key, language, request_message_id=request_message_id, prompt=prompt)

    async def generate(
        self, key: ChatKey, language: str, *, request_message_id: int | None, prompt: str | None
    ) -> Task | None:
        """Turn the user's open draft into a task and start its submit; answers the user.

        Returns the task when one was created; the submit itself continues in the background.
        """
        if prompt and not await self._drafts.set_prompt(key, language, prompt, announce=False):
            return None
        if self._upstream is not None and self._upstream.key_refused:
            # Known from the last check (the owner has its ERROR line): no task, no upload.
            await self._reply(key, t(language, "service_auth"), request_message_id)
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
            # The draft itself asks, right under the request: the answer makes the video (in a
            # group, a reply to it).
            await self._drafts.ask_prompt(draft, reply_to=request_message_id)
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
        self._drafts.forget(draft.id)
        if draft.summary_message_id is not None:
            # The draft is closed: its buttons go, its text stays as a record of the request.
            await self._messenger.edit(
                key.chat_id, draft.summary_message_id, await self._drafts.summary_text(draft)
            )
        return await self.start(task)

    async def start(self, task: Task) -> Task | None:
        """A new task's status message, then its submit in the background."""
        self._metrics.requests.inc()
        pending = await self._drafts.pending(task.draft_id)
        text = t(task.language, "waiting_for_files" if pending else "submitting")
        status_id = await self._messenger.send(task.key, text, reply_to=task.request_message_id)
        await self._store.tasks.update(task.id, status_message_id=status_id)
        self._submitter.start(task.id)
        return await self._store.tasks.get(task.id)

    async def generate_from_reply(
        self,
        key: ChatKey,
        language: str,
        media: SeenMedia,
        *,
        prompt: str | None,
        request_message_id: int,
    ) -> None:
        """/generate as a reply to a message with media: it (and the rest of its album, as far
        as the bot saw it) becomes the draft, and the request goes ahead."""
        items = [media]
        if media.media_group_id:
            album = await self._store.group_media.album(key.chat_id, media.media_group_id)
            if any(m.message_id == media.message_id for m in album):
                items = album
            if len(items) < 2:  # an album has two items at least: the others were not seen
                await self._reply(key, t(language, "album_partly_seen"), request_message_id)
        for item in items:
            await self._drafts.add_media(key, language, item, caption=None)
        await self.generate(key, language, request_message_id=request_message_id, prompt=prompt)

    async def prompt_given(
        self,
        key: ChatKey,
        language: str,
        text: str,
        *,
        message_id: int,
        replied_to_bot: int | None,
    ) -> None:
        """Text from the user: any text in a private chat; in a group only a reply to the
        bot's draft (other talk there is not for the bot). When the draft had asked for its
        prompt, the answer makes the video."""
        draft = await self._store.drafts.open_draft(key)
        if not key.private and (
            draft is None or replied_to_bot != await self._drafts.summary_message_id(draft.id)
        ):
            return
        if draft is not None and draft.prompt_asked:
            await self._store.drafts.ask_prompt(draft.id, False)
            await self.generate(key, language, request_message_id=message_id, prompt=text)
            return
        await self._drafts.set_prompt(key, language, text)

    async def media_received(
        self,
        key: ChatKey,
        language: str,
        media: SeenMedia,
        *,
        caption: str | None,
        oneshot: str | None,
        message_id: int,
    ) -> None:
        """A file arrived. In a private chat it joins the draft (its caption the prompt). In a
        group it is remembered for a later /generate reply, and drafted at once only for a
        one-shot request: `oneshot` (the prompt of a "/generate ..." caption) or the rest of
        such a request's album."""
        if not key.private:
            await self._store.group_media.remember(key.chat_id, media)
            if oneshot is None and not await self._drafts.joins_oneshot_album(key, media):
                return
        prompt = oneshot if oneshot is not None else caption
        draft = await self._drafts.add_media(key, language, media, prompt)
        if oneshot is not None and draft is not None:
            await self._start_oneshot(key, language, draft.id, media, request_message_id=message_id)

    async def _start_oneshot(
        self,
        key: ChatKey,
        language: str,
        draft_id: int,
        media: SeenMedia,
        *,
        request_message_id: int,
    ) -> None:
        """A caption starting with /generate: the request is made once the rest of its album
        is in (recorded, so that another replica makes it if this one stops first)."""
        self._drafts.expect_album(key, media)
        oneshot = await self._store.oneshots.add(
            key,
            language=language,
            draft_id=draft_id,
            request_message_id=request_message_id,
            media_group_id=media.media_group_id,
        )
        self._background.spawn(self._when_quiet(oneshot), name=f"oneshot-{draft_id}")

    async def recover(self, alive_since: float) -> None:
        """Make the one-shot requests a stopped replica (or a previous run) had not made."""
        for oneshot in await self._store.oneshots.orphaned(alive_since=alive_since):
            if await self._store.oneshots.take(oneshot):
                log.info(
                    "one-shot request taken over from a stopped replica",
                    extra={"draft": oneshot.draft_id},
                )
                self._background.spawn(
                    self._when_quiet(oneshot, recovered=True), name=f"oneshot-{oneshot.id}"
                )

    async def _when_quiet(self, oneshot: Oneshot, *, recovered: bool = False) -> None:
        """Generate once the rest of an album has arrived."""
        await self._drafts.wait_quiet(oneshot.draft_id)
        draft = await self._store.drafts.get(oneshot.draft_id)
        # Taken over from a stopped replica, it may have been made already: not said twice.
        if not recovered or (draft is not None and draft.state is DraftState.OPEN):
            await self.generate(
                oneshot.key,
                oneshot.language,
                request_message_id=oneshot.request_message_id,
                prompt=None,
            )
        await self._store.oneshots.done(oneshot.id)

    async def _reply(self, key: ChatKey, text: str, reply_to: int | None) -> None:
        await self._messenger.send(key, text, reply_to=reply_to)
