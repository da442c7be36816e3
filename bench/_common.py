"""What the benchmarks share: timed fakes, the bot as a child process, /proc readings, seeding,
percentiles and plain-text tables."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import secrets
import sys
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402

from storage import SqliteDatabase, Store  # noqa: E402
from storage.models import ChatKey, Options, TaskStatus  # noqa: E402
from tests.fakes.evolink import FakeEvolink, FakeTask  # noqa: E402
from tests.fakes.telegram import Call, FakeTelegram  # noqa: E402
from tests.harness import BotProcess  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- statistics and tables -------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linearly interpolated between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a table cell."""
    if math.isnan(seconds):
        return "–"
    return f"{seconds * 1000:.0f}" if abs(seconds) >= 0.1 else f"{seconds * 1000:.1f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, left: int = 1) -> str:
    """A plain-text table: the first `left` columns left-aligned, the others right-aligned."""
    body = [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(r[i]) for r in [tuple(header), *body]) for i in range(len(header))]
    lines = []
    for row in [tuple(header), tuple("-" * w for w in widths), *body]:
        cells = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


@dataclass
class Result:
    """A benchmark's outcome: the printed text, and its figures by name (for the smoke test)."""

    text: str
    figures: dict[str, float]


def machine() -> str:
    """One line naming the machine the figures come from."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    py = sys.version.split()[0]
    return f"{os.cpu_count()} CPUs{f' ({model})' if model else ''}, Python {py}, {sys.platform}"


def bench_task(upstream: str, *, created: int, **fields: Any) -> FakeTask:
    """The task every benchmark asks for (5 s of 720p with sound, 6 credits), as the fake
    Evolink keeps it; `fields` set the rest (its estimate, status, callback URL)."""
    return FakeTask(
        task_id=upstream,
        created=created,
        duration=5,
        quality="720p",
        aspect_ratio="16:9",
        generate_audio=True,
        content_filter=True,
        credits_reserved=6.0,
        **fields,
    )


def print_run(run: Coroutine[Any, Any, Result]) -> Result:
    """Run a benchmark; print its report, the machine, the load and how long it all took."""
    started = time.perf_counter()
    result = asyncio.run(run)
    print(result.text)
    print(f"\n{machine()}; {load()} at the end; total {time.perf_counter() - started:.0f} s")
    return result


def load() -> str:
    """The load averages over 1, 5 and 15 minutes: other work on the machine skews figures."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the fakes, with timestamps --------------------------------------------------------------


class TimedEvolink(FakeEvolink):
    """The fake Evolink, noting when submits arrive and are recorded, uploads finish and
    callbacks are posted (time.time(), the clock of FakeTelegram's Call.at)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.submit_received: list[float] = []
        self.submit_recorded: list[float] = []
        self.upload_done: list[float] = []
        self.callback_posts: list[tuple[str, float, float]] = []  # task id, posted, answered
        self.query_at: list[float] = []  # when each of task_queries came

    async def __aenter__(self) -> TimedEvolink:
        await self.start()
        return self

    async def _submit(self, request: Request) -> Response:
        self.submit_received.append(time.time())
        before = len(self.submissions)
        response = await super()._submit(request)
        if len(self.submissions) > before:
            self.submit_recorded.append(time.time())
        return response

    async def _get_task(self, request: Request) -> Response:
        self.query_at.append(time.time())
        return await super()._get_task(request)

    async def _upload(self, request: Request) -> Response:
        response = await super()._upload(request)
        if response.status_code == 200:
            self.upload_done.append(time.time())
        return response

    async def _post_callback(self, task_id: str, url: str, body: dict[str, Any]) -> int | None:
        posted = time.time()
        status = await super()._post_callback(task_id, url, body)
        self.callback_posts.append((task_id, posted, time.time()))
        return status


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    """Poll `predicate` every 5 ms until it holds; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within:g} s")
        await asyncio.sleep(0.005)


def first_call(
    telegram: FakeTelegram, predicate: Callable[[Call], bool], *, since: float
) -> Call | None:
    """The first recorded call at or after `since` matching `predicate`."""
    return next((c for c in telegram.calls if c.at >= since and predicate(c)), None)


# --- the bot as a child process --------------------------------------------------------------


