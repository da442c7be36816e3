"""Broken and hostile files, each sent the way a user would send it: every one gets a message
naming it and saying what is wrong with it, and the draft keeps the good ones.

The corpus is made at test time: a truncated JPEG, a JPEG named .mp4, an empty file, a PNG
decompression bomb, 1×1 and 100000×10 pictures, a 0 s recording, an MP4 with no picture and a
text file named .mp3.
"""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import pytest
from PIL import Image

from storage.models import ChatKey, RefStatus
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import eventually, texts, videos
from tests.mediagen import flat_png, image_bytes, write_audio

pytestmark = pytest.mark.e2e

CHAT = 931
KEPT = "The rest of your draft is kept."


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (20, 160, 90)).save(buf, "PNG")
    return buf.getvalue()


def silent_wav() -> bytes:
    """A well-formed WAV holding no samples at all: 0 s."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(b"")
    return buf.getvalue()


def sound_only_mp4(tmp: Path) -> bytes:
    """An MP4 container with an AAC track and no video stream."""
    return write_audio(tmp / "sound-only.mp4", seconds=3, codec="aac", container="mp4").read_bytes()


async def test_each_broken_file_gets_its_own_reason_and_the_good_ones_stay(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot(cleanup_interval_seconds=0.3)
    tg = telegram
    tg.send_photo(CHAT, CHAT, image_bytes(900, 700), caption="two good pictures")
    await bot.reply_to(CHAT, text_contains="image 1")

    jpeg = image_bytes(800, 600)
    tg.send_document(CHAT, CHAT, jpeg[: len(jpeg) // 2], file_name="holiday.jpg")
    tg.send_video(CHAT, CHAT, jpeg, width=800, height=600, duration=5)  # a JPEG, "sent as video"
    tg.send_document(CHAT, CHAT, jpeg, file_name="clip.mp4", mime_type="video/mp4")  # good
    tg.send_document(CHAT, CHAT, b"", file_name="empty.png")
    tg.send_document(
        CHAT, CHAT, flat_png(30_000, 30_000, bits=1, colour=False), file_name="bomb.png"
    )
    tg.send_photo(CHAT, CHAT, image_bytes(1, 1))
    tg.send_document(CHAT, CHAT, png(100_000, 10), file_name="strip.png")
    tg.send_audio(CHAT, CHAT, silent_wav(), duration=0, file_name="silence.wav")
    tg.send_audio(CHAT, CHAT, b"la la la, just words\n" * 40, duration=3, file_name="song.mp3")
    tg.send_voice(CHAT, CHAT, b"", duration=0)

    # One message per bad file: how the user knows the file, and the reason in words.
    expected = {
        "holiday.jpg": "damaged",
        "The video": "it is a still picture, not a clip",
        "empty.png": "not a photo, video or sound file I can read",
        "bomb.png": "too many pixels to process safely (30000×30000)",
        "The 2nd photo": "1×1 px; the service needs at least 300 px",
        "strip.png": "100000×10 px; the service needs at least 300 px",
        "The 1st audio file": "0 s long; the service needs at least 2 s",
        "The 2nd audio file": "damaged",
        "The voice note": "damaged",
    }

    def rejections() -> list[str]:
        return [t for t in texts(tg, CHAT) if "can't be used" in t]

    await eventually(lambda: len(rejections()) >= len(expected), timeout=30, what="9 refusals")
    found = rejections()
    assert len(found) == len(expected), found
    for item, reason in expected.items():
        matching = [t for t in found if item in t]
        assert len(matching) == 1, (item, found)
        assert reason in matching[0], (item, matching[0])
        assert matching[0].endswith(KEPT)

    # The good photo and the JPEG that only had a video's name are the draft.
    summary = await bot.reply_to(CHAT, text_contains="References: image 1, image 2\n")
    assert "video" not in summary.text.split("\n")[1] and "audio" not in summary.text
    telegram.send_text(CHAT, CHAT, "/generate")
    submission = await evolink.wait_for_submission()
    assert len(submission.body["image_urls"]) == 2
    assert "video_urls" not in submission.body or submission.body["video_urls"] == []
    assert [(r.width, r.height) for r in submission.references] == [(900, 700), (800, 600)]

    # After delivery nothing of the request is left on disk: references, refused files, temp.
    await evolink.complete(submission.task_id)
    await bot.video_in(CHAT)
    media, tmp = bot.data_dir / "media", bot.data_dir / "tmp"
    await eventually(lambda: not any(p.is_file() for p in media.rglob("*")), what="media gone")
    assert not any(tmp.rglob("*")), sorted(tmp.rglob("*"))
    assert len(videos(telegram, CHAT)) == 1


async def test_an_mp4_without_a_picture_is_told_it_has_no_picture(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    telegram.send_photo(CHAT, CHAT, image_bytes(900, 700), caption="a picture and a clip")
    await bot.reply_to(CHAT, text_contains="image 1")
    telegram.send_video(CHAT, CHAT, sound_only_mp4(tmp_path), width=640, height=640, duration=3)
    refusal = await bot.reply_to(CHAT, text_contains="can't be used", timeout=20)
    assert "no picture" in refusal.text, refusal.text


async def test_a_refusal_names_the_file_among_those_sent_after_it_too(
    make_bot: MakeBot, telegram: FakeTelegram, tmp_path: Path
) -> None:
    # The first sound is refused before the second arrives; the message about it comes after
    # the quiet period, and by then there are two sounds: it is "the 1st".
    bot = await make_bot(album_quiet_seconds=2.0)
    telegram.send_audio(CHAT, CHAT, b"la la la, just words\n" * 40, duration=3, file_name="a.mp3")
    store = bot.store()
    await store.open()
    try:
        for _ in range(100):  # until the first sound is refused (10 s at most)
            draft = await store.drafts.open_draft(ChatKey(chat_id=CHAT, user_id=CHAT))
            refs = await store.drafts.references(draft.id) if draft else []
            if any(r.status is RefStatus.REJECTED for r in refs):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the first sound was not refused")
    finally:
        await store.close()
    good = write_audio(tmp_path / "b.mp3", seconds=3).read_bytes()
    telegram.send_audio(CHAT, CHAT, good, duration=3, file_name="b.mp3")
    await eventually(
        lambda: any("can't be used" in t for t in texts(telegram, CHAT)), timeout=15, what="why"
    )
    (why,) = [t for t in texts(telegram, CHAT) if "can't be used" in t]
    assert why.startswith("The 1st audio file"), why
