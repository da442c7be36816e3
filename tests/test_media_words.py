"""What users read about their files: true lengths under a second, no "?" placeholders, what
hidden data was really removed, and a format they can send instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.drafts.service import change_text, rejection_text
from bot.media.formats import seconds_param
from bot.media.probe import probe
from bot.media.results import MediaRejected
from storage.models import Reference, RefStatus


def refused(code: str, params: dict[str, Any], **fields: Any) -> Reference:
    values: dict[str, Any] = {
        "id": 1,
        "draft_id": 1,
        "position": 1,
        "kind": "auto",
        "source": "document",
        "telegram_file_id": "f",
        "telegram_file_unique_id": "u",
        "message_id": 10,
        "media_group_id": None,
        "file_name": "clip.mov",
        "status": RefStatus.REJECTED,
        "error_code": code,
        "error_params": params,
    }
    values.update(fields)
    return Reference(**values)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, 0.0),
        (0.004, 0.01),
        (0.058, 0.05),
        (0.4, 0.4),
        (0.999, 0.99),
        (1.98, 1.9),
        (15.04, 15.0),
    ],
)
def test_lengths_are_never_rounded_up_nor_to_zero(seconds: float, shown: float) -> None:
    assert seconds_param(seconds) == shown


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"seconds": 0.1, "min": 2.0}, "it is 0.1 s long; the service needs at least 2 s"),
        ({"seconds": 0.06, "min": 2.0}, "it is 0.06 s long"),
    ],
)
def test_short_clips_are_told_their_true_length(params: dict[str, Any], words: str) -> None:
    text = rejection_text("en", refused("too_short", params), [])
    assert words in text


def test_a_picture_too_large_to_even_measure_is_told_without_placeholders() -> None:
    text = rejection_text(
        "en", refused("too_many_pixels", {"variant": "unsized", "max": 89_478_485}), []
    )
    assert "too many pixels to process safely (over 89 megapixels)" in text
    assert "?" not in text
    zh = rejection_text(
        "zh", refused("too_many_pixels", {"variant": "unsized", "max": 89_478_485}), []
    )
    assert "89" in zh and "?" not in zh


def test_the_metadata_note_names_what_was_removed() -> None:
    change = {"code": "metadata_removed", "params": {"kinds": "location, date, device"}}
    assert change_text("en", change) == (
        "hidden data removed: location, date and time, camera or phone model"
    )
    comment_only = {"code": "metadata_removed", "params": {"kinds": "comment"}}
    assert change_text("en", comment_only) == "hidden data removed: a comment"
    # Notes saved before these words existed still read sensibly.
    old = {"code": "metadata_removed", "params": {"kinds": "EXIF, GPS"}}
    assert change_text("en", old) == "hidden data removed: EXIF, GPS"


def test_a_frame_rate_the_file_does_not_name_is_not_shown_as_a_question_mark() -> None:
    change = {"code": "fps_changed", "params": {"variant": "unknown", "to": 30}}
    assert change_text("en", change) == "frame rate set to 30 fps (the file gave none)"


@pytest.mark.parametrize(
    ("code", "params", "words"),
    [
        (
            "unsupported_format",
            {"kind": "image", "format": "JPEG XL"},
            "it is a picture in a format I can't use (JPEG XL). Send a JPEG or PNG photo.",
        ),
        (
            "unsupported_format",
            {"kind": "audio", "format": "MP4"},
            "its sound is in a format I can't decode (MP4). Send an MP3 or M4A file",
        ),
        (
            "damaged_picture",
            {"format": "PNG"},
            "it is a picture (PNG), but it is damaged or incomplete",
        ),
        ("unprocessable", {"reason": "memory"}, "it needs more memory than I allow"),
        ("unprocessable", {"reason": "timeout"}, "it took longer than I allow"),
        ("unprocessable", {"reason": "crashed"}, "the converter stopped on it"),
    ],
)
def test_refusals_say_what_the_file_is_and_what_to_send(
    code: str, params: dict[str, Any], words: str
) -> None:
    text = rejection_text("en", refused(code, params), [])
    assert text.startswith("The file “clip.mov” can't be used: ")
    assert words in text


def test_an_icon_is_a_picture_in_a_format_not_used_not_a_zero_second_clip(tmp_path: Path) -> None:
    icon = tmp_path / "favicon.bin"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(icon, format="ICO")
    with pytest.raises(MediaRejected) as info:
        probe(icon)
    assert (info.value.code, info.value.params) == (
        "unsupported_format",
        {"kind": "image", "format": "ICO"},
    )
