"""Several replicas against one: the same requests, the same fakes, one PostgreSQL database.

Run with ``scripts/with-postgres python -m bench.replicas`` from the repository root (it needs a
PostgreSQL server: ``--postgres URL``, or TEST_DATABASE_URL as scripts/with-postgres sets it;
each run gets a schema of its own, dropped afterwards). For each replica count, the bot runs as
that many ``python -m bot`` child processes behind the round-robin balancer of tests/balancer.py,
in webhook mode (the fake Telegram POSTs each update to the balancer, one at a time, as Telegram
does with max_connections=1), with Evolink's callbacks on and the Files API hosting the photos.

`requests` users each send an album of `photos` photos, the first with the prompt as caption,
and /generate right after it, all at once; the album's items and the /generate land on different
replicas. The fake Evolink finishes each task 1-3 s after its submit and calls back. The run
ends when every request has its video (or after `limit` seconds) and reports: the time from the
first update to the last video and the requests per second, request → video p50/p95, requests
lost (no video) and doubled (more than one), upstream tasks per request, and the CPU the bot's
processes used (all replicas together, with their media workers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._common import (
    ROOT,
    Result,
    ms,
    percentile,
    print_run,
    table,
    tree_cpu_seconds,
)
from tests.cluster import Cluster
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    requests: int = 300
    photos: int = 2
    replica_counts: tuple[int, ...] = (1, 3)
    limit: float = 600.0
    postgres: str = ""

    @classmethod
    def tiny(cls) -> Config:
        """Seconds in all: for the smoke test."""
        return cls(
            requests=3,
            photos=2,
            replica_counts=(1, 2),
            limit=120.0,
            postgres=os.environ.get("TEST_DATABASE_URL", ""),
        )


@dataclass
class Run:
    """What one replica count did."""

    replicas: int
    seconds: float
    per_request: list[float]  # /generate → video
    lost: int
    doubled: int
    tasks_per_request: float
    cpu_seconds: float
    served: list[int]  # requests each replica answered (balancer)


async def _schema(server: str) -> tuple[str, str]:
    """A fresh schema on the server; (its URL, its name)."""
    name = f"bench_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
    finally:
        await conn.close()
    parts = urlsplit(server)
    return urlunsplit(parts._replace(query=f"search_path={name}")), name


async def _drop(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await conn.close()


async def one_run(work: Path, replicas: int, cfg: Config) -> Run:
    """`cfg.requests` requests through `replicas` replicas."""
    url, schema = await _schema(cfg.postgres)
    rng = random.Random(replicas)
    photos = [image_bytes(800 + 16 * n, 600) for n in range(cfg.photos)]
    try:
        async with FakeTelegram() as telegram, FakeEvolink() as evolink:
            evolink.credits = 100.0 * cfg.requests  # the account never runs dry here
            evolink.callback_retry_delays = (0.5, 1.0, 2.0)
            evolink.timeline = lambda: (0.0, rng.uniform(1, 3))
            cluster = Cluster(
                telegram,
                evolink,
                work / f"replicas-{replicas}",
                url,
                replicas=replicas,
                EVOLINK_CALLBACKS="on",
                MEDIA_HOSTING="evolink",
                ALBUM_QUIET_SECONDS="0.5",
            )
            for replica in cluster.replicas:
                replica.env["PYTHONPATH"] = str(ROOT)
                for test_setting in ("POLL_INTERVAL_SECONDS", "PROGRESS_EDIT_SECONDS"):
                    replica.env.pop(test_setting)  # the product's defaults
            await cluster.start()
            pids = [r.process.pid for r in cluster.replicas if r.process is not None]
            cpu_before = sum(tree_cpu_seconds(pid) for pid in pids)
            asked: dict[int, tuple[float, int]] = {}
            started = time.time()
            for n in range(cfg.requests):
                chat = 300_000 + n
                for i, photo in enumerate(photos):
                    telegram.send_photo(
                        chat,
                        chat,
                        photo,
                        caption=f"request {n}: a kite over dunes" if i == 0 else None,
                        media_group_id=f"album-{chat}",
                    )
                message = telegram.send_text(chat, chat, "/generate")
                asked[chat] = (time.time(), message["message_id"])
            deadline = started + cfg.limit
            while time.time() < deadline:
                videos = {int(c.params["chat_id"]) for c in telegram.sent("sendVideo") if c.ok}
                if len(videos) >= cfg.requests:
                    break
                await asyncio.sleep(0.2)
            finished = max((c.at for c in telegram.sent("sendVideo") if c.ok), default=started)
            await asyncio.sleep(2.0)  # a second video, if any were coming, would be here by now
            cpu = sum(tree_cpu_seconds(pid) for pid in pids) - cpu_before
            served = [cluster.balancer.served[b] for b in cluster.balancer.backends]
            await cluster.stop()
            sent: dict[int, list[float]] = {}
            for call in telegram.sent("sendVideo"):
                if call.ok:
                    sent.setdefault(int(call.params["chat_id"]), []).append(call.at)
            per_request = [min(sent[c]) - asked[c][0] for c in asked if c in sent]
            problems = [
                line
                for r in cluster.replicas
                for line in r.log.splitlines()
                if "Traceback" in line or " ERROR " in line
            ]
            if problems:
                print("\n".join(problems[:10]), file=sys.stderr)
            return Run(
                replicas=replicas,
                seconds=finished - started,
                per_request=per_request,
                lost=sum(1 for c in asked if c not in sent),
                doubled=sum(1 for times in sent.values() if len(times) > 1),
                tasks_per_request=len(evolink.tasks) / cfg.requests,
                cpu_seconds=cpu,
                served=served,
            )
    finally:
        await _drop(cfg.postgres, schema)


async def run(cfg: Config) -> Result:
    """Every replica count; the report and its figures."""
    if not cfg.postgres:
        raise SystemExit("bench.replicas needs PostgreSQL: --postgres URL or TEST_DATABASE_URL")
    runs = []
    with tempfile.TemporaryDirectory(prefix="replicas-bench-") as tmp:
        for count in cfg.replica_counts:
            print(f"{count} replica(s): {cfg.requests} requests", file=sys.stderr)
            runs.append(await one_run(Path(tmp), count, cfg))
    base = runs[0]
    rows = []
    figures: dict[str, float] = {}
    for r in runs:
        rate = len(r.per_request) / r.seconds if r.seconds > 0 else float("nan")
        base_rate = len(base.per_request) / base.seconds if base.seconds > 0 else float("nan")
        rows.append(
            (
                str(r.replicas),
                f"{r.seconds:.1f}",
                f"{rate:.2f}",
                f"{rate / base_rate:.2f}",
                ms(percentile(r.per_request, 50)),
                ms(percentile(r.per_request, 95)),
                str(r.lost),
                str(r.doubled),
                f"{r.tasks_per_request:.2f}",
                f"{r.cpu_seconds:.1f}",
                "/".join(str(n) for n in r.served),
            )
        )
        figures[f"r{r.replicas}.rate"] = rate
        figures[f"r{r.replicas}.tasks_per_request"] = r.tasks_per_request
    header = (
        "replicas",
        "seconds",
        "requests/s",
        "× 1 replica",
        "p50 ms",
        "p95 ms",
        "lost",
        "doubled",
        "tasks/request",
        "bot CPU s",
        "requests per replica",
    )
    text = "\n".join(
        [
            f"{cfg.requests} requests (an album of {cfg.photos} photos with the prompt, then"
            " /generate, from each of as many users at once) through N replicas on one"
            " PostgreSQL, webhook mode behind a round-robin balancer, callbacks on",
            table(header, rows),
            "seconds: first update → last video; p50/p95: /generate sent → its video sent;"
            " bot CPU: every replica with its media workers",
        ]
    )
    return Result(text, figures)


def main() -> None:
    """Parse the sizes, run, print the table."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=defaults.requests)
    parser.add_argument("--photos", type=int, default=defaults.photos)
    parser.add_argument("--replicas", type=int, nargs="+", default=list(defaults.replica_counts))
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    cfg = Config(
        requests=args.requests,
        photos=args.photos,
        replica_counts=tuple(args.replicas),
        postgres=args.postgres,
    )
    print_run(run(cfg))


if __name__ == "__main__":
    main()
