"""Drafts as users see them: media arriving, the prompt, the summary message, cancelling."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import defaultdict
from typing import Any

from telegram import InlineKeyboardMarkup

from bot import ideas, options, prompt_size
from bot.background import Background
from bot.keyed_locks import KeyedLocks
from bot.messenger import Messenger
from bot.references import ReferenceProcessor
from bot.telegram_text import TEXT_MAX, fit_lines
from bot.texts import t
from storage import Store
from storage.db import Clock
from storage.models import ChatKey, Draft, DraftState, Options, Reference, RefStatus, SeenMedia

log = logging.getLogger(__name__)


IncomingMedia = SeenMedia

# How long after its first item an album of a one-shot request may still grow.
ONESHOT_ALBUM_SECONDS = 60.0
# An open submenu is remembered this long: a draft left alone with its duration menu open
# shows the main buttons after that, and costs nothing meanwhile.
MENU_SECONDS = 3600.0


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
        clock: Clock = time.monotonic,
    ) -> None:
        self._store = store
        self._processor = processor
        self._messenger = messenger
        self._background = background
        self._quiet = quiet_seconds
        self._defaults = default_options or Options()
        self._clock = clock
        # Per-draft state lives only as long as it is needed (a bot runs for months): jobs and
        # timers remove themselves when done, locks when released, arrivals once their quiet
        # period is over, menus when the draft closes; `prune` sweeps up what is left.
        self._jobs: dict[int, set[asyncio.Task[Any]]] = {}
        self._last_arrival: dict[int, float] = {}
        self._summary_timers: dict[int, asyncio.Task[Any]] = {}
        self._menus: dict[int, tuple[str, float]] = {}  # draft id -> open submenu, since when
        # Albums whose first item carried "/generate": their other items join that draft.
        self._oneshot_albums: dict[tuple[int, str], tuple[ChatKey, float]] = {}
        # One summary refresh at a time per draft, so two refreshes never both send a message.
        self._summary_locks: KeyedLocks[int] = KeyedLocks()

    async def defaults_for(self, key: ChatKey) -> Options:
        """What a new draft starts from: the group's defaults, else the user's, else the bot's."""
        prefs = self._store.preferences
        if key.chat_id != key.user_id:
            group = await prefs.chat_options(key.chat_id)
            if group is not None:
                return group
        return await prefs.user_options(key.user_id) or self._defaults

    async def open_or_create(self, key: ChatKey, language: str) -> Draft:
        """The user's open draft here, created from their defaults if needed."""
        draft = await self._store.drafts.open_draft(key)
        if draft is not None:
            return draft
        options = await self.defaults_for(key)
        return await self._store.drafts.get_or_create(key, language=language, options=options)

    async def add_media(
        self, key: ChatKey, language: str, media: SeenMedia, caption: str | None
    ) -> Draft | None:
        """Add a file to the user's draft (creating it) and start checking it."""
        draft = await self.open_or_create(key, language)
        if (
            caption
            and caption.strip()
            and not await self.set_prompt(key, language, caption, announce=False)
        ):
            return None
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
        self._arrived(draft.id)
        if ref is not None:
            self.start_processing(key, language, ref)
        return draft

    def _arrived(self, draft_id: int) -> None:
        now = self._clock()
        self._forget_old(now)
        self._last_arrival[draft_id] = now

    def _forget_old(self, now: float) -> None:
        # Arrivals older than the quiet period no longer delay anything, and one-shot albums
        # stop growing after a while.
        self._last_arrival = {
            d: at for d, at in self._last_arrival.items() if now - at < self._quiet
        }
        self._oneshot_albums = {
            k: v for k, v in self._oneshot_albums.items() if now - v[1] < ONESHOT_ALBUM_SECONDS
        }

    def start_processing(self, key: ChatKey, language: str, ref: Reference) -> None:
        """Check the reference in the background; `wait_ready` waits for it."""
        task = self._background.spawn(self._process(key, language, ref), name=f"reference-{ref.id}")
        jobs = self._jobs.setdefault(ref.draft_id, set())
        jobs.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            jobs.discard(finished)
            if not jobs and self._jobs.get(ref.draft_id) is jobs:
                del self._jobs[ref.draft_id]

        task.add_done_callback(done)

    async def wait_ready(self, draft_id: int) -> None:
        """Wait until every file of the draft has been checked."""
        while jobs := self._jobs.get(draft_id):
            await asyncio.gather(*jobs, return_exceptions=True)

    async def wait_quiet(self, draft_id: int) -> None:
        """Wait until no file has arrived for a moment: the rest of an album is in."""
        # Each new arrival pushes the end of the quiet period further: re-check after sleeping.
        while (left := self._quiet_left(draft_id)) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)

    def _quiet_left(self, draft_id: int) -> float:
        return self._last_arrival.get(draft_id, 0.0) + self._quiet - self._clock()

    def expect_album(self, key: ChatKey, media: SeenMedia) -> None:
        """The rest of this item's album belongs to the same one-shot request."""
        now = self._clock()
        self._forget_old(now)
        if media.media_group_id:
            self._oneshot_albums[(key.chat_id, media.media_group_id)] = (key, now)

    def joins_oneshot_album(self, key: ChatKey, media: SeenMedia) -> bool:
        """Whether a group media item belongs to a one-shot album this user started."""
        if not media.media_group_id:
            return False
        found = self._oneshot_albums.get((key.chat_id, media.media_group_id))
        return found is not None and found[0] == key

    def pending(self, draft_id: int) -> int:
        """How many files of the draft are still being checked."""
        return len(self._jobs.get(draft_id, ()))

    async def set_prompt(
        self, key: ChatKey, language: str, text: str, *, announce: bool = True
    ) -> bool:
        """Set the draft's prompt (creating the draft); False when the text is too long."""
        prompt = text.strip()
        over = prompt_size.percent_over(prompt)
        if over is not None:
            await self._messenger.send(key, t(language, "prompt_too_long", percent=over))
            return False
        draft = await self.open_or_create(key, language)
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
            running = await self._store.tasks.running_for(key)
            # The upstream offers no way to stop a task: say so rather than pretend.
            text = (
                t(language, "cannot_stop", ids=", ".join(f"#{task.id}" for task in running))
                if running
                else t(language, "nothing_to_cancel")
            )
            await self._messenger.send(key, text)
            return
        self.forget(draft.id)
        count = len(await self._store.drafts.references(draft.id))
        text = t(language, "draft_cancelled", count=count)
        if draft.summary_message_id is not None:
            await self._messenger.edit(key.chat_id, draft.summary_message_id, text)
        else:
            await self._messenger.send(key, text)

    async def change_option(self, draft: Draft, action: str) -> bool:
        """Apply one option button to the draft and show it; False when the action is unknown."""
        changed = options.apply(draft.options, action)
        if changed is None:
            return False
        await self._store.drafts.set_options(draft.id, changed)
        await self.show_menu(draft, None)
        return True

    async def show_menu(self, draft: Draft, menu: str | None) -> None:
        """Show the summary with a submenu (duration, aspect ratio, prompt ideas) or the main one.

        The open menu is remembered, so a file finishing meanwhile does not close it.
        """
        if menu is None:
            self._menus.pop(draft.id, None)
        else:
            self._menus[draft.id] = (menu, self._clock())
        await self.refresh_summary(draft.id)

    async def send_idea(self, draft: Draft, scenario: str) -> None:
        """Send a prompt skeleton naming the draft's references, ready to copy."""
        counts = kind_counts(await self._store.drafts.references(draft.id))
        if scenario not in ideas.available(counts):
            scenario = "new"
        skeleton = ideas.skeleton(draft.language, scenario, counts)
        await self._messenger.send(
            draft.key, t(draft.language, "idea_sent", skeleton=html.escape(skeleton)), html=True
        )
        await self.show_menu(draft, None)

    def forget(self, draft_id: int) -> None:
        """Drop what is kept for a draft that closed (files still being checked finish)."""
        self._last_arrival.pop(draft_id, None)
        self._menus.pop(draft_id, None)

    def prune(self) -> None:
        """Forget state of drafts that closed without telling (expired, or submitted with a menu
        open) and of albums whose time is over; for the periodic clean-up."""
        now = self._clock()
        self._forget_old(now)
        self._menus = {d: m for d, m in self._menus.items() if now - m[1] < MENU_SECONDS}

    def tracked(self) -> dict[str, int]:
        """How many entries each per-draft table holds (for memory tests and benchmarks)."""
        return {
            "jobs": len(self._jobs),
            "last_arrival": len(self._last_arrival),
            "summary_timers": len(self._summary_timers),
            "menus": len(self._menus),
            "oneshot_albums": len(self._oneshot_albums),
            "summary_locks": len(self._summary_locks),
            "draft_locks": self._processor.drafts_in_flight(),
        }

    def schedule_summary(self, draft_id: int) -> None:
        """Refresh the summary once the user has stopped sending for a moment (albums)."""
        previous = self._summary_timers.pop(draft_id, None)
        if previous is not None and not previous.done():
            previous.cancel()
        self._summary_timers[draft_id] = self._background.spawn(
            self._refresh_later(draft_id), name=f"summary-{draft_id}"
        )

    async def summary_text(self, draft: Draft) -> str:
        """The draft as a message, with the cost as far as it can be known beforehand."""
        refs = await self._store.drafts.references(draft.id)
        rate = await self._store.tasks.credit_rate(
            draft.options.quality, draft.options.content_filter
        )
        return render_summary(draft, refs, self.pending(draft.id), credit_rate=rate)

    async def refresh_summary(self, draft_id: int) -> None:
        """Show the draft in its summary message (edited in place, or sent anew)."""
        async with self._summary_locks.hold(draft_id):
            draft = await self._store.drafts.get(draft_id)
            if draft is None or draft.state is not DraftState.OPEN:
                self.forget(draft_id)
                return
            markup = await self._keyboard(draft)
            message_id = await self._messenger.send_or_edit(
                draft.key, draft.summary_message_id, await self.summary_text(draft), markup=markup
            )
            if message_id != draft.summary_message_id:
                await self._store.drafts.set_summary_message(draft_id, message_id)

    async def _keyboard(self, draft: Draft) -> InlineKeyboardMarkup:
        prefix = f"d:{draft.id}"
        menu = self._menus.get(draft.id, (None, 0.0))[0]
        counts = kind_counts(await self._store.drafts.references(draft.id))
        if menu == "ideas" and ideas.available(counts):
            return ideas.keyboard(draft.language, prefix, counts)
        if menu is not None and (
            found := options.submenu(draft.language, prefix, draft.options, menu)
        ):
            return found
        return options.main_keyboard(
            draft.language, prefix, draft.options, draft=True, ideas=bool(ideas.available(counts))
        )

    async def resume(self) -> None:
        """After a restart, check again the files that were still pending."""
        for ref in await self._store.drafts.drafts_with_pending_references():
            draft = await self._store.drafts.get(ref.draft_id)
            if draft is not None:
                self.start_processing(draft.key, draft.language, ref)

    async def _refresh_later(self, draft_id: int) -> None:
        try:
            await asyncio.sleep(self._quiet)
            await self.refresh_summary(draft_id)
        finally:
            if self._summary_timers.get(draft_id) is asyncio.current_task():
                del self._summary_timers[draft_id]

    async def _process(self, key: ChatKey, language: str, ref: Reference) -> None:
        result = await self._processor.prepare(ref)
        context = {"chat": key.chat_id, "user": key.user_id, "draft": ref.draft_id, "ref": ref.id}
        log.info("reference %s %s", result.kind, result.status.value, extra=context)
        if result.status is RefStatus.REJECTED:
            siblings = await self._store.drafts.references(ref.draft_id)
            await self._messenger.send(
                key,
                rejection_text(language, result, siblings),
                reply_to=result.message_id,
                lang=language,
            )
        self.schedule_summary(ref.draft_id)


