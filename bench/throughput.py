"""Text-update throughput of the bot against a bare python-telegram-bot echo bot.

Run with ``python -m bench.throughput`` from the repository root (``--help`` for the sizes).
Each bot runs in a child process against its own fake Telegram in this process: the bot as
``python -m bench._bot_child`` (``python -m bot`` with the rate limiter chosen below) and the
echo bot as ``python -m bench._echo_bot`` (one MessageHandler replying with the same text). Once
a bot long-polls, N ``/help`` messages from 50 users are queued at once; the time runs from then
until the fake Telegram received the N-th reply (sendMessage). Both answer each update with one
sendMessage; both process updates one at a time (python-telegram-bot's default, which the bot
keeps).

Two rate-limiter modes, the same for both bots:
- ``shipped``: AIORateLimiter(max_retries=3), as bot.app.build_application builds it. Telegram's
  30 messages/s overall flood limit then caps both, whatever their speed (fewer updates, so
  the run stays short).
- ``off``: a pass-through limiter in both, to compare the bots' own cost per update.

"bot CPU" is the child's utime + stime (/proc) per update; "fake CPU" is this process's CPU
time over the wall time (the fake Telegram; near 100 % it would be the bottleneck).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ChildBot, Result, TimedEvolink, cpu_seconds, print_run, table
from tests.fakes.telegram import FakeTelegram

BOTS = {"bot": "bench._bot_child", "echo": "bench._echo_bot"}
# Besides /help, a workload that touches the database: plain text sets the draft's prompt
# (draft created or updated, summary rendered and sent anew: still one sendMessage each).
PROMPT = "a red fox runs through fresh snow at dawn, the camera follows it"
MODES = {
    "off": "no rate limiter (both)",
    "shipped": "AIORateLimiter as shipped (both)",
}


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    updates: int = 2000
    limited_updates: int = 300
    users: int = 50
    modes: tuple[str, ...] = ("off", "shipped")
    prompt_workload: bool = True
    settle: float = 0.5  # after start-up, before the updates are queued
    repeats: int = 3  # of the runs without rate limiter (medians are shown)

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the smoke test."""
        return cls(
            updates=20, limited_updates=20, users=5, prompt_workload=False, settle=0.05, repeats=1
        )


@dataclass
class Run:
    """One bot, one mode."""

    updates: int
    seconds: float
    bot_cpu: float
    fake_cpu: float

    @property
    def rate(self) -> float:
        return self.updates / self.seconds


async def one(
    work: Path,
    which: str,
    mode: str,
    updates: int,
    users: int,
    text: str = "/help",
    settle: float = 0.5,
) -> Run:
    """Start one bot, queue the updates, wait for every reply, stop it."""
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        bot = ChildBot(
            telegram,
            evolink,
            work / "data",
            module=BOTS[which],
            BENCH_RATE_LIMITER=mode,
        )
        await bot.start()
        try:
            await asyncio.sleep(settle)  # past start-up: the first getUpdates is waiting
            chats = {70_000 + n for n in range(users)}
            cpu_before, fake_before = cpu_seconds(bot.pid), time.process_time()
            with telegram.held():
                for n in range(updates):
                    chat = 70_000 + n % users
                    telegram.send_text(chat, chat, text)
            queued = time.time()
            replies: list[float] = []
            seen = 0
            deadline = time.monotonic() + 60 + updates / 5
            while len(replies) < updates:
                calls = telegram.calls
                for call in calls[seen:]:
                    if call.method == "sendMessage" and call.ok and call.params["chat_id"] in chats:
                        replies.append(call.at)
                seen = len(calls)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{which}/{mode}: {len(replies)} of {updates} replies")
                await asyncio.sleep(0.01)
            wall = time.time() - queued
            bot_cpu = cpu_seconds(bot.pid) - cpu_before
            fake_cpu = time.process_time() - fake_before
        finally:
            await bot.stop()
        errors = [p for p in bot.problems() if "Traceback" in p or " ERROR " in p]
        if errors:
            raise RuntimeError(f"{which}/{mode} logged errors:\n" + "\n".join(errors[:20]))
        return Run(updates, max(replies) - queued, bot_cpu, fake_cpu / wall)


def _row(mode: str, label: str, runs: list[Run]) -> tuple[str, ...]:
    """Medians over the repeats, with the range of the rates when there are several."""
    rates = [r.rate for r in runs]
    spread = f"{min(rates):.0f}–{max(rates):.0f}" if len(runs) > 1 else ""
    return (
        mode,
        label,
        f"{runs[0].updates} × {len(runs)}",
        f"{statistics.median(r.seconds for r in runs):.2f}",
        f"{statistics.median(rates):.0f}",
        spread,
        f"{statistics.median(1000 * r.bot_cpu / r.updates for r in runs):.2f}",
        f"{statistics.median(100 * r.fake_cpu for r in runs):.0f}",
    )


async def run(cfg: Config) -> Result:
    """Both bots in every mode; the report and its figures."""
    rows: list[tuple[str, ...]] = []
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="throughput-bench-") as tmp:
        count = 0

        async def measure(which: str, mode: str, updates: int, text: str = "/help") -> Run:
            nonlocal count
            count += 1
            what = "updates" if text == "/help" else "prompt texts"
            print(f"{which}, rate limiter {mode}: {updates} {what}", file=sys.stderr)
            work = Path(tmp) / str(count)
            return await one(work, which, mode, updates, cfg.users, text, cfg.settle)

        for mode in cfg.modes:
            updates = cfg.updates if mode == "off" else cfg.limited_updates
            repeats = cfg.repeats if mode == "off" else 1
            runs: dict[str, list[Run]] = {which: [] for which in BOTS}
            for n in range(repeats):  # alternate the order, so drift favours neither
                for which in list(BOTS) if n % 2 == 0 else list(reversed(BOTS)):
                    runs[which].append(await measure(which, mode, updates))
            rows.append(_row(MODES[mode], "seedance bot", runs["bot"]))
            rows.append(_row("", "echo bot", runs["echo"]))
            rates = {which: statistics.median(r.rate for r in rs) for which, rs in runs.items()}
            ratio = rates["bot"] / rates["echo"]
            rows.append(("", "ratio bot / echo (medians)", "", "", f"{ratio:.2f}", "", "", ""))
            figures[f"{mode}.bot.rate"] = rates["bot"]
            figures[f"{mode}.echo.rate"] = rates["echo"]
            figures[f"{mode}.ratio"] = ratio
            if mode == "off" and cfg.prompt_workload:
                prompt = [await measure("bot", mode, updates, PROMPT) for _ in range(repeats)]
                rows.append(_row("", "seedance bot, prompt text instead of /help", prompt))
                figures[f"{mode}.prompt.rate"] = statistics.median(r.rate for r in prompt)
    header = (
        "rate limiter",
        "bot",
        "updates × runs",
        "seconds",
        "updates/s",
        "range",
        "bot CPU ms/update",
        "fake CPU %",
    )
    text = (
        f"Text-update throughput: N × /help from {cfg.users} users queued at once → N-th reply "
        "(each bot a child process)\n" + table(header, rows, left=2)
    )
    return Result(text, figures)


def main() -> None:
    """Parse the sizes, run, print the table."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=defaults.updates)
    parser.add_argument("--limited-updates", type=int, default=defaults.limited_updates)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(defaults.modes))
    args = parser.parse_args()
    cfg = Config(
        updates=args.updates,
        limited_updates=args.limited_updates,
        users=args.users,
        modes=tuple(args.modes),
        repeats=args.repeats,
    )
    print_run(run(cfg))


if __name__ == "__main__":
    main()
