"""Users' files are decoded in the media workers only; files that stop a worker, or the bot, are
refused plainly and never retried in a loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.models import RefStatus
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import BotRecords, eventually
from tests.harness import BotProcess
from tests.mediagen import image_bytes, write_audio, write_video

pytestmark = pytest.mark.e2e

CHAT = 9401
DECODERS = ("libavcodec", "libavformat", "/PIL/", "pillow_heif", "libheif", "libdav1d")


def test_importing_the_bot_loads_no_decoder() -> None:
    code = (
        "import bot.app, bot.__main__, handlers, sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('av', 'PIL', 'pillow_heif')))"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:  # ppid
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.fixture
async def process(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    bot = BotProcess(telegram, evolink, tmp_path / "data", MEDIA_WORKERS="2")
    yield bot
    await bot.kill()


async def test_the_running_bot_decodes_nothing_itself_and_its_workers_hold_no_secret(
    process: BotProcess, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    await process.start()
    clip = write_video(
        tmp_path / "clip.webm", codec="libvpx-vp9", container="webm", audio=False, seconds=2.5
    )
    voice = write_audio(tmp_path / "voice.ogg", seconds=3, codec="libopus", rate=48_000)
    telegram.send_photo(CHAT, CHAT, image_bytes(900, 700), caption="a kite over dunes")
    telegram.send_video(CHAT, CHAT, clip.read_bytes(), width=640, height=480, duration=3)
    telegram.send_voice(CHAT, CHAT, voice.read_bytes(), duration=3)
    telegram.send_document(CHAT, CHAT, image_bytes(800, 600, "PNG"), file_name="scan.png")
    await telegram.wait_for(
        lambda c: "image 1, image 2, video 1, audio 1" in c.text and "checked" not in c.text,
        timeout=60,
    )
    assert process.process is not None
    bot_pid = process.process.pid
    maps = Path(f"/proc/{bot_pid}/maps").read_text()
    assert not [name for name in DECODERS if name in maps]
    workers = _children(bot_pid)
    assert len(workers) == 2
    for pid in workers:
        worker_maps = Path(f"/proc/{pid}/maps").read_text()
        assert "libavcodec" in worker_maps  # the decoding happened here
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert telegram.token.encode() not in environ
        assert evolink.api_key.encode() not in environ
        assert b"TELEGRAM_BOT_TOKEN" not in environ and b"EVOLINK_API_KEY" not in environ
    await process.kill()  # SIGKILL: no clean-up runs in the bot
    await eventually(lambda: not any(_alive(pid) for pid in workers), what="workers gone")


async def _attempts(bot_data: Path) -> int:
    async with BotRecords(bot_data) as db:
        rows = await db.store.db.fetchall("SELECT attempts FROM refs")
    return max((int(row[0]) for row in rows), default=0)


async def _wait_for_attempt(bot_data: Path, attempt: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (found := await _attempts(bot_data)) < attempt:
        assert loop.time() < deadline, f"processing was started {found} times, not {attempt}"
        await asyncio.sleep(0.05)
    assert found == attempt


async def test_a_file_that_keeps_killing_the_bot_is_refused_after_the_second_restart(
    process: BotProcess, telegram: FakeTelegram, tmp_path: Path
) -> None:
    process.env["MEDIA_WORKERS"] = "1"
    await process.start()
    # Long enough to transcode that each SIGKILL lands in the middle of it.
    clip = write_video(tmp_path / "long.mp4", width=1280, height=720, seconds=6, codec="mpeg4")
    telegram.send_video(CHAT, CHAT, clip.read_bytes(), width=1280, height=720, duration=6)
    for attempt in (1, 2):
        await _wait_for_attempt(process.data_dir, attempt)
        await process.kill()  # as if this file had brought the bot down
        await process.start()
    refusal = await telegram.wait_for(
        lambda c: c.method == "sendMessage" and "stopped twice while working on it" in c.text,
        timeout=30,
    )
    assert refusal.text.startswith("The video can't be used: I could not process it")
    async with BotRecords(process.data_dir) as db:
        (ref,) = await db.store.drafts.references((await db.drafts())[0].id)
    assert (ref.status, ref.error_code, ref.attempts) == (RefStatus.REJECTED, "unprocessable", 2)


async def test_a_file_past_its_deadline_is_refused_as_unprocessable(
    make_bot: MakeBot, telegram: FakeTelegram, tmp_path: Path
) -> None:
    bot = await make_bot(media_workers=1, media_timeout_seconds=0.2)
    clip = write_video(tmp_path / "slow.mp4", width=1280, height=720, seconds=5, codec="mpeg4")
    telegram.send_video(CHAT, CHAT, clip.read_bytes(), width=1280, height=720, duration=5)
    refusal = await bot.reply_to(CHAT, text_contains="can't be used", timeout=30)
    assert "it took longer than I allow for one file" in refusal.text
    # The pool is whole again: the next file is processed.
    telegram.send_photo(CHAT, CHAT, image_bytes(900, 700))
    await bot.reply_to(CHAT, text_contains="References: image 1", timeout=30)
    metrics = await bot.metrics()
    assert 'seedance_media_unprocessable_total{reason="timeout"} 1.0' in metrics
    assert "seedance_media_files_waiting 0.0" in metrics
