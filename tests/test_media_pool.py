"""The media worker pool: clean environment, caps, deadlines, cancelling, no orphans, fairness.

Workers are real processes. Jobs that hang, crash, eat memory or burn CPU come from
tests/media_worker_hooks.py, which is the real worker plus those jobs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.media.jobs import MediaJobs
from bot.media.pool import FairQueue, MediaPool, PoolClosed, WorkerLost, _Job
from bot.media.results import MediaRejected
from tests.mediagen import image_bytes

ROOT = Path(__file__).resolve().parent.parent
HOOKS = "tests.media_worker_hooks"
SECRETS = {
    "TELEGRAM_BOT_TOKEN": "123456:worker-must-not-see-this",
    "EVOLINK_API_KEY": "sk-worker-must-not-see-this",
    "MEDIA_SIGNING_KEY": "signing-worker-must-not-see-this",
    "S3_SECRET_ACCESS_KEY": "s3-worker-must-not-see-this",
    "AWS_SECRET_ACCESS_KEY": "aws-worker-must-not-see-this",
}


def alive(pid: int) -> bool:
    """Whether a process exists (a reaped one does not; a zombie would show as state Z)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def make_pool() -> AsyncIterator[Callable[..., MediaPool]]:
    pools: list[MediaPool] = []

    def factory(**options: Any) -> MediaPool:
        settings: dict[str, Any] = {
            "size": 1,
            "memory_mb": 2048,
            "cpu_seconds": 60,
            "timeout_seconds": 30,
            "max_jobs": 100,
            "module": HOOKS,
            "env": {**os.environ, "PYTHONPATH": str(ROOT)},
        }
        settings.update(options)
        pool = MediaPool(**settings)
        pools.append(pool)
        return pool

    yield factory
    for pool in pools:
        await pool.close()
        assert not [pid for pid in pool.pids if alive(pid)]


async def test_a_worker_inherits_no_secret(
    make_pool: Callable[..., MediaPool], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    pool = make_pool(env=None, module="bot.media.worker")  # the bot's own environment
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(image_bytes(640, 480))
    answer = await pool.run({"kind": "probe", "src": str(photo)}, owner=1)
    assert answer["ok"]
    (pid,) = pool.pids
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    for name, value in SECRETS.items():
        assert name.encode() not in environ
        assert value.encode() not in environ
    names = {item.split(b"=", 1)[0].decode() for item in environ.split(b"\0") if item}
    allowed = "PATH HOME LANG LC_ALL LC_CTYPE TZ TMPDIR PYTHONPATH PYTHONHASHSEED VIRTUAL_ENV"
    assert names <= set(allowed.split())
    assert "PATH" in names


async def test_a_job_past_its_deadline_loses_only_its_own_worker(
    make_pool: Callable[..., MediaPool],
) -> None:
    pool = make_pool(size=2, timeout_seconds=1.0)
    first = await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1)
    await eventually(lambda: len(pool.pids) == 2)
    before = set(pool.pids)

    async def steady() -> list[int]:
        pids = []
        for _ in range(8):
            answer = await pool.run({"kind": "sleep", "src": "", "seconds": 0.1}, owner=2)
            pids.append(answer["result"]["pid"])
        return pids

    stuck = asyncio.create_task(pool.run({"kind": "sleep", "src": "", "seconds": 60}, owner=1))
    others = asyncio.create_task(steady())
    with pytest.raises(WorkerLost) as lost:
        await stuck
    assert lost.value.reason == "timeout"
    served = await others
    killed = before - set(served)
    assert len(killed) == 1 and not alive(killed.pop())  # the stuck one, and only it
    assert set(served) <= before  # the other worker kept going, never restarted
    await eventually(lambda: len(pool.pids) == 2)  # a fresh one took the slot
    assert first["ok"]


async def test_a_crash_is_a_refusal_and_the_next_file_gets_a_fresh_worker(
    make_pool: Callable[..., MediaPool],
) -> None:
    pool = make_pool()
    jobs = MediaJobs(pool)
    before = (await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1))["result"]["pid"]
    with pytest.raises(MediaRejected) as refused:
        await jobs._run({"kind": "crash", "src": "/nowhere"}, 1)
    assert (refused.value.code, refused.value.params) == ("unprocessable", {"reason": "crashed"})
    assert not alive(before)
    after = (await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1))["result"]["pid"]
    assert after != before


async def test_memory_is_capped_per_worker(make_pool: Callable[..., MediaPool]) -> None:
    pool = make_pool(memory_mb=600)
    jobs = MediaJobs(pool)
    with pytest.raises(MediaRejected) as refused:
        await jobs._run({"kind": "eat", "src": "", "mb": 1024}, 1)
    assert (refused.value.code, refused.value.params) == ("unprocessable", {"reason": "memory"})
    # Within the cap the same job works, in a fresh worker (the one that hit it left).
    assert (await pool.run({"kind": "eat", "src": "", "mb": 128}, owner=1))["ok"]


