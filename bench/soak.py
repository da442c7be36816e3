"""Memory over many drafts: 10,000 drafts opened, filled, then cancelled, generated or abandoned.

Run with ``python -m bench.soak`` from the repository root (``--help`` for the sizes). The bot
runs as ``python -m bench._bot_child`` (``python -m bot`` with its rate limiter switched off, so
Telegram's 30 messages/s ceiling does not stretch the run to hours) in a child process; the fake
Telegram and the fake Evolink run in this process. Every user is a private chat of its own and
goes through one of four flows, in turn:

- prompt: a text prompt (a draft and its summary), then /cancel;
- menu: a photo with a caption, the duration menu opened, then /cancel;
- generate: a photo with a caption, /generate; the fake Evolink completes the task on the
  bot's second query, and the video is sent (Telegram fetches it by URL);
- abandoned: a photo and a prompt, then nothing: the draft stays open.

Photos are small (400×300 JPEG): the run measures what piles up per draft, not media work.
Up to ``--concurrent`` users are in flight at once. Hosting is the Files API (the default);
the periodic clean-up runs every 10 s, so finished drafts' uploads are deleted as they would be.

RSS is the child's VmRSS (/proc) once it has started, after a warm-up of ``--warmup`` drafts and
a pause ("start"), at every fifth of the run, and after the last draft, the background work
and one clean-up ("end"). Growth = end − start; the target is at most 10 MB for 10,000 drafts.
Peak is VmHWM. The warm-up is long enough for what is bounded by design to reach its size, so
that the growth shows what piles up per draft: the ids of the last 10,000 updates (kept to
drop a repeated update), SQLite's page cache (2 MB), CPython 3.11's table of interned path
parts (pathlib interns every file name it parses; the names are freed, the table's size stays).
The clean-up also hands freed heap memory back (bot.runtime.heap): readings during the run fall
between
two clean-ups, "start" and "end" each come after one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ChildBot, Result, load, machine, memory_mb, table
from bot.telegram.texts import t
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import Call, FakeTelegram
from tests.mediagen import image_bytes, write_video

FLOWS = ("prompt", "menu", "generate", "abandoned")
FIRST_USER = 100_000
DISCARDED = t("en", "draft_cancelled", count=0).split("(")[0].strip()  # "Draft discarded"


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    drafts: int = 10_000
    warmup: int = 3_000
    concurrent: int = 64
    settle: float = 15.0  # seconds of quiet before a reading: background work, one clean-up
    checkpoints: int = 5
    object_counts: bool = False  # also show which object types grew (gc, in the child)

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the smoke test."""
        return cls(drafts=24, warmup=8, concurrent=8, settle=1.0, checkpoints=2)


