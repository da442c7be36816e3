"""A burst of heavy media from many users at once: memory, every user's outcome, and whether the
bot still answers others meanwhile.

Run with ``python -m bench.burst`` from the repository root (``--help`` for the sizes). The bot
runs as users run it, ``python -m bot`` in a child process with the product's defaults
(MEDIA_WORKERS: one per CPU); the fake Telegram and the fake Evolink run in this process.

At once, 20 users each send the same 1080p HEVC clip (the kind an iPhone records; it has to be
transcoded) as a video, and 6 users each send a 9400×9500 PNG of a few hundred kilobytes (89
megapixels, just under the pixel guard) as a file. Meanwhile another user sends /help, waits
for the answer, and sends it again, until every file has an outcome. Every 50 ms the resident
memory (VmRSS) of the bot process and the sum over all its descendants (the media workers) are
read from /proc. The report: peak RSS of the bot and of the workers together, each user's
outcome and how long it took, and /help's latency (p50, p95, max).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ChildBot, Result, TimedEvolink, percentile, print_run, table
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import flat_png, write_video

HELP_USER = 99_999
FIRST_CLIP_USER = 60_001
FIRST_PNG_USER = 61_001


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    clip_users: int = 20
    png_users: int = 6
    clip_size: tuple[int, int] = (1920, 1080)
    clip_seconds: float = 5.0
    clip_codec: str = "libx265"
    png_size: tuple[int, int] = (9400, 9500)
    time_limit: float = 600.0
    warm_seconds: float = 3.0  # after start, before the burst: the workers are up by then
    env: dict[str, str] = field(default_factory=dict)  # extra settings for the bot

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the test suite (one worker, so files queue)."""
        return cls(
            clip_users=6,
            png_users=1,
            clip_size=(640, 480),
            clip_seconds=2.5,
            clip_codec="mpeg4",
            png_size=(3000, 3000),
            time_limit=120.0,
            warm_seconds=1.0,
            env={"MEDIA_WORKERS": "1"},
        )


@dataclass
class Memory:
    """Peak resident memory seen, in MiB."""

    bot_idle: float = 0.0
    bot_peak: float = 0.0
    workers_peak: float = 0.0
    workers_most: int = 0  # the most descendant processes seen at once


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


async def watch_memory(pid: int, memory: Memory, stop: asyncio.Event) -> None:
    """Sample the bot's and its descendants' RSS every 50 ms until ``stop`` is set."""
    while not stop.is_set():
        memory.bot_peak = max(memory.bot_peak, _rss_mb(pid))
        workers = descendants(pid)
        memory.workers_peak = max(memory.workers_peak, sum(_rss_mb(w) for w in workers))
        memory.workers_most = max(memory.workers_most, len(workers))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


def outcome(telegram: FakeTelegram, chat: int) -> str | None:
    """What became of a user's file, as far as their chat shows: None while nothing final."""
    texts = [c.text for c in telegram.calls if c.ok and str(c.params.get("chat_id")) == str(chat)]
    for text in texts:
        if "can't be used: " in text:
            reason = text.split("can't be used: ", 1)[1]
            return "refused: " + reason.split(".")[0]
    for text in reversed(texts):
        if "References: " in text and "being checked" not in text:
            refs = text.split("References: ", 1)[1].split("\n")[0]
            return f"ready: {refs}" if "none yet" not in refs else None
    return None


def queue_shown(telegram: FakeTelegram, chat: int) -> bool:
    """Whether the user was told their file waits for a free converter."""
    return any(
        "Waiting for a free converter" in c.text
        for c in telegram.calls
        if str(c.params.get("chat_id")) == str(chat)
    )


async def ask_help(telegram: FakeTelegram, latencies: list[float], stop: asyncio.Event) -> None:
    """/help, wait for the answer, again, until ``stop`` is set."""
    while not stop.is_set():
        sent = time.time()
        before = len(telegram.calls)
        telegram.send_text(HELP_USER, HELP_USER, "/help")
        answered = await telegram.wait_for(
            lambda c, since=sent: (
                c.method == "sendMessage"
                and c.at >= since
                and str(c.params.get("chat_id")) == str(HELP_USER)
            ),
            timeout=60,
        )
        latencies.append(answered.at - sent)
        assert len(telegram.calls) > before
        await asyncio.sleep(0.1)


async def run(cfg: Config) -> Result:
    """Send the burst and report."""
    with tempfile.TemporaryDirectory(prefix="burst-bench-") as tmp:
        work = Path(tmp)
        width, height = cfg.clip_size
        print(f"making a {width}×{height} {cfg.clip_codec} clip…", file=sys.stderr)
        clip = write_video(
            work / "clip.mp4",
            width=width,
            height=height,
            seconds=cfg.clip_seconds,
            fps=30,
            codec=cfg.clip_codec,
        ).read_bytes()
        png = flat_png(*cfg.png_size)
        async with FakeTelegram() as telegram, TimedEvolink() as evolink:
            bot = ChildBot(telegram, evolink, work / "bot" / "data", **cfg.env)
            await bot.start()
            memory, stop = Memory(), asyncio.Event()
            latencies: list[float] = []
            try:
                await asyncio.sleep(cfg.warm_seconds)  # the media workers start with the bot
                memory.bot_idle = _rss_mb(bot.pid)
                watcher = asyncio.create_task(watch_memory(bot.pid, memory, stop))
                helper = asyncio.create_task(ask_help(telegram, latencies, stop))
                users = _send(telegram, cfg, clip, png)
                started = time.time()
                finished = await _wait_for_outcomes(telegram, users, started, cfg.time_limit)
                elapsed = time.time() - started
            finally:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.gather(watcher, helper)
                await bot.stop()
            problems = [p for p in bot.problems() if "Traceback" in p or " ERROR " in p]
    return _report(cfg, telegram, users, finished, elapsed, memory, latencies, problems)


