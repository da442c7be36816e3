"""Turning a file a user sent into a checked, normalised, hosted reference."""

from __future__ import annotations

import errno
import logging
import secrets
import time
from pathlib import Path

from bot import limits
from bot.evolink import EvolinkError
from bot.hosting import MediaHost
from bot.keyed_locks import KeyedLocks
from bot.media.jobs import MediaJobs
from bot.media.results import MediaRejected
from bot.metrics import Metrics
from bot.telegram_files import DownloadError, TelegramFiles
from storage.db import Clock
from storage.drafts import DraftStore
from storage.models import Reference, RefStatus

log = logging.getLogger(__name__)

# A hosted URL must stay valid at least this long after the submit, so the upstream can fetch it.
HOSTING_MARGIN_SECONDS = 3600

MAX_COUNT = {"image": limits.MAX_IMAGES, "video": limits.MAX_VIDEOS, "audio": limits.MAX_AUDIOS}
SECONDS_BUDGET = {"video": limits.VIDEO_TOTAL_SECONDS, "audio": limits.AUDIO_TOTAL_SECONDS}
MIN_SECONDS = {"video": limits.VIDEO_MIN_SECONDS, "audio": limits.AUDIO_MIN_SECONDS}


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
        # One file at a time per draft, in arrival order: counts and the 15 s budgets are then
        # decided in the order the user sent the files.
        self._draft_locks: KeyedLocks[int] = KeyedLocks()

    def drafts_in_flight(self) -> int:
        """How many drafts have a file being checked (or waiting for its turn) now."""
        return len(self._draft_locks)

    async def prepare(self, ref: Reference) -> Reference:
        """Download, check, normalise and host `ref`; returns it as it now stands."""
        async with self._draft_locks.hold(ref.draft_id):
            ready = await self._check(ref)
        if ready is None:
            return await self._reference(ref.id)
        try:
            return await self.ensure_hosted(ready)
        except EvolinkError as exc:
            # Not fatal here: the submit hosts it again and reports a lasting failure.
            log.warning("reference %s: hosting failed: %s", ref.id, exc)
            return ready

    async def _check(self, ref: Reference) -> Reference | None:
        refusal = self._files.size_refusal(ref.size)
        if refusal is not None:
            await self._drafts.mark_rejected(ref.id, *refusal)
            return None
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        download = self._tmp_dir / f"ref{ref.id}-{secrets.token_hex(6)}.part"
        try:
            await self._files.download(ref.telegram_file_id, download)
            kind = ref.kind if ref.kind != "auto" else await self._identify(download)
            max_seconds = await self._admit(ref, kind)
            dest_dir = self._media_dir / f"d{ref.draft_id}"
            dest_dir.mkdir(parents=True, exist_ok=True)
            result = await self._jobs.normalise(
                kind,
                download,
                dest_dir,
                stem=f"r{ref.id}-{secrets.token_urlsafe(12)}",
                max_seconds=max_seconds,
            )
        except DownloadError as exc:
            await self._drafts.mark_rejected(ref.id, exc.code, dict(exc.params))
            return None
        except MediaRejected as exc:
            await self._drafts.mark_rejected(ref.id, exc.code, dict(exc.params))
            return None
        except TimeoutError:
            await self._drafts.mark_rejected(ref.id, "timeout", {})
            return None
        except OSError as exc:
            # Most likely a full disk: the user hears it plainly, the owner sees it in the log.
            log.error("reference %s: could not store the file: %s", ref.id, exc)
            code = "disk_full" if exc.errno == errno.ENOSPC else "storage_error"
            await self._drafts.mark_rejected(ref.id, code, {})
            return None
        finally:
            download.unlink(missing_ok=True)
        await self._drafts.mark_ready(
            ref.id,
            kind=kind,
            local_path=str(result.path),
            mime_type=result.mime_type,
            width=result.width,
            height=result.height,
            duration=result.duration,
            size=result.size,
            changes=result.changes,
        )
        return await self._reference(ref.id)

    async def _identify(self, path: Path) -> str:
        """What a document holds, read from its content."""
        try:
            return (await self._jobs.probe(path)).kind
        except MediaRejected:
            raise MediaRejected("not_media") from None

    async def _admit(self, ref: Reference, kind: str) -> float:
        """Check the draft has room for one more `kind`; returns the seconds left for it."""
        others = [
            r
            for r in await self._drafts.references(ref.draft_id)
            if r.id != ref.id and r.status is RefStatus.READY and r.kind == kind
        ]
        if len(others) >= MAX_COUNT[kind]:
            raise MediaRejected("too_many", kind=kind, limit=MAX_COUNT[kind])
        if kind not in SECONDS_BUDGET:
            return 0.0
        left = SECONDS_BUDGET[kind] - sum(r.duration or 0.0 for r in others)
        if left < MIN_SECONDS[kind]:
            raise MediaRejected("no_budget", kind=kind, total=SECONDS_BUDGET[kind])
        return left

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
        return await self._reference(ref.id)

    async def _reference(self, ref_id: int) -> Reference:
        ref = await self._drafts.reference(ref_id)
        assert ref is not None
        return ref
