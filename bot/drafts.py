"""Drafts as users see them: media arriving, the prompt, the summary message, cancelling."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bot import limits
from bot.background import Background
from bot.messenger import Messenger
from bot.references import ReferenceProcessor
from bot.texts import t
from storage import Store
from storage.models import ChatKey, Draft, Options, Reference, RefStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingMedia:
    """A file from a user's message, described without Telegram's objects."""

    kind: str  # image, or what it is when the bot can't use it yet (video, voice, ...)
    source: str  # photo | document | ...
    file_id: str
    file_unique_id: str
    message_id: int
    media_group_id: str | None = None
    file_name: str | None = None
    size: int | None = None


class DraftService:
    """Builds drafts from what users send; the work on each file runs in the background."""

    def __init__(
        self,
        *,
        store: Store,
        processor: ReferenceProcessor,
        messenger: Messenger,
        background: Background,
        quiet_seconds: float,
        default_options: Options | None = None,
    ) -> None:
        self._store = store
        self._processor = processor
        self._messenger = messenger
        self._background = background
        self._quiet = quiet_seconds
        self._defaults = default_options or Options()
        self._jobs: dict[int, set[asyncio.Task[Any]]] = defaultdict(set)
        self._summary_timers: dict[int, asyncio.Task[Any]] = {}
        # One summary refresh at a time per draft, so two refreshes never both send a message.
        self._summary_locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def add_media(
        self, key: ChatKey, language: str, media: IncomingMedia, caption: str | None
    ) -> None:
        """Add a file to the user's draft (creating it) and start checking it."""
        draft = await self._store.drafts.get_or_create(
            key, language=language, options=self._defaults
        )
        if (
            caption
            and caption.strip()
            and not await self.set_prompt(key, language, caption, announce=False)
        ):
            return
        images = [
            r
            for r in await self._store.drafts.references(draft.id)
            if r.kind == "image" and r.status is not RefStatus.REJECTED
        ]
        if len(images) >= limits.MAX_IMAGES:
            reason = t(language, "reason_too_many", limit=limits.MAX_IMAGES)
            item = t(language, "item_image", n=len(images) + 1)
            await self._messenger.send(
                key,
                t(language, "rejected", item=item.capitalize(), reason=reason),
                reply_to=media.message_id,
            )
            return
        ref = await self._store.drafts.add_reference(
            draft.id,
            kind=media.kind,
            source=media.source,
            file_id=media.file_id,
            file_unique_id=media.file_unique_id,
            message_id=media.message_id,
            media_group_id=media.media_group_id,
            file_name=media.file_name,
            size=media.size,
        )
        self.start_processing(key, language, ref)

    def start_processing(self, key: ChatKey, language: str, ref: Reference) -> None:
        """Check the reference in the background; `wait_ready` waits for it."""
        task = self._background.spawn(self._process(key, language, ref), name=f"reference-{ref.id}")
        jobs = self._jobs[ref.draft_id]
        jobs.add(task)
        task.add_done_callback(jobs.discard)

    async def wait_ready(self, draft_id: int) -> None:
        """Wait until every file of the draft has been checked."""
        while self._jobs.get(draft_id):
            await asyncio.gather(*self._jobs[draft_id], return_exceptions=True)

    def pending(self, draft_id: int) -> int:
        """How many files of the draft are still being checked."""
        return len(self._jobs.get(draft_id, ()))

    async def set_prompt(
        self, key: ChatKey, language: str, text: str, *, announce: bool = True
    ) -> bool:
        """Set the draft's prompt (creating the draft); False when the text is too long."""
        prompt = text.strip()
        if len(prompt) > limits.PROMPT_MAX_CHARS:
            await self._messenger.send(
                key,
                t(language, "prompt_too_long", length=len(prompt), limit=limits.PROMPT_MAX_CHARS),
            )
            return False
        draft = await self._store.drafts.get_or_create(
            key, language=language, options=self._defaults
        )
        await self._store.drafts.set_prompt(draft.id, prompt)
        if announce:
            # A new summary under the user's text, so the answer is where they are looking.
            await self._store.drafts.set_summary_message(draft.id, None)
            await self.refresh_summary(draft.id)
        return True

    async def cancel(self, key: ChatKey, language: str) -> None:
        """Discard the user's draft and say so."""
        draft = await self._store.drafts.cancel(key)
        if draft is None:
            await self._messenger.send(key, t(language, "nothing_to_cancel"))
            return
        count = len(await self._store.drafts.references(draft.id))
        await self._messenger.send(key, t(language, "draft_cancelled", count=count))

    def schedule_summary(self, draft_id: int) -> None:
        """Refresh the summary once the user has stopped sending for a moment (albums)."""
        previous = self._summary_timers.pop(draft_id, None)
        if previous is not None and not previous.done():
            previous.cancel()
        self._summary_timers[draft_id] = self._background.spawn(
            self._refresh_later(draft_id), name=f"summary-{draft_id}"
        )

    async def refresh_summary(self, draft_id: int) -> None:
        """Show the draft in its summary message (edited in place, or sent anew)."""
        async with self._summary_locks[draft_id]:
            draft = await self._store.drafts.get(draft_id)
            if draft is None or draft.state != "open":
                return
            refs = await self._store.drafts.references(draft_id)
            text = render_summary(draft, refs, self.pending(draft_id))
            message_id = await self._messenger.send_or_edit(
                draft.key, draft.summary_message_id, text
            )
            if message_id != draft.summary_message_id:
                await self._store.drafts.set_summary_message(draft_id, message_id)

    async def resume(self) -> None:
        """After a restart, check again the files that were still pending."""
        for ref in await self._store.drafts.drafts_with_pending_references():
            draft = await self._store.drafts.get(ref.draft_id)
            if draft is not None:
                self.start_processing(draft.key, draft.language, ref)

    async def _refresh_later(self, draft_id: int) -> None:
        await asyncio.sleep(self._quiet)
        await self.refresh_summary(draft_id)

    async def _process(self, key: ChatKey, language: str, ref: Reference) -> None:
        result = await self._processor.prepare(ref)
        if result.status is RefStatus.REJECTED:
            await self._messenger.send(
                key, rejection_text(language, result, ordinal=None), reply_to=result.message_id
            )
        self.schedule_summary(ref.draft_id)


