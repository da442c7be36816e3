"""What 1,000 tasks in flight cost the bot: CPU, memory, upstream queries, at its default settings.

Run with ``python -m bench.idle`` from the repository root (``--help`` for the sizes). The bot
runs as ``python -m bot`` in a child process at its defaults (callbacks off, so every task is
followed by querying it); the fakes run in this process. Every second the child's
/proc/<pid>/stat (utime + stime) and /proc/<pid>/status (VmRSS, VmHWM) are read, with the fake
Evolink's task queries and the videos sent so far. CPU % is of one core: the bot process alone
(where tracking runs), and with its media workers (they would add a sound track to a silent
video before it is sent; the tasks here have sound, so their videos go by URL).

Runs, each a fresh bot and database (tasks written through ``storage``, one draft and one task
per user, registered with the fake Evolink; none has a status message, so no progress edits):
- baseline: no task at all;
- flowing: a steady stream of tasks, `tasks` of them in flight. Each task's queue wait and
  processing time are drawn from bench._common.CompletionModel; each is seeded at a random
  moment of its life (as a stream in flight looks at any instant: longer tasks more likely),
  with the pace the tracker would know of it by then; each that completes is sent to its chat
  and a new one, just submitted, takes its place. The CPU includes those deliveries.
- backlog: the same, the upstream's queue 10 times the estimate deep on average (a thousand
  tasks in flight mostly means a long queue upstream);
- stalled: every task processing since long past its estimate, its progress never moving, never
  finishing (the run of earlier releases of this benchmark; the tracker has known them a while);
- restart: the stalled tasks all due at once, as after a restart: the time until every task was
  queried once is the restart sweep;
- finishing: tasks falling due at the flowing run's rate of videos, each already done upstream
  when first asked about (one query and one send each): what finishing a task costs. The flowing
  run's CPU less that, per video, is what its tasks in flight cost.
The steady columns leave out the first `warmup` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ChildBot,
    CompletionModel,
    Result,
    TimedEvolink,
    bench_task,
    cpu_seconds,
    memory_mb,
    print_run,
    seed_processing_tasks,
    table,
    tree_cpu_seconds,
)
from bot.tasks.poll_plan import Reading, due_at, next_delay
from storage import SqliteDatabase, Store
from storage.models import ChatKey, Options, TaskStatus
from tests.fakes.evolink import FakeTask
from tests.fakes.telegram import FakeTelegram

LONGEST = 60.0  # POLL_INTERVAL_SECONDS' default, for seeding a schedule the bot would have


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    tasks: int = 1000
    window: float = 60.0
    warmup: float = 30.0
    baseline_window: float = 15.0
    sample_every: float = 1.0
    estimate: float = 120.0
    restart_window: float = 15.0

    @property
    def longest(self) -> float:
        """POLL_INTERVAL_SECONDS for the bot: its default, or shrunk with everything else."""
        return LONGEST if self.estimate >= 60 else self.estimate / 4

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the smoke test. The window is long enough for the CPU of a
        run of five tasks to read above zero (it is counted in ticks of 10 ms)."""
        return cls(
            tasks=5,
            window=3.0,
            warmup=0.3,
            baseline_window=0.5,
            sample_every=0.2,
            estimate=2.0,
            restart_window=0.6,
        )


@dataclass
class Sample:
    """One reading of the child and the fakes."""

    at: float
    cpu: float
    tree: float  # CPU seconds of the bot with its media workers
    rss: float
    hwm: float
    queries: int
    videos: int


@dataclass
class Measured:
    """One bot's run."""

    samples: list[Sample]
    ready_at: float
    first_sweep: float | None  # seconds from launch until every task was queried once
    seed_seconds: float
    problems: list[str]
    in_flight: list[int]

    def between(self, start: float) -> list[Sample]:
        return [s for s in self.samples if s.at >= start]


def _steady(m: Measured, skip: float | None) -> list[Sample]:
    """The samples after the warm-up (all of them when there are none)."""
    return m.between(m.ready_at + (skip or 0)) or m.samples


def _rate(samples: list[Sample], attr: str) -> float:
    if len(samples) < 2:
        return float("nan")
    first, last = samples[0], samples[-1]
    return float(getattr(last, attr) - getattr(first, attr)) / (last.at - first.at)


