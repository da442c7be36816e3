"""Drafts as users see them: media arriving, the prompt, the summary message, cancelling."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.drafts import ideas, options, prompt_size
from bot.drafts.references import MAX_ATTEMPTS, ReferenceProcessor
from bot.runtime.background import Background
from bot.runtime.keyed_locks import KeyedLocks
from bot.telegram.messenger import Messenger
from bot.telegram.text_limits import TEXT_MAX, fit_lines
from bot.telegram.texts import t
from storage import Store
from storage.db import Clock
from storage.models import ChatKey, Draft, DraftState, Options, Reference, RefStatus, SeenMedia

log = logging.getLogger(__name__)


# How long after its first item an album of a one-shot request may still grow.
ONESHOT_ALBUM_SECONDS = 60.0
# An open submenu is remembered this long: a draft left alone with its duration menu open
# shows the main buttons after that, and costs nothing meanwhile.
MENU_SECONDS = 3600.0
# A draft's summary is refreshed by one caller at a time, on any replica; a holder that stopped
# loses the lock after this long.
SUMMARY_LOCK_SECONDS = 30.0
# How long a submit waits for files another replica is checking (it stops waiting when they are
# checked, or when that replica stopped and this one took them over).
READY_TIMEOUT_SECONDS = 600.0

# A file that waits longer than this for a free media worker shows its place in the queue in
# the draft summary, refreshed at most this often while it waits.
QUEUE_NOTICE_SECONDS = 2.0
QUEUE_REFRESH_SECONDS = 3.0


class DraftService:
    """Builds drafts from what users send; the work on each file runs in the background.

    With several replicas, the files of one draft (an album) may be checked on different
    replicas: the summary's debounce is decided in the database (`summary_due`), one refresh
    runs at a time (a lock in the draft's row), and waiting for files or for quiet looks at
    the database as well as at this process's own work.
    """

    def __init__(
        self,
        *,
        store: Store,
        processor: ReferenceProcessor,
        messenger: Messenger,
        background: Background,
        quiet_seconds: float,
        default_options: Options | None = None,
        shared: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self._store = store
        self._shared = shared  # other replicas refresh summaries too: lock them in the database
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
        # Messages about a draft's files (a refusal), sent once the draft itself is shown.
        # Per draft, the refused files to tell of (with the language to tell it in).
        self._refusals: dict[int, list[tuple[ChatKey, str, Reference]]] = defaultdict(list)
        self._queue_watchers: dict[int, asyncio.Task[Any]] = {}  # draft id -> its watcher

    async def defaults_for(self, key: ChatKey) -> Options:
        """What a new draft starts from: the group's defaults, else the user's, else the bot's."""
        prefs = self._store.preferences
        if not key.private:
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
        if ref.draft_id not in self._queue_watchers:
            self._queue_watchers[ref.draft_id] = self._background.spawn(
                self._watch_queue(ref.draft_id, key.user_id), name=f"queue-{ref.draft_id}"
            )

    async def wait_ready(self, draft_id: int, *, patience: float = READY_TIMEOUT_SECONDS) -> None:
        """Wait until every file of the draft has been checked, here and on other replicas."""
        give_up = time.monotonic() + patience
        pause = 0.05
        while True:
            while self._jobs.get(draft_id):
                await asyncio.gather(*self._jobs[draft_id], return_exceptions=True)
            if not await self._store.drafts.pending_elsewhere(draft_id):
                return
            if time.monotonic() > give_up:
                log.warning("draft %s: files still being checked elsewhere; going on", draft_id)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def wait_quiet(self, draft_id: int) -> None:
        """Wait until no file has arrived for a moment: the rest of an album is in (whichever
        replica its items reached)."""
        # Each new arrival pushes the end of the quiet period further: re-check after sleeping.
        while (left := await self._quiet_left(draft_id)) > 0:  # noqa: ASYNC110
            await asyncio.sleep(left)

    async def _quiet_left(self, draft_id: int) -> float:
        here = self._last_arrival.get(draft_id, 0.0) + self._quiet - self._clock()
        if here > 0:
            return here
        touched = await self._store.drafts.touched_at(draft_id)
        return 0.0 if touched is None else touched + self._quiet - self._store.db.clock()

    def expect_album(self, key: ChatKey, media: SeenMedia) -> None:
        """The rest of this item's album belongs to the same one-shot request (other replicas
        find it in the request's record: see Generator.media_received)."""
        now = self._clock()
        self._forget_old(now)
        if media.media_group_id:
            self._oneshot_albums[(key.chat_id, media.media_group_id)] = (key, now)

    async def joins_oneshot_album(self, key: ChatKey, media: SeenMedia) -> bool:
        """Whether a group media item belongs to a one-shot album this user started (its first
        item may have reached another replica)."""
        if not media.media_group_id:
            return False
        found = self._oneshot_albums.get((key.chat_id, media.media_group_id))
        if found is not None:
            return found[0] == key
        owner = await self._store.oneshots.album_of(
            key.chat_id,
            media.media_group_id,
            since=self._store.db.clock() - ONESHOT_ALBUM_SECONDS,
        )
        return owner == key

    async def pending(self, draft_id: int) -> int:
        """How many files of the draft are still being checked, on any replica."""
        return await self._store.drafts.pending_count(draft_id)

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
            await self.refresh_summary(draft.id, anew=True)
        return True

    async def cancel(self, key: ChatKey, language: str, *, reply_to: int | None = None) -> None:
        """Discard the user's draft and say so, in a new message; the summary keeps no buttons."""
        draft = await self._store.drafts.cancel(key)
        if draft is None:
            running = await self._store.tasks.running_for(key)
            # The upstream offers no way to stop a task: say so rather than pretend.
            text = (
                t(language, "cannot_stop", ids=", ".join(f"#{task.id}" for task in running))
                if running
                else t(language, "nothing_to_cancel")
            )
            await self._messenger.send(key, text, reply_to=reply_to)
            return
        self.forget(draft.id)
        count = len(await self._store.drafts.references(draft.id))
        plural = {0: "draft_cancelled", 1: "draft_cancelled_file"}.get(
            count, "draft_cancelled_files"
        )
        text = t(language, plural, count=count)
        if draft.summary_message_id is not None:
            await self._messenger.edit(
                key.chat_id, draft.summary_message_id, t(language, "draft_summary_cancelled")
            )
        await self._messenger.send(key, text, reply_to=reply_to)

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
        """Refresh the summary once the user has stopped sending for a moment (albums): once
        for the whole album, on whichever replica is last to be due."""
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
        pending = sum(1 for r in refs if r.status is RefStatus.PENDING)
        ahead = self._processor.queue_ahead(draft.key.user_id) if pending else None
        return render_summary(draft, refs, pending, credit_rate=rate, queue_ahead=ahead)

    async def summary_message_id(self, draft_id: int) -> int | None:
        """The draft's message, once any send of it under way has been recorded."""
        async with self._summary_lock(draft_id):
            draft = await self._store.drafts.get(draft_id)
        return draft.summary_message_id if draft is not None else None

    async def ask_prompt(self, draft: Draft, *, reply_to: int | None) -> None:
        """/generate found no prompt: the draft, shown anew under the request, asks for it."""
        await self._store.drafts.ask_prompt(draft.id, True)
        await self.refresh_summary(draft.id, anew=True, reply_to=reply_to)

    async def refresh_summary(
        self, draft_id: int, *, anew: bool = False, reply_to: int | None = None
    ) -> int | None:
        """Show the draft in its summary message: edited in place, or sent anew (`anew`, or
        when the old one is gone), the old one then losing its buttons. A person has one live
        draft message per chat and topic. Notes about its files follow it."""
        message_id = None
        async with self._summary_lock(draft_id):
            draft = await self._store.drafts.get(draft_id)
            if draft is None or draft.state is not DraftState.OPEN:
                self.forget(draft_id)
            else:
                markup = await self._keyboard(draft)
                text = await self.summary_text(draft)
                old = draft.summary_message_id
                message_id = await self._messenger.send_or_edit(
                    draft.key, None if anew else old, text, markup=markup, reply_to=reply_to
                )
                if message_id != old:
                    await self._store.drafts.set_summary_message(draft_id, message_id)
                    if old is not None:
                        await self._messenger.drop_keyboard(draft.key.chat_id, old)
            await self._send_notes(draft_id)
        return message_id

    @contextlib.asynccontextmanager
    async def _summary_lock(self, draft_id: int) -> AsyncIterator[None]:
        """One refresh of the draft's summary at a time, here and on every other replica (so
        two never both send a new message)."""
        async with self._summary_locks.hold(draft_id):
            if not self._shared:
                yield  # one process: its own lock is the only one
                return
            token = self._store.replica_id  # one holder per process: the lock above
            drafts = self._store.drafts
            pause = 0.02
            while not await drafts.lock_summary(
                draft_id, token, until=self._store.db.clock() + SUMMARY_LOCK_SECONDS
            ):
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)
            try:
                yield
            finally:
                await drafts.unlock_summary(draft_id, token)

    async def _send_notes(self, draft_id: int) -> None:
        """Why each refused file can't be used, in a reply to it. Worded now, not when it was
        refused: "the 1st audio file" only once the files sent with it are in the draft too."""
        refusals = self._refusals.pop(draft_id, [])
        if not refusals:
            return
        siblings = await self._store.drafts.references(draft_id)
        for key, language, ref in refusals:
            text = rejection_text(language, ref, siblings)
            await self._messenger.send(key, text, reply_to=ref.message_id)

    async def _keyboard(self, draft: Draft) -> InlineKeyboardMarkup:
        prefix = f"d:{draft.id}"
        menu = self._menus.get(draft.id, (None, 0.0))[0]
        refs = await self._store.drafts.references(draft.id)
        counts = kind_counts(refs)
        if menu == "ideas" and ideas.available(counts):
            return ideas.keyboard(draft.language, prefix, counts)
        if menu == "rm" and counts:
            return _removal_keyboard(draft.language, prefix, refs)
        if menu is not None and (
            found := options.submenu(draft.language, prefix, draft.options, menu)
        ):
            return found
        return options.main_keyboard(
            draft.language,
            prefix,
            draft.options,
            draft=True,
            ideas=bool(ideas.available(counts)),
            removable=bool(counts),
        )

    async def remove(self, draft: Draft, ref_id: int) -> None:
        """Take one file out of the draft (the rest are numbered again) and show it."""
        await self._store.drafts.remove_reference(draft.id, ref_id)
        await self.show_menu(draft, None)

    async def recover(self, alive_since: float) -> None:
        """Check again the files a stopped replica (or this process's previous run) was
        checking.

        A file whose processing was already started MAX_ATTEMPTS times is refused instead: the
        process checking it stopped in the middle each time, and it may be the reason.
        """
        await self._store.drafts.release_summary_locks(alive_since=alive_since)
        for ref in await self._store.drafts.orphaned_references(alive_since=alive_since):
            draft = await self._store.drafts.get(ref.draft_id)
            if draft is None or not await self._store.drafts.take_reference(ref):
                continue
            log.info("file taken over from a stopped replica", extra={"ref": ref.id})
            if ref.attempts < MAX_ATTEMPTS:
                await self._store.drafts.mark_started(ref.id)  # before, so a crash counts
                self.start_processing(
                    draft.key, draft.language, replace(ref, attempts=ref.attempts + 1)
                )
                continue
            log.warning(
                "reference %s: refused after %s interrupted attempts",
                ref.id,
                ref.attempts,
                extra={"chat": draft.key.chat_id, "user": draft.key.user_id, "ref": ref.id},
            )
            await self._store.drafts.mark_rejected(
                ref.id, "unprocessable", {"reason": "interrupted"}
            )
            refused = await self._store.drafts.reference(ref.id)
            if refused is not None:
                self._tell_rejected(draft.key, draft.language, refused)
            self.schedule_summary(ref.draft_id)

    async def _watch_queue(self, draft_id: int, owner: int) -> None:
        """While the draft's files wait for a media worker, show where they are in the queue
        (once the wait is noticeable); it ends with the last of them."""
        try:
            wait, shown = QUEUE_NOTICE_SECONDS, None
            while jobs := set(self._jobs.get(draft_id, ())):
                _, running = await asyncio.wait(jobs, timeout=wait)
                if not running:
                    continue  # these are done; files that came meanwhile are watched next
                ahead = self._processor.queue_ahead(owner)
                if ahead != shown:
                    shown = ahead
                    await self.refresh_summary(draft_id)
                wait = QUEUE_REFRESH_SECONDS
        finally:
            self._queue_watchers.pop(draft_id, None)

    async def _refresh_later(self, draft_id: int) -> None:
        drafts, db = self._store.drafts, self._store.db
        await drafts.summary_due(draft_id, db.clock() + self._quiet)
        await asyncio.sleep(self._quiet)
        # From here on a newer arrival must not cancel this refresh half-way: it schedules its own.
        if self._summary_timers.get(draft_id) is asyncio.current_task():
            del self._summary_timers[draft_id]
        while True:
            due = await drafts.take_summary_due(draft_id, db.clock())
            if due is None:
                # Another replica (or a newer timer here) refreshes it: notes go after that.
                async with self._summary_lock(draft_id):
                    await self._send_notes(draft_id)
                return
            if due == 0.0:
                await self.refresh_summary(draft_id)
                return
            # A file reached another replica meanwhile: the quiet period goes on until then.
            await asyncio.sleep(max(due - db.clock(), 0.01))

    async def _process(self, key: ChatKey, language: str, ref: Reference) -> None:
        result = await self._processor.prepare(ref, owner=key.user_id)
        context = {"chat": key.chat_id, "user": key.user_id, "draft": ref.draft_id, "ref": ref.id}
        log.info("reference %s %s", result.kind, result.status.value, extra=context)
        if result.status is RefStatus.REJECTED:
            self._tell_rejected(key, language, result)
        else:
            self.schedule_summary(ref.draft_id)

    def _tell_rejected(self, key: ChatKey, language: str, ref: Reference) -> None:
        """Why a file can't be used, in a reply to it, right after the draft it was meant for
        (never before it)."""
        self._refusals[ref.draft_id].append((key, language, ref))
        self.schedule_summary(ref.draft_id)


