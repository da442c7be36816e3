"""Turning a file a user sent into a checked, normalised, hosted reference."""

from __future__ import annotations

import asyncio
import errno
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import limits
from bot.hosting import HOSTING_FAILURES, MediaHost
from bot.media.jobs import MediaJobs, Normalised
from bot.media.results import MediaRejected, Probe
from bot.runtime.metrics import Metrics
from bot.telegram.files import DownloadError, TelegramFiles
from storage.db import Clock
from storage.drafts import DraftStore
from storage.models import Reference, RefStatus

log = logging.getLogger(__name__)

# A hosted URL must stay valid at least this long after the submit, so the upstream can fetch it.
HOSTING_MARGIN_SECONDS = 3600

MAX_COUNT = {"image": limits.MAX_IMAGES, "video": limits.MAX_VIDEOS, "audio": limits.MAX_AUDIOS}
SECONDS_BUDGET = {"video": limits.VIDEO_TOTAL_SECONDS, "audio": limits.AUDIO_TOTAL_SECONDS}
MIN_SECONDS = {"video": limits.VIDEO_MIN_SECONDS, "audio": limits.AUDIO_MIN_SECONDS}

# A file whose processing was started this often without an outcome (the bot stopped each time)
# is refused rather than tried again: it may be what stopped the bot. One restart in the middle
# of a normal file (a deploy) is forgiven.
MAX_ATTEMPTS = 2

# Refusals from identifying a document that say more than "not a media file I can read".
_IDENTIFY_SPEAKS_FOR_ITSELF = frozenset(
    {"unsupported_format", "damaged_picture", "animation_unsupported", "unprocessable"}
)


