"""Downloading users' files from Telegram to disk, streamed, without ever exposing the file URL.

The URL of a file on the cloud Bot API contains the bot token: it is used here, once, and never
logged, stored or handed to anyone.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
from telegram import Bot
from telegram.error import BadRequest, TelegramError

CHUNK = 256 * 1024


class DownloadError(Exception):
    """The file could not be fetched; `code` names why for the user."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class TelegramFiles:
    """Fetches a file by `file_id` into a local path."""

    def __init__(
        self, bot: Bot, http: httpx.AsyncClient, *, local_mode: bool, max_bytes: int | None
    ) -> None:
        self._bot = bot
        self._http = http
        self._local_mode = local_mode
        self._max_bytes = max_bytes

    def too_big(self, size: int | None) -> bool:
        """Whether Telegram will refuse to hand a file of this size to the bot."""
        return size is not None and self._max_bytes is not None and size > self._max_bytes

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
        if self._local_mode and Path(source).is_absolute():
            # A self-hosted Bot API server in --local mode hands out paths on a shared volume.
            await asyncio.to_thread(shutil.copyfile, source, dest)
            return dest.stat().st_size
        return await self._stream(source, dest)

    async def _stream(self, url: str, dest: Path) -> int:
        size = 0
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise DownloadError("download_failed")
                with dest.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if self._max_bytes is not None and size > self._max_bytes:
                            raise DownloadError("too_big_for_telegram", size=size)
                        out.write(chunk)
        except httpx.HTTPError:
            # The exception text could carry the URL, and with it the token: drop it.
            raise DownloadError("download_failed") from None
        return size
