"""Load: many users at once, end to end, and nothing lost or doubled.

``python bench/load.py`` (from the repository root, with the test extra installed). In one
process: the fake Telegram and the fake Evolink on loopback, and the real bot started in-process
by the test harness (`tests.harness.BotUnderTest`), with Evolink's callbacks on. Then, at once:

- 50 users in private chats each send an album of 2-3 photos with a caption, half of them a
  voice note too, then /generate;
- in each of 3 groups, 5 of them make a request: an album whose caption starts with /generate,
  or /generate as a reply to a photo.

The fake Evolink accepts each submit and finishes the task 1-3 s later; with ``--broken-share``,
that share of the submits create their task and then lose its answer (a 5xx, a reset, a cut-off
or corrupt body), as a gateway can. The run ends when every request has its video, or after the
time limit (default 150 s), and prints: requests, submits, upstream tasks per request,
deliveries, lost, duplicated, p50/p95 of /generate → accepted submit and of task completed →
video in the chat, and peak RSS. Only loopback traffic; nothing is left behind.

With ``--bot-process`` the bot runs as users run it, ``python -m bot`` in a child process, and its
own resident memory is read from /proc every 50 ms: at idle (3 s after start, its media workers
up) and at its peak under the load, with the peak of its media workers together.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import ChildBot  # noqa: E402
from bench.burst import Memory, _rss_mb, watch_memory  # noqa: E402
from tests.fakes.evolink import BrokenAnswer, FakeEvolink  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.harness import BotUnderTest  # noqa: E402
from tests.mediagen import image_bytes, write_audio  # noqa: E402

PRIVATE_USERS = 50
GROUPS = 3
MEMBERS_PER_GROUP = 5
GROUP_IDS = [-1009000001 - n for n in range(GROUPS)]


@dataclass
class Request:
    """One user's request for a video, and what became of it."""

    user: int
    chat: int
    prompt: str
    kind: str  # private / group-oneshot / group-reply
    request_message_id: int | None = None
    generate_at: float | None = None
    submitted_at: list[float] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    completed_at: float | None = None
    delivered_at: list[float] = field(default_factory=list)
    answered_at: float | None = None  # the bot's first message in reply to the request


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, linearly interpolated (NaN when there are no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Load:
    """Drives the users, plays the upstream's part, and watches what reaches the chats."""

    def __init__(
        self, telegram: FakeTelegram, evolink: FakeEvolink, *, seed: int, voice_share: float
    ) -> None:
        self.telegram = telegram
        self.evolink = evolink
        self.seed = seed
        self.voice_share = voice_share
        self.rng = random.Random(seed)  # the upstream's timing
        self.requests: list[Request] = []
        self.by_prompt: dict[str, Request] = {}
        self._photos = [image_bytes(800 + 16 * n, 600) for n in range(3)]
        self._voice = b""
        self._seen_submissions = 0
        self._completions: set[asyncio.Task[None]] = set()

    def prepare(self, tmp: Path) -> None:
        """Media every user sends (made once: the bench is about the bot, not about Pillow)."""
        path = write_audio(tmp / "voice.ogg", seconds=3, codec="libopus", rate=48000)
        self._voice = path.read_bytes()

    def _new(self, user: int, chat: int, kind: str) -> Request:
        request = Request(user, chat, f"request {len(self.requests)}: a kite over dunes", kind)
        self.requests.append(request)
        self.by_prompt[request.prompt] = request
        return request

    async def private_user(self, user: int) -> None:
        rng = random.Random(self.seed * 100_003 + user)  # each user's own, whatever the order
        await asyncio.sleep(rng.uniform(0, 2))
        request = self._new(user, user, "private")
        album = f"album-{user}"
        for n in range(rng.choice([2, 3])):
            caption = request.prompt if n == 0 else None
            self.telegram.send_photo(
                user, user, self._photos[n], caption=caption, media_group_id=album
            )
        if rng.random() < self.voice_share:
            self.telegram.send_voice(user, user, self._voice, duration=3)
        await asyncio.sleep(rng.uniform(0.3, 2))
        message = self.telegram.send_text(user, user, "/generate")
        request.request_message_id, request.generate_at = message["message_id"], time.time()

    async def group_member(self, user: int, group: int) -> None:
        rng = random.Random(self.seed * 100_003 + user * 7 + group)
        await asyncio.sleep(rng.uniform(0, 2))
        if rng.random() < 0.5:
            request = self._new(user, group, "group-oneshot")
            album = f"group-album-{group}-{user}"
            for n in range(2):
                caption = f"/generate {request.prompt}" if n == 0 else None
                message = self.telegram.send_photo(
                    group,
                    user,
                    self._photos[n],
                    caption=caption,
                    media_group_id=album,
                    chat_type="supergroup",
                )
                if n == 0:
                    request.request_message_id = message["message_id"]
                    request.generate_at = time.time()
        else:
            request = self._new(user, group, "group-reply")
            photo = self.telegram.send_photo(group, user, self._photos[0], chat_type="supergroup")
            await asyncio.sleep(rng.uniform(0.2, 1))
            message = self.telegram.send_text(
                group,
                user,
                f"/generate {request.prompt}",
                chat_type="supergroup",
                reply_to_message_id=photo["message_id"],
            )
            request.request_message_id, request.generate_at = message["message_id"], time.time()

    def watch_submissions(self) -> None:
        """Stamp new submits, and have the upstream finish each one a little later."""
        while self._seen_submissions < len(self.evolink.submissions):
            submission = self.evolink.submissions[self._seen_submissions]
            self._seen_submissions += 1
            request = self.by_prompt.get(str(submission.body.get("prompt")))
            if request is None:
                continue
            request.submitted_at.append(time.time())
            request.task_ids.append(submission.task_id)
            job = asyncio.create_task(self._complete_later(request, submission.task_id))
            self._completions.add(job)
            job.add_done_callback(self._completions.discard)

    async def _complete_later(self, request: Request, task_id: str) -> None:
        await asyncio.sleep(self.rng.uniform(1, 3))
        await self.evolink.complete(task_id)
        request.completed_at = time.time()

    def watch_deliveries(self) -> None:
        """Each video that reached a chat, matched to its request by the message it answers."""
        by_message = {(r.chat, r.request_message_id): r for r in self.requests}
        for request in self.requests:
            request.delivered_at, request.answered_at = [], None
        for call in self.telegram.calls:
            if not call.ok or call.method not in {"sendVideo", "sendMessage"}:
                continue
            reply = call.params.get("reply_parameters") or {}
            found = by_message.get((call.params.get("chat_id"), reply.get("message_id")))
            if found is None:
                continue
            if call.method == "sendVideo":
                found.delivered_at.append(call.at)
            elif found.answered_at is None:
                found.answered_at = call.at

    def done(self) -> bool:
        return bool(self.requests) and all(r.delivered_at for r in self.requests)

    async def settle(self) -> None:
        for job in list(self._completions):
            job.cancel()
        await asyncio.gather(*self._completions, return_exceptions=True)


BROKEN: list[BrokenAnswer] = ["500", "502", "504", "reset", "cut", "gzip"]


async def run(
    time_limit: float,
    seed: int,
    voice_share: float,
    broken_share: float,
    *,
    bot_process: bool = False,
) -> dict[str, Any]:
    memory, stop = Memory(), asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        async with FakeTelegram() as telegram, FakeEvolink() as evolink:
            load = Load(telegram, evolink, seed=seed, voice_share=voice_share)
            total = PRIVATE_USERS + GROUPS * MEMBERS_PER_GROUP
            for n in range(round(total * broken_share)):
                evolink.break_next_answer(BROKEN[n % len(BROKEN)])
            load.prepare(Path(tmp))
            bot: BotUnderTest | ChildBot
            watcher: asyncio.Task[None] | None = None
            if bot_process:
                bot = ChildBot(
                    telegram,
                    evolink,
                    Path(tmp) / "data",
                    EVOLINK_CALLBACKS="on",
                    POLL_INTERVAL_SECONDS="2",
                    PROGRESS_EDIT_SECONDS="5",
                    ALBUM_QUIET_SECONDS="1",
                    DAILY_GENERATIONS_PER_USER="100",
                )
                await bot.start()
                await asyncio.sleep(3.0)
                memory.bot_idle = _rss_mb(bot.pid)
                watcher = asyncio.create_task(watch_memory(bot.pid, memory, stop))
            else:
                bot = BotUnderTest(
                    telegram,
                    evolink,
                    Path(tmp) / "data",
                    evolink_callbacks="on",
                    poll_interval_seconds=2.0,
                    progress_edit_seconds=5.0,
                    album_quiet_seconds=1.0,
                    daily_generations_per_user=100,
                )
                await bot.start()
            started = time.time()
            users = list(range(5001, 5001 + PRIVATE_USERS))
            drivers = [load.private_user(user) for user in users]
            for index, group in enumerate(GROUP_IDS):
                members = users[index * MEMBERS_PER_GROUP : (index + 1) * MEMBERS_PER_GROUP]
                drivers += [load.group_member(user, group) for user in members]
            senders = asyncio.gather(*drivers)
            deadline = started + time_limit
            while time.time() < deadline:
                load.watch_submissions()
                load.watch_deliveries()
                if senders.done() and load.done():
                    break
                await asyncio.sleep(0.02)
            await senders
            elapsed = time.time() - started
            await asyncio.sleep(1.0)  # a second delivery of anything would show by now
            load.watch_submissions()
            load.watch_deliveries()
            await load.settle()
            stop.set()
            if watcher is not None:
                await watcher
            await bot.stop()
    figures = report(load, evolink, elapsed, time_limit)
    if bot_process:  # this process holds only the fakes; the bot is measured below
        del figures["peak RSS MB (this process: bot + fakes)"]
        del figures["peak RSS MB (largest child: media worker)"]
        figures["bot process RSS MB: idle (workers up) / peak under load"] = (
            memory.bot_idle,
            memory.bot_peak,
        )
        figures["media workers: peak RSS MB together"] = memory.workers_peak
    return figures


def report(load: Load, evolink: FakeEvolink, elapsed: float, limit: float) -> dict[str, Any]:
    requests = load.requests
    to_submit = [
        r.submitted_at[0] - r.generate_at for r in requests if r.submitted_at and r.generate_at
    ]
    to_chat = [
        r.delivered_at[0] - r.completed_at for r in requests if r.delivered_at and r.completed_at
    ]
    to_answer = [r.answered_at - r.generate_at for r in requests if r.answered_at and r.generate_at]
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "requests": len(requests),
        "by kind": {
            kind: sum(1 for r in requests if r.kind == kind)
            for kind in ("private", "group-oneshot", "group-reply")
        },
        "submits": len(evolink.submissions),
        "submits refused": len(evolink.rejected),
        "upstream tasks per request": f"{len(evolink.tasks) / max(len(requests), 1):.3f}",
        "deliveries": sum(len(r.delivered_at) for r in requests),
        "lost": sum(1 for r in requests if not r.delivered_at),
        "duplicated": sum(
            1 for r in requests if len(r.submitted_at) > 1 or len(r.delivered_at) > 1
        ),
        "generate->first answer p50/p95 s": (percentile(to_answer, 50), percentile(to_answer, 95)),
        "generate->submit p50/p95 s": (percentile(to_submit, 50), percentile(to_submit, 95)),
        "completed->delivered p50/p95 s": (percentile(to_chat, 50), percentile(to_chat, 95)),
        "callbacks sent / answered 2xx": (
            f"{len(evolink.callbacks_sent)} / "
            f"{sum(1 for _, status in evolink.callbacks_sent if status and status < 300)}"
        ),
        "Bot API calls": len(load.telegram.calls),
        "elapsed s": elapsed,
        "time limit s": limit,
        "peak RSS MB (this process: bot + fakes)": self_rss,
        "peak RSS MB (largest child: media worker)": child_rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=150.0, help="seconds (default 150)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--voice-share", type=float, default=0.5, help="private users adding a voice note"
    )
    parser.add_argument(
        "--broken-share",
        type=float,
        default=0.2,
        help="submits whose task is created and whose answer is then lost (default 0.2)",
    )
    parser.add_argument(
        "--bot-process", action="store_true", help="the bot as a child process; its RSS measured"
    )
    args = parser.parse_args()
    print(
        f"load: {PRIVATE_USERS} private users + {GROUPS} groups × {MEMBERS_PER_GROUP} members, "
        f"voice notes {args.voice_share:.0%}, answers lost {args.broken_share:.0%}, "
        f"seed {args.seed}, limit {args.time_limit:g} s",
        file=sys.stderr,
    )
    figures = asyncio.run(
        run(
            args.time_limit,
            args.seed,
            args.voice_share,
            args.broken_share,
            bot_process=args.bot_process,
        )
    )
    for name, value in figures.items():
        if isinstance(value, tuple):
            shown = " / ".join(f"{v:.2f}" for v in value)
        elif isinstance(value, float):
            shown = f"{value:.1f}"
        else:
            shown = str(value)
        print(f"{name:44} {shown}")
    if figures["lost"] or figures["duplicated"] or figures["upstream tasks per request"] != "1.000":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