class QuickEvolink(FakeEvolink):
    """The fake Evolink with one result video for every task (the bot downloads none: it hands
    Telegram the URL), and credits and a file quota that do not run out: they are not what
    this measures."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.credits = 1e12
        self.files_max_count = 10**9
        self._shared: Path | None = None

    async def start(self) -> None:
        await super().start()
        self._shared = await asyncio.to_thread(
            write_video, self._dir("results") / "shared.mp4", width=640, height=360, seconds=2
        )

    async def complete(self, task_id: str, **kwargs: Any) -> None:
        task = self.tasks[task_id]
        task.status, task.progress, task.error = "completed", 100, None
        task.result_path, task.expired = self._shared, False
        task.results = [f"{self.base_url}/results/{task_id}.mp4"]


class Mailboxes:
    """The bot's calls sorted by chat as they arrive, so each user waits only for its own."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self._telegram = telegram
        self._seen = 0
        self._boxes: dict[int, asyncio.Queue[Call]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            calls = self._telegram.calls
            for call in calls[self._seen :]:
                chat = call.params.get("chat_id")
                if isinstance(chat, int) and chat in self._boxes:
                    self._boxes[chat].put_nowait(call)
            self._seen = len(calls)
            await asyncio.sleep(0.005)

    def open(self, chat: int) -> None:
        self._boxes[chat] = asyncio.Queue()

    def close(self, chat: int) -> None:
        self._boxes.pop(chat, None)

    async def expect(
        self, chat: int, predicate: Callable[[Call], bool], what: str, within: float = 120.0
    ) -> Call:
        box = self._boxes[chat]
        try:
            async with asyncio.timeout(within):
                while not ((call := await box.get()).ok and predicate(call)):
                    pass
        except TimeoutError:
            raise TimeoutError(f"chat {chat}: no {what} within {within:g} s") from None
        return call


def _summary(*needles: str) -> Callable[[Call], bool]:
    def match(call: Call) -> bool:
        markup = str(call.params.get("reply_markup", ""))
        return (
            call.method in {"sendMessage", "editMessageText"}
            and ":gen" in markup
            and all(n in call.text for n in needles)
            and "still being checked" not in call.text
        )

    return match


def _text(needle: str) -> Callable[[Call], bool]:
    return lambda call: needle in call.text


def _menu_shown(call: Call) -> bool:
    return call.method == "editMessageText" and ":dur=" in str(call.params.get("reply_markup"))


def _video_or_failure(call: Call) -> bool:
    return call.method == "sendVideo" or call.text.startswith("❌")


async def one_draft(
    telegram: FakeTelegram, mail: Mailboxes, user: int, photo: bytes, flow: str
) -> None:
    """One user, one draft, one flow."""
    mail.open(user)
    try:
        if flow == "prompt":
            telegram.send_text(user, user, f"a lighthouse in a storm, take {user}")
            await mail.expect(user, _summary("lighthouse"), "summary")
            telegram.send_text(user, user, "/cancel")
            await mail.expect(user, _text(DISCARDED), "cancel")
        elif flow == "menu":
            telegram.send_photo(user, user, photo, caption="a fox in the snow")
            summary = await mail.expect(user, _summary("image 1", "fox"), "summary")
            message_id = summary.result["message_id"]
            draft_id = str(summary.params["reply_markup"]).split("d:", 1)[1].split(":", 1)[0]
            telegram.press_button(user, user, message_id, f"d:{draft_id}:menu=dur")
            await mail.expect(user, _menu_shown, "duration menu")
            telegram.send_text(user, user, "/cancel")
            await mail.expect(user, _text(DISCARDED), "cancel")
        elif flow == "generate":
            telegram.send_photo(user, user, photo, caption="a heron takes off")
            await mail.expect(user, _summary("image 1", "heron"), "summary")
            telegram.send_text(user, user, "/generate")
            outcome = await mail.expect(user, _video_or_failure, "video", within=300)
            if outcome.method != "sendVideo":
                raise RuntimeError(f"chat {user}: no video but {outcome.text[:200]!r}")
        else:
            telegram.send_photo(user, user, photo, caption="a kite over the sea")
            await mail.expect(user, _summary("image 1", "kite"), "summary")
    finally:
        mail.close(user)


async def drive(
    telegram: FakeTelegram,
    mail: Mailboxes,
    users: range,
    photo: bytes,
    concurrent: int,
    done: list[int],
) -> None:
    """Every user of `users` through its flow, at most `concurrent` at once."""
    gate = asyncio.Semaphore(concurrent)

    async def one(user: int) -> None:
        async with gate:
            await one_draft(telegram, mail, user, photo, FLOWS[user % len(FLOWS)])
            done[0] += 1

    await asyncio.gather(*(one(user) for user in users))


async def _object_counts(bot: ChildBot) -> dict[str, int]:
    """Live objects by type in the child (SIGUSR1, see bench._bot_child)."""
    before = bot.log.count("OBJECTS ")
    assert bot.process is not None
    bot.process.send_signal(signal.SIGUSR1)
    for _ in range(500):
        await asyncio.sleep(0.02)
        lines = [line for line in bot.log.splitlines() if line.startswith("OBJECTS ")]
        if len(lines) > before:
            counts: dict[str, int] = json.loads(lines[-1].removeprefix("OBJECTS "))
            return counts
    raise TimeoutError("the bot did not count its objects")


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        drafts = dict(conn.execute("SELECT state, COUNT(*) FROM drafts GROUP BY state").fetchall())
        tasks = conn.execute("SELECT COUNT(*) FROM tasks WHERE delivery = 'delivered'").fetchone()
    return {**{str(k): int(v) for k, v in drafts.items()}, "delivered": int(tasks[0])}


async def run(cfg: Config) -> Result:
    """Warm up, read RSS, run the drafts with readings along the way, read RSS at the end."""
    with tempfile.TemporaryDirectory(prefix="soak-bench-") as tmp:
        work = Path(tmp)
        photo = image_bytes(400, 300, "JPEG")
        async with FakeTelegram() as telegram, QuickEvolink(auto_progress=True) as evolink:
            bot = ChildBot(
                telegram,
                evolink,
                work / "data",
                module="bench._bot_child",
                BENCH_RATE_LIMITER="off",
                ALBUM_QUIET_SECONDS="0.05",
                POLL_INTERVAL_SECONDS="0.5",
                PROGRESS_EDIT_SECONDS="5",
                CLEANUP_INTERVAL_SECONDS="10",
                DAILY_GENERATIONS_PER_USER="0",
                MAX_RUNNING_TASKS_PER_USER="0",
                LOG_LEVEL="WARNING",
                BENCH_OBJECT_COUNTS="1" if cfg.object_counts else "0",
            )
            mail = Mailboxes(telegram)
            mail.start()
            await bot.start()
            await asyncio.sleep(cfg.settle)
            readings: list[tuple[str, int, float, float]] = [
                ("after start-up", 0, *memory_mb(bot.pid))
            ]
            done = [0]
            started = time.perf_counter()
            try:
                user = FIRST_USER
                warmup = range(user, user + cfg.warmup)
                await drive(telegram, mail, warmup, photo, cfg.concurrent, done)
                user += cfg.warmup
                await asyncio.sleep(cfg.settle)
                readings.append(("start (after warm-up)", done[0], *memory_mb(bot.pid)))
                counted_before = await _object_counts(bot) if cfg.object_counts else {}
                step = max(1, cfg.drafts // cfg.checkpoints)
                soak_started = time.perf_counter()
                for first in range(0, cfg.drafts, step):
                    count = min(step, cfg.drafts - first)
                    users = range(user + first, user + first + count)
                    await drive(telegram, mail, users, photo, cfg.concurrent, done)
                    label = f"after {first + count:,} drafts"
                    readings.append((label, done[0], *memory_mb(bot.pid)))
                    print(f"  {first + count}/{cfg.drafts} drafts", file=sys.stderr)
                soak_seconds = time.perf_counter() - soak_started
                await asyncio.sleep(cfg.settle)
                readings.append(("end (quiet, after a clean-up)", done[0], *memory_mb(bot.pid)))
                counted_after = await _object_counts(bot) if cfg.object_counts else {}
            except BaseException:
                print(f"the bot's log ends:\n{bot.log[-4000:]}", file=sys.stderr)
                for rejected in evolink.rejected[-3:]:
                    urls = (rejected.get("body") or {}).get("image_urls") or []
                    for url in urls:
                        file_id = url.split("/files/")[1].split("/")[0]
                        seen = [r for r in evolink.requests if file_id in r[1]]
                        print(f"rejected {url}: {seen}", file=sys.stderr)
                raise
            finally:
                await mail.stop()
                await bot.stop()
            problems = [p for p in bot.problems() if "Traceback" in p or " ERROR " in p]
            largest = [ln for ln in bot.log.splitlines() if ln.startswith("LARGEST ")][-1:]
            counts = _counts(work / "data" / "bot.sqlite3")
            live_files = sum(1 for f in evolink.uploads if not f.deleted)
            uploads = len(evolink.uploads)
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    boot_rss, start_rss, end_rss = readings[0][2], readings[1][2], readings[-1][2]
    growth = end_rss - start_rss
    rows = [(label, f"{n:,}", f"{rss:.1f}", f"{peak:.1f}") for label, n, rss, peak in readings]
    lines = [
        f"Soak: {cfg.drafts:,} drafts after {cfg.warmup:,} of warm-up, {cfg.concurrent} users at "
        "once, flows in turn: prompt → cancel, photo + menu → cancel, photo → generate → video, "
        "photo → abandoned (bot = `python -m bot` child, rate limiter off; fakes on loopback)",
        table(("reading", "drafts done", "RSS MB", "peak MB"), rows),
        "",
        f"RSS growth over the {cfg.drafts:,} drafts: {growth:+.1f} MB "
        f"({growth * 1000 / max(cfg.drafts, 1):+.2f} MB per 1,000 drafts; target ≤ 10 MB); "
        f"since start-up, warm-up included: {end_rss - boot_rss:+.1f} MB",
        f"{cfg.drafts:,} drafts in {soak_seconds:.0f} s ({cfg.drafts / soak_seconds:.0f} drafts/s)",
        "database at the end: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
        + f"; Files API: {uploads:,} uploads, {live_files:,} still there"
        " (abandoned drafts keep theirs for 6 h)",
        f"errors or tracebacks in the bot's log: {len(problems)}",
        f"{machine()}; {load()} at the end; total {total:.0f} s",
    ]
    if problems:
        lines += problems[:10]
    if cfg.object_counts:
        grown = sorted(
            ((n - counted_before.get(k, 0), k) for k, n in counted_after.items()), reverse=True
        )
        lines.append("object types that grew most (live objects, end − start):")
        lines += [f"  {d:+8,} {k}" for d, k in grown[:15]]
        lines.append("largest collections at the end (length, type and a sample):")
        for name, size in json.loads(largest[0].removeprefix("LARGEST ")).items():
            lines.append(f"  {size:8,} {name}")
    figures = {
        "rss.start": start_rss,
        "rss.end": end_rss,
        "drafts_per_second": cfg.drafts / soak_seconds,
        "growth_abs_plus_1": abs(growth) + 1.0,
    }
    return Result("\n".join(lines), figures)


def main() -> None:
    """Parse the sizes, run, print the table."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=defaults.drafts)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--concurrent", type=int, default=defaults.concurrent)
    parser.add_argument(
        "--object-counts", action="store_true", help="also show which object types grew"
    )
    args = parser.parse_args()
    cfg = Config(
        drafts=args.drafts,
        warmup=args.warmup,
        concurrent=args.concurrent,
        object_counts=args.object_counts,
    )
    result = asyncio.run(run(cfg))
    print(result.text)


if __name__ == "__main__":
    main()
