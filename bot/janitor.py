"""Clean-up: media of finished drafts, stale drafts, half-written temp files, old group media."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bot.evolink import EvolinkError
from bot.hosting import RemovableHost
from storage import Store
from storage.db import Clock

log = logging.getLogger(__name__)

HOUR = 3600.0
DAY = 24 * HOUR
# Hosted copies of an open draft nobody touched for this long are taken down; a submit after
# that uploads them again.
UNHOST_IDLE_SECONDS = 6 * HOUR
UNHOST_BATCH = 500
UNHOST_CONCURRENCY = 8  # deletes in flight at once

# A draft no task can still need files of: closed, and every task of it over and delivered.
# The upstream may still be fetching the files of a submit we could not confirm: a day's grace.
_NO_TASK_NEEDS_IT = (
    "d.state IN ('submitted', 'cancelled')"
    " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.draft_id = d.id AND ("
    "   t.status IN ('preparing', 'submitting', 'pending', 'processing')"
    "   OR (t.status = 'unknown' AND t.updated_at > ?)"
    "   OR (t.status IN ('completed', 'failed', 'cancelled')"
    "       AND t.delivery IN ('none', 'sending'))))"
)
# ... and open drafts left alone: their files can be hosted again when they are submitted.
_NO_HOSTED_COPY_NEEDED = f"(({_NO_TASK_NEEDS_IT}) OR (d.state = 'open' AND d.updated_at < ?))"
# The queries, from the fixed fragments above (no input is ever formatted into them).
_FINISHED_DRAFTS = (
    "SELECT DISTINCT d.id FROM drafts d JOIN refs r ON r.draft_id = d.id"  # noqa: S608
    f" WHERE r.local_path IS NOT NULL AND {_NO_TASK_NEEDS_IT}"
)
_UNNEEDED_HOSTED = (
    "SELECT r.id, r.hosted_id FROM refs r JOIN drafts d ON d.id = r.draft_id"  # noqa: S608
    f" WHERE r.hosted_id IS NOT NULL AND {_NO_HOSTED_COPY_NEEDED} ORDER BY r.id LIMIT ?"
)
_FORGET_HOSTED = (
    "UPDATE refs SET hosted_id = NULL, hosted_url = NULL, hosted_expires_at = NULL"  # noqa: S608
    " WHERE id = ? AND hosted_id = ? AND EXISTS"
    f" (SELECT 1 FROM drafts d WHERE d.id = refs.draft_id AND {_NO_HOSTED_COPY_NEEDED})"
)


@dataclass(frozen=True)
class SweepResult:
    """What one sweep removed."""

    drafts_cleaned: int
    drafts_expired: int
    temp_files: int
    group_media: int
    hosted_removed: int = 0


class Janitor:
    """Removes files nobody needs any more; what a task might still need is left alone."""

    def __init__(
        self,
        *,
        store: Store,
        media_dir: Path,
        tmp_dir: Path,
        draft_ttl_seconds: float = 7 * DAY,
        host: RemovableHost | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._host = host
        self._media_dir = media_dir
        self._tmp_dir = tmp_dir
        self._draft_ttl = draft_ttl_seconds
        self._clock = clock

    async def sweep(self) -> SweepResult:
        """One pass over everything; safe to run at any time, and again."""
        now = self._clock()
        expired = await self._store.db.write(
            "UPDATE drafts SET state = 'cancelled', updated_at = ?"
            " WHERE state = 'open' AND updated_at < ?",
            (now, now - self._draft_ttl),
        )
        cleaned = 0
        for draft_id in await self._finished_drafts(now):
            await asyncio.to_thread(shutil.rmtree, self._media_dir / f"d{draft_id}", True)
            await self._store.db.write(
                "UPDATE refs SET local_path = NULL WHERE draft_id = ?", (draft_id,)
            )
            cleaned += 1
        temp = await asyncio.to_thread(self._remove_old_temp_files, now - HOUR)
        group = await self._store.group_media.prune(now - 2 * DAY)
        unhosted = await self._remove_hosted_copies(now)
        result = SweepResult(cleaned, expired, temp, group, unhosted)
        if any((cleaned, expired, temp, group, unhosted)):
            log.info("clean-up: %s", result)
        return result

    async def _finished_drafts(self, now: float) -> list[int]:
        """Drafts with files on disk that no task can still need."""
        rows = await self._store.db.fetchall(_FINISHED_DRAFTS, (now - DAY,))
        return [int(row[0]) for row in rows]

    async def _remove_hosted_copies(self, now: float) -> int:
        """Take down uploaded copies (Files API) that no task can still need, so abandoned and
        finished drafts do not use up the account's file quota until the files expire."""
        if self._host is None:
            return 0
        params = (now - DAY, now - UNHOST_IDLE_SECONDS)
        removed = 0
        while rows := await self._store.db.fetchall(_UNNEEDED_HOSTED, (*params, UNHOST_BATCH)):
            # Forgotten first, in one statement that checks the draft again: a submit starting
            # now finds no URL and uploads afresh, rather than hand over one being deleted.
            claimed = [
                str(remote_id)
                for ref_id, remote_id in rows
                if await self._store.db.write(_FORGET_HOSTED, (ref_id, remote_id, *params))
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
            except EvolinkError as exc:
                # It expires by itself within 72 hours; nothing else depends on it any more.
                log.warning("clean-up: hosted file %s not deleted: %s", remote_id, exc)
                return False
        return True

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
