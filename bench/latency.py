"""Latency the bot adds: media in → draft ready, /generate → submit, callback → video, poll → video.

Run with ``python -m bench.latency`` from the repository root (``--help`` for the sizes). The
bot runs as users run it, ``python -m bot`` in a child process, with the product's defaults
(Files API hosting, ALBUM_QUIET_SECONDS=1.5, POLL_INTERVAL_SECONDS=60, paced queries) except
where a section varies one; the fake Telegram and the fake Evolink run in this process, on
loopback. Every time is wall-clock time.time() in this process: the fake Telegram's Call.at is
when a Bot API request reached it, the fake Evolink's marks are taken in its handlers (see
bench._common.TimedEvolink).

(a)/(b) A user sends the media (one message each, queued at once), then, once the draft summary
shows every file, /generate. Media are downloaded, normalised and uploaded to the Files API as
they arrive, so "sent → all hosted" holds the media work and "/generate → submit" only the
submit path. The bare transforms are bot.media's normalisers called directly and sequentially
on the same files in this process, before each user's turn (the bot idle meanwhile);
"bot-added" is the difference of the two p50s: downloads, uploads, the round trips to the warm
media workers, database writes.
"submission recorded" also holds the fake Evolink fetching and probing every reference, which
the real service does on its side: it is shown, but it is not the bot's.

(c) Tasks are seeded as processing (storage + the fake's task table), the bot polls every 600 s,
EVOLINK_CALLBACKS=on: the fake completes one task at a time and posts its callback; the time is
from the POST leaving the fake to the sendVideo request reaching the fake Telegram.

(d) Behind NAT (callbacks off), the bot at its default settings beside a bare peer that queries
each of its tasks every 5 s (bench/_peer_poller.py, a process of its own), on the same fakes:
each side follows tasks of its own, all submitted at the start, each queued and then processed
for times drawn from bench._common.CompletionModel around the fake's estimate (the fake's
progress moving with it). The time is from the moment a task reads completed to the sendVideo
request of its video; also the task queries each side made per task.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ROOT,
    ChildBot,
    CompletionModel,
    Result,
    TimedEvolink,
    bench_task,
    ms,
    percentile,
    print_run,
    seed_processing_tasks,
    table,
    wait_until,
)
from bot.media.audio import normalise_audio
from bot.media.images import normalise_image
from bot.media.jobs import MediaJobs
from bot.media.pool import MediaPool
from bot.media.probe import probe
from bot.media.video import normalise_video
from bot.telegram.texts import t
from tests.fakes.telegram import Call, FakeTelegram
from tests.mediagen import image_bytes, write_audio, write_video

VIDEO_SIZE = 640
QUIET_SECONDS = 1.5  # ALBUM_QUIET_SECONDS, the product's default


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    photo_runs: int = 10
    payload_runs: int = 3
    photos: int = 9
    videos: int = 3
    audios: int = 3
    clip_seconds: float = 5.0
    callback_tasks: int = 20
    completion_tasks: int = 40  # for the bot, and as many for the peer
    estimate: float = 120.0  # the upstream's estimated time (CompletionModel)
    peer_interval: float = 5.0
    poll_interval: float | None = None  # None: the bot's default
    worker_runs: int = 5
    quiet: float = QUIET_SECONDS

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the smoke test."""
        return cls(
            photo_runs=1,
            payload_runs=1,
            photos=1,
            videos=1,
            audios=1,
            clip_seconds=2.5,
            callback_tasks=2,
            completion_tasks=2,
            estimate=4.0,
            peer_interval=0.5,
            poll_interval=0.5,
            worker_runs=1,
            quiet=0.05,
        )


@dataclass
class Item:
    """One file a user sends."""

    kind: str  # photo | video | audio
    path: Path
    seconds: float = 0.0

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Samples:
    """Per-run seconds of one payload."""

    hosted: list[float] = field(default_factory=list)
    summary: list[float] = field(default_factory=list)
    transforms: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    recorded: list[float] = field(default_factory=list)
    changes: set[str] = field(default_factory=set)


