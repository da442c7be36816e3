"""A media worker with extra jobs for the pool's tests: ones that hang, crash, eat memory, burn
CPU time or report the worker's environment. ``python -m tests.media_worker_hooks ...`` takes
the real worker's arguments and is otherwise the real worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import bot.media.worker as worker

_real_dispatch = worker._dispatch


def _dispatch(kind: str, src: Path, job: dict[str, Any]) -> dict[str, Any]:
    if kind == "sleep":
        time.sleep(float(job["seconds"]))
        return {"slept": job["seconds"], "pid": os.getpid()}
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "eat":
        hoard = [bytearray(64 * 2**20) for _ in range(int(job["mb"]) // 64)]
        return {"ate": len(hoard) * 64}
    if kind == "burn":
        while True:
            pass
    if kind == "env":
        return {"pid": os.getpid(), "env": dict(os.environ)}
    return _real_dispatch(kind, src, job)


worker._dispatch = _dispatch

if __name__ == "__main__":
    worker.main()