class Flow:
    """Tasks in flight in a steady stream (see the module's text), on the bot's database."""

    def __init__(
        self, store: Store, evolink: TimedEvolink, model: CompletionModel, rng: random.Random
    ) -> None:
        self.store, self.evolink, self.model, self.rng = store, evolink, model, rng
        self.in_flight = 0
        self._chat = 200_000
        self._adding: set[asyncio.Task[None]] = set()
        evolink.on_complete = self._replace

    async def seed(self, count: int) -> None:
        """`count` tasks, each at a random moment of its life."""
        for _ in range(count):
            pool = [self.model.draw(self.rng) for _ in range(20)]
            queued, processing = self.rng.choices(pool, weights=[q + p for q, p in pool])[0]
            await self.add(queued, processing, age=self.rng.uniform(0, queued + processing))

    async def close(self) -> None:
        """No more tasks; close the database."""
        self.evolink.on_complete = None
        await asyncio.gather(*self._adding, return_exceptions=True)
        await self.store.close()

    def _replace(self, task: FakeTask) -> None:
        self.in_flight -= 1
        queued, processing = self.model.draw(self.rng)
        job = asyncio.create_task(self.add(queued, processing, age=0.0))
        self._adding.add(job)
        job.add_done_callback(self._adding.discard)

    async def add(self, queued: float, processing: float, *, age: float) -> None:
        """A task submitted `age` seconds ago, as the bot's database would hold it by now."""
        self._chat += 1
        now = time.time()
        key = ChatKey(chat_id=self._chat, user_id=self._chat)
        draft = await self.store.drafts.get_or_create(key, language="en", options=Options())
        await self.store.drafts.set_prompt(draft.id, "a fox in snow")
        fresh = await self.store.drafts.get(draft.id)
        assert fresh is not None
        task = await self.store.tasks.create_from_draft(
            fresh, request_message_id=None, callback_secret=secrets.token_urlsafe(24)
        )
        assert task is not None
        upstream = f"task-unified-{int(now - age)}-{secrets.token_hex(5)}"
        working = age - queued
        progress = min(99, int(100 * working / processing)) if working > 0 else 0
        # What the tracker would know of it: when it first saw it processing, and then.
        seen = now - working + self.rng.uniform(0, min(LONGEST, max(working, 0.0)))
        baseline = (seen, int(100 * (working - (now - seen)) / processing)) if working > 0 else None
        reading = Reading(
            age=age,
            estimate=self.model.estimate,
            progress=progress,
            queued=working <= 0,
            baseline_age=None if baseline is None else baseline[0] - (now - age),
            baseline_progress=None if baseline is None else baseline[1],
        )
        # Its previous query came a random part of the planned gap ago (the bot's schedule); a
        # task just submitted is planned from the submit's answer.
        planned = next_delay(reading, longest=LONGEST)
        previous = now - self.rng.uniform(0, planned) if age else now
        first_query = max(0.0, due_at(previous, planned) - now)
        await self.store.tasks.update(
            task.id,
            upstream_id=upstream,
            status=TaskStatus.PROCESSING if working > 0 else TaskStatus.PENDING,
            progress=progress,
            credits_reserved=6.0,
            estimated_time=int(self.model.estimate),
            submitted_at=now - age,
            next_poll_at=now + first_query,
            rate_at=None if baseline is None else baseline[0],
            rate_progress=None if baseline is None else baseline[1],
            owner=None,  # in no replica's hands: the bot polls it when it is due
        )
        self.evolink.tasks[upstream] = bench_task(
            upstream, created=int(now - age), estimated_time=int(self.model.estimate)
        )
        self.evolink.follow_timeline(
            upstream, queued=queued, processing=processing, started_ago=age
        )
        self.in_flight += 1


Seeder = Callable[[Path, TimedEvolink], Awaitable[tuple[list[str], Flow | None]]]


async def measure(work: Path, name: str, seeder: Seeder, cfg: Config, window: float) -> Measured:
    """Seed, start the bot, sample it for `window` seconds, stop it."""
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        data = work / f"idle-{name}" / "data"
        bot = ChildBot(telegram, evolink, data, EVOLINK_CALLBACKS="off")
        for test_setting in ("POLL_INTERVAL_SECONDS", "PROGRESS_EDIT_SECONDS"):
            bot.env.pop(test_setting)  # the product's defaults, not the test harness's
        if cfg.longest != LONGEST:  # the tiny run: everything shrunk
            bot.env["POLL_INTERVAL_SECONDS"] = f"{cfg.longest:g}"
        started = time.perf_counter()
        wanted, flow = await seeder(data / "bot.sqlite3", evolink)
        seed_seconds = time.perf_counter() - started
        # The tracker starts polling before the bot reports ready: the sweep counts from launch.
        launched = time.time()
        await bot.start()
        ready = time.time()
        samples: list[Sample] = []
        in_flight: list[int] = []
        try:
            while True:
                now = time.time()
                rss, hwm = memory_mb(bot.pid)
                videos = sum(1 for c in telegram.calls if c.method == "sendVideo" and c.ok)
                cpu, tree = cpu_seconds(bot.pid), tree_cpu_seconds(bot.pid)
                queries = len(evolink.task_queries)
                samples.append(Sample(now, cpu, tree, rss, hwm, queries, videos))
                if flow is not None:
                    in_flight.append(flow.in_flight)
                if now - ready >= window:
                    break
                await asyncio.sleep(min(cfg.sample_every, ready + window - now))
        finally:
            await bot.stop()
            if flow is not None:
                await flow.close()
        first_sweep = None
        seen: set[str] = set()
        for upstream, at in zip(evolink.task_queries, evolink.query_at, strict=True):
            seen.add(upstream)
            if wanted and seen >= set(wanted):
                first_sweep = at - launched
                break
        return Measured(samples, ready, first_sweep, seed_seconds, bot.problems(), in_flight)