def kind_counts(refs: list[Reference]) -> dict[str, int]:
    """How many ready references of each kind."""
    counts: dict[str, int] = defaultdict(int)
    for ref in refs:
        if ref.status is RefStatus.READY:
            counts[ref.kind] += 1
    return dict(counts)


KIND_ORDER = ("image", "video", "audio")


def numbered(lang: str, refs: list[Reference]) -> list[tuple[str, Reference]]:
    """Ready references named as the API will see them: image 1…, video 1…, audio 1…."""
    named: list[tuple[str, Reference]] = []
    for kind in KIND_ORDER:
        of_kind = [r for r in refs if r.kind == kind and r.status is RefStatus.READY]
        named.extend((t(lang, f"ref_{kind}", n=n), ref) for n, ref in enumerate(of_kind, start=1))
    return named


def render_summary(
    draft: Draft, refs: list[Reference], pending: int, *, credit_rate: float | None = None
) -> str:
    """The draft as a short message: numbered references, fixes, prompt, options, cost."""
    lang = draft.language
    head = [t(lang, "draft_title")]
    notes: list[str] = []  # one per changed file: the part left out first when it is long
    lines: list[str] = []
    ready = numbered(lang, refs)
    if ready:
        head.append(t(lang, "draft_refs", refs=", ".join(name for name, _ in ready)))
        for name, ref in ready:
            if ref.changes:
                changes = "; ".join(change_text(lang, c) for c in ref.changes)
                notes.append(t(lang, "changed", item=name[0].upper() + name[1:], changes=changes))
    else:
        head.append(t(lang, "draft_no_refs"))
    if pending:
        lines.append(t(lang, "draft_pending", count=pending))
    lines.append(
        t(lang, "draft_prompt", prompt=_quote(draft.prompt))
        if draft.prompt
        else t(lang, "draft_no_prompt")
    )
    lines.append(options.describe(lang, draft.options))
    if credit_rate is not None:
        estimate = f"{credit_rate * draft.options.duration:.1f}".rstrip("0").rstrip(".")
        lines.append(t(lang, "cost_estimate", credits=estimate))
    else:
        lines.append(t(lang, "cost_unknown"))
    if any(ref.kind == "video" for _, ref in ready):
        lines.append(t(lang, "cost_video_note"))
    # The prompt, options and cost below the notes always stay: they are what the user acts on.
    return fit_lines(head, notes, lines, TEXT_MAX, lang, more_key="more_changes")


