"""What 1,000 tasks in flight cost the bot while nothing happens: memory, CPU, upstream queries.

Run with ``python -m bench.idle`` from the repository root (``--help`` for the sizes). The bot's
database is seeded through ``storage`` with one draft and one task per user, each task
``processing`` upstream since 300 s (past the fake's 120 s estimate, so the tracker polls at its
plain interval) and registered in the fake Evolink's task table as processing at 10 %. The bot
then runs as ``python -m bot`` in a child process with POLL_INTERVAL_SECONDS=10 and callbacks
off; the fakes run in this process. Every second the child's /proc/<pid>/stat (utime + stime)
and /proc/<pid>/status (VmRSS, VmHWM) are read, with the fake Evolink's task queries so far.
CPU % is of one core.

Three runs, each a fresh bot and database:
- baseline: no task at all;
- steady: the tasks' next polls spread evenly over one interval, as in a bot that has been
  running a while; the "steady" columns leave out the first interval;
- restart: every task due at once, as after a restart; one interval is sampled, and the time
  until every task was queried once is the restart sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ChildBot,
    Result,
    TimedEvolink,
    cpu_seconds,
    load,
    machine,
    memory_mb,
    seed_processing_tasks,
    table,
)
from tests.fakes.telegram import FakeTelegram


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    tasks: int = 1000
    interval: float = 10.0
    window: float = 60.0
    baseline_window: float = 15.0
    sample_every: float = 1.0

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the smoke test."""
        return cls(tasks=5, interval=0.3, window=1.2, baseline_window=0.5, sample_every=0.2)


@dataclass
class Sample:
    """One reading of the child and the fake."""

    at: float
    cpu: float
    rss: float
    hwm: float
    queries: int


@dataclass
class Measured:
    """One bot's run."""

    samples: list[Sample]
    ready_at: float
    first_sweep: float | None  # seconds from launch until every task was queried once
    seed_seconds: float
    db_mb: float
    problems: list[str]

    def between(self, start: float) -> list[Sample]:
        return [s for s in self.samples if s.at >= start]


def _rate(samples: list[Sample], attr: str) -> float:
    if len(samples) < 2:
        return float("nan")
    first, last = samples[0], samples[-1]
    return float(getattr(last, attr) - getattr(first, attr)) / (last.at - first.at)


async def measure(
    work: Path, tasks: int, interval: float, window: float, every: float, *, spread: bool
) -> Measured:
    """Seed `tasks` (due spread over an interval, or all at once), start the bot, sample it for
    `window` seconds, stop it."""
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        data = work / f"idle-{tasks}-{'spread' if spread else 'due'}" / "data"
        bot = ChildBot(
            telegram,
            evolink,
            data,
            POLL_INTERVAL_SECONDS=f"{interval:g}",
            PROGRESS_EDIT_SECONDS="5",
            EVOLINK_CALLBACKS="off",
        )
        started = time.perf_counter()
        seeded = await seed_processing_tasks(
            data / "bot.sqlite3",
            evolink,
            tasks,
            first_chat=100_000,
            next_poll_at=lambda i: time.time() + (interval * i / tasks if spread else 0.0),
        )
        seed_seconds = time.perf_counter() - started
        # The tracker starts polling before the bot reports ready: the sweep counts from launch.
        launched = time.time()
        await bot.start()
        ready = time.time()
        samples: list[Sample] = []
        try:
            while True:
                now = time.time()
                rss, hwm = memory_mb(bot.pid)
                queries = len(evolink.task_queries)
                samples.append(Sample(now, cpu_seconds(bot.pid), rss, hwm, queries))
                if now - ready >= window:
                    break
                await asyncio.sleep(min(every, ready + window - now))
        finally:
            await bot.stop()
        first_sweep = None
        wanted = {s.upstream_id for s in seeded}
        seen: set[str] = set()
        for upstream, at in zip(evolink.task_queries, evolink.query_at, strict=True):
            seen.add(upstream)
            if wanted and seen >= wanted:
                first_sweep = at - launched
                break
        db_mb = sum(p.stat().st_size for p in data.glob("bot.sqlite3*")) / 2**20
        return Measured(samples, ready, first_sweep, seed_seconds, db_mb, bot.problems())


