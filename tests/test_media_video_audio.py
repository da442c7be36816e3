"""Silent videos get a silent audio track; the video stream itself is never touched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.media.results import MediaRejected
from bot.media.video_audio import (
    SAMPLE_RATE,
    add_silent_audio,
    ensure_audio_track,
    has_audio_stream,
)
from tests.mediagen import image_bytes, write_audio, write_video


def _video_fingerprint(path: Path) -> tuple[str, int, int, int, str]:
    """Codec, size, packet count and a hash over every video packet's bytes."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            digest.update(bytes(packet))
            count += 1
        return (
            stream.codec_context.name,
            stream.codec_context.width,
            stream.codec_context.height,
            count,
            digest.hexdigest(),
        )


def _durations(path: Path) -> tuple[float, float]:
    """(video, audio) durations in seconds, measured from the packets."""
    ends: dict[str, float] = {}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None:
                continue
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            kind = packet.stream.type
            ends[kind] = max(ends.get(kind, 0.0), end)
    return ends["video"], ends["audio"]


def _write_rotated(path: Path) -> Path:
    """A short 320×240 video flagged to display rotated by 90° (as phones record portrait)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.set_display_rotation(90)
        for i in range(60):
            frame = av.VideoFrame.from_ndarray(
                np.full((240, 320, 3), i * 4, dtype=np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def test_silent_mp4_gets_a_silent_track_and_keeps_its_video(tmp_path: Path) -> None:
    src = write_video(tmp_path / "silent.mp4", width=640, height=640, seconds=3.0, audio=False)
    assert not has_audio_stream(src)

    out = ensure_audio_track(src, tmp_path / "out")

    assert out != src
    assert out.parent == tmp_path / "out"
    assert out.suffix == ".mp4"
    assert has_audio_stream(out)
    assert _video_fingerprint(out) == _video_fingerprint(src)
    video_seconds, audio_seconds = _durations(out)
    assert video_seconds == pytest.approx(3.0, abs=0.05)
    assert abs(audio_seconds - video_seconds) <= 0.2
    with av.open(str(out)) as container:
        assert container.format.name.split(",")[0] == "mov"
        (audio,) = container.streams.audio
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == SAMPLE_RATE
        for frame in container.decode(audio):  # really silence
            assert not frame.to_ndarray().any()


def test_output_is_faststart(tmp_path: Path) -> None:
    src = write_video(tmp_path / "silent.mp4", seconds=2.0, audio=False)
    dest = tmp_path / "with_audio.mp4"
    add_silent_audio(src, dest)
    with dest.open("rb") as fh:
        head = fh.read(4096)
    assert 0 <= head.find(b"moov") < 4096
    assert head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat")


def test_video_with_audio_is_returned_as_is(tmp_path: Path) -> None:
    src = write_video(tmp_path / "loud.mp4", seconds=2.0, audio=True)
    before = src.read_bytes()
    assert has_audio_stream(src)
    assert ensure_audio_track(src, tmp_path / "out") == src
    assert src.read_bytes() == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [
        ("clip.mov", "libx264", "mov"),
        ("clip.mkv", "libx264", "matroska"),  # no DTS stored; B-frames make the muxer care
        ("clip.webm", "libvpx-vp9", "webm"),
    ],
)
def test_other_containers_are_remuxed_to_mp4(
    tmp_path: Path, name: str, codec: str, container: str
) -> None:
    src = write_video(tmp_path / name, seconds=2.0, audio=False, codec=codec, container=container)
    out = ensure_audio_track(src, tmp_path / "out")
    assert out.suffix == ".mp4"
    assert _video_fingerprint(out)[:4] == _video_fingerprint(src)[:4]
    with av.open(str(out)) as result:
        frames = sum(1 for _ in result.decode(video=0))
    assert frames == 48
    video_seconds, audio_seconds = _durations(out)
    assert abs(audio_seconds - video_seconds) <= 0.2


def test_display_rotation_survives(tmp_path: Path) -> None:
    src = _write_rotated(tmp_path / "portrait.mp4")
    out = ensure_audio_track(src, tmp_path / "out")
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == 90


def test_hevc_is_tagged_for_apple_players(tmp_path: Path) -> None:
    if "libx265" not in av.codecs_available:
        pytest.skip("no HEVC encoder in this FFmpeg build")
    src = write_video(tmp_path / "h.mp4", seconds=2.0, audio=False, codec="hevc")
    dest = tmp_path / "h_audio.mp4"
    add_silent_audio(src, dest)
    with av.open(str(dest)) as container:
        assert container.streams.video[0].codec_tag == "hvc1"
    assert _video_fingerprint(dest) == _video_fingerprint(src)


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("notes.mp4", lambda p: p.write_bytes(b"not a video at all\n" * 50), "unreadable"),
        ("empty.mp4", lambda p: p.write_bytes(b""), "unreadable"),
        ("photo.mp4", lambda p: p.write_bytes(image_bytes(64, 64, "PNG")), "still_image"),
        ("anim.gif", lambda p: p.write_bytes(image_bytes(64, 64, "GIF")), "still_image"),
        ("song.mp3", lambda p: write_audio(p, seconds=2.0), "no_video"),
        (
            "old.webm",
            lambda p: write_video(p, seconds=1.0, audio=False, codec="libvpx", container="webm"),
            "unsupported_codec",
        ),
    ],
    ids=["text", "empty", "image", "gif", "audio-only", "codec-mp4-cannot-hold"],
)
def test_non_videos_are_rejected(
    tmp_path: Path, name: str, make: Callable[[Path], object], reason: str
) -> None:
    src = tmp_path / name
    make(src)
    dest = tmp_path / "out.mp4"
    with pytest.raises(MediaRejected) as info:
        add_silent_audio(src, dest)
    assert info.value.code == "corrupt"
    assert info.value.params["reason"] == reason
    assert not dest.exists()
    assert not list(tmp_path.glob(".*.part"))


def test_unreadable_file_is_rejected_by_ensure(tmp_path: Path) -> None:
    src = tmp_path / "junk.mp4"
    src.write_bytes(b"\0" * 1000)
    with pytest.raises(MediaRejected) as info:
        ensure_audio_track(src, tmp_path / "out")
    assert info.value.code == "corrupt"


def test_missing_file_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ensure_audio_track(tmp_path / "nope.mp4", tmp_path)