async def test_cpu_time_is_capped_per_file(make_pool: Callable[..., MediaPool]) -> None:
    pool = make_pool(cpu_seconds=1)
    with pytest.raises(WorkerLost) as lost:
        await pool.run({"kind": "burn", "src": ""}, owner=1)
    assert lost.value.reason == "cpu"
    # CPU time is counted per file: a worker that already used some still gets its full share.
    for _ in range(2):
        assert (await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1))["ok"]


async def test_a_cancelled_job_takes_its_worker_down_with_it(
    make_pool: Callable[..., MediaPool],
) -> None:
    pool = make_pool()
    await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1)
    (pid,) = pool.pids
    job = asyncio.create_task(pool.run({"kind": "sleep", "src": "", "seconds": 60}, owner=1))
    await eventually(lambda: pool.busy == 1)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    await eventually(lambda: not alive(pid))
    assert (await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1))["ok"]


async def test_closing_leaves_no_worker_and_fails_what_is_still_queued(
    make_pool: Callable[..., MediaPool],
) -> None:
    pool = make_pool(size=2)
    await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1)
    await eventually(lambda: len(pool.pids) == 2)
    pids = pool.pids
    running = [
        asyncio.create_task(pool.run({"kind": "sleep", "src": "", "seconds": 60}, owner=n))
        for n in range(4)
    ]
    await eventually(lambda: pool.busy == 2 and pool.waiting == 2)
    await pool.close()
    for task in running:
        with pytest.raises(PoolClosed):
            await task
    assert not [pid for pid in pids if alive(pid)]
    with pytest.raises(PoolClosed):
        await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1)


def test_workers_die_with_a_killed_bot(tmp_path: Path) -> None:
    # A parent that starts a pool, reports its workers' pids, then is SIGKILLed: no clean-up runs.
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from bot.media.pool import MediaPool

            async def main():
                pool = MediaPool(size=2, memory_mb=2048, cpu_seconds=60, timeout_seconds=60,
                                 max_jobs=10, module="tests.media_worker_hooks")
                busy = pool.run({"kind": "sleep", "src": "", "seconds": 60}, owner=1)
                task = asyncio.ensure_future(busy)
                while len(pool.pids) < 2 or pool.busy < 1:
                    await asyncio.sleep(0.02)
                print(*pool.pids, flush=True)
                await task

            asyncio.run(main())
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(  # noqa: S603
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True
    ) as parent:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [pid for pid in pids if alive(pid)]  # one of them was in the middle of a job


async def test_a_worker_is_replaced_after_its_quota_of_files(
    make_pool: Callable[..., MediaPool],
) -> None:
    pool = make_pool(max_jobs=2)
    pids = [
        (await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=1))["result"]["pid"]
        for _ in range(5)
    ]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    await eventually(lambda: not alive(pids[0]))  # it exits in the background


def _job(owner: int, name: str) -> _Job:
    return _Job({"name": name}, owner, asyncio.get_running_loop().create_future())


async def test_the_queue_serves_owners_in_turn() -> None:
    queue = FairQueue()
    for n in range(4):
        queue.put(_job(1, f"a{n}"))
    queue.put(_job(2, "b0"))
    queue.put(_job(3, "c0"))
    queue.put(_job(2, "b1"))
    assert (queue.ahead(1), queue.ahead(2), queue.ahead(3), queue.ahead(4)) == (0, 1, 2, None)
    order = [(await queue.get()).payload["name"] for _ in range(7)]
    assert order == ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]
    assert len(queue) == 0


async def test_one_users_fifteen_files_do_not_hold_back_another_users_one(
    make_pool: Callable[..., MediaPool],
) -> None:
    pool = make_pool(size=1)
    await pool.run({"kind": "sleep", "src": "", "seconds": 0}, owner=0)
    finished: list[str] = []

    async def send(owner: int, name: str) -> None:
        await pool.run({"kind": "sleep", "src": "", "seconds": 0.05}, owner=owner)
        finished.append(name)

    many = [asyncio.create_task(send(1, f"heavy-{n}")) for n in range(15)]
    await eventually(lambda: pool.busy == 1)
    assert pool.ahead(1) == 0
    one = asyncio.create_task(send(2, "light"))
    await asyncio.sleep(0)
    assert pool.ahead(2) == 1  # only the heavy user's next file goes first
    await asyncio.gather(one, *many)
    assert finished.index("light") <= 2  # the running file, at most one more, then it
