"""The bot's side of media work: typed calls that run in the worker pool, never in the bot.

Nothing here imports PyAV or Pillow; every file a user sends is decoded in a
:mod:`bot.media.worker` process. A job that kills its worker or passes its deadline comes back as
``MediaRejected("unprocessable", reason=...)``, like any other refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.media.pool import MediaPool, WorkerLost
from bot.media.results import MediaRejected, Probe

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
    """Probe and normalise files, and give results a sound track, in the pool's workers.

    ``owner`` (the user the file came from) decides the file's turn in the pool's fair queue.
    ``on_unprocessable`` hears the reason of each file refused for stopping its worker.
    """

    def __init__(
        self, pool: MediaPool, *, on_unprocessable: Callable[[str], None] | None = None
    ) -> None:
        self._pool = pool
        self._on_unprocessable = on_unprocessable

    @property
    def waiting(self) -> int:
        """Files queued for a free worker."""
        return self._pool.waiting

    @property
    def busy(self) -> int:
        """Workers working on a file."""
        return self._pool.busy

    def start(self) -> None:
        """Start the workers (in the background: the first job waits for them if need be)."""
        self._pool.start()

    async def close(self) -> None:
        """Stop the workers."""
        await self._pool.close()

    def ahead(self, owner: int) -> int | None:
        """Files queued before ``owner``'s next one; None when it has none waiting."""
        return self._pool.ahead(owner)

    async def probe(self, path: Path, *, owner: int) -> Probe:
        """What the file really is, read from its content."""
        return Probe(**await self._run({"kind": "probe", "src": str(path)}, owner))

    async def normalise(
        self, kind: str, src: Path, dest_dir: Path, *, stem: str, max_seconds: float, owner: int
    ) -> Normalised:
        """Check and fix `src` as a reference of `kind`; MediaRejected if it cannot be used."""
        job = {
            "kind": kind,
            "src": str(src),
            "dest_dir": str(dest_dir),
            "stem": stem,
            "max_seconds": max_seconds,
        }
        data = await self._run(job, owner)
        return Normalised(
            path=Path(data["path"]),
            mime_type=data["mime_type"],
            size=int(data["size"]),
            width=data.get("width"),
            height=data.get("height"),
            duration=data.get("duration"),
            changes=list(data.get("changes", [])),
        )

    async def ensure_audio_track(self, src: Path, dest_dir: Path, *, owner: int) -> Path:
        """`src` if the video has sound, else a copy with a silent track (see video_audio)."""
        job = {"kind": "audio_track", "src": str(src), "dest_dir": str(dest_dir)}
        return Path((await self._run(job, owner))["path"])

    async def _run(self, job: dict[str, Any], owner: int) -> dict[str, Any]:
        try:
            answer = await self._pool.run(job, owner=owner)
        except WorkerLost as exc:
            log.warning("media job %s on %s: worker lost (%s)", job["kind"], job["src"], exc.reason)
            answer = {"ok": False, "code": "unprocessable", "params": {"reason": exc.reason}}
        if answer.get("ok"):
            result: dict[str, Any] = answer["result"]
            return result
        code, params = str(answer.get("code", "corrupt")), dict(answer.get("params", {}))
        if "detail" in answer:
            log.error("media job %s on %s failed: %s", job["kind"], job["src"], answer["detail"])
        if code == "unprocessable" and self._on_unprocessable is not None:
            self._on_unprocessable(str(params.get("reason", "")))
        raise MediaRejected(code, **params)