def _flowing(cfg: Config, model: CompletionModel, seed: int) -> Seeder:
    async def seeder(db_path: Path, evolink: TimedEvolink) -> tuple[list[str], Flow | None]:
        store = Store(SqliteDatabase(db_path), replica_id="bench")
        await store.open()
        flow = Flow(store, evolink, model, random.Random(seed))
        await flow.seed(cfg.tasks)
        return [], flow

    return seeder


def _stalled(cfg: Config, *, spread: bool) -> Seeder:
    async def seeder(db_path: Path, evolink: TimedEvolink) -> tuple[list[str], Flow | None]:
        seeded = await seed_processing_tasks(
            db_path,
            evolink,
            cfg.tasks,
            first_chat=100_000,
            # Spread: each last asked about a part of the longest gap ago, due on the bot's grid.
            next_poll_at=lambda i: (
                due_at(time.time() - cfg.longest * i / cfg.tasks, cfg.longest)
                if spread
                else time.time()
            ),
            submitted_ago=3 * cfg.estimate,
            seen_processing_ago=2 * cfg.estimate,
        )
        return [s.upstream_id for s in seeded], None

    return seeder


def _finishing(cfg: Config, per_second: float) -> Seeder:
    async def seeder(db_path: Path, evolink: TimedEvolink) -> tuple[list[str], Flow | None]:
        # Enough for the whole run, the bot's start-up included.
        count = math.ceil(per_second * (cfg.warmup + cfg.window + 10 * cfg.sample_every))
        seeded = await seed_processing_tasks(
            db_path,
            evolink,
            count,
            first_chat=300_000,
            next_poll_at=lambda _: math.inf,  # scheduled below, once all are written
            submitted_ago=cfg.estimate,
            seen_processing_ago=0.8 * cfg.estimate,
        )
        for task in seeded:
            await evolink.complete(task.upstream_id)
        store = Store(SqliteDatabase(db_path))
        await store.open()
        try:  # one after another from now on, as a stream of tasks ending would fall due
            first = min(task.task_id for task in seeded)
            await store.db.write(
                "UPDATE tasks SET next_poll_at = ? + (id - ?) / ?",
                (time.time(), first, per_second),
            )
        finally:
            await store.close()
        return [], None

    return seeder


