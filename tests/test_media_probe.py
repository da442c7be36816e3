"""probe(): what a file is, judged by its content, and the labels used in change notes."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from bot.media.files import check_stem
from bot.media.formats import audio_label, codec_label, container_label
from bot.media.probe import MAX_DECODE_SIDE, probe
from bot.media.results import MediaRejected
from tests.mediagen import (
    image_bytes,
    write_audio,
    write_gif,
    write_mp3_with_cover,
    write_rotated_video,
    write_video,
)

MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


def test_mp4_video_with_sound(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4", width=640, height=480, seconds=3.0, fps=30)
    path = path.rename(tmp_path / "clip.bin")  # the name plays no part
    info = probe(path)
    assert info.kind == "video"
    assert info.container == MP4
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.rotation) == (640, 480, 0)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert info.fps == pytest.approx(30.0)
    assert info.size == path.stat().st_size
    assert info.has_audio


def test_silent_webm(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "clip.mp4", codec="libvpx-vp9", container="webm", audio=False, seconds=2.0
    )
    info = probe(path)  # the name says MP4; the content says WebM
    assert (info.kind, info.container, info.video_codec) == ("video", "matroska,webm", "vp9")
    assert not info.has_audio
    assert info.audio_codec is None


@pytest.mark.parametrize(("rotation", "expected"), [(90, 90), (-90, 270), (180, 180), (270, 270)])
def test_rotation_is_read_from_the_display_matrix(
    tmp_path: Path, rotation: int, expected: int
) -> None:
    path = write_rotated_video(tmp_path / "phone.mp4", rotation=rotation, seconds=0.5)
    info = probe(path)
    assert info.rotation == expected
    # Display size: a quarter turn swaps the stored 640×360.
    assert (info.width, info.height) == ((360, 640) if expected in (90, 270) else (640, 360))


@pytest.mark.parametrize(
    ("codec", "container", "name", "expected"),
    [
        ("libopus", "ogg", "voice.ogg", ("ogg", "opus")),
        ("pcm_s16le", None, "a.wav", ("wav", "pcm_s16le")),
        ("libmp3lame", None, "a.mp3", ("mp3", "mp3")),
        ("aac", "mp4", "a.m4a", (MP4, "aac")),
        ("flac", None, "a.flac", ("flac", "flac")),
    ],
)
def test_audio_only_files(
    tmp_path: Path, codec: str, container: str | None, name: str, expected: tuple[str, str]
) -> None:
    rate = 48000 if codec == "libopus" else 44100
    path = write_audio(tmp_path / name, seconds=2.5, codec=codec, container=container, rate=rate)
    info = probe(path)
    assert info.kind == "audio"
    assert (info.container, info.audio_codec) == expected
    assert info.has_audio
    assert info.video_codec is None
    assert info.width is None
    assert info.duration == pytest.approx(2.5, abs=0.1)


def test_cover_art_does_not_make_music_a_video(tmp_path: Path) -> None:
    info = probe(write_mp3_with_cover(tmp_path / "song.mp3"))
    assert info.kind == "audio"
    assert info.video_codec is None


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_still_images(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "photo.mp4"
    path.write_bytes(image_bytes(500, 400, fmt))
    info = probe(path)
    assert info.kind == "image"
    assert info.container == fmt.lower()
    assert (info.width, info.height) == (500, 400)
    assert info.duration is None
    assert not info.has_audio


def test_animated_gif_is_a_video(tmp_path: Path) -> None:
    info = probe(write_gif(tmp_path / "anim.gif", width=320, height=240, seconds=3.0, fps=10))
    assert (info.kind, info.container, info.video_codec) == ("video", "gif", "gif")
    assert (info.width, info.height) == (320, 240)
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.fps == pytest.approx(10.0)


def test_empty_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(MediaRejected) as info:
        probe(path)
    assert (info.value.code, info.value.params) == ("corrupt", {"reason": "empty"})


def test_text_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 40)
    with pytest.raises(MediaRejected) as info:
        probe(path)
    assert info.value.code == "corrupt"


def test_mp4_cut_in_half_is_corrupt(tmp_path: Path) -> None:
    data = write_video(tmp_path / "whole.mp4", seconds=3.0).read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    with pytest.raises(MediaRejected) as info:
        probe(half)
    assert info.value.code == "corrupt"


def test_faststart_mp4_cut_short_is_truncated(tmp_path: Path) -> None:
    # With the index first the file still opens; the index then points past the end.
    whole = tmp_path / "whole.mp4"
    src = write_video(tmp_path / "src.mp4", seconds=3.0)
    with (
        av.open(str(src)) as source,
        av.open(str(whole), "w", format="mp4", container_options={"movflags": "+faststart"}) as out,
    ):
        targets = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MediaRejected) as info:
        probe(cut)
    assert (info.value.code, info.value.params) == ("corrupt", {"reason": "truncated"})


def test_subtitles_alone_are_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "film.mp4"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nGeneral Kenobi.\n"
    )
    with pytest.raises(MediaRejected) as info:
        probe(path)
    assert info.value.code == "no_video_stream"


def test_oversized_frames_are_not_decoded(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "wide.mp4", width=MAX_DECODE_SIDE + 8, height=304, seconds=0.2, audio=False
    )
    info = probe(path)
    assert (info.kind, info.width, info.height) == ("video", MAX_DECODE_SIDE + 8, 304)
    assert info.rotation == 0


def test_labels() -> None:
    assert codec_label("hevc") == "HEVC"
    assert codec_label("pcm_s24le") == "PCM"
    assert codec_label("someday") == "SOMEDAY"
    assert container_label(MP4, brand="qt  ") == "MOV"
    assert container_label(MP4, brand="isom") == "MP4"
    assert container_label(MP4, brand="3gp4") == "3GP"
    assert container_label("matroska,webm", codec="vp9") == "WebM"
    assert container_label("matroska,webm", codec="h264") == "MKV"
    assert audio_label("ogg", "opus") == "OGG/Opus"
    assert audio_label(MP4, "aac", brand="M4A ") == "M4A/AAC"
    assert audio_label("wav", "pcm_s16le") == "WAV"
    assert audio_label("flac", "flac") == "FLAC"


@pytest.mark.parametrize("stem", ["", ".hidden", "a/b", "../up"])
def test_bad_stems_are_a_caller_error(stem: str) -> None:
    with pytest.raises(ValueError, match="stem"):
        check_stem(stem)
