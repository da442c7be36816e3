"""The upstream's limits for a reference clip: may a file go as it is, and is an output right?"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

from bot.limits import (
    ASPECT_MAX,
    ASPECT_MIN,
    IMAGE_MAX_SIDE,
    IMAGE_MIN_SIDE,
    VIDEO_MAX_BYTES,
    VIDEO_MAX_FPS,
    VIDEO_MAX_PIXELS,
    VIDEO_MAX_SECONDS,
    VIDEO_MIN_FPS,
    VIDEO_MIN_PIXELS,
    VIDEO_MIN_SECONDS,
)
from bot.media.formats import MOV_DEMUXER
from bot.media.probe import probe
from bot.media.results import OutputCheckFailed, Probe, require
from bot.media.video.source import Source

# The reference gives one side range (300-6000 px) for images and videos alike.
MIN_SIDE: Final = IMAGE_MIN_SIDE
MAX_SIDE: Final = IMAGE_MAX_SIDE
ASPECT_LOW: Final = Fraction(str(ASPECT_MIN))
ASPECT_HIGH: Final = Fraction(str(ASPECT_MAX))


def geometry_ok(width: int, height: int) -> bool:
    """Whether a picture size meets the side, pixel-count and aspect-ratio limits."""
    return (
        MIN_SIDE <= width <= MAX_SIDE
        and MIN_SIDE <= height <= MAX_SIDE
        and VIDEO_MIN_PIXELS <= width * height <= VIDEO_MAX_PIXELS
        and ASPECT_LOW <= Fraction(width, height) <= ASPECT_HIGH
    )


def within_video_limits(
    width: int, height: int, *, fps: float, duration: float, size: int, max_seconds: float
) -> bool:
    """Whether a clip's numbers are all inside the upstream's limits (and the caller's budget)."""
    return (
        geometry_ok(width, height)
        and VIDEO_MIN_FPS <= fps <= VIDEO_MAX_FPS
        and VIDEO_MIN_SECONDS <= duration <= min(max_seconds, VIDEO_MAX_SECONDS)
        and 0 < size <= VIDEO_MAX_BYTES
    )


def compliant(info: Probe, source: Source, limit: float) -> bool:
    """Whether the file may go upstream as it is: MP4/H.264 yuv420p, upright, within limits."""
    return (
        _mp4_h264_upright(info)
        and source.pix_fmt == "yuv420p"
        and source.sample_aspect == 1
        and _probed_within(info, limit)
    )


def _mp4_h264_upright(info: Probe) -> bool:
    return info.container == MOV_DEMUXER and info.video_codec == "h264" and info.rotation == 0


def _probed_within(info: Probe, limit: float) -> bool:
    return (
        info.width is not None
        and info.height is not None
        and info.fps is not None
        and info.duration is not None
        and within_video_limits(
            info.width,
            info.height,
            fps=info.fps,
            duration=info.duration,
            size=info.size,
            max_seconds=limit,
        )
    )


@dataclass(frozen=True)
class Output:
    """A finished output's numbers, as re-read from the file."""

    width: int
    height: int
    fps: float
    duration: float
    size: int
    has_audio: bool


def checked_output(path: Path, limit: float) -> Output:
    """Re-probe a finished output and check it against every limit; OutputCheckFailed if not."""
    out = probe(path)
    name = path.name
    require(out.kind == "video", f"{name}: not a video ({out.kind})")
    require(_mp4_h264_upright(out), f"{name}: {out.container} {out.video_codec} {out.rotation}°")
    require(_probed_within(out, limit), f"{name}: {out} outside the limits (budget {limit} s)")
    if out.width is None or out.height is None or out.fps is None or out.duration is None:
        raise OutputCheckFailed(f"{name}: size, rate or length unreadable ({out})")
    return Output(out.width, out.height, out.fps, out.duration, out.size, out.has_audio)