def numbered(refs: list[Reference]) -> list[tuple[str, Reference]]:
    """The usable references with the names the API will see them by ("image 1", ...)."""
    counters: dict[str, int] = defaultdict(int)
    named = []
    for ref in refs:
        if ref.status is RefStatus.REJECTED:
            continue
        counters[ref.kind] += 1
        named.append((f"{ref.kind} {counters[ref.kind]}", ref))
    return named


def render_summary(draft: Draft, refs: list[Reference], pending: int) -> str:
    """The draft as a short message: numbered references, fixes, prompt, options, next step."""
    lang = draft.language
    lines = [t(lang, "draft_title")]
    ready = [(name, ref) for name, ref in numbered(refs) if ref.status is RefStatus.READY]
    if ready:
        lines.append(t(lang, "draft_refs", refs=", ".join(name for name, _ in ready)))
        for name, ref in ready:
            if ref.changes:
                changes = "; ".join(change_text(lang, c) for c in ref.changes)
                lines.append(t(lang, "changed", item=name.capitalize(), changes=changes))
    else:
        lines.append(t(lang, "draft_no_refs"))
    if pending:
        lines.append(t(lang, "draft_pending", count=pending))
    lines.append(
        t(lang, "draft_prompt", prompt=_quote(draft.prompt))
        if draft.prompt
        else t(lang, "draft_no_prompt")
    )
    o = draft.options
    lines.append(
        t(
            lang,
            "draft_options",
            duration=o.duration,
            quality=o.quality,
            aspect=o.aspect_ratio,
            sound=t(lang, "on" if o.generate_audio else "off"),
        )
    )
    lines.append(t(lang, "draft_next"))
    return "\n".join(lines)


def rejection_text(lang: str, ref: Reference, *, ordinal: int | None) -> str:
    """One message naming the bad file, the limit it broke and what to do."""
    if ref.file_name:
        item = t(lang, "item_file", name=f"“{ref.file_name}”")
    else:
        item = (
            t(lang, "item_image", n=ordinal) if ordinal else t(lang, "item_file", name="you sent")
        )
    params = dict(ref.error_params)
    if "size" in params and "size_mb" not in params:
        params["size_mb"] = round(float(params["size"]) / 2**20, 1)
    if "limit" in params and "limit_mb" not in params:
        params["limit_mb"] = round(float(params["limit"]) / 2**20, 1)
    try:
        reason = t(lang, f"reason_{ref.error_code}", **params)
    except (KeyError, IndexError):
        reason = t(lang, "reason_corrupt")
    return t(lang, "rejected", item=item[0].upper() + item[1:], reason=reason)


def change_text(lang: str, change: dict[str, Any]) -> str:
    """Words for one fix the bot made to a file."""
    try:
        return t(lang, f"change_{change['code']}", **change.get("params", {}))
    except (KeyError, IndexError):
        return str(change.get("code", ""))


def _quote(prompt: str, limit: int = 300) -> str:
    short = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return f"“{short}”"