class ChildBot(BotProcess):
    """`python -m <module>` (the bot by default) as a child process, configured by environment.

    As tests.harness.BotProcess, plus: PYTHONPATH points at this checkout, any module can be
    run (the echo bot, the bot with its rate limiter switched off), /proc readings of the child.
    """

    def __init__(
        self,
        telegram: FakeTelegram,
        evolink: FakeEvolink,
        data_dir: Path,
        *,
        module: str = "bot",
        **env: str,
    ) -> None:
        super().__init__(telegram, evolink, data_dir, **env)
        self.module = module
        self.env["PYTHONPATH"] = str(ROOT)
        if "MEDIA_WORKERS" not in env:
            # The product's default (one per CPU), not the test harness's single worker.
            del self.env["MEDIA_WORKERS"]

    async def start(self) -> None:
        """Start the child and wait until it long-polls the fake Telegram."""
        started = time.time()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                env=self.env,
                cwd=self.data_dir.parent,
                stdout=log,
                stderr=log,
            )
        try:
            await self.telegram.wait_for(
                lambda c: c.ok and c.method == "deleteWebhook" and c.at >= started, timeout=30
            )
        except AssertionError:
            await self.kill()
            raise RuntimeError(f"{self.module} did not start:\n{self.log[-3000:]}") from None

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 20 s."""
        if self.process is None or self.process.returncode is not None:
            return
        try:
            await self.terminate(timeout=20)
        except TimeoutError:
            await self.kill()

    def problems(self) -> list[str]:
        """Log lines at WARNING or above, and tracebacks."""
        return [
            line
            for line in self.log.splitlines()
            if " WARNING " in line or " ERROR " in line or "Traceback" in line
        ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    data = Path(f"/proc/{pid}/stat").read_text()
    fields = data[data.rindex(")") + 2 :].split()  # fields from 3 (state) on
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime (14), stime (15)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process with its children: those still running (the bot's media workers)
    and theirs, and those that ended and were reaped (cutime + cstime)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
        children = [
            int(child)
            for thread in Path(f"/proc/{pid}/task").iterdir()
            for child in (thread / "children").read_text().split()
        ]
    except (OSError, ValueError):
        return 0.0  # it ended meanwhile
    fields = data[data.rindex(")") + 2 :].split()
    own = sum(int(value) for value in fields[11:15]) / CLOCK_TICKS  # utime stime cutime cstime
    return own + sum(tree_cpu_seconds(child) for child in children)


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB (/proc/<pid>/status VmRSS, VmHWM)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


# --- how long tasks take upstream ------------------------------------------------------------


@dataclass(frozen=True)
class CompletionModel:
    """How long a task takes upstream, as the benchmarks assume it (no published figures exist).

    A task waits in the upstream's queue (pending, no progress) for an exponentially distributed
    time, mean `queue_share` × its estimate, then is processed for a log-normally distributed
    time: median `processing_share` × the estimate, spread `sigma` (so 90 % of tasks take
    between 0.66× and 1.5× the median). While processed its progress grows in step with the work
    done (steps of a diffusion model take equal time). The estimate is the one the fake Evolink
    gives, 120 s, as the API reference's 165 s for an 8 s video suggests for 5 s.
    """

    estimate: float = 120.0
    queue_share: float = 0.1
    processing_share: float = 0.8
    sigma: float = 0.25

    def draw(self, rng: random.Random) -> tuple[float, float]:
        """(seconds queued, seconds processing) for one task."""
        queued = rng.expovariate(1 / (self.queue_share * self.estimate))
        processing = self.processing_share * self.estimate * math.exp(rng.gauss(0, self.sigma))
        return queued, processing

    def describe(self, drawn: Sequence[tuple[float, float]]) -> str:
        """The drawn completion times against the estimate, as quantiles (for the report)."""
        ratios = [(q + p) / self.estimate for q, p in drawn]
        cells = ", ".join(f"p{q} {percentile(ratios, q):.2f}" for q in (5, 25, 50, 75, 95))
        return (
            f"completion time / estimate ({self.estimate:g} s) of the {len(ratios)} tasks drawn:"
            f" {cells}; queue mean {self.queue_share:g}×, processing median"
            f" {self.processing_share:g}× log-normal σ {self.sigma:g}, progress linear in work"
        )


# --- seeding the database --------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A task written into the bot's database and registered with the fake Evolink."""

    task_id: int
    upstream_id: str
    chat_id: int


async def seed_processing_tasks(
    db_path: Path,
    evolink: FakeEvolink,
    count: int,
    *,
    first_chat: int,
    next_poll_at: Callable[[int], float],
    submitted_ago: float | Callable[[int], float] = 300.0,
    callback_base: str | None = None,
    seen_processing_ago: float | None = None,
) -> list[Seeded]:
    """Write `count` tasks in state `processing` (one draft each, one private chat each), as
    `storage` would after a submit, and register each with the fake Evolink as processing at 10 %.

    `submitted_ago` (seconds, or per task) puts the submit that many seconds back. With
    `callback_base`, the fake calls back the bot there. With `seen_processing_ago`, the tracker
    first saw them processing (at 10 %) that long ago.
    """
    ago = submitted_ago if callable(submitted_ago) else (lambda _: float(submitted_ago))
    store = Store(SqliteDatabase(db_path))
    await store.open()
    seeded: list[Seeded] = []
    try:
        now = time.time()
        for i in range(count):
            created = int(now - ago(i))
            chat = first_chat + i
            key = ChatKey(chat_id=chat, user_id=chat)
            created_draft = await store.drafts.get_or_create(key, language="en", options=Options())
            await store.drafts.set_prompt(created_draft.id, f"benchmark task {i}: a fox in snow")
            draft = await store.drafts.get(created_draft.id)
            assert draft is not None
            secret = secrets.token_urlsafe(24)
            task = await store.tasks.create_from_draft(
                draft, request_message_id=None, callback_secret=secret
            )
            assert task is not None
            upstream = f"task-unified-{created}-{secrets.token_hex(5)}"
            moved = await store.tasks.update(
                task.id,
                upstream_id=upstream,
                status=TaskStatus.PROCESSING,
                progress=10,
                credits_reserved=6.0,
                estimated_time=120,
                submitted_at=now - ago(i),
                next_poll_at=next_poll_at(i),
                rate_at=None if seen_processing_ago is None else now - seen_processing_ago,
                rate_progress=None if seen_processing_ago is None else 10,
                owner=None,  # in no replica's hands: the bot polls it when it is due
                expect_status=[TaskStatus.PREPARING],
            )
            assert moved
            evolink.tasks[upstream] = bench_task(
                upstream,
                created=created,
                callback_url=f"{callback_base}/callbacks/evolink/{secret}"
                if callback_base
                else None,
                status="processing",
                progress=10,
            )
            seeded.append(Seeded(task.id, upstream, chat))
    finally:
        await store.close()
    return seeded
