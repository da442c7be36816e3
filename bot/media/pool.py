"""A bounded pool of warm media workers (:mod:`bot.media.worker`), and a fair queue in front of it.

Every decode and encode of a user's file happens in one of ``size`` long-lived child processes,
never in the bot. Each is started with a clean environment (no token, key or other secret), a
memory cap and a CPU cap, and serves jobs one at a time over pipes. A job that outlives its
deadline, or whose caller gives up, gets its worker killed and replaced; the others carry on.
A worker is retired after ``max_jobs`` jobs, so nothing a decoder leaks accumulates.

Jobs wait in a queue served round-robin by owner (the user who sent the file): one user's fifteen
files never hold back everyone else's one. This module imports neither PyAV nor Pillow.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

log = logging.getLogger(__name__)

# Variables a worker may inherit; everything else (the bot token, API keys, signing and storage
# keys, whatever the operator exported) stays out of its environment.
_INHERITED_ENV: Final = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "VIRTUAL_ENV",
)
_START_SECONDS: Final = 60.0  # to import PyAV and Pillow, even on a slow, busy machine
_ANSWER_LIMIT: Final = 1 << 20  # bytes per answer line
_STDERR_LINES: Final = 20  # kept per worker, for the log when it dies


class WorkerLost(Exception):
    """A job's worker died or was killed before answering; ``reason`` says how.

    ``timeout`` (the deadline passed), ``cpu`` (its CPU time ran out), ``memory`` (it ran out of
    memory) or ``crashed`` (any other death).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


class PoolClosed(Exception):
    """The pool is shutting down; the job was not run."""


