"""A media worker: a long-lived child process that decodes and encodes user files, one at a time.

``python -m bot.media.worker --parent PID --memory-mb N --cpu-seconds N``, started by
:class:`bot.media.pool.MediaPool`. FFmpeg and Pillow decode whatever users send; here a hostile or
broken file can at worst crash or exhaust this process, never the bot. The process:

- caps its address space (RLIMIT_AS) and, per job, its CPU time (RLIMIT_CPU): a runaway decode
  ends in a MemoryError answer or a SIGXCPU death, which the pool turns into a refusal;
- dies with its parent (PR_SET_PDEATHSIG), so no worker outlives a killed bot;
- imports PyAV, Pillow and the normalisers once, then says ``{"ready": ...}`` and serves jobs:
  one JSON object per line on stdin, one answer per line on the answer channel (the original
  stdout; anything a library prints goes to stderr instead, so it cannot garble an answer).

Answers: ``{"ok": true, "result": {...}}`` or ``{"ok": false, "code": ..., "params": {...}}``,
plus ``"detail"`` (for the log) when the code is ``unprocessable``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import importlib
import json
import os
import resource
import signal
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from bot.media.results import MediaRejected, OutputCheckFailed

_PR_SET_PDEATHSIG = 1


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Do one job; the result or the refusal as plain data (exceptions other than refusals,
    a full disk and broken output checks propagate)."""
    kind, src = job["kind"], Path(job["src"])
    try:
        result = _dispatch(kind, src, job)
    except MediaRejected as exc:
        return {"ok": False, "code": exc.code, "params": dict(exc.params)}
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            return {"ok": False, "code": "disk_full", "params": {}}
        raise
    return {"ok": True, "result": result}


def _dispatch(kind: str, src: Path, job: dict[str, Any]) -> dict[str, Any]:
    # Imported here as well as at start-up, so run() also works in a process that skipped it.
    if kind == "probe":
        from bot.media.probe import probe

        return asdict(probe(src))
    if kind == "audio_track":
        from bot.media.video_audio import ensure_audio_track

        return {"path": str(ensure_audio_track(src, Path(job["dest_dir"])))}
    dest_dir, stem = Path(job["dest_dir"]), str(job["stem"])
    result: Any
    if kind == "image":
        from bot.media.images import normalise_image

        result = normalise_image(src, dest_dir, stem=stem)
    elif kind == "video":
        from bot.media.video import normalise_video

        result = normalise_video(src, dest_dir, stem=stem, max_seconds=float(job["max_seconds"]))
    elif kind == "audio":
        from bot.media.audio import normalise_audio

        result = normalise_audio(src, dest_dir, stem=stem, max_seconds=float(job["max_seconds"]))
    else:
        raise MediaRejected("not_supported")
    data = asdict(result)
    data["path"] = str(result.path)
    data["changes"] = [{"code": c.code, "params": dict(c.params)} for c in result.changes]
    return data


def answer_for(job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The answer to a job, and whether this process should stop afterwards."""
    try:
        return run(job), False
    except MemoryError:
        # The heap may be in any state now: answer, then leave for a fresh worker.
        return _unprocessable("memory", "MemoryError"), True
    except OutputCheckFailed as exc:
        return _unprocessable("check", f"output check failed: {exc}"), False
    except Exception:
        return _unprocessable("crashed", traceback.format_exc(limit=8)), False


def _unprocessable(reason: str, detail: str) -> dict[str, Any]:
    return {"ok": False, "code": "unprocessable", "params": {"reason": reason}, "detail": detail}


def _die_with(parent: int) -> None:
    """Be killed when the parent dies, however it dies (Linux; elsewhere stdin EOF ends us)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _limit_memory(megabytes: int) -> None:
    cap = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    # Should the machine run out of memory anyway, the kernel kills a worker, not the bot.
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")


def _limit_cpu(seconds: float) -> None:
    """Allow this job ``seconds`` of CPU time (all threads) on top of what was used so far.

    Only the soft limit moves, so it can go up again for the next job; past it the kernel sends
    SIGXCPU, whose default action ends the process.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _answer_channel() -> IO[str]:
    """The original stdout, for answers only; fd 1 itself now points at stderr."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


_JOB_MODULES = (
    "bot.media.probe",
    "bot.media.images",
    "bot.media.video",
    "bot.media.audio",
    "bot.media.video_audio",
)


def _warm_up() -> None:
    """Load everything a job needs (PyAV, Pillow, pillow-heif) before the first one arrives."""
    for name in _JOB_MODULES:
        importlib.import_module(name)


def main() -> None:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(description="seedance-bot media worker")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--cpu-seconds", type=float, required=True)
    args = parser.parse_args()
    _die_with(args.parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the bot, which then stops us
    answers = _answer_channel()
    _limit_memory(args.memory_mb)
    _warm_up()
    answers.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    answers.flush()
    for line in sys.stdin:
        job = json.loads(line)
        _limit_cpu(args.cpu_seconds)
        answer, leave = answer_for(job)
        answer["id"] = job.get("id")
        if leave:
            answer["leaving"] = True
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
        if leave:
            break


if __name__ == "__main__":
    main()