# --- inputs and the bare transforms ----------------------------------------------------------


def make_photos(work: Path, count: int) -> list[Item]:
    """1280×960 JPEG photos as Telegram hands them over (no EXIF: Telegram strips it)."""
    items = []
    for n in range(count):
        path = work / f"photo{n + 1}.jpg"
        path.write_bytes(image_bytes(1280, 960, "JPEG", color=(20 * n + 20, 90, 160)))
        items.append(Item("photo", path))
    return items


def make_payload(work: Path, cfg: Config) -> list[Item]:
    """Photos, then clips (640×640 24 fps H.264 + AAC), then MP3 sounds, as many as configured."""
    items = make_photos(work, cfg.photos)
    for n in range(cfg.videos):
        path = write_video(
            work / f"clip{n + 1}.mp4",
            width=VIDEO_SIZE,
            height=VIDEO_SIZE,
            seconds=cfg.clip_seconds,
            fps=24,
        )
        items.append(Item("video", path, cfg.clip_seconds))
    for n in range(cfg.audios):
        path = write_audio(work / f"sound{n + 1}.mp3", seconds=cfg.clip_seconds)
        items.append(Item("audio", path, cfg.clip_seconds))
    return items


def bare_transforms(items: list[Item], out: Path) -> tuple[float, set[str]]:
    """Seconds for bot.media's normalisers on `items`, one after the other, with the draft's
    15 s budgets passed on as the bot does; and the changes they made."""
    out.mkdir(parents=True, exist_ok=True)
    used = {"video": 0.0, "audio": 0.0}
    changes: set[str] = set()
    started = time.perf_counter()
    for n, item in enumerate(items):
        stem = f"t{n}-{random.randrange(10**9)}"
        if item.kind == "photo":
            image = normalise_image(item.path, out, stem=stem)
            changes.update(f"image {c.code}" for c in image.changes or ())
        elif item.kind == "video":
            video = normalise_video(item.path, out, stem=stem, max_seconds=15 - used["video"])
            used["video"] += video.duration
            changes.update(f"video {c.code}" for c in video.changes)
        else:
            audio = normalise_audio(item.path, out, stem=stem, max_seconds=15 - used["audio"])
            used["audio"] += audio.duration
            changes.update(f"audio {c.code}" for c in audio.changes)
    return time.perf_counter() - started, changes


