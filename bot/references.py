"""Turning a file a user sent into a checked, normalised, hosted reference."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import asdict
from pathlib import Path

from bot.evolink import EvolinkError
from bot.hosting import MediaHost
from bot.media.images import MediaRejected, normalise_image
from bot.telegram_files import DownloadError, TelegramFiles
from storage.db import Clock
from storage.drafts import DraftStore
from storage.models import Reference

log = logging.getLogger(__name__)

# A hosted URL must stay valid at least this long after the submit, so the upstream can fetch it.
HOSTING_MARGIN_SECONDS = 3600


class ReferenceProcessor:
    """Downloads, checks, fixes and hosts one reference; the outcome is written to the store."""

    def __init__(
        self,
        *,
        drafts: DraftStore,
        files: TelegramFiles,
        host: MediaHost,
        media_dir: Path,
        tmp_dir: Path,
        timeout_seconds: float = 120.0,
        clock: Clock = time.time,
    ) -> None:
        self._drafts = drafts
        self._files = files
        self._host = host
        self._media_dir = media_dir
        self._tmp_dir = tmp_dir
        self._timeout = timeout_seconds
        self._clock = clock

    async def prepare(self, ref: Reference) -> Reference:
        """Download, normalise and host `ref`; returns it as it now stands (ready or rejected)."""
        if self._files.too_big(ref.size):
            await self._drafts.mark_rejected(ref.id, "too_big_for_telegram", {"size": ref.size})
            return await self._reference(ref.id)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        download = self._tmp_dir / f"ref{ref.id}-{secrets.token_hex(6)}.part"
        try:
            await self._files.download(ref.telegram_file_id, download)
            dest_dir = self._media_dir / f"d{ref.draft_id}"
            dest_dir.mkdir(parents=True, exist_ok=True)
            stem = f"r{ref.id}-{secrets.token_urlsafe(12)}"
            # Decoding runs in a worker thread: other chats stay responsive meanwhile.
            result = await asyncio.wait_for(
                asyncio.to_thread(normalise_image, download, dest_dir, stem=stem), self._timeout
            )
        except DownloadError as exc:
            await self._drafts.mark_rejected(ref.id, exc.code, dict(exc.params))
        except MediaRejected as exc:
            await self._drafts.mark_rejected(ref.id, exc.code, dict(exc.params))
        except TimeoutError:
            await self._drafts.mark_rejected(ref.id, "timeout", {})
        else:
            await self._drafts.mark_ready(
                ref.id,
                local_path=str(result.path),
                mime_type=result.mime_type,
                width=result.width,
                height=result.height,
                duration=None,
                size=result.size,
                changes=[asdict(change) for change in result.changes],
            )
            try:
                return await self.ensure_hosted(await self._reference(ref.id))
            except EvolinkError as exc:
                # Not fatal here: the submit hosts it again and reports a lasting failure.
                log.warning("reference %s: hosting failed: %s", ref.id, exc)
        finally:
            download.unlink(missing_ok=True)
        return await self._reference(ref.id)

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
        return await self._reference(ref.id)

    async def _reference(self, ref_id: int) -> Reference:
        ref = await self._drafts.reference(ref_id)
        assert ref is not None
        return ref