def item_name(lang: str, ref: Reference, draft_refs: list[Reference]) -> str:
    """How the user knows this file: “the file notes.pdf”, “the 2nd photo”, “the voice note”."""
    if ref.file_name:
        return t(lang, "item_file", name=f"“{ref.file_name}”")
    same = [r for r in draft_refs if r.source == ref.source]
    noun = t(lang, f"source_{ref.source}")
    if len(same) <= 1:
        return t(lang, "item_only", noun=noun)
    position = next((n for n, r in enumerate(same, start=1) if r.id == ref.id), len(same))
    return t(lang, "item_nth", nth=ordinal(lang, position), noun=noun)


def ordinal(lang: str, n: int) -> str:
    """1st, 2nd, 3rd, 4th… (English); other languages bring their own rule."""
    if lang != "en":
        return t(lang, "ordinal", n=n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rejection_text(lang: str, ref: Reference, draft_refs: list[Reference]) -> str:
    """One message naming the bad file, the limit it broke and what to do."""
    item = item_name(lang, ref, draft_refs)
    params = {k: _number(v) for k, v in ref.error_params.items()}
    if "kind" in params:
        params["kinds"] = t(lang, f"kinds_{params['kind']}")
    if "size" in params and "size_mb" not in params:
        params["size_mb"] = _number(round(float(params["size"]) / 2**20, 1))
    if "limit" in params and "limit_mb" not in params:
        params["limit_mb"] = _number(round(float(params["limit"]) / 2**20, 1))
    # A more precise text for the kind of content, when there is one ("not a video: it is sound").
    keys = [f"reason_{ref.error_code}_{params['kind']}"] if "kind" in params else []
    keys.append(f"reason_{ref.error_code}")
    reason = t(lang, "reason_corrupt")
    for key in keys:
        try:
            reason = t(lang, key, **params)
            break
        except (KeyError, IndexError):
            continue
    return t(lang, "rejected", item=item[0].upper() + item[1:], reason=reason)


def change_text(lang: str, change: dict[str, Any]) -> str:
    """Words for one fix the bot made to a file."""
    params = {k: _number(v) for k, v in change.get("params", {}).items()}
    try:
        return t(lang, f"change_{change['code']}", **params)
    except (KeyError, IndexError):
        return str(change.get("code", ""))


def _number(value: Any) -> Any:
    """15.0 → 15, 4.9731 → 4.97: numbers as people write them."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 2)
    return value


def _quote(prompt: str, limit: int = 300) -> str:
    short = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return f"“{short}”"