async def worker_overhead(path: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds of MediaJobs.probe (a round trip to a warm media worker, as every file makes) and
    of the same probe in this process."""
    pool = MediaPool(size=1, memory_mb=2048, cpu_seconds=60, timeout_seconds=60, max_jobs=10_000)
    jobs = MediaJobs(pool)
    child, inline = [], []
    try:
        await jobs.probe(path, owner=1)  # the bot starts its workers at start-up
        for _ in range(runs):
            started = time.perf_counter()
            await jobs.probe(path, owner=1)
            child.append(time.perf_counter() - started)
            started = time.perf_counter()
            probe(path)
            inline.append(time.perf_counter() - started)
    finally:
        await jobs.close()
    return child, inline


# --- (a) and (b): media in, /generate, submit ------------------------------------------------


def _names(items: list[Item]) -> list[str]:
    counts = {"photo": 0, "video": 0, "audio": 0}
    for item in items:
        counts[item.kind] += 1
    names = [t("en", "ref_image", n=n) for n in range(1, counts["photo"] + 1)]
    names += [t("en", "ref_video", n=n) for n in range(1, counts["video"] + 1)]
    names += [t("en", "ref_audio", n=n) for n in range(1, counts["audio"] + 1)]
    return names


def _queue(telegram: FakeTelegram, chat: int, items: list[Item], caption: str) -> None:
    with telegram.held():  # built first, then queued together, as a phone sends a batch
        for n, item in enumerate(items):
            text = caption if n == 0 else None
            if item.kind == "photo":
                telegram.send_photo(chat, chat, item.data, caption=text)
            elif item.kind == "video":
                telegram.send_video(
                    chat,
                    chat,
                    item.data,
                    width=VIDEO_SIZE,
                    height=VIDEO_SIZE,
                    duration=round(item.seconds),
                    caption=text,
                )
            else:
                telegram.send_audio(
                    chat,
                    chat,
                    item.data,
                    duration=round(item.seconds),
                    file_name=f"sound{n}.mp3",
                    caption=text,
                )


async def one_generate_run(
    telegram: FakeTelegram, evolink: TimedEvolink, chat: int, items: list[Item], samples: Samples
) -> None:
    """Send the media, wait for the draft, send /generate, wait for the submit; note the times."""
    uploads = len(evolink.upload_done)
    refs_line = t("en", "draft_refs", refs=", ".join(_names(items)))
    pending = t("en", "draft_pending", count=0).split(" ", 1)[1]
    timeout = 60 + 20 * len(items)

    _queue(telegram, chat, items, caption="image 1 slowly turns into video 1, audio 1 plays")
    sent = time.time()
    await wait_until(
        lambda: len(evolink.upload_done) >= uploads + len(items), timeout, "references hosted"
    )
    samples.hosted.append(evolink.upload_done[uploads + len(items) - 1] - sent)

    def summary(call: Call) -> bool:
        return (
            call.at >= sent
            and call.ok
            and call.method in {"sendMessage", "editMessageText"}
            and call.params.get("chat_id") == chat
            and refs_line in call.text
            and pending not in call.text
        )

    shown = await telegram.wait_for(summary, timeout=timeout)
    samples.summary.append(shown.at - sent)

    received, recorded = len(evolink.submit_received), len(evolink.submit_recorded)
    telegram.send_text(chat, chat, "/generate")
    asked = time.time()
    await wait_until(lambda: len(evolink.submit_recorded) > recorded, timeout, "submission")
    samples.received.append(evolink.submit_received[received] - asked)
    samples.recorded.append(evolink.submit_recorded[recorded] - asked)
    body = evolink.submissions[-1].body
    got = [len(body.get(k, [])) for k in ("image_urls", "video_urls", "audio_urls")]
    want = [sum(1 for i in items if i.kind == k) for k in ("photo", "video", "audio")]
    if got != want:
        raise RuntimeError(f"the submit carried {got} image/video/audio URLs, expected {want}")


async def generate_section(
    work: Path, label: str, items: list[Item], runs: int, first_chat: int, quiet: float
) -> Samples:
    """`runs` users each send `items` and /generate, one user after the other; before each, the
    bare transforms of the same files (taken in turns, so that both see the machine as busy as
    the other: a neighbour's burst on a shared machine would otherwise tilt the comparison)."""
    samples = Samples()
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        bot = ChildBot(
            telegram,
            evolink,
            work / f"bot-{first_chat}" / "data",
            POLL_INTERVAL_SECONDS="10",
            PROGRESS_EDIT_SECONDS="5",
            ALBUM_QUIET_SECONDS=f"{quiet:g}",
        )
        await bot.start()
        try:
            for n in range(runs):
                seconds, changes = bare_transforms(items, work / f"bare-{first_chat}-{n}")
                samples.transforms.append(seconds)
                samples.changes |= changes
                await one_generate_run(telegram, evolink, first_chat + n, items, samples)
                print(f"  {label}: run {n + 1}/{runs} done", file=sys.stderr)
        finally:
            await bot.stop()
        _check_log(bot)
    return samples


def _check_log(bot: ChildBot) -> None:
    problems = [p for p in bot.problems() if "Traceback" in p or " ERROR " in p]
    if problems:
        raise RuntimeError("the bot logged errors:\n" + "\n".join(problems[:20]))


# --- (c) callbacks and (d) polling -----------------------------------------------------------


def _video_to(chat: int) -> Callable[[Call], bool]:
    return lambda call: call.method == "sendVideo" and call.params.get("chat_id") == chat


def _more_than(items: list[Any], count: int) -> Callable[[], bool]:
    return lambda: len(items) > count


async def callback_section(work: Path, tasks: int) -> tuple[list[float], list[float]]:
    """Seconds from callback POST to sendVideo, and to the callback's answer."""
    to_video, to_answer = [], []
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        data = work / "callbacks" / "data"
        bot = ChildBot(
            telegram,
            evolink,
            data,
            EVOLINK_CALLBACKS="on",
            POLL_INTERVAL_SECONDS="600",
            PROGRESS_EDIT_SECONDS="5",
        )
        seeded = await seed_processing_tasks(
            data / "bot.sqlite3",
            evolink,
            tasks,
            first_chat=30_000,
            next_poll_at=lambda i: time.time() + 3600,
            callback_base=f"http://127.0.0.1:{bot.port}",
        )
        await bot.start()
        try:
            for task in seeded:
                posts = len(evolink.callback_posts)
                await evolink.complete(task.upstream_id)
                video = await telegram.wait_for(_video_to(task.chat_id), timeout=20)
                await wait_until(_more_than(evolink.callback_posts, posts), 20, "callback")
                _, posted, answered = evolink.callback_posts[posts]
                to_video.append(video.at - posted)
                to_answer.append(answered - posted)
            if len(evolink.task_queries) != tasks:
                raise RuntimeError(
                    f"{len(evolink.task_queries)} task queries for {tasks} callbacks: "
                    "something other than the callbacks woke the tracker"
                )
        finally:
            await bot.stop()
        _check_log(bot)
    return to_video, to_answer


def _register(evolink: TimedEvolink, chat: int, estimate: int) -> str:
    """A task the fake Evolink knows, submitted now (for the peer: not in the bot's database)."""
    created = int(time.time())
    upstream = f"task-unified-{created}-{secrets.token_hex(4)}"
    evolink.tasks[upstream] = bench_task(upstream, created=created, estimated_time=estimate)
    return upstream


async def completion_section(
    work: Path, cfg: Config, rng: random.Random
) -> tuple[dict[str, list[float]], dict[str, float], str]:
    """Seconds from completion upstream to sendVideo: the bot at its default settings behind
    NAT (callbacks off), and beside it a bare peer that queries every `peer_interval` seconds;
    both follow their own tasks on the same fakes, every task submitted at the start and
    completing at a time drawn from the CompletionModel. Also the task queries each made per
    task, and the model's drawn completion times."""
    model = CompletionModel(estimate=cfg.estimate)
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        data = work / "completion" / "data"
        bot = ChildBot(telegram, evolink, data, EVOLINK_CALLBACKS="off")
        for test_setting in ("POLL_INTERVAL_SECONDS", "PROGRESS_EDIT_SECONDS"):
            bot.env.pop(test_setting)  # the product's defaults, not the test harness's
        if cfg.poll_interval is not None:
            bot.env["POLL_INTERVAL_SECONDS"] = f"{cfg.poll_interval:g}"
        started = time.time()
        seeded = await seed_processing_tasks(
            data / "bot.sqlite3",
            evolink,
            cfg.completion_tasks,
            first_chat=40_000,
            next_poll_at=lambda i: started,
            submitted_ago=0.0,
        )
        drawn = [model.draw(rng) for _ in range(2 * cfg.completion_tasks)]
        peer_tasks = []
        for n, task in enumerate(seeded):
            evolink.tasks[task.upstream_id].estimated_time = int(cfg.estimate)
            evolink.tasks[task.upstream_id].status, evolink.tasks[task.upstream_id].progress = (
                "pending",
                0,
            )
            queued, processing = drawn[n]
            evolink.follow_timeline(task.upstream_id, queued=queued, processing=processing)
        for n in range(cfg.completion_tasks):
            chat = 50_000 + n
            upstream = _register(evolink, chat, int(cfg.estimate))
            queued, processing = drawn[cfg.completion_tasks + n]
            evolink.follow_timeline(upstream, queued=queued, processing=processing)
            peer_tasks.append({"task": upstream, "chat": chat})
        tasks_file = work / "completion" / "peer-tasks.json"
        tasks_file.write_text(json.dumps(peer_tasks))
        peer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._peer_poller",
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(ROOT),
                "PEER_TASKS": str(tasks_file),
                "PEER_INTERVAL": f"{cfg.peer_interval:g}",
                "EVOLINK_BASE_URL": evolink.base_url,
                "EVOLINK_API_KEY": evolink.api_key,
                "TELEGRAM_API_BASE_URL": telegram.base_url,
                "TELEGRAM_BOT_TOKEN": telegram.token,
            },
        )
        await bot.start()
        total = 2 * cfg.completion_tasks
        longest = max(q + p for q, p in drawn)
        try:
            await wait_until(
                lambda: len([c for c in telegram.calls if c.method == "sendVideo"]) >= total,
                longest + 60,
                "videos",
            )
        finally:
            await bot.stop()
            if peer.returncode is None:
                peer.terminate()
            await peer.wait()
        _check_log(bot)
        upstream_of = {t.chat_id: t.upstream_id for t in seeded}
        upstream_of |= {int(t["chat"]): str(t["task"]) for t in peer_tasks}
        latencies: dict[str, list[float]] = {"bot": [], "peer": []}
        for call in telegram.calls:
            if call.method == "sendVideo" and call.ok:
                chat = int(call.params["chat_id"])
                done = evolink.tasks[upstream_of[chat]].completed_at
                assert done is not None
                latencies["bot" if chat < 50_000 else "peer"].append(call.at - done)
        queries: dict[str, float] = {}
        for who, chats in (
            ("bot", [t.chat_id for t in seeded]),
            ("peer", [50_000 + n for n in range(cfg.completion_tasks)]),
        ):
            ids = {upstream_of[c] for c in chats}
            queries[who] = sum(1 for q in evolink.task_queries if q in ids) / len(ids)
    return latencies, queries, model.describe(drawn)