async def run(cfg: Config) -> Result:
    """Every run; the report and its figures."""
    every = cfg.sample_every
    flowing = CompletionModel(estimate=cfg.estimate)
    backlog = CompletionModel(estimate=cfg.estimate, queue_share=10.0)
    runs: list[tuple[str, Measured, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="idle-bench-") as tmp:
        work = Path(tmp)
        plan = [
            (
                "baseline: no task",
                "baseline",
                _stalled(Config(tasks=0), spread=True),
                cfg.baseline_window,
                min(1.0, every),
            ),
            (
                f"flowing: {cfg.tasks} in flight",
                "flowing",
                _flowing(cfg, flowing, 1),
                cfg.warmup + cfg.window,
                cfg.warmup,
            ),
            (
                f"backlog: {cfg.tasks} in flight",
                "backlog",
                _flowing(cfg, backlog, 2),
                cfg.warmup + cfg.window,
                cfg.warmup,
            ),
            (
                f"stalled: {cfg.tasks} past estimate",
                "stalled",
                _stalled(cfg, spread=True),
                cfg.warmup + cfg.window,
                cfg.warmup,
            ),
            (
                f"restart: {cfg.tasks} due at once",
                "restart",
                _stalled(cfg, spread=False),
                cfg.restart_window,
                None,
            ),
        ]
        for label, name, seeder, window, skip in plan:
            print(f"{label} for {window:g} s", file=sys.stderr)
            runs.append((label, await measure(work, name, seeder, cfg, window), skip))
        flow_run = next(m for label, m, _ in runs if label.startswith("flowing"))
        finishing_rate = _rate(_steady(flow_run, cfg.warmup), "videos")
        if not finishing_rate > 0:  # a tiny run may see none in its window
            finishing_rate = cfg.tasks / cfg.estimate
        label = f"finishing: {finishing_rate:.2f} a second"
        print(f"{label} for {cfg.warmup + cfg.window:g} s", file=sys.stderr)
        finishing = _finishing(cfg, finishing_rate)
        window = cfg.warmup + cfg.window
        runs.append((label, await measure(work, "finishing", finishing, cfg, window), cfg.warmup))

    drawing = random.Random(9)

    def cells(m: Measured, skip: float | None) -> tuple[str, ...]:
        whole = m.samples
        part = m.between(m.ready_at + skip) if skip is not None else []
        if skip is not None and len(part) < 3:  # a short window: its second half then
            part = m.between(m.ready_at + (whole[-1].at - m.ready_at) / 2)
        flight = f"{statistics.mean(m.in_flight):.0f}" if m.in_flight else "–"
        return (
            f"{(part or whole)[-1].at - (part or whole)[0].at:.0f}",
            flight,
            f"{max(s.hwm for s in whole):.1f}",
            f"{statistics.median(s.rss for s in part):.1f}" if part else "–",
            f"{100 * _rate(part or whole, 'cpu'):.1f}",
            f"{100 * _rate(part or whole, 'tree'):.1f}",
            f"{_rate(part or whole, 'queries'):.1f}",
            f"{_rate(part or whole, 'videos'):.2f}",
        )

    header = (
        "run",
        "window s",
        "in flight",
        "RSS peak MB",
        "RSS steady MB",
        "CPU %",
        "+ workers %",
        "queries/s",
        "videos/s",
    )
    rows = [(label, *cells(m, skip)) for label, m, skip in runs]
    measured = {label.split(":")[0]: (m, skip) for label, m, skip in runs}
    restart = measured["restart"][0]
    sweep = restart.first_sweep if restart.first_sweep is not None else math.nan
    problems = [p for _, m, _ in runs for p in m.problems if "Traceback" in p or " ERROR " in p]
    steady = {key: _steady(m, skip) for key, (m, skip) in measured.items()}
    figures: dict[str, float] = {"sweep": sweep}
    for key in ("flowing", "backlog", "stalled"):
        figures[f"{key}.cpu"] = _rate(steady[key], "cpu")
        figures[f"{key}.cpu_workers"] = _rate(steady[key], "tree")
        figures[f"{key}.qps"] = _rate(steady[key], "queries")
        figures[f"{key}.rss"] = statistics.median(s.rss for s in steady[key])
    # What finishing a task costs beyond the idle bot, and the flowing run less that: in the
    # report, not among the figures (in a tiny run a second of a few sends may read 0 CPU ticks).
    finishing_cpu = _rate(steady["finishing"], "cpu") - _rate(steady["baseline"], "cpu")
    per_video = finishing_cpu / _rate(steady["finishing"], "videos")
    flowing_videos = _rate(steady["flowing"], "videos")
    in_flight = figures["flowing.cpu"] - flowing_videos * per_video
    lines = [
        "1,000 tasks in flight (bot = `python -m bot` child at its default settings, callbacks"
        " off; CPU % of one core, measured after the warm-up)",
        table(header, rows),
        "",
        "flowing: " + flowing.describe([flowing.draw(drawing) for _ in range(2000)]),
        f"backlog: queue mean {backlog.queue_share:g}× the estimate, otherwise as flowing",
        f"restart sweep: every one of {cfg.tasks} tasks queried once within {sweep:.2f} s of"
        " launch",
        f"seeding {cfg.tasks} tasks through storage took"
        f" {measured['flowing'][0].seed_seconds:.2f} s",
        f"finishing a task (its last query, its video sent, the records written):"
        f" {1000 * per_video:.2f} ms of the bot's CPU each (finishing less baseline, per video)",
        f"flowing less finishing its {flowing_videos:.2f} videos a second: the tasks"
        f" in flight cost {100 * in_flight:.1f} % of a core (the idle bot included)",
        f"bot logs: {len(problems)} error lines"
        + (f", first: {problems[0][:160]}" if problems else ""),
    ]
    return Result("\n".join(lines), figures)


def main() -> None:
    """Parse the sizes, run, print the table."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=defaults.tasks)
    parser.add_argument("--window", type=float, default=defaults.window)
    parser.add_argument("--warmup", type=float, default=defaults.warmup)
    parser.add_argument("--baseline-window", type=float, default=defaults.baseline_window)
    args = parser.parse_args()
    cfg = Config(
        tasks=args.tasks,
        window=args.window,
        warmup=args.warmup,
        baseline_window=args.baseline_window,
    )
    print_run(run(cfg))


if __name__ == "__main__":
    main()
