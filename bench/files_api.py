"""What deleting unneeded Files API uploads costs a user: /generate → submit, with the references
uploaded as they arrived (the normal case) and uploaded again at /generate (a draft left alone
for 6 hours, whose uploads the clean-up deleted; also what "upload only at submit" would cost
every request).

Run with ``python -m bench.files_api`` from the repository root. The bot runs as ``python -m
bot`` in a child process with Files API hosting (the default) and the clean-up every second;
the fakes run in this process, on loopback. Each run is a new user who sends the media and waits
until all of it is uploaded and the draft summary shows it. For "uploaded again", the draft's
last change is then moved 7 hours back in the bot's database and the run waits until the
clean-up has deleted every upload (DELETE /api/v1/files/{id} at the fake). Then /generate; the
time runs until the fake Evolink receives the submit. Loopback uploads are far faster than a
real uplink: the bytes are shown, and the time they would take at 10 Mbit/s (an estimate, not
a measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ChildBot,
    Result,
    TimedEvolink,
    load,
    machine,
    ms,
    percentile,
    table,
    wait_until,
)
from bench.latency import Config as LatencyConfig
from bench.latency import Item, _names, _queue, make_payload, make_photos
from bot.telegram.texts import t
from tests.fakes.telegram import Call, FakeTelegram

HOURS_BACK = 7
UPLINK_MBIT = 10


@dataclass
class Config:
    """Sizes of one run; the defaults are the real benchmark."""

    photo_runs: int = 8
    payload_runs: int = 3
    payload: LatencyConfig = field(default_factory=LatencyConfig)

    @classmethod
    def tiny(cls) -> Config:
        """A few seconds in all: for the smoke test."""
        return cls(photo_runs=1, payload_runs=1, payload=LatencyConfig.tiny())


@dataclass
class Samples:
    """/generate → submit received, per run, for both cases; bytes uploaded per run."""

    on_arrival: list[float] = field(default_factory=list)
    again: list[float] = field(default_factory=list)
    upload_bytes: list[int] = field(default_factory=list)


async def _draft_ready(
    telegram: FakeTelegram, evolink: TimedEvolink, chat: int, items: list[Item]
) -> int:
    """Send the media; wait until every file is uploaded and the summary shows it. Returns how
    many uploads the fake had before."""
    before = len(evolink.uploads)
    refs_line = t("en", "draft_refs", refs=", ".join(_names(items)))
    _queue(telegram, chat, items, caption="image 1 slowly turns into video 1, audio 1 plays")
    sent = time.time()
    await wait_until(lambda: len(evolink.uploads) >= before + len(items), 120, "uploads")

    def summary(call: Call) -> bool:
        return (
            call.at >= sent
            and call.ok
            and call.params.get("chat_id") == chat
            and refs_line in call.text
            and "still being checked" not in call.text
        )

    await telegram.wait_for(summary, timeout=120)
    return before


async def _generate(evolink: TimedEvolink, telegram: FakeTelegram, chat: int) -> float:
    received = len(evolink.submit_received)
    telegram.send_text(chat, chat, "/generate")
    asked = time.time()
    await wait_until(lambda: len(evolink.submit_received) > received, 120, "submit")
    await wait_until(lambda: len(evolink.submit_recorded) >= received + 1, 120, "submission")
    return evolink.submit_received[received] - asked


async def section(work: Path, items: list[Item], runs: int, first_chat: int) -> Samples:
    """`runs` users with uploads kept, then `runs` with uploads deleted and made again."""
    samples = Samples()
    async with FakeTelegram() as telegram, TimedEvolink() as evolink:
        data = work / f"bot-{first_chat}" / "data"
        bot = ChildBot(telegram, evolink, data, CLEANUP_INTERVAL_SECONDS="1")
        await bot.start()
        try:
            for n in range(runs):
                chat = first_chat + n
                before = await _draft_ready(telegram, evolink, chat, items)
                samples.upload_bytes.append(sum(f.size for f in evolink.uploads[before:]))
                samples.on_arrival.append(await _generate(evolink, telegram, chat))
            for n in range(runs):
                chat = first_chat + runs + n
                before = await _draft_ready(telegram, evolink, chat, items)
                mine = {f.file_id for f in evolink.uploads[before:]}
                with sqlite3.connect(data / "bot.sqlite3", timeout=30) as conn:
                    conn.execute(
                        "UPDATE drafts SET updated_at = updated_at - ? WHERE chat_id = ?",
                        (HOURS_BACK * 3600, chat),
                    )

                def deleted(mine: set[str] = mine) -> bool:
                    return all(f.deleted for f in evolink.uploads if f.file_id in mine)

                await wait_until(deleted, 60, "the clean-up deleting the uploads")
                uploads = len(evolink.uploads)
                samples.again.append(await _generate(evolink, telegram, chat))
                if len(evolink.uploads) - uploads != len(items):
                    raise RuntimeError("the submit did not upload every file again")
                print(f"  {len(items)} file(s): run {n + 1}/{runs} done", file=sys.stderr)
        finally:
            await bot.stop()
        problems = [p for p in bot.problems() if "Traceback" in p or " ERROR " in p]
        if problems:
            raise RuntimeError("the bot logged errors:\n" + "\n".join(problems[:20]))
    return samples


async def run(cfg: Config) -> Result:
    """Both payloads; the table and its figures."""
    started = time.perf_counter()
    figures: dict[str, float] = {}
    rows: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="files-api-bench-") as tmp:
        work = Path(tmp)
        (work / "single").mkdir()
        (work / "payload").mkdir()
        cases = [
            ("1 photo 1280×960 JPEG", make_photos(work / "single", 1), cfg.photo_runs),
            (
                f"{cfg.payload.photos} photos + {cfg.payload.videos} clips "
                f"{cfg.payload.clip_seconds:g} s + {cfg.payload.audios} MP3",
                make_payload(work / "payload", cfg.payload),
                cfg.payload_runs,
            ),
        ]
        for index, (label, items, runs) in enumerate(cases):
            print(label, file=sys.stderr)
            s = await section(work, items, runs, 30_000 + 1000 * index)
            arrival, again = percentile(s.on_arrival, 50), percentile(s.again, 50)
            megabytes = percentile([float(b) for b in s.upload_bytes], 50) / 2**20
            rows.append(
                (
                    label,
                    str(runs),
                    ms(arrival),
                    ms(again),
                    ms(again - arrival),
                    f"{megabytes:.2f}",
                    f"{megabytes * 8 / UPLINK_MBIT:.2f}",
                )
            )
            figures[f"{index}.on_arrival.p50"] = arrival
            figures[f"{index}.again.p50"] = again
            figures[f"{index}.megabytes"] = megabytes
    text = "\n".join(
        [
            "Files API uploads kept vs deleted and made again: /generate → submit received "
            "(bot = `python -m bot` child; fakes on loopback)",
            table(
                (
                    "payload",
                    "runs",
                    "uploaded on arrival p50 ms",
                    "uploaded at /generate p50 ms",
                    "added ms",
                    "MB uploaded",
                    f"s at {UPLINK_MBIT} Mbit/s (estimate)",
                ),
                rows,
            ),
            "deletes run in the periodic clean-up, never on a user's path; a draft's uploads are"
            " only made again when it was left alone 6 hours and then generated after all",
            f"{machine()}; {load()} at the end; total {time.perf_counter() - started:.0f} s",
        ]
    )
    return Result(text, figures)


def main() -> None:
    """Parse the sizes, run, print the table."""
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo-runs", type=int, default=defaults.photo_runs)
    parser.add_argument("--payload-runs", type=int, default=defaults.payload_runs)
    args = parser.parse_args()
    result = asyncio.run(run(Config(photo_runs=args.photo_runs, payload_runs=args.payload_runs)))
    print(result.text)


if __name__ == "__main__":
    main()