class ReferenceProcessor:
    """Downloads, checks, fixes and hosts one reference; the outcome is written to the store."""

    def __init__(
        self,
        *,
        drafts: DraftStore,
        files: TelegramFiles,
        host: MediaHost,
        jobs: MediaJobs,
        metrics: Metrics,
        media_dir: Path,
        tmp_dir: Path,
        clock: Clock = time.time,
    ) -> None:
        self._drafts = drafts
        self._files = files
        self._host = host
        self._jobs = jobs
        self._metrics = metrics
        self._media_dir = media_dir
        self._tmp_dir = tmp_dir
        self._clock = clock
        # Per draft: files are downloaded and identified side by side, but admitted (counts and
        # the 15 s budgets) one at a time in the order the user sent them.
        self._turns: dict[int, _Turns] = {}
        # Per draft: files admitted and still being converted, with the seconds set aside for
        # each (by the length its header declares), so the next one counts them.
        self._converting: defaultdict[int, dict[int, tuple[str, float]]] = defaultdict(dict)
        self._settled: dict[int, asyncio.Event] = {}  # set when one of them is done

    async def prepare(self, ref: Reference, *, owner: int) -> Reference:
        """Download, check, normalise and host `ref`; returns it as it now stands.

        ``owner`` is the user who sent it: their files take turns with everyone else's for the
        media workers.
        """
        turns = self._turns.setdefault(ref.draft_id, _Turns())
        ticket = turns.take()
        try:
            ready = await self._check(ref, owner, turns, ticket)
        finally:
            turns.finish(ticket)
            if turns.idle and self._turns.get(ref.draft_id) is turns:
                del self._turns[ref.draft_id]
        if ready is None:
            return await self._reference(ref.id)
        if ready.hosted_url is not None:
            return ready
        try:
            return await self.ensure_hosted(ready)
        except HOSTING_FAILURES as exc:
            # Not fatal here: the submit hosts it again and reports a lasting failure.
            log.warning("reference %s: hosting failed: %s", ref.id, exc)
            return ready

    def drafts_in_flight(self) -> int:
        """How many drafts have a file being checked (or waiting for its turn) now."""
        return len(self._turns)

    def queue_ahead(self, owner: int) -> int | None:
        """Files from others waiting for a media worker before ``owner``'s next one."""
        return self._jobs.ahead(owner)

    async def _check(
        self, ref: Reference, owner: int, turns: _Turns, ticket: int
    ) -> Reference | None:
        refusal = self._files.size_refusal(ref.size)
        if refusal is not None:
            await self._drafts.mark_rejected(ref.id, *refusal)
            return None
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        download = self._tmp_dir / f"ref{ref.id}-{secrets.token_hex(6)}.part"
        try:
            await self._files.download(ref.telegram_file_id, download)
            kind, declared = await self._what(ref, download, owner)
            await turns.wait(ticket)
            left = await self._admit(ref, kind)
            if kind in SECONDS_BUDGET and declared is None:
                # A sound, or a clip of unknown length: what is left for the next one depends
                # on its real length, so it is converted and recorded before the next one's turn.
                result = await self._normalise(ref, kind, download, left, owner)
                return await self._ready(ref, kind, result, host=False)
            share = 0.0  # an image's
            if declared is not None:  # a clip: the length its header declares is set aside
                # (never less than the minimum, so one declared too short is refused for that)
                share = min(left, max(declared, MIN_SECONDS[kind]))
            self._converting[ref.draft_id][ref.id] = (kind, share)
            turns.finish(ticket)  # the next files go ahead while this one is converted
            result = await self._normalise(ref, kind, download, share or left, owner)
            return await self._ready(ref, kind, result, host=True)
        except DownloadError as exc:
            await self._drafts.mark_rejected(ref.id, exc.code, dict(exc.params))
            return None
        except MediaRejected as exc:
            await self._drafts.mark_rejected(ref.id, exc.code, dict(exc.params))
            return None
        except OSError as exc:
            # Most likely a full disk: the user hears it plainly, the owner sees it in the log.
            log.error("reference %s: could not store the file: %s", ref.id, exc)
            code = "disk_full" if exc.errno == errno.ENOSPC else "storage_error"
            await self._drafts.mark_rejected(ref.id, code, {})
            return None
        finally:
            converting = self._converting.get(ref.draft_id)
            if converting is not None and converting.pop(ref.id, None) is not None:
                if not converting:
                    del self._converting[ref.draft_id]
                settled = self._settled.pop(ref.draft_id, None)
                if settled is not None:
                    settled.set()  # a file waiting for its admission looks again
            download.unlink(missing_ok=True)

    async def _normalise(
        self, ref: Reference, kind: str, src: Path, max_seconds: float, owner: int
    ) -> Normalised:
        dest_dir = self._media_dir / f"d{ref.draft_id}"
        dest_dir.mkdir(parents=True, exist_ok=True)
        return await self._jobs.normalise(
            kind,
            src,
            dest_dir,
            stem=f"r{ref.id}-{secrets.token_urlsafe(12)}",
            max_seconds=max_seconds,
            owner=owner,
        )

    async def _ready(
        self, ref: Reference, kind: str, result: Normalised, *, host: bool
    ) -> Reference:
        """Record the converted file; with ``host``, host it first and record both at once."""
        ready: dict[str, Any] = {
            "kind": kind,
            "local_path": str(result.path),
            "mime_type": result.mime_type,
            "width": result.width,
            "height": result.height,
            "duration": result.duration,
            "size": result.size,
            "changes": result.changes,
        }
        if host:
            ready.update(await self._host_now(ref, result))
        await self._drafts.mark_ready(ref.id, **ready)
        # As the row now reads, without reading it back (the store is busy enough).
        return replace(ref, status=RefStatus.READY, **ready)

    async def _host_now(self, ref: Reference, result: Normalised) -> dict[str, Any]:
        """Where the converted file is hosted, as mark_ready's fields; {} if hosting failed (the
        submit tries again and reports a lasting failure)."""
        try:
            hosted = await self._host.host(
                result.path, file_name=result.path.name, mime_type=result.mime_type
            )
        except HOSTING_FAILURES as exc:
            log.warning("reference %s: hosting failed: %s", ref.id, exc)
            return {}
        self._metrics.media_bytes_hosted.inc(result.size)
        return {
            "hosted_url": hosted.url,
            "hosted_id": hosted.remote_id,
            "hosted_expires_at": hosted.expires_at,
        }

    async def _what(self, ref: Reference, path: Path, owner: int) -> tuple[str, float | None]:
        """The reference's kind (read from the content for documents) and, for a clip, the
        length its header declares (None when unknown, and for sounds, whose headers are
        estimates)."""
        if ref.kind == "auto":
            info = await self._identify(path, owner)
            return info.kind, info.duration if info.kind == "video" else None
        if ref.kind != "video":
            return ref.kind, None
        try:
            info = await self._jobs.probe(path, owner=owner)
        except MediaRejected:
            return ref.kind, None  # the conversion will refuse it, with the same words
        return ref.kind, info.duration if info.kind == "video" else None

    async def _identify(self, path: Path, owner: int) -> Probe:
        """What a document holds, read from its content."""
        try:
            return await self._jobs.probe(path, owner=owner)
        except MediaRejected as exc:
            if exc.code in _IDENTIFY_SPEAKS_FOR_ITSELF:
                raise
            raise MediaRejected("not_media") from None

    async def _admit(self, ref: Reference, kind: str) -> float:
        """Check the draft has room for one more `kind`; the seconds left for it (0: image).

        Files of the draft already converted count, and so do those admitted before this one
        and still being converted, with the seconds set aside for them. When only those still
        converting stand in the way, this waits for them: one may yet be refused, and the
        decision is then the one a file-by-file check would make.
        """
        while True:
            # Only what the decision needs (not every file's whole row: an album asks 15 times).
            others = await self._drafts.ready_of_kind(ref.draft_id, kind)
            others.pop(ref.id, None)
            converting = [
                seconds
                for other, (other_kind, seconds) in self._converting.get(ref.draft_id, {}).items()
                # those converted are in `others` already, if not yet out of this list
                if other != ref.id and other_kind == kind and other not in others
            ]
            if len(others) >= MAX_COUNT[kind]:
                raise MediaRejected("too_many", kind=kind, limit=MAX_COUNT[kind])
            left = SECONDS_BUDGET.get(kind, 0.0) - sum(d or 0.0 for d in others.values())
            if kind in SECONDS_BUDGET and left < MIN_SECONDS[kind]:
                raise MediaRejected("no_budget", kind=kind, total=SECONDS_BUDGET[kind])
            full = len(others) + len(converting) >= MAX_COUNT[kind]
            if not full and (
                kind not in SECONDS_BUDGET or left - sum(converting) >= MIN_SECONDS[kind]
            ):
                return left - sum(converting)
            await self._settled.setdefault(ref.draft_id, asyncio.Event()).wait()

    async def ensure_hosted(self, ref: Reference) -> Reference:
        """Host `ref` unless it already has a URL valid for long enough."""
        now = self._clock()
        if ref.hosted_url and (ref.hosted_expires_at or 0) > now + HOSTING_MARGIN_SECONDS:
            return ref
        if ref.local_path is None or ref.mime_type is None:
            raise ValueError(f"reference {ref.id} is not ready")
        path = Path(ref.local_path)
        hosted = await self._host.host(path, file_name=path.name, mime_type=ref.mime_type)
        await self._drafts.mark_hosted(
            ref.id, url=hosted.url, hosted_id=hosted.remote_id, expires_at=hosted.expires_at
        )
        self._metrics.media_bytes_hosted.inc(ref.size or 0)
        return replace(
            ref,
            hosted_url=hosted.url,
            hosted_id=hosted.remote_id,
            hosted_expires_at=hosted.expires_at,
        )

    async def _reference(self, ref_id: int) -> Reference:
        ref = await self._drafts.reference(ref_id)
        assert ref is not None
        return ref


class _Turns:
    """Turns handed out in the order tickets were taken; a ticket given up still passes its turn.

    Synchronous bookkeeping only, so a cancelled holder cannot leave the others waiting.
    """

    def __init__(self) -> None:
        self._taken = 0
        self._serving = 0
        self._finished: set[int] = set()
        self._wakeups: dict[int, asyncio.Event] = {}

    def take(self) -> int:
        """The next ticket."""
        self._taken += 1
        return self._taken - 1

    async def wait(self, ticket: int) -> None:
        """Until every earlier ticket is finished."""
        if self._serving != ticket:
            await self._wakeups.setdefault(ticket, asyncio.Event()).wait()

    def finish(self, ticket: int) -> None:
        """Done with this ticket's turn (or giving it up); safe to call again."""
        if ticket < self._serving:
            return
        self._finished.add(ticket)
        while self._serving in self._finished:
            self._finished.discard(self._serving)
            self._wakeups.pop(self._serving, None)
            self._serving += 1
        wakeup = self._wakeups.get(self._serving)
        if wakeup is not None:
            wakeup.set()

    @property
    def idle(self) -> bool:
        """Whether every ticket taken is finished."""
        return self._serving == self._taken