def _removal_keyboard(lang: str, prefix: str, refs: list[Reference]) -> InlineKeyboardMarkup:
    """A button per file of the draft, by the name the prompt uses for it."""
    buttons = [
        InlineKeyboardButton(
            t(lang, "btn_remove_item", item=name), callback_data=f"{prefix}:rm={r.id}"
        )
        for name, r in numbered(lang, refs)
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(t(lang, "btn_back"), callback_data=f"{prefix}:back")])
    return InlineKeyboardMarkup(rows)


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
    draft: Draft,
    refs: list[Reference],
    pending: int,
    *,
    credit_rate: float | None = None,
    queue_ahead: int | None = None,
) -> str:
    """The draft as a short message: numbered references, fixes, prompt, options, cost.

    ``queue_ahead``: files from others before this user's next one in the media queue (None:
    none of theirs is waiting).
    """
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
    elif not pending:
        head.append(t(lang, "draft_no_refs"))
    if pending:
        lines.append(
            t(lang, "draft_pending_one" if pending == 1 else "draft_pending", count=pending)
        )
        if queue_ahead is not None:
            queue = {0: "draft_queue_next", 1: "draft_queue_one"}.get(queue_ahead, "draft_queue")
            lines.append(t(lang, queue, ahead=queue_ahead))
    if draft.prompt:
        lines.append(t(lang, "draft_prompt", prompt=_quote(draft.prompt)))
    else:
        asked = "draft_ask_prompt" if draft.prompt_asked else "draft_no_prompt"
        lines.append(t(lang, asked if draft.key.private else f"{asked}_group"))
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
    if "max" in params and "max_mp" not in params:
        params["max_mp"] = round(float(params["max"]) / 1e6)
    reason = _first_text(lang, "reason", str(ref.error_code), params)
    return t(
        lang,
        "rejected",
        item=item[0].upper() + item[1:],
        reason=reason or t(lang, "reason_corrupt"),
    )