def _send(telegram: FakeTelegram, cfg: Config, clip: bytes, png: bytes) -> dict[int, str]:
    users: dict[int, str] = {}
    width, height = cfg.clip_size
    with telegram.held():  # everything at once
        for n in range(cfg.clip_users):
            chat = FIRST_CLIP_USER + n
            telegram.send_video(
                chat, chat, clip, width=width, height=height, duration=round(cfg.clip_seconds)
            )
            users[chat] = "clip"
        for n in range(cfg.png_users):
            chat = FIRST_PNG_USER + n
            telegram.send_document(chat, chat, png, file_name="scan.png")
            users[chat] = "png"
    return users


async def _wait_for_outcomes(
    telegram: FakeTelegram, users: dict[int, str], started: float, limit: float
) -> dict[int, float]:
    finished: dict[int, float] = {}
    while len(finished) < len(users) and time.time() - started < limit:
        for chat in users:
            if chat not in finished and outcome(telegram, chat) is not None:
                finished[chat] = time.time() - started
        await asyncio.sleep(0.05)
    return finished


def _report(
    cfg: Config,
    telegram: FakeTelegram,
    users: dict[int, str],
    finished: dict[int, float],
    elapsed: float,
    memory: Memory,
    latencies: list[float],
    problems: list[str],
) -> Result:
    width, height = cfg.clip_size
    png_kb = len(flat_png(*cfg.png_size)) // 1024
    rows = []
    for kind, label in (
        ("clip", f"{width}×{height} {cfg.clip_codec} {cfg.clip_seconds:g} s clip, as a video"),
        (
            "png",
            f"{cfg.png_size[0]}×{cfg.png_size[1]} PNG ({png_kb} KB), as a file",
        ),
    ):
        chats = [c for c, k in users.items() if k == kind]
        if not chats:
            continue
        outcomes = Counter(outcome(telegram, c) or "no answer in time" for c in chats)
        times = [finished[c] for c in chats if c in finished]
        for text, count in sorted(outcomes.items()):
            rows.append((f"{label}", text, str(count)))
        rows.append(
            (
                "",
                "time to outcome p50 / p95 / max s",
                " / ".join(f"{percentile(times, q):.1f}" for q in (50, 95, 100)) if times else "–",
            )
        )
        shown = sum(1 for c in chats if queue_shown(telegram, c))
        rows.append(("", "told they were in the queue", str(shown)))
    out = [
        f"Burst: {cfg.clip_users} users send a clip and {cfg.png_users} a huge PNG, at once "
        "(bot = `python -m bot` child; fakes on loopback)",
        table(("users sending", "outcome", "users"), rows),
        "",
        table(
            ("measure", "value"),
            [
                ("bot RSS before the burst (workers warm) MB", f"{memory.bot_idle:.0f}"),
                ("bot RSS peak MB", f"{memory.bot_peak:.0f}"),
                ("media workers: peak RSS, all together MB", f"{memory.workers_peak:.0f}"),
                ("media workers: most processes at once", str(memory.workers_most)),
                (
                    f"/help from another user meanwhile ({len(latencies)}): p50 / p95 / max ms",
                    " / ".join(f"{percentile(latencies, q) * 1000:.0f}" for q in (50, 95, 100)),
                ),
                ("every outcome within s", f"{elapsed:.1f}"),
                ("bot log: errors", str(len(problems))),
            ],
        ),
    ]
    outcomes = [outcome(telegram, chat) or "" for chat in users]
    figures = {
        "ready": float(sum(1 for text in outcomes if text.startswith("ready"))),
        "told_queued": float(sum(1 for chat in users if queue_shown(telegram, chat))),
        "help.answers": float(len(latencies)),
        "bot.idle_mb": memory.bot_idle,
        "bot.peak_mb": memory.bot_peak,
        "workers.peak_mb": memory.workers_peak,
        "help.p50": percentile(latencies, 50),
        "help.p95": percentile(latencies, 95),
        "outcomes": float(len(finished)),
    }
    return Result("\n".join(out), figures)


def main() -> None:
    """Parse the sizes, run, print the tables."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip-users", type=int, default=defaults.clip_users)
    parser.add_argument("--png-users", type=int, default=defaults.png_users)
    parser.add_argument("--time-limit", type=float, default=defaults.time_limit)
    args = parser.parse_args()
    cfg = Config(clip_users=args.clip_users, png_users=args.png_users, time_limit=args.time_limit)
    result = print_run(run(cfg))
    if result.figures["outcomes"] < cfg.clip_users + cfg.png_users:
        raise SystemExit("some users got no outcome within the time limit")


if __name__ == "__main__":
    main()
