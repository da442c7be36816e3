"""A child process that probes or normalises one file: `python -m bot.media.worker`.

FFmpeg decodes whatever users send. In a child process a hostile or broken file can at worst
crash or exhaust that process, which the parent kills at its deadline, never the bot itself.
Reads one JSON job on stdin, writes one JSON answer on stdout.
"""

from __future__ import annotations

import errno
import json
import resource
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.media.results import MediaRejected

# Address-space cap for the child: far above what a 1080p transcode needs, far below the machine.
MEMORY_LIMIT_BYTES = 3 * 1024**3


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Normalise the file the job names; returns the result or the rejection as plain data."""
    kind, src = job["kind"], Path(job["src"])
    if kind == "probe":
        from bot.media.probe import probe

        try:
            return {"ok": True, "result": asdict(probe(src))}
        except MediaRejected as exc:
            return {"ok": False, "code": exc.code, "params": dict(exc.params)}
    dest_dir, stem = Path(job["dest_dir"]), str(job["stem"])
    max_seconds = float(job["max_seconds"])
    try:
        if kind == "video":
            from bot.media.video import normalise_video

            result: Any = normalise_video(src, dest_dir, stem=stem, max_seconds=max_seconds)
        elif kind == "audio":
            from bot.media.audio import normalise_audio

            result = normalise_audio(src, dest_dir, stem=stem, max_seconds=max_seconds)
        else:
            return {"ok": False, "code": "not_supported", "params": {}}
    except MediaRejected as exc:
        return {"ok": False, "code": exc.code, "params": dict(exc.params)}
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            return {"ok": False, "code": "disk_full", "params": {}}
        raise
    data = asdict(result)
    data["path"] = str(result.path)
    data["changes"] = [{"code": c.code, "params": dict(c.params)} for c in result.changes]
    return {"ok": True, "result": data}


def main() -> None:
    """Entry point of the child process."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    job = json.loads(sys.stdin.read())
    try:
        answer = run(job)
    except MemoryError:
        answer = {"ok": False, "code": "too_many_pixels", "params": {}}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