def change_text(lang: str, change: dict[str, Any]) -> str:
    """Words for one fix the bot made to a file."""
    params = {k: _number(v) for k, v in change.get("params", {}).items()}
    code = str(change.get("code", ""))
    if code == "metadata_removed":
        params["what"] = metadata_words(lang, str(params.get("kinds", "")))
    return _first_text(lang, "change", code, params) or code


def metadata_words(lang: str, kinds: str) -> str:
    """ "location, date" (bot.media's kind codes) as words: "location, date and time"."""
    words = []
    for kind in (k.strip() for k in kinds.split(",") if k.strip()):
        try:
            words.append(t(lang, f"meta_{kind}"))
        except KeyError:  # a kind named before these words existed ("EXIF", "GPS")
            words.append(kind)
    return ", ".join(words)


def _first_text(lang: str, prefix: str, code: str, params: dict[str, Any]) -> str | None:
    """The most precise text there is for ``code``: a variant for the content's kind, the
    reason or the variant named in ``params`` ("not a video: it is sound"), else the plain one."""
    keys = [
        f"{prefix}_{code}_{params[name]}"
        for name in ("kind", "reason", "variant")
        if name in params
    ]
    keys.append(f"{prefix}_{code}")
    for key in keys:
        try:
            return t(lang, key, **params)
        except (KeyError, IndexError):
            continue
    return None


def _number(value: Any) -> Any:
    """15.0 → 15, 4.9731 → 4.97: numbers as people write them."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 2)
    return value


def _quote(prompt: str, limit: int = 300) -> str:
    short = prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"
    return f"“{short}”"
