"""Putting reference media where the upstream can fetch them: Evolink's Files API, this server
(signed URLs) or S3.

Imports bot.evolink and storage.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from bot.evolink import EvolinkClient, EvolinkError
from bot.hosting.signing import UrlSigner
from storage.db import Clock

FILES_API_TTL = 72 * 3600


@dataclass(frozen=True)
class Hosted:
    """A URL the upstream can fetch, until `expires_at` (unix seconds)."""

    url: str
    expires_at: float
    remote_id: str | None = None


class HostingError(Exception):
    """A store of reference files (S3, ...) refused or could not be reached: nothing was
    submitted. The message names the failure, never credentials."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# What hosting a reference can fail with: the Files API's errors, or another store's.
HOSTING_FAILURES = (EvolinkError, HostingError)


class MediaHost(Protocol):
    """Makes a local file reachable by URL. Never hands out a Telegram file URL."""

    async def host(self, path: Path, *, file_name: str, mime_type: str) -> Hosted:
        """Host the file and return its URL."""
        ...


class RemovableHost(Protocol):
    """A host that can take a file down before it expires (it counts against a quota)."""

    async def remove(self, remote_id: str) -> None:
        """Delete the hosted copy; one that is already gone counts as deleted."""
        ...


class EvolinkFilesHost:
    """Uploads to Evolink's Files API (files live 72 hours there, within a file quota)."""

    def __init__(self, client: EvolinkClient, *, clock: Clock = time.time) -> None:
        self._client = client
        self._clock = clock

    async def host(self, path: Path, *, file_name: str, mime_type: str) -> Hosted:
        """Upload the file, streamed."""
        uploaded = await self._client.upload(path, file_name=file_name, mime_type=mime_type)
        expires = self._clock() + FILES_API_TTL
        if uploaded.expires_at:
            with contextlib.suppress(ValueError):
                expires = datetime.fromisoformat(uploaded.expires_at).timestamp()
        return Hosted(url=uploaded.file_url, expires_at=expires, remote_id=uploaded.file_id)

    async def remove(self, remote_id: str) -> None:
        """Delete the uploaded copy, giving its place in the quota back."""
        await self._client.delete_file(remote_id)


class LocalHost:
    """Serves files from the media directory through the bot's web server, by signed URL."""

    def __init__(
        self,
        *,
        media_dir: Path,
        public_url: str,
        signer: UrlSigner,
        ttl_seconds: int,
        clock: Clock = time.time,
    ) -> None:
        self._media_dir = media_dir.resolve()
        self._public_url = public_url.rstrip("/")
        self._signer = signer
        self._ttl = ttl_seconds
        self._clock = clock

    async def host(self, path: Path, *, file_name: str, mime_type: str) -> Hosted:
        """Sign a URL for a file already stored under the media directory."""
        relative = path.resolve().relative_to(self._media_dir).as_posix()
        expires = int(self._clock()) + self._ttl
        signature = self._signer.sign(relative, expires)
        url = f"{self._public_url}/media/{expires}/{signature}/{quote(relative)}"
        return Hosted(url=url, expires_at=float(expires))

    def resolve(self, expires: int, signature: str, relative: str) -> Path | None:
        """The file a signed URL names, or None if the signature, expiry or path is bad."""
        if not self._signer.verify(relative, expires, signature, now=self._clock()):
            return None
        candidate = (self._media_dir / relative).resolve()
        if not candidate.is_relative_to(self._media_dir) or not candidate.is_file():
            return None
        return candidate
