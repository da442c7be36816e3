"""normalise_video: what is copied untouched, what gets fixed, what is refused."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from bot import limits
from bot.media.probe import probe
from bot.media.results import Change, MediaRejected
from bot.media.video import VideoResult, encode, geometry, normalise, normalise_video, rate
from bot.media.video import limits as video_limits
from tests.mediagen import (
    image_bytes,
    write_audio,
    write_gif,
    write_metadata_video,
    write_noise_video,
    write_rotated_video,
    write_vfr_video,
    write_video,
)

ROOT = Path(__file__).resolve().parent.parent


# --- helpers ---------------------------------------------------------------------------------


def assert_video_within_limits(result: VideoResult, *, max_seconds: float = 15.0) -> None:
    """Re-open the output and check it against every video limit in bot.limits."""
    path = result.path
    assert path.is_file()
    assert path.suffix == ".mp4"
    assert not list(path.parent.glob(".*.part")), "a temporary file was left behind"
    assert result.mime_type == "video/mp4"
    info = probe(path)
    assert info.kind == "video"
    assert info.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert info.video_codec == "h264"
    assert info.rotation == 0
    assert (info.width, info.height) == (result.width, result.height)
    width, height = result.width, result.height
    assert limits.IMAGE_MIN_SIDE <= width <= limits.IMAGE_MAX_SIDE
    assert limits.IMAGE_MIN_SIDE <= height <= limits.IMAGE_MAX_SIDE
    assert limits.VIDEO_MIN_PIXELS <= width * height <= limits.VIDEO_MAX_PIXELS
    assert limits.ASPECT_MIN <= width / height <= limits.ASPECT_MAX
    assert info.fps == pytest.approx(result.fps)
    assert limits.VIDEO_MIN_FPS <= result.fps <= limits.VIDEO_MAX_FPS
    assert info.duration == pytest.approx(result.duration)
    assert limits.VIDEO_MIN_SECONDS <= result.duration <= min(max_seconds, 15.0)
    assert limits.VIDEO_MIN_SECONDS <= result.duration <= limits.VIDEO_MAX_SECONDS
    assert result.size == path.stat().st_size == info.size
    assert 0 < result.size <= limits.VIDEO_MAX_BYTES
    assert result.has_audio == info.has_audio
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.format is not None
        assert stream.codec_context.format.name == "yuv420p"
        if container.streams.audio:
            assert container.streams.audio[0].codec_context.name == "aac"


def _run(src: Path, tmp_path: Path, *, max_seconds: float = 15.0) -> VideoResult:
    result = normalise_video(src, tmp_path / "out", stem="ref", max_seconds=max_seconds)
    assert result.path == tmp_path / "out" / "ref.mp4"
    assert_video_within_limits(result, max_seconds=max_seconds)
    return result


def _codes(result: VideoResult) -> list[str]:
    return [change.code for change in result.changes]


def _change(result: VideoResult, code: str) -> Change:
    matches = [change for change in result.changes if change.code == code]
    assert len(matches) == 1, result.changes
    return matches[0]


def _rejection(src: Path, tmp_path: Path, **kwargs: float) -> MediaRejected:
    with pytest.raises(MediaRejected) as info:
        normalise_video(src, tmp_path / "out", stem="ref", **kwargs)
    assert not (tmp_path / "out" / "ref.mp4").exists()
    return info.value


def _packet_digest(path: Path, kind: str) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def _mean_luma(frame: av.VideoFrame, box: tuple[float, float, float, float]) -> float:
    """Mean brightness of a box given as fractions (left, top, right, bottom) of the frame."""
    pixels = frame.to_ndarray(format="gray")
    height, width = pixels.shape
    left, top, right, bottom = box
    region = pixels[
        int(top * height) : int(bottom * height), int(left * width) : int(right * width)
    ]
    return float(region.mean())


# --- copied untouched ------------------------------------------------------------------------


def test_compliant_clip_is_copied_byte_for_byte(tmp_path: Path) -> None:
    src = write_video(tmp_path / "ok.mp4", width=640, height=640, seconds=3.0, fps=24)
    result = _run(src, tmp_path)
    assert result.changes == ()
    assert result.path.read_bytes() == src.read_bytes()
    assert (result.width, result.height, result.fps) == (640, 640, 24.0)
    assert result.has_audio


def test_720p_30fps_10s_is_at_most_copied(tmp_path: Path) -> None:
    src = write_video(tmp_path / "hd.mp4", width=1280, height=720, seconds=10.0, fps=30)
    result = _run(src, tmp_path)
    assert result.changes == ()
    assert result.path.read_bytes() == src.read_bytes()
    assert result.duration == pytest.approx(10.0, abs=0.05)


def test_exactly_two_seconds_is_accepted(tmp_path: Path) -> None:
    result = _run(write_video(tmp_path / "two.mp4", seconds=2.0), tmp_path)
    assert result.changes == ()
    assert result.duration == pytest.approx(2.0, abs=0.03)


def test_private_metadata_is_remuxed_away_without_reencoding(tmp_path: Path) -> None:
    src = write_metadata_video(
        tmp_path / "gps.mp4",
        metadata={"location": "+48.8584+002.2945/", "creation_time": "2024-05-01T10:00:00Z"},
    )
    result = _run(src, tmp_path)
    assert result.changes == (Change("metadata_removed", {"kinds": "location, date"}),)
    with av.open(str(result.path)) as container:
        keys = set(container.metadata)
        for stream in container.streams:
            keys |= set(stream.metadata)
    assert not {key for key in keys if "location" in key or "creation_time" in key}
    for kind in ("video", "audio"):
        assert _packet_digest(result.path, kind) == _packet_digest(src, kind)


# --- geometry --------------------------------------------------------------------------------


def test_video_note_is_upscaled_to_the_minimum(tmp_path: Path) -> None:
    src = write_video(tmp_path / "note.mp4", width=384, height=384, seconds=3.0, fps=30)
    result = _run(src, tmp_path)
    assert (result.width, result.height) == (640, 640)
    assert result.changes == (Change("upscaled", {"from": "384×384", "to": "640×640"}),)
    assert result.has_audio


def test_4k_is_downscaled_into_the_pixel_range(tmp_path: Path) -> None:
    src = write_video(
        tmp_path / "uhd.mp4", width=3840, height=2160, seconds=2.0, fps=24, audio=False
    )
    result = _run(src, tmp_path)
    assert (result.width, result.height) == (1920, 1080)
    assert result.changes == (Change("downscaled", {"from": "3840×2160", "to": "1920×1080"}),)
    assert not result.has_audio


def test_too_wide_clip_is_padded_to_the_aspect_limit(tmp_path: Path) -> None:
    src = write_video(
        tmp_path / "pano.mp4", width=3000, height=1000, seconds=2.0, fps=24, audio=False
    )
    result = _run(src, tmp_path)
    assert result.width / result.height <= limits.ASPECT_MAX
    assert result.width / result.height == pytest.approx(2.5, abs=0.01)
    assert _codes(result) == ["padded", "downscaled"]
    assert _change(result, "padded").params == {"from": "3000×1000", "to": "3000×1200"}
    # The bars are black; the picture (grey/dark pattern) sits between them.
    with av.open(str(result.path)) as container:
        frame = next(container.decode(video=0))
    assert _mean_luma(frame, (0, 0, 1, 0.05)) < 20
    assert _mean_luma(frame, (0, 0.95, 1, 1)) < 20


@pytest.mark.parametrize(
    ("rotation", "bright_corner"),
    [
        (90, (0.0, 0.75, 0.25, 1.0)),  # stored top-left ends bottom-left
        (270, (0.75, 0.0, 1.0, 0.25)),  # ... top-right
        (180, (0.75, 0.75, 1.0, 1.0)),  # ... bottom-right
    ],
)
def test_phone_rotation_is_applied(
    tmp_path: Path, rotation: int, bright_corner: tuple[float, float, float, float]
) -> None:
    src = write_rotated_video(
        tmp_path / "phone.mp4", width=1280, height=720, rotation=rotation, audio=True
    )
    result = _run(src, tmp_path)
    if rotation == 180:
        assert (result.width, result.height) == (1280, 720)
    else:
        assert (result.width, result.height) == (720, 1280)  # portrait, as the phone showed it
    assert _codes(result) == ["rotated"]
    assert _change(result, "rotated").params == {"degrees": rotation}
    with av.open(str(result.path)) as container:
        frame = next(container.decode(video=0))
        assert frame.rotation == 0
    assert _mean_luma(frame, bright_corner) > 200
    assert _mean_luma(frame, (0.4, 0.4, 0.6, 0.6)) < 200  # the centre is the quarter's corner


@given(
    width=st.integers(16, 8192),
    height=st.integers(16, 8192),
)
@example(width=384, height=384)
@example(width=3840, height=2160)
@example(width=3000, height=1200)
@example(width=2284, height=914)
@example(width=8192, height=16)
@example(width=641, height=641)
def test_every_plan_lands_inside_the_limits(width: int, height: int) -> None:
    plan = geometry.plan_for(width, height)
    canvas_w, canvas_h = plan.canvas
    assert canvas_w % 2 == 0
    assert canvas_h % 2 == 0
    assert video_limits.within_video_limits(
        canvas_w, canvas_h, fps=24, duration=5, size=1, max_seconds=15
    )
    content_w, content_h = plan.content
    assert content_w <= canvas_w
    assert content_h <= canvas_h
    # The picture keeps its shape: each side is off its exact scaled size by rounding only.
    scale = canvas_w / plan.padded[0]
    assert canvas_h / plan.padded[1] == pytest.approx(scale, rel=0.01)
    assert abs(content_w - width * scale) <= 2.5
    assert abs(content_h - height * scale) <= 2.5
    # Nothing is upscaled or downscaled further than the limits need.
    pixels = canvas_w * canvas_h
    if plan.padded[0] * plan.padded[1] > limits.VIDEO_MAX_PIXELS:
        assert pixels > limits.VIDEO_MAX_PIXELS * 0.99
    elif plan.padded[0] * plan.padded[1] < limits.VIDEO_MIN_PIXELS:
        assert pixels < limits.VIDEO_MIN_PIXELS * 1.02


# --- time ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twenty_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20 s 640×640 24 fps clip with sound, made once for the trimming tests."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return write_video(path, width=640, height=640, seconds=20.0, fps=24)


@pytest.mark.parametrize("max_seconds", [15.0, 6.0])
def test_long_clip_is_trimmed_to_the_budget(
    tmp_path: Path, twenty_seconds: Path, max_seconds: float
) -> None:
    result = _run(twenty_seconds, tmp_path, max_seconds=max_seconds)
    assert max_seconds - 0.1 <= result.duration <= max_seconds
    assert _change(result, "trimmed").params == {"from": 20.0, "to": max_seconds}
    assert result.has_audio
    with av.open(str(result.path)) as container:
        video_s = container.streams.video[0]
        audio_s = container.streams.audio[0]
        assert video_s.duration is not None
        assert video_s.time_base is not None
        assert audio_s.duration is not None
        assert audio_s.time_base is not None
        assert float(video_s.duration * video_s.time_base) <= max_seconds
        assert float(audio_s.duration * audio_s.time_base) <= max_seconds


def test_one_and_a_half_seconds_is_too_short(tmp_path: Path) -> None:
    rejection = _rejection(write_video(tmp_path / "short.mp4", seconds=1.5), tmp_path)
    assert (rejection.code, rejection.params) == ("too_short", {"seconds": 1.5, "min": 2.0})


def test_no_budget_left(tmp_path: Path) -> None:
    rejection = _rejection(write_video(tmp_path / "ok.mp4"), tmp_path, max_seconds=1.5)
    assert rejection.code == "no_budget"
    assert rejection.params == {"kind": "video", "seconds": 1.5, "total": 15.0}


def test_15_fps_becomes_24(tmp_path: Path) -> None:
    src = write_video(tmp_path / "slow.mp4", width=640, height=640, seconds=3.0, fps=15)
    result = _run(src, tmp_path)
    assert result.fps == 24.0
    assert result.changes == (Change("fps_changed", {"from": 15, "to": 24}),)
    assert result.duration == pytest.approx(3.0, abs=0.05)


def test_120_fps_comes_down(tmp_path: Path) -> None:
    src = write_video(tmp_path / "slowmo.mp4", width=640, height=640, seconds=2.5, fps=120)
    result = _run(src, tmp_path)
    assert result.fps <= 60
    assert result.changes == (Change("fps_changed", {"from": 120, "to": 30}),)
    assert result.duration == pytest.approx(2.5, abs=0.05)


def test_variable_frame_rate_keeps_sound_in_sync(tmp_path: Path) -> None:
    src = write_vfr_video(tmp_path / "vfr.mp4", seconds=4.0, flash_at=2.0)
    result = _run(src, tmp_path)
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        durations = {p.duration for p in container.demux(stream) if p.size}
    assert len(durations) == 1, "output must be constant frame rate"

    def onsets(path: Path) -> tuple[float, float]:
        with av.open(str(path)) as container:
            flash = next(
                f.time for f in container.decode(video=0) if _mean_luma(f, (0, 0, 1, 1)) > 128
            )
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                loud = np.nonzero(np.abs(frame.to_ndarray()[0]) > 0.1)[0]
                if len(loud):
                    return flash, frame.time + loud[0] / frame.sample_rate
        raise AssertionError("no beep")

    flash, beep = onsets(result.path)
    assert abs(flash - beep) <= 1.5 / result.fps
    assert abs(beep - 2.0) < 0.03


# --- formats ---------------------------------------------------------------------------------


def test_vp9_webm_is_converted(tmp_path: Path) -> None:
    src = write_video(
        tmp_path / "clip.webm", codec="libvpx-vp9", container="webm", seconds=2.0, audio=False
    )
    result = _run(src, tmp_path)
    assert result.changes == (Change("converted", {"from": "WebM/VP9", "to": "MP4/H.264"}),)


def test_mpeg4_part2_is_converted(tmp_path: Path) -> None:
    result = _run(write_video(tmp_path / "old.mp4", codec="mpeg4", seconds=2.5), tmp_path)
    assert result.changes == (Change("converted", {"from": "MP4/MPEG-4", "to": "MP4/H.264"}),)
    assert result.has_audio


def test_hevc_is_converted(tmp_path: Path) -> None:
    try:
        av.codec.Codec("libx265", "w")
    except av.codec.codec.UnknownCodecError:
        pytest.skip("this PyAV build has no libx265 encoder to make an HEVC input with")
    src = write_video(
        tmp_path / "iphone.mp4", codec="libx265", width=384, height=384, seconds=2.0, audio=False
    )
    result = _run(src, tmp_path)
    assert _codes(result) == ["converted", "upscaled"]
    assert _change(result, "converted").params == {"from": "MP4/HEVC", "to": "MP4/H.264"}


def test_av1_is_converted(tmp_path: Path) -> None:
    if "libdav1d" not in av.codecs_available and "av1" not in av.codecs_available:
        pytest.skip("this PyAV build cannot decode AV1")
    try:
        av.codec.Codec("libsvtav1", "w")
    except av.codec.codec.UnknownCodecError:
        pytest.skip("this PyAV build has no libsvtav1 encoder to make an AV1 input with")
    src = write_video(
        tmp_path / "av1.mp4", codec="libsvtav1", width=384, height=384, seconds=2.0, audio=False
    )
    result = _run(src, tmp_path)
    assert _change(result, "converted").params == {"from": "MP4/AV1", "to": "MP4/H.264"}


def test_gif_animation_becomes_mp4(tmp_path: Path) -> None:
    src = write_gif(tmp_path / "anim.gif", width=480, height=270, seconds=3.0, fps=10)
    result = _run(src, tmp_path)
    assert _codes(result) == ["converted", "upscaled", "fps_changed"]
    assert _change(result, "converted").params == {"from": "GIF", "to": "MP4/H.264"}
    assert result.fps == 24.0
    assert result.duration == pytest.approx(3.0, abs=0.1)
    assert not result.has_audio


def test_animated_webp_is_refused_clearly(tmp_path: Path) -> None:
    # FFmpeg 8.0 (PyAV 18) has no animated-WebP decoder; Pillow sees the animation, so the file
    # is neither passed off as a still nor called corrupt: it is named for what it is.
    frames = [Image.new("RGB", (480, 320), (i * 20, 90, 160)) for i in range(30)]
    src = tmp_path / "sticker.webp"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    rejection = _rejection(src, tmp_path)
    assert (rejection.code, rejection.params) == ("animation_unsupported", {"format": "WebP"})


# --- refused ---------------------------------------------------------------------------------


def test_still_image_is_not_a_video(tmp_path: Path) -> None:
    src = tmp_path / "photo.mp4"
    src.write_bytes(image_bytes(800, 600))
    rejection = _rejection(src, tmp_path)
    assert (rejection.code, rejection.params) == ("not_a_video", {"kind": "image"})


def test_music_is_not_a_video(tmp_path: Path) -> None:
    rejection = _rejection(write_audio(tmp_path / "song.mp3", seconds=3.0), tmp_path)
    assert (rejection.code, rejection.params) == ("not_a_video", {"kind": "audio"})


@pytest.mark.parametrize("damage", ["empty", "half", "text"])
def test_broken_files_are_corrupt(tmp_path: Path, damage: str) -> None:
    src = tmp_path / "broken.mp4"
    if damage == "empty":
        src.touch()
    elif damage == "half":
        data = write_video(tmp_path / "whole.mp4", seconds=3.0).read_bytes()
        src.write_bytes(data[: len(data) // 2])
    else:
        src.write_text("not a video at all\n" * 100)
    assert _rejection(src, tmp_path).code == "corrupt"


def test_absurd_width_is_refused_before_decoding(tmp_path: Path) -> None:
    src = write_video(tmp_path / "wide.mp4", width=8200, height=304, seconds=0.2, audio=False)
    rejection = _rejection(src, tmp_path)
    assert rejection.code == "too_many_pixels"
    assert rejection.params == {"width": 8200, "height": 304, "max": 40_000_000}


def test_absurd_pixel_count_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(normalise, "MAX_DECODE_PIXELS", 400_000)
    rejection = _rejection(write_video(tmp_path / "ok.mp4"), tmp_path)
    assert rejection.code == "too_many_pixels"
    assert rejection.params == {"width": 640, "height": 640, "max": 400_000}


# --- size ------------------------------------------------------------------------------------


def test_output_over_the_byte_limit_is_reencoded_smaller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_noise_video(tmp_path / "noise.mp4", width=320, height=320, frames=60, fps=20)
    limit = 400_000  # noise at CRF 20 comes out several times bigger
    monkeypatch.setattr(encode, "VIDEO_MAX_BYTES", limit)
    monkeypatch.setattr(normalise, "VIDEO_MAX_BYTES", limit)
    monkeypatch.setattr(video_limits, "VIDEO_MAX_BYTES", limit)
    result = normalise_video(src, tmp_path / "out", stem="ref")
    assert result.size <= limit
    compressed = _change(result, "compressed")
    assert compressed.params["from"] == src.stat().st_size
    assert compressed.params["to"] == result.size


def test_input_over_50_mb_is_compressed(tmp_path: Path) -> None:
    src = write_noise_video(tmp_path / "noise.mp4", width=320, height=320, frames=290, fps=120)
    assert src.stat().st_size > limits.VIDEO_MAX_BYTES
    result = _run(src, tmp_path)
    assert _codes(result) == ["upscaled", "fps_changed", "compressed"]


def test_impossible_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode, "VIDEO_MAX_BYTES", 2_000)
    monkeypatch.setattr(video_limits, "VIDEO_MAX_BYTES", 2_000)
    rejection = _rejection(write_video(tmp_path / "slow.mp4", fps=15, audio=False), tmp_path)
    assert rejection.code == "too_big"
    assert rejection.params["limit"] == 2_000


# --- streaming -------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    # 320×320 lossless noise at 96 fps: ~39 MB for 2.25 s, and 30 fps 640×640 out.
    big = write_noise_video(tmp_path / "big.mp4", width=320, height=320, frames=216, fps=96)
    warm = write_noise_video(tmp_path / "warm.mp4", width=320, height=320, frames=20, fps=8)
    size = big.stat().st_size
    assert size > 35 * 2**20
    # A warm-up run with the same output size first: the encoder's and decoder's fixed buffers
    # are then already in the peak, and what remains is what grows with the input.
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from bot.media.video import normalise_video\n"
        "out = Path(sys.argv[3])\n"
        "normalise_video(Path(sys.argv[1]), out, stem='warm')\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "normalise_video(Path(sys.argv[2]), out, stem='big')\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(before, after)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script, str(warm), str(big), str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    before_kib, after_kib = map(int, done.stdout.split())
    growth = (after_kib - before_kib) * 1024
    assert growth < size / 4, (
        f"peak RSS grew {growth / 2**20:.1f} MB for a {size / 2**20:.0f} MB file"
    )


def test_output_frame_rates() -> None:
    assert rate.output_rate(Fraction(30000, 1001)) == Fraction(30000, 1001)
    assert rate.output_rate(Fraction(2987, 100)) == 30
    assert rate.output_rate(Fraction(24000, 1001)) == 24
    assert rate.output_rate(None) == 30
    assert rate.output_rate(Fraction(240)) == 30
