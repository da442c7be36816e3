"""End to end: every kind of Telegram media becomes a valid reference, or is refused clearly.

The fake Evolink downloads and probes every reference it is given with the API's own limits, so
an accepted submission proves the bot's conversions landed inside them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes, write_audio, write_video

pytestmark = pytest.mark.e2e

ALICE = 901


def clip(tmp_path: Path, name: str, **kwargs: object) -> bytes:
    return write_video(tmp_path / name, **kwargs).read_bytes()  # type: ignore[arg-type]


def sound(tmp_path: Path, name: str, **kwargs: object) -> bytes:
    return write_audio(tmp_path / name, **kwargs).read_bytes()  # type: ignore[arg-type]


async def test_a_clip_a_video_note_and_a_voice_note_become_valid_references(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(1280, 720), caption="image 1 walks into video 1")
    telegram.send_video(
        ALICE,
        ALICE,
        clip(tmp_path, "a.mp4", width=1280, height=720, seconds=6, fps=30),
        width=1280,
        height=720,
        duration=6,
    )
    telegram.send_video_note(
        ALICE,
        ALICE,
        clip(tmp_path, "n.mp4", width=384, height=384, seconds=4, fps=30),
        length=384,
        duration=4,
    )
    telegram.send_voice(
        ALICE, ALICE, sound(tmp_path, "v.ogg", seconds=20, codec="libopus", rate=48000), duration=20
    )
    summary = await bot.reply_to(
        ALICE, text_contains="image 1, video 1, video 2, audio 1", timeout=60
    )
    assert "trimmed" in summary.text  # the 20 s voice note was cut to the 15 s budget
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(timeout=30)
    kinds = [r.kind for r in submission.references]
    assert kinds == ["image", "video", "video", "audio"]
    note = submission.references[2]
    assert note.width is not None and note.height is not None
    assert note.width * note.height >= 409_600
    voice = submission.references[3]
    assert voice.duration is not None and voice.duration <= 15.0
    assert voice.format in {"mp3", "wav"}


async def test_files_sent_as_documents_are_read_for_what_they_are(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    telegram.send_document(
        ALICE, ALICE, image_bytes(1000, 800, "PNG"), file_name="frame.bin", caption="doc test"
    )
    telegram.send_document(
        ALICE,
        ALICE,
        clip(tmp_path, "c.webm", width=640, height=640, seconds=3, codec="libvpx-vp9", audio=False),
        file_name="clip.webm",
    )
    telegram.send_document(ALICE, ALICE, sound(tmp_path, "m.mp3", seconds=5), file_name="music.mp3")
    await bot.reply_to(ALICE, text_contains="image 1, video 1, audio 1", timeout=60)
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(timeout=30)
    assert [r.kind for r in submission.references] == ["image", "video", "audio"]


async def test_an_animation_becomes_a_video_reference(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    data = clip(tmp_path, "gif.mp4", width=480, height=480, seconds=3, audio=False)
    telegram.send_animation(ALICE, ALICE, data, width=480, height=480, duration=3, caption="loop")
    await bot.reply_to(ALICE, text_contains="video 1", timeout=60)
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(timeout=30)
    assert [r.kind for r in submission.references] == ["video"]


async def test_sound_alone_is_not_enough(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    telegram.send_voice(
        ALICE, ALICE, sound(tmp_path, "v.ogg", seconds=3, codec="libopus", rate=48000), duration=3
    )
    await bot.reply_to(ALICE, text_contains="audio 1", timeout=30)
    telegram.send_text(ALICE, ALICE, "/generate a song")
    await bot.reply_to(ALICE, text_contains="Add a photo or a video clip first")
    assert evolink.submissions == []


async def test_the_15_second_video_budget_is_shared_and_counts_are_capped(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    ten = clip(tmp_path, "ten.mp4", width=640, height=640, seconds=10)
    three = clip(tmp_path, "three.mp4", width=640, height=640, seconds=3)
    telegram.send_video(ALICE, ALICE, ten, width=640, height=640, duration=10, caption="budget")
    telegram.send_video(ALICE, ALICE, ten, width=640, height=640, duration=10)  # 5 s left: trimmed
    telegram.send_video(ALICE, ALICE, three, width=640, height=640, duration=3)  # nothing left
    refused = await bot.reply_to(ALICE, text_contains="15 s limit", timeout=60)
    assert "3rd video" in refused.text
    await bot.reply_to(ALICE, text_contains="video 1, video 2\n", timeout=30)
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(timeout=30)
    durations = [r.duration or 0 for r in submission.references]
    assert len(durations) == 2
    assert sum(durations) <= 15.0


async def test_a_too_short_clip_is_refused_and_the_rest_kept(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(900, 900), caption="short")
    short = clip(tmp_path, "short.mp4", width=640, height=640, seconds=1.5)
    telegram.send_video(ALICE, ALICE, short, width=640, height=640, duration=1)
    message = await bot.reply_to(ALICE, text_contains="at least 2 s", timeout=30)
    assert "video" in message.text
    await bot.reply_to(ALICE, text_contains="References: image 1\n", timeout=30)


async def test_a_file_over_telegrams_download_limit_is_refused_before_download(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(900, 900), caption="big")
    telegram.send_document(ALICE, ALICE, os.urandom(21 * 1024 * 1024), file_name="huge.mov")
    message = await bot.reply_to(ALICE, text_contains="huge.mov", timeout=30)
    assert "20 MB" in message.text
    assert not [c for c in telegram.sent("getFile") if "huge" in str(c.params)]


async def test_a_mixed_album_arriving_out_of_order_is_numbered_as_sent(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    data = clip(tmp_path, "v.mp4", width=640, height=640, seconds=3)
    # Telegram numbers the album's messages in order; the updates may still arrive shuffled.
    with telegram.held(order=lambda updates: updates[::-1]):
        first = telegram.send_photo(
            ALICE, ALICE, image_bytes(700, 700), media_group_id="m", caption="mix"
        )
        video = telegram.send_video(
            ALICE, ALICE, data, width=640, height=640, duration=3, media_group_id="m"
        )
        last = telegram.send_photo(ALICE, ALICE, image_bytes(710, 700), media_group_id="m")
    assert first["message_id"] < video["message_id"] < last["message_id"]
    await bot.reply_to(ALICE, text_contains="image 1, image 2, video 1", timeout=60)
    summaries = [c for c in telegram.sent("sendMessage", ALICE) if "Your draft" in c.text]
    assert len(summaries) == 1  # one message for the whole album, edited in place
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(timeout=30)
    assert [r.width for r in submission.references if r.kind == "image"] == [700, 710]


async def test_a_local_bot_api_server_lifts_the_20_mb_limit(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    telegram.local_mode = True
    bot = await make_bot(telegram_local_mode=True)
    big = sound(tmp_path, "long.wav", seconds=250, codec="pcm_s16le")  # about 22 MB
    assert len(big) > 20 * 1024 * 1024
    telegram.send_photo(ALICE, ALICE, image_bytes(900, 900), caption="with a long song")
    telegram.send_document(ALICE, ALICE, big, file_name="long.wav")
    summary = await bot.reply_to(ALICE, text_contains="image 1, audio 1", timeout=60)
    assert "trimmed" in summary.text
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(timeout=30)
    audio = submission.references[1]
    assert audio.kind == "audio"
    assert audio.duration is not None and audio.duration <= 15