# --- the report ------------------------------------------------------------------------------


def _row(step: str, values: list[float]) -> tuple[str, ...]:
    return (
        f"  {step}",
        str(len(values)),
        ms(percentile(values, 50)),
        ms(percentile(values, 95)),
    )


def _rows(label: str, s: Samples, runs: int, extra: str, quiet: float) -> list[tuple[str, ...]]:
    overhead = percentile(s.hosted, 50) - percentile(s.transforms, 50)
    changes = ", ".join(sorted(s.changes)) or "every file copied as is"
    return [
        (label, "", "", ""),
        _row("sent → all references hosted (Files API)", s.hosted),
        _row(f"sent → draft summary shown (incl. {quiet:g} s quiet)", s.summary),
        _row(f"bare transforms, sequential ({changes})", s.transforms),
        ("  bot-added: hosted − transforms (p50 − p50)", str(runs), ms(overhead), "–"),
        _row("/generate → submit received by Evolink", s.received),
        _row(f"/generate → submission recorded{extra}", s.recorded),
    ]


async def run(cfg: Config) -> Result:
    """Run every section; the report and its figures."""
    figures: dict[str, float] = {}
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        work = Path(tmp)
        (work / "single").mkdir()
        (work / "payload").mkdir()
        photo = make_photos(work / "single", 1)
        payload = make_payload(work / "payload", cfg)

        print("(a) one photo", file=sys.stderr)
        single = await generate_section(work, "1 photo", photo, cfg.photo_runs, 10_000, cfg.quiet)
        print("(b) maximum payload", file=sys.stderr)
        full = await generate_section(
            work, "max payload", payload, cfg.payload_runs, 20_000, cfg.quiet
        )
        clips = [i for i in payload if i.kind != "photo"]
        child, inline = await worker_overhead(
            clips[0].path if clips else photo[0].path, cfg.worker_runs
        )

        label_b = (
            f"{cfg.photos} photos 1280×960 + {cfg.videos} videos {cfg.clip_seconds:g} s "
            f"{VIDEO_SIZE}×{VIDEO_SIZE} + {cfg.audios} MP3 {cfg.clip_seconds:g} s"
        )
        rows = _rows("(a) 1 photo 1280×960 JPEG", single, cfg.photo_runs, "", cfg.quiet)
        rows += _rows(
            f"(b) {label_b}", full, cfg.payload_runs, " (+ fake fetches/probes refs)", cfg.quiet
        )
        rows.append(("diagnostic", "", "", ""))
        rows.append(_row("a warm media worker's round trip per file (MediaJobs.probe)", child))
        rows.append(_row("the same probe in-process (bot.media.probe.probe)", inline))
        out.append(
            "Latency (a)/(b): media in → draft ready, /generate → submit "
            "(bot = `python -m bot` child; fakes on loopback)"
        )
        out.append(table(("step", "runs", "p50 ms", "p95 ms"), rows))
        for name, s in (("a", single), ("b", full)):
            for step in ("hosted", "summary", "transforms", "received", "recorded"):
                figures[f"{name}.{step}.p50"] = percentile(getattr(s, step), 50)
        figures["worker.p50"] = percentile(child, 50)

        print("(c) callbacks", file=sys.stderr)
        to_video, to_answer = await callback_section(work, cfg.callback_tasks)
        rows = [
            (
                "callback POSTed → sendVideo started",
                str(len(to_video)),
                ms(percentile(to_video, 50)),
                ms(percentile(to_video, 95)),
                ms(max(to_video)),
            ),
            (
                "callback POSTed → bot answered 200",
                str(len(to_answer)),
                ms(percentile(to_answer, 50)),
                ms(percentile(to_answer, 95)),
                ms(max(to_answer)),
            ),
        ]
        out.append("")
        out.append(
            "Latency (c): Evolink callback → video "
            "(EVOLINK_CALLBACKS=on, POLL_INTERVAL_SECONDS=600)"
        )
        out.append(table(("step", "tasks", "p50 ms", "p95 ms", "max ms"), rows))
        figures["c.video.p50"] = percentile(to_video, 50)
        figures["c.answer.p50"] = percentile(to_answer, 50)

        print(
            "(d) completion → video: the bot at its defaults beside a 5 s poller", file=sys.stderr
        )
        latencies, queries, drawn = await completion_section(work, cfg, random.Random(1))
        rows = []
        for who, label in (
            ("bot", "seedance bot, default settings (callbacks off)"),
            ("peer", f"bare peer querying every {cfg.peer_interval:g} s"),
        ):
            values = latencies[who]
            rows.append(
                (
                    label,
                    str(len(values)),
                    ms(percentile(values, 50)),
                    ms(percentile(values, 95)),
                    ms(max(values)),
                    f"{queries[who]:.1f}",
                )
            )
            figures[f"d.{who}.p50"] = percentile(values, 50)
            figures[f"d.{who}.p95"] = percentile(values, 95)
            figures[f"d.{who}.queries"] = queries[who]
        out.append("")
        out.append(
            "Latency (d): completed upstream → sendVideo behind NAT (no callbacks), the bot beside"
            " a bare poller on the same fakes; tasks complete at random times around the estimate"
        )
        out.append(table(("who", "tasks", "p50 ms", "p95 ms", "max ms", "queries per task"), rows))
        out.append(drawn)
    return Result("\n".join(out), figures)


def main() -> None:
    """Parse the sizes, run, print the tables."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo-runs", type=int, default=defaults.photo_runs)
    parser.add_argument("--payload-runs", type=int, default=defaults.payload_runs)
    parser.add_argument("--callback-tasks", type=int, default=defaults.callback_tasks)
    parser.add_argument("--completion-tasks", type=int, default=defaults.completion_tasks)
    args = parser.parse_args()
    cfg = Config(
        photo_runs=args.photo_runs,
        payload_runs=args.payload_runs,
        callback_tasks=args.callback_tasks,
        completion_tasks=args.completion_tasks,
    )
    print_run(run(cfg))


if __name__ == "__main__":
    main()
