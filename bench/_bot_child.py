"""The bot, ``python -m bot``, with its rate limiter switched off when BENCH_RATE_LIMITER=off.

bot.app.build_application builds its own AIORateLimiter (a subclass of it, counting flood
waits); there is no setting to change it. To measure the bot's own cost per update without
Telegram's 30 messages/s ceiling, AIORateLimiter.process_request is replaced by a pass-through
(subclasses inherit it) before the bot starts. Should the bot ever use a limiter that is not an
AIORateLimiter, start-up stops here with a message rather than measure the wrong thing.
``shipped`` (the default) changes nothing.

With BENCH_OBJECT_COUNTS=1, SIGUSR1 makes the child write one line to stderr: the number of live
objects of every type (after a garbage collection), for benchmarks that look for what grows.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import signal
import sys
from typing import Any

from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.__main__ import main

MODE = os.environ.get("BENCH_RATE_LIMITER", "shipped")


def switch_off() -> None:
    """Every AIORateLimiter lets every request through at once."""

    async def process_request(
        self: AIORateLimiter,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        return await callback(*args, **kwargs)

    AIORateLimiter.process_request = process_request  # type: ignore[method-assign]
    original = ApplicationBuilder.rate_limiter

    def rate_limiter(self: Any, limiter: Any) -> Any:
        if not isinstance(limiter, AIORateLimiter):
            raise SystemExit(
                f"bench._bot_child: the bot's rate limiter is a {type(limiter).__name__}, "
                "not an AIORateLimiter: cannot switch it off"
            )
        return original(self, limiter)

    ApplicationBuilder.rate_limiter = rate_limiter  # type: ignore[method-assign,assignment]


def _sample(container: Any) -> str:
    for item in container:
        return repr(item)[:60]
    return ""


def count_objects_on_signal() -> None:
    """SIGUSR1 → one line on stderr: OBJECTS {"type": count, ...}."""

    def dump(signum: int, frame: Any) -> None:
        gc.collect()
        if os.environ.get("BENCH_MALLOC_TRIM") == "1":  # give freed heap pages back first
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        objects = gc.get_objects()
        counts = collections.Counter(type(o).__qualname__ for o in objects)
        sized = [o for o in objects if isinstance(o, dict | list | set | frozenset | tuple)]
        largest = sorted(sized, key=len, reverse=True)[:12]
        biggest = {
            f"{type(o).__qualname__}#{i} {_sample(o)}": len(o) for i, o in enumerate(largest)
        }
        sys.stderr.write("OBJECTS " + json.dumps(dict(counts)) + "\n")
        sys.stderr.write("LARGEST " + json.dumps(biggest) + "\n")
        sys.stderr.flush()

    signal.signal(signal.SIGUSR1, dump)


def trace_on_signal() -> None:
    """BENCH_TRACE=1: the first SIGUSR2 starts tracemalloc; each later one writes TRACE and the
    25 source lines whose allocations grew most since the first."""
    import tracemalloc

    first: list[tracemalloc.Snapshot] = []

    def trace(signum: int, frame: Any) -> None:
        gc.collect()
        if not first:
            tracemalloc.start(1)
            first.append(tracemalloc.take_snapshot())
            return
        grown = tracemalloc.take_snapshot().compare_to(first[0], "lineno")[:25]
        lines = [f"{s.size_diff / 1024:9.1f} KiB {s.count_diff:+7d} {s.traceback}" for s in grown]
        sys.stderr.write("TRACE " + json.dumps(lines) + "\n")
        sys.stderr.flush()

    signal.signal(signal.SIGUSR2, trace)


if __name__ == "__main__":
    if os.environ.get("BENCH_OBJECT_COUNTS") == "1":
        count_objects_on_signal()
    if os.environ.get("BENCH_TRACE") == "1":
        trace_on_signal()
    if MODE == "off":
        switch_off()
    elif MODE != "shipped":
        raise SystemExit(f"bench._bot_child: unknown BENCH_RATE_LIMITER {MODE!r}")
    main()
