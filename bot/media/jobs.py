"""Running media work off the event loop: images in a thread, video and audio in a child process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.media.images import normalise_image
from bot.media.probe import Probe
from bot.media.results import MediaRejected
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Normalised:
    """A file ready to be hosted, whatever its kind."""

    path: Path
    mime_type: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)


class MediaJobs:
    """Probe and normalise files with a deadline per file."""

    def __init__(self, *, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    async def probe(self, path: Path) -> Probe:
        """What the file really is, read from its content (by FFmpeg, in a child process)."""
        return Probe(**await self._in_child({"kind": "probe", "src": str(path)}))

    async def normalise(
        self, kind: str, src: Path, dest_dir: Path, *, stem: str, max_seconds: float
    ) -> Normalised:
        """Check and fix `src` as a reference of `kind`; MediaRejected if it cannot be used."""
        if kind == "image":
            try:
                image = await asyncio.wait_for(
                    asyncio.to_thread(normalise_image, src, dest_dir, stem=stem), self._timeout
                )
            except TimeoutError:
                raise MediaRejected("timeout") from None
            return Normalised(
                path=image.path,
                mime_type=image.mime_type,
                size=image.size,
                width=image.width,
                height=image.height,
                changes=[{"code": c.code, "params": dict(c.params)} for c in image.changes],
            )
        job = {
            "kind": kind,
            "src": str(src),
            "dest_dir": str(dest_dir),
            "stem": stem,
            "max_seconds": max_seconds,
        }
        data = await self._in_child(job)
        return Normalised(
            path=Path(data["path"]),
            mime_type=data["mime_type"],
            size=int(data["size"]),
            width=data.get("width"),
            height=data.get("height"),
            duration=data.get("duration"),
            changes=list(data.get("changes", [])),
        )

    async def _in_child(self, job: dict[str, Any]) -> dict[str, Any]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.media.worker",
            env=child_environment(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(
                process.communicate(json.dumps(job).encode()), self._timeout
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            raise MediaRejected("timeout") from None
        if process.returncode != 0:
            log.warning("media worker exited with %s: %s", process.returncode, err.decode()[-500:])
            raise MediaRejected("corrupt")
        answer: dict[str, Any] = json.loads(out)
        if not answer.get("ok"):
            raise MediaRejected(str(answer.get("code", "corrupt")), **answer.get("params", {}))
        result: dict[str, Any] = answer["result"]
        return result


def child_environment() -> dict[str, str]:
    """This process's environment without the bot's settings: a file-converting child needs
    none of them, and they hold the secrets (bot token, API key, DATABASE_URL's password)."""
    settings = {name.upper() for name in Settings.model_fields}
    return {name: value for name, value in os.environ.items() if name.upper() not in settings}
