"""Downloading users' files from Telegram to disk, streamed, without ever exposing the file URL.

The URL of a file on the cloud Bot API contains the bot token: it is used here, once, and never
logged, stored or handed to anyone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot.runtime.http_session import LazySession

CHUNK = 256 * 1024


class DownloadError(Exception):
    """The file could not be fetched; `code` names why for the user."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class TelegramFiles:
    """Fetches a file by `file_id` into a local path, refusing files over `max_bytes`.

    The cloud Bot API hands out at most 20 MB; a self-hosted server in --local mode up to
    2000 MB, which the bot caps at TELEGRAM_LOCAL_MAX_FILE_MB so one reference cannot fill the
    disk or the media worker's time.
    """

    def __init__(self, bot: Bot, http: LazySession, *, local_mode: bool, max_bytes: int) -> None:
        self._bot = bot
        self._http = http
        self._local_mode = local_mode
        self._max_bytes = max_bytes

    def size_refusal(self, size: int | None) -> tuple[str, dict[str, object]] | None:
        """(reason code, its parameters) when a file of this size will not be fetched."""
        if size is None or size <= self._max_bytes:
            return None
        refusal = self._too_big(size)
        return refusal.code, dict(refusal.params)

    def _too_big(self, size: int) -> DownloadError:
        if self._local_mode:
            # Our own cap, not Telegram's: the text names it.
            return DownloadError("too_big_to_download", size=size, limit=self._max_bytes)
        return DownloadError("too_big_for_telegram", size=size)

    async def download(self, file_id: str, dest: Path) -> int:
        """Write the file to `dest`; returns its size in bytes."""
        try:
            tg_file = await self._bot.get_file(file_id)
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise DownloadError("too_big_for_telegram", size_mb="over 20") from None
            raise DownloadError("download_failed") from None
        except TelegramError:
            raise DownloadError("download_failed") from None
        source = tg_file.file_path
        if not source:
            raise DownloadError("download_failed")
        if tg_file.file_size is not None and tg_file.file_size > self._max_bytes:
            raise self._too_big(tg_file.file_size)
        if self._local_mode and Path(source).is_absolute():
            # A self-hosted Bot API server in --local mode hands out paths on a shared volume.
            return await asyncio.to_thread(self._copy, Path(source), dest)
        return await self._stream(source, dest)

    def _copy(self, source: Path, dest: Path) -> int:
        """Copy from the shared volume, stopping at the cap whatever the file's size said."""
        size = 0
        with source.open("rb") as src, dest.open("wb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                if size > self._max_bytes:
                    raise self._too_big(size)
                out.write(chunk)
        return size

    async def _stream(self, url: str, dest: Path) -> int:
        size = 0
        try:
            async with self._http.get().get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise DownloadError("download_failed")
                with dest.open("wb") as out:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        if size > self._max_bytes:
                            raise self._too_big(size)
                        out.write(chunk)
        except (aiohttp.ClientError, TimeoutError):
            # The exception text could carry the URL, and with it the token: drop it.
            raise DownloadError("download_failed") from None
        return size