async def run(cfg: Config) -> Result:
    """The baseline, the steady and the restart runs; the report and its figures."""
    every = cfg.sample_every
    with tempfile.TemporaryDirectory(prefix="idle-bench-") as tmp:
        work = Path(tmp)
        print("baseline: no task", file=sys.stderr)
        base = await measure(work, 0, cfg.interval, cfg.baseline_window, every, spread=True)
        print(f"steady: {cfg.tasks} tasks for {cfg.window:g} s", file=sys.stderr)
        steady = await measure(work, cfg.tasks, cfg.interval, cfg.window, every, spread=True)
        print(f"restart: {cfg.tasks} tasks due at once", file=sys.stderr)
        restart = await measure(work, cfg.tasks, cfg.interval, cfg.interval, every, spread=False)

    def cells(m: Measured, skip: float | None) -> tuple[str, ...]:
        whole = m.samples
        part = m.between(m.ready_at + skip) if skip is not None else []
        if skip is not None and len(part) < 3:  # a short window: its second half then
            part = m.between(m.ready_at + (whole[-1].at - m.ready_at) / 2)
        return (
            f"{whole[0].rss:.1f}",
            f"{max(s.hwm for s in whole):.1f}",
            f"{statistics.median(s.rss for s in part):.1f}" if part else "–",
            f"{100 * _rate(whole, 'cpu'):.1f}",
            f"{100 * _rate(part, 'cpu'):.1f}" if part else "–",
            f"{_rate(whole, 'queries'):.1f}",
            f"{_rate(part, 'queries'):.1f}" if part else "–",
        )

    header = (
        "run",
        "window s",
        "RSS start MB",
        "RSS peak MB",
        "RSS steady MB",
        "CPU % all",
        "CPU % steady",
        "queries/s all",
        "queries/s steady",
    )
    rows = [
        ("baseline: no task", f"{cfg.baseline_window:g}", *cells(base, min(1.0, every))),
        (f"steady: {cfg.tasks} tasks", f"{cfg.window:g}", *cells(steady, cfg.interval)),
        (f"restart: {cfg.tasks} tasks due", f"{cfg.interval:g}", *cells(restart, None)),
    ]
    sweep = restart.first_sweep if restart.first_sweep is not None else math.nan
    problems = [
        p
        for m in (steady, restart)
        for p in m.problems
        if "Traceback" in p or " ERROR " in p or "WARNING" in p
    ]
    lines = [
        f"Idle cost of tasks in flight (bot = `python -m bot` child, POLL_INTERVAL_SECONDS="
        f"{cfg.interval:g}, callbacks off; CPU % of one core)",
        table(header, rows),
        "",
        f"expected queries/s at the interval: {cfg.tasks / cfg.interval:.1f} (±15 % jitter per "
        f"poll); steady columns from {cfg.interval:g} s after start",
        f"restart sweep: every one of {cfg.tasks} tasks queried once within {sweep:.2f} s of start",
        f"seeding {cfg.tasks} tasks through storage took {steady.seed_seconds:.2f} s; "
        f"database + WAL at the end {steady.db_mb:.1f} MB",
        f"bot logs: {len(problems)} warning/error lines"
        + (f", first: {problems[0][:160]}" if problems else ""),
    ]
    steady_part = steady.between(steady.ready_at + cfg.interval) or steady.samples
    figures = {
        "rss.peak": max(s.hwm for s in steady.samples + restart.samples),
        "rss.steady": statistics.median(s.rss for s in steady_part),
        "cpu.steady": _rate(steady.samples, "cpu"),
        "qps.steady": _rate(steady.samples, "queries"),
        "sweep": sweep,
    }
    return Result("\n".join(lines), figures)


def main() -> None:
    """Parse the sizes, run, print the table."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=defaults.tasks)
    parser.add_argument("--interval", type=float, default=defaults.interval)
    parser.add_argument("--window", type=float, default=defaults.window)
    parser.add_argument("--baseline-window", type=float, default=defaults.baseline_window)
    args = parser.parse_args()
    cfg = Config(
        tasks=args.tasks,
        interval=args.interval,
        window=args.window,
        baseline_window=args.baseline_window,
    )
    started = time.perf_counter()
    result = asyncio.run(run(cfg))
    print(result.text)
    print(f"\n{machine()}; {load()} at the end; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
