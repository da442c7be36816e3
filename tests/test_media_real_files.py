"""Real files made by phones, cameras and other programs (tests/media/real, sources and licences
in its README): each one is identified by its content, converted within every API limit, or
refused with words that say what it is and what to send instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.media.audio import normalise_audio
from bot.media.images import normalise_image
from bot.media.probe import probe
from bot.media.results import MediaRejected
from bot.media.video import normalise_video
from tests.apilimits import check_audio, check_image, check_video
from tests.conftest import MakeBot
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import eventually

REAL = Path(__file__).resolve().parent / "media" / "real"


@dataclass(frozen=True)
class Expect:
    """What the bot makes of one file."""

    kind: str | None  # what probe() says it is; None when identifying it already refuses it
    code: str | None = None  # the refusal, None when it becomes a reference
    params: dict[str, Any] = field(default_factory=dict)  # of the refusal
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> params it includes
    budget: float = 15.0  # seconds left in the draft (a short one keeps the slow clips quick)
    says: str = ""  # words of the bot's message about it, sent as a document


CASES = {
    "iphone8plus.heic": Expect(
        "image",
        changes={
            "converted": {"from": "HEIC", "to": "JPEG"},
            "metadata_removed": {"kinds": "date, device, camera_settings"},
        },
        says="converted from HEIC to JPEG; hidden data removed: date and time, camera or phone"
        " model, camera settings",
    ),
    "corrupted.heic": Expect(
        None,
        "damaged_picture",
        {"format": "HEIC"},
        says="it is a picture (HEIC), but it is damaged",
    ),
    "truncated.heic": Expect(
        "image", "too_small", {"width": 16, "height": 16, "min": 300}, says="16×16 px"
    ),
    "rgb-16bit.png": Expect(
        "image", changes={"converted": {"from": "PNG", "to": "JPEG"}, "upscaled": {}}
    ),
    "animated.gif": Expect(
        "video",
        changes={"converted": {"from": "GIF", "to": "MP4/H.264"}, "metadata_removed": {}},
        says="converted from GIF to MP4/H.264",
    ),
    "cmyk-photoshop.jpg": Expect(
        "image",
        changes={"converted": {"colour": "CMYK"}, "metadata_removed": {}},
        says="hidden data removed: date and time, camera or phone model, editing data (XMP)",
    ),
    "pixelmator-16bit.tiff": Expect(
        "image", "too_small", {"width": 100, "height": 40, "min": 300}, says="100×40 px"
    ),
    "exif-orientation-6.jpg": Expect("image", changes={"rotated": {"orientation": 6}}),
    "canon-exif.webp": Expect(
        "image",
        changes={"converted": {"from": "WebP"}, "metadata_removed": {}},
        says="camera or phone model",
    ),
    "still.avif": Expect("image", changes={"converted": {"from": "AVIF", "to": "JPEG"}}),
    "animated.avifs": Expect(
        None, "animation_unsupported", {"format": "AVIF"}, says="it is an animated AVIF"
    ),
    "animated.webp": Expect(
        None,
        "animation_unsupported",
        {"format": "WebP"},
        says="it is an animated WebP, which I can't turn into a clip",
    ),
    "animated-apng.png": Expect("video", changes={"converted": {"from": "APNG"}}),
    "truncated.png": Expect(
        "image", "damaged_picture", {"format": "PNG"}, says="it is a picture (PNG), but it is"
    ),
    "broken.png": Expect(
        None, "damaged_picture", {"format": "PNG"}, says="it is a picture (PNG), but it is damaged"
    ),
    "jpeg-xl.jxl": Expect(
        None,
        "unsupported_format",
        {"kind": "image", "format": "JPEG XL"},
        says="it is a picture in a format I can't use (JPEG XL). Send a JPEG or PNG photo.",
    ),
    "iphone-dolby-vision.mov": Expect(
        "video", "too_short", {"seconds": 0.1, "min": 2.0}, says="it is 0.1 s long"
    ),
    "vp9.webm": Expect("video", changes={"converted": {"from": "WebM/VP9"}}, budget=2.5),
    "mpeg2.ts": Expect(
        "video", "too_short", {"seconds": 0.11, "min": 2.0}, says="it is 0.11 s long"
    ),
    "opus.ogg": Expect("audio", changes={"converted": {"from": "OGG/Opus", "to": "MP3"}}),
    "flac.flac": Expect("audio", changes={"converted": {"from": "FLAC", "to": "MP3"}}),
    "amr-nb.amr": Expect("audio", changes={"converted": {"from": "AMR", "to": "MP3"}}),
    "amr-wb.amr": Expect("audio", changes={"converted": {"from": "AMR-WB", "to": "MP3"}}),
    "ac4.mp4": Expect(
        None,
        "unsupported_format",
        {"kind": "audio", "format": "MP4"},
        says="its sound is in a format I can't decode (MP4)",
    ),
    "hevc.mp4": Expect(
        "video",
        changes={"converted": {"from": "MP4/HEVC", "to": "MP4/H.264"}},
        says="converted from MP4/HEVC to MP4/H.264",
    ),
    "av1-hdr10.mp4": Expect(
        "video",
        changes={"converted": {"from": "MP4/AV1"}, "trimmed": {"from": 4.2}},
        budget=2.5,
        says="converted from MP4/AV1 to MP4/H.264",
    ),
    "h263.3gp": Expect("video", "too_short", {"seconds": 1.0, "min": 2.0}, says="it is 1 s long"),
    "h264-yuv444-editlist.mp4": Expect(
        "video",
        changes={"converted": {"from": "MP4/H.264 yuv444p"}, "fps_changed": {"to": 24}},
        budget=2.5,
    ),
    "aac.m4a": Expect("audio", changes={"converted": {"from": "M4A/AAC", "to": "MP3"}}),
}


def test_every_file_in_the_folder_is_checked() -> None:
    files = {p.name for p in REAL.iterdir() if p.suffix != ".md" and not p.name.startswith(".")}
    assert files == set(CASES)
    assert sum(p.stat().st_size for p in REAL.iterdir()) < 3_000_000


def _normalise(kind: str, src: Path, out: Path, budget: float) -> Any:
    if kind == "image":
        return normalise_image(src, out, stem="ref")
    if kind == "video":
        return normalise_video(src, out, stem="ref", max_seconds=budget)
    return normalise_audio(src, out, stem="ref", max_seconds=budget)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_real_file(name: str, tmp_path: Path) -> None:
    expect, src = CASES[name], REAL / name
    if expect.kind is None:
        with pytest.raises(MediaRejected) as identified:
            probe(src)
        assert (identified.value.code, identified.value.params) == (expect.code, expect.params)
        return
    assert probe(src).kind == expect.kind
    if expect.code is not None:
        with pytest.raises(MediaRejected) as refused:
            _normalise(expect.kind, src, tmp_path, expect.budget)
        assert (refused.value.code, refused.value.params) == (expect.code, expect.params)
        return
    result = _normalise(expect.kind, src, tmp_path, expect.budget)
    made = {change.code: change.params for change in result.changes}
    for code, params in expect.changes.items():
        assert code in made, (code, made)
        assert params.items() <= made[code].items(), (code, made[code])
    if expect.kind == "image":
        assert check_image(result.path) == (result.width, result.height)
    elif expect.kind == "video":
        assert check_video(result.path, max_seconds=expect.budget) == pytest.approx(
            result.duration, abs=0.05
        )
    else:
        check_audio(result.path, max_seconds=expect.budget)


@pytest.mark.e2e
async def test_sent_as_files_each_gets_the_right_answer(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    """Every file sent as a document, each by another user: each draft says what became of it."""
    await make_bot(media_workers=2)
    chats = {name: 7700 + n for n, name in enumerate(sorted(CASES))}
    for name, chat in chats.items():
        telegram.send_document(chat, chat, (REAL / name).read_bytes(), file_name=name)

    def answer(chat: int) -> str | None:
        """The refusal, if there is one, else the draft once it lists the file."""
        texts = [
            c.text for c in telegram.calls if c.ok and str(c.params.get("chat_id")) == str(chat)
        ]
        refusals = [text for text in texts if "can't be used" in text]
        if refusals:
            return refusals[-1]
        drafts = [t for t in texts if "References: " in t and "being checked" not in t]
        return drafts[-1] if drafts and "none yet" not in drafts[-1] else None

    await eventually(lambda: all(answer(c) for c in chats.values()), timeout=90, what="answers")
    for name, chat in chats.items():
        expect, text = CASES[name], answer(chat) or ""
        if expect.code is None:
            assert f"References: {expect.kind} 1" in text, (name, text)
        else:
            assert text.startswith(f"The file “{name}” can't be used: "), (name, text)
        assert expect.says in text, (name, text)
        assert "?×?" not in text and " 0 s long" not in text, (name, text)