def worker_env(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a worker gets: the essentials of ``source`` (default: ours), no secrets."""
    env = os.environ if source is None else source
    return {name: env[name] for name in _INHERITED_ENV if name in env}


@dataclass
class _Job:
    payload: dict[str, Any]
    owner: int
    future: asyncio.Future[dict[str, Any]]
    queued_at: float = field(default_factory=time.monotonic)


class FairQueue:
    """Waiting jobs, served one per owner in turn (round-robin), each owner's in order."""

    def __init__(self) -> None:
        self._by_owner: dict[int, deque[_Job]] = {}
        self._turns: deque[int] = deque()
        self._tokens = asyncio.Semaphore(0)

    def __len__(self) -> int:
        return sum(len(jobs) for jobs in self._by_owner.values())

    def put(self, job: _Job) -> None:
        """Queue a job behind its owner's earlier ones."""
        jobs = self._by_owner.get(job.owner)
        if jobs is None:
            jobs = self._by_owner[job.owner] = deque()
            self._turns.append(job.owner)
        jobs.append(job)
        self._tokens.release()

    async def get(self) -> _Job:
        """The next job: the first of the owner whose turn it is."""
        while True:
            await self._tokens.acquire()
            if not self._turns:  # a token left by a job removed while waiting
                continue
            owner = self._turns.popleft()
            jobs = self._by_owner[owner]
            job = jobs.popleft()
            if jobs:
                self._turns.append(owner)
            else:
                del self._by_owner[owner]
            return job

    def remove(self, job: _Job) -> None:
        """Take a job out while it still waits (its caller gave up)."""
        jobs = self._by_owner.get(job.owner)
        if jobs is None or job not in jobs:
            return
        jobs.remove(job)
        if not jobs:
            del self._by_owner[job.owner]
            self._turns.remove(job.owner)

    def ahead(self, owner: int) -> int | None:
        """How many jobs will start before ``owner``'s next one; None if it has none waiting."""
        if owner not in self._by_owner:
            return None
        return self._turns.index(owner)  # everyone before it in the round has at least one


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.jobs = 0
        self.stderr: deque[str] = deque(maxlen=_STDERR_LINES)
        self._drain = asyncio.create_task(self._read_stderr(), name=f"media-worker-{self.pid}-err")

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_ready(self) -> None:
        line = await asyncio.wait_for(self._read_line(), _START_SECONDS)
        if not json.loads(line).get("ready"):
            raise RuntimeError(f"media worker {self.pid} did not start: {line!r}")

    async def call(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a job, wait for its answer; WorkerLost if the process dies first."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(payload) + "\n").encode())
            await self.process.stdin.drain()
            line = await self._read_line()
        except (ConnectionError, BrokenPipeError, EOFError):
            raise await self._lost() from None
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def _read_line(self) -> bytes:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line.endswith(b"\n"):
            raise EOFError
        return line

    async def _lost(self) -> WorkerLost:
        code = await self.process.wait()
        await asyncio.wait({self._drain}, timeout=1.0)
        tail = "\n".join(self.stderr)
        if code == -signal.SIGXCPU:
            return WorkerLost("cpu", tail)
        if code in (-signal.SIGABRT, -signal.SIGKILL) or "Cannot allocate memory" in tail:
            # RLIMIT_AS makes allocations fail, and C libraries usually abort then; an
            # unexpected SIGKILL is the kernel's OOM killer (the pool's own kills are not here).
            return WorkerLost("memory", tail)
        return WorkerLost("crashed", f"exit {code}: {tail}")

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.stderr.append(line)
            log.debug("media worker %s: %s", self.pid, line)

    async def kill(self) -> None:
        """SIGKILL and reap: a job cannot be interrupted any other way."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain

    async def retire(self) -> None:
        """Let it finish on its own (stdin closed), or kill it if it lingers."""
        assert self.process.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.process.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 5.0)
        await self.kill()


class MediaPool:
    """``size`` warm workers, a fair queue, deadlines; see the module docstring."""

    def __init__(
        self,
        *,
        size: int,
        memory_mb: int,
        cpu_seconds: float,
        timeout_seconds: float,
        max_jobs: int,
        env: Mapping[str, str] | None = None,
        module: str = "bot.media.worker",
    ) -> None:
        if size < 1:
            raise ValueError("a media pool needs at least one worker")
        self.size = size
        self._memory_mb = memory_mb
        self._cpu_seconds = cpu_seconds
        self._timeout = timeout_seconds
        self._max_jobs = max_jobs
        self._env = worker_env(env)
        self._module = module  # the worker's entry point (tests add jobs that hang or crash)
        self._queue = FairQueue()
        self._workers: list[_Worker | None] = [None] * size
        self._slots: list[asyncio.Task[None]] = []
        self._retiring: set[asyncio.Task[None]] = set()  # workers finishing on their own
        self._ids = itertools.count(1)
        self._closed = False
        self.busy = 0

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.pid for w in self._workers if w is not None and w.process.returncode is None]

    @property
    def waiting(self) -> int:
        """Jobs queued for a free worker."""
        return len(self._queue)

    def start(self) -> None:
        """Start serving: each slot starts its worker now, in the background."""
        if not self._slots:
            self._slots = [
                asyncio.create_task(self._serve(slot), name=f"media-slot-{slot}")
                for slot in range(self.size)
            ]

    async def run(self, payload: dict[str, Any], *, owner: int) -> dict[str, Any]:
        """Run one job for ``owner`` and return the worker's answer.

        Raises WorkerLost when the job killed its worker or passed its deadline, PoolClosed
        when the pool shuts down first. Cancelling the caller cancels the job (killing its
        worker if it is running).
        """
        if self._closed:
            raise PoolClosed
        self.start()
        job = _Job(
            {**payload, "id": next(self._ids)}, owner, asyncio.get_running_loop().create_future()
        )
        self._queue.put(job)
        try:
            return await job.future
        finally:
            self._queue.remove(job)

    def ahead(self, owner: int) -> int | None:
        """How many queued files start before ``owner``'s next one (None: it has none queued)."""
        return self._queue.ahead(owner)

    async def close(self) -> None:
        """Stop every worker (no orphan is left) and fail the jobs still queued."""
        self._closed = True
        for slot in self._slots:
            slot.cancel()
        for slot in self._slots:
            with contextlib.suppress(asyncio.CancelledError):
                await slot
        self._slots = []
        await asyncio.gather(*self._retiring, return_exceptions=True)
        while len(self._queue):
            job = await self._queue.get()
            if not job.future.done():
                job.future.set_exception(PoolClosed())

    # -- the slots ------------------------------------------------------------------------------

    async def _serve(self, slot: int) -> None:
        try:
            while True:
                worker = await self._worker(slot)
                job = await self._queue.get()
                if job.future.done():  # given up while queued
                    continue
                if worker.process.returncode is not None:  # it died while idle
                    worker = await self._worker(slot)
                self.busy += 1
                try:
                    await self._run_on(slot, worker, job)
                finally:
                    self.busy -= 1
        finally:
            worker_left = self._workers[slot]
            self._workers[slot] = None
            if worker_left is not None:
                await asyncio.shield(worker_left.kill())

    async def _worker(self, slot: int) -> _Worker:
        worker = self._workers[slot]
        if worker is not None and worker.process.returncode is None:
            return worker
        while True:
            worker = None
            try:
                worker = await self._spawn()
                await worker.wait_ready()
            except asyncio.CancelledError:
                if worker is not None:
                    await asyncio.shield(worker.kill())
                raise
            except (OSError, RuntimeError, TimeoutError, EOFError, json.JSONDecodeError) as exc:
                if worker is not None:
                    await worker.kill()
                    log.error("media worker could not start: %s %s", exc, "\n".join(worker.stderr))
                else:
                    log.error("media worker could not start: %s", exc)
                await asyncio.sleep(5.0)
                continue
            self._workers[slot] = worker
            return worker

    async def _spawn(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self._module,
            "--parent",
            str(os.getpid()),
            "--memory-mb",
            str(self._memory_mb),
            "--cpu-seconds",
            str(self._cpu_seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            limit=_ANSWER_LIMIT,
            # Its own session: a Ctrl-C in the terminal reaches the bot, which stops the pool.
            start_new_session=True,
        )
        return _Worker(process)

    async def _run_on(self, slot: int, worker: _Worker, job: _Job) -> None:
        call = asyncio.create_task(worker.call(job.payload), name=f"media-job-{job.payload['id']}")
        try:
            done, _ = await asyncio.wait(
                {call, job.future}, timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:  # the pool is closing
            await asyncio.shield(self._abandon(slot, worker, call))
            self._settle(job, error=PoolClosed())
            raise
        if call in done:
            worker.jobs += 1
            exc = call.exception()
            if exc is not None:
                self._workers[slot] = None
                await worker.kill()
                lost = exc if isinstance(exc, WorkerLost) else WorkerLost("crashed", repr(exc))
                log.warning(
                    "media worker %s died: %s %s", worker.pid, lost.reason, lost.detail[-500:]
                )
                self._settle(job, error=lost)
                return
            answer = call.result()
            self._settle(job, answer=answer)
            if worker.jobs >= self._max_jobs or answer.get("leaving"):
                # A fresh worker takes the slot at once; the old one exits in the background.
                self._workers[slot] = None
                retiring = asyncio.create_task(worker.retire(), name=f"media-retire-{worker.pid}")
                self._retiring.add(retiring)
                retiring.add_done_callback(self._retiring.discard)
            return
        # The deadline passed, or the caller gave up: the worker cannot be stopped mid-job.
        await self._abandon(slot, worker, call)
        if not job.future.done():
            log.warning("media job %s passed its %g s deadline", job.payload["id"], self._timeout)
            self._settle(job, error=WorkerLost("timeout"))

    async def _abandon(self, slot: int, worker: _Worker, call: asyncio.Task[Any]) -> None:
        """Kill a worker in the middle of a job, and forget the job's answer."""
        call.cancel()
        self._workers[slot] = None
        await worker.kill()
        with contextlib.suppress(asyncio.CancelledError, WorkerLost, EOFError, ConnectionError):
            await call

    @staticmethod
    def _settle(
        job: _Job, *, answer: dict[str, Any] | None = None, error: Exception | None = None
    ) -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(answer or {})
