"""Clean-up: media of finished drafts, stale drafts, half-written temp files, old group media."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bot.hosting import HOSTING_FAILURES, RemovableHost
from bot.runtime.durations import DAY, HOUR
from storage import Store
from storage.db import Clock

log = logging.getLogger(__name__)

# Hosted copies of an open draft nobody touched for this long are taken down; a submit after
# that uploads them again.
UNHOST_IDLE_SECONDS = 6 * HOUR
UNHOST_BATCH = 500
UNHOST_CONCURRENCY = 8  # deletes in flight at once


@dataclass(frozen=True)
class SweepResult:
    """What one sweep removed."""

    drafts_cleaned: int
    drafts_expired: int
    temp_files: int
    group_media: int
    hosted_removed: int = 0


class Janitor:
    """Removes files nobody needs any more; what a task might still need is left alone.

    Safe on every replica at once: each cleans its own disk (its media and temp files); the
    database's clean-up runs on one replica per `every` seconds (a lease on the job).
    """

    def __init__(
        self,
        *,
        store: Store,
        media_dir: Path,
        tmp_dir: Path,
        draft_ttl_seconds: float = 7 * DAY,
        host: RemovableHost | None = None,
        every: float | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._host = host
        self._media_dir = media_dir
        self._tmp_dir = tmp_dir
        self._draft_ttl = draft_ttl_seconds
        self._every = every
        self._clock = clock

    async def sweep(self) -> SweepResult:
        """One pass over everything; safe to run at any time, and again, anywhere."""
        now = self._clock()
        drafts = self._store.drafts
        expired = group = unhosted = 0
        if self._every is None or await self._store.replicas.claim_job(
            "clean-up", every=self._every * 0.9
        ):
            expired = await drafts.expire_stale(now - self._draft_ttl)
            group = await self._store.group_media.prune(now - 2 * DAY)
            await self._store.oneshots.prune(now - 2 * DAY)
            # Telegram sends no copy of an update a day after it.
            await self._store.inbox.prune(now - DAY)
            unhosted = await self._remove_hosted_copies(now)
        cleaned = 0
        # The upstream may still be fetching the files of a submit we could not confirm.
        on_disk = await asyncio.to_thread(self._draft_dirs)
        for draft_id in await drafts.finished_among(on_disk, unconfirmed_since=now - DAY):
            await asyncio.to_thread(shutil.rmtree, self._media_dir / f"d{draft_id}", True)
            await drafts.forget_files(draft_id)
            cleaned += 1
        temp = await asyncio.to_thread(self._remove_old_temp_files, now - HOUR)
        result = SweepResult(cleaned, expired, temp, group, unhosted)
        if any((cleaned, expired, temp, group, unhosted)):
            log.info("clean-up: %s", result)
        return result

    async def _remove_hosted_copies(self, now: float) -> int:
        """Take down uploaded copies (Files API) that no task can still need, so abandoned and
        finished drafts do not use up the account's file quota until the files expire."""
        if self._host is None:
            return 0
        drafts = self._store.drafts
        since, idle = now - DAY, now - UNHOST_IDLE_SECONDS
        removed = 0
        while rows := await drafts.unneeded_hosted(
            unconfirmed_since=since, idle_before=idle, limit=UNHOST_BATCH
        ):
            # Forgotten first, checking the draft again: a submit starting now finds no URL and
            # uploads afresh, rather than hand over one being deleted.
            claimed = [
                remote_id
                for ref_id, remote_id in rows
                if await drafts.forget_hosted(
                    ref_id, remote_id, unconfirmed_since=since, idle_before=idle
                )
            ]
            gate = asyncio.Semaphore(UNHOST_CONCURRENCY)
            done = await asyncio.gather(*(self._remove(remote_id, gate) for remote_id in claimed))
            removed += sum(done)
            if not claimed or len(rows) < UNHOST_BATCH:
                break
        return removed

    async def _remove(self, remote_id: str, gate: asyncio.Semaphore) -> bool:
        assert self._host is not None
        async with gate:
            try:
                await self._host.remove(remote_id)
            except HOSTING_FAILURES as exc:
                # It expires by itself within 72 hours; nothing else depends on it any more.
                log.warning("clean-up: hosted file %s not deleted: %s", remote_id, exc)
                return False
        return True

    def _draft_dirs(self) -> list[int]:
        """Drafts with a media folder on this replica's disk (d<id>)."""
        if not self._media_dir.exists():
            return []
        return sorted(
            int(path.name[1:])
            for path in self._media_dir.iterdir()
            if path.is_dir() and path.name[:1] == "d" and path.name[1:].isdigit()
        )

    def _remove_old_temp_files(self, before: float) -> int:
        if not self._tmp_dir.exists():
            return 0
        removed = 0
        for path in self._tmp_dir.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < before:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
