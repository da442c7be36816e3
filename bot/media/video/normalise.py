"""normalise_video: the decisions, from "copy it as it is" to "transcode it", and the notes.

The steps live in their own modules: :mod:`.source` (what the clip is made of), :mod:`.limits`
(the upstream's rules and the final check), :mod:`.geometry` (size and shape), :mod:`.rate`
(frame rate), :mod:`.encode` (the encode loop) with :mod:`.sound` (the sound track), and
:mod:`.remux` (metadata-only clean-up).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

from bot.limits import (
    VIDEO_MAX_BYTES,
    VIDEO_MAX_SECONDS,
    VIDEO_MIN_SECONDS,
    VIDEO_TOTAL_SECONDS,
)
from bot.media.files import atomic_copy, check_stem
from bot.media.formats import MOV_DEMUXER, codec_label, container_label, dims, seconds_param
from bot.media.probe import MAX_DECODE_PIXELS, MAX_DECODE_SIDE, TRIM_NOTICE_SECONDS, probe
from bot.media.results import Change, MediaRejected, Probe, budget_limit
from bot.media.video.encode import encode_to_fit
from bot.media.video.geometry import Plan, plan_for_source
from bot.media.video.limits import checked_output, compliant
from bot.media.video.rate import fps_param, output_rate, within_rate_limits
from bot.media.video.remux import remux_without_metadata
from bot.media.video.source import Source, inspect_source, metadata_change

OUTPUT_LABEL: Final = "MP4/H.264"
MIME_TYPE: Final = "video/mp4"


@dataclass(frozen=True)
class VideoResult:
    """The file to send upstream and what was done to get it."""

    path: Path
    width: int
    height: int
    duration: float  # seconds
    fps: float
    size: int  # bytes
    has_audio: bool
    mime_type: str  # "video/mp4"
    changes: tuple[Change, ...]


def normalise_video(
    src: Path, dest_dir: Path, *, stem: str, max_seconds: float = VIDEO_MAX_SECONDS
) -> VideoResult:
    """Write an upstream-acceptable MP4 of the clip at ``src`` to ``dest_dir/stem.mp4``.

    ``max_seconds`` is what is left of the draft's video budget; the result is never longer.
    A clip that meets every limit is copied unchanged; anything else is remuxed or transcoded
    as the package docstring describes. Raises MediaRejected when no usable clip can be made.
    """
    check_stem(stem)
    limit = budget_limit(
        "video",
        max_seconds,
        longest=VIDEO_MAX_SECONDS,
        shortest=VIDEO_MIN_SECONDS,
        total=VIDEO_TOTAL_SECONDS,
    )
    info = probe(src)
    if info.kind != "video":
        raise MediaRejected("not_a_video", kind=info.kind)
    source = inspect_source(src)
    width, height = info.width or 0, info.height or 0
    if max(width, height) > MAX_DECODE_SIDE or width * height > MAX_DECODE_PIXELS:
        raise MediaRejected("too_many_pixels", width=width, height=height, max=MAX_DECODE_PIXELS)
    if width <= 0 or height <= 0:
        raise MediaRejected("corrupt", reason="no_frames")
    if info.duration is not None and info.duration < VIDEO_MIN_SECONDS:
        raise MediaRejected(
            "too_short", seconds=seconds_param(info.duration), min=VIDEO_MIN_SECONDS
        )

    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{stem}.mp4"
    if compliant(info, source, limit):
        if not source.metadata_kinds:
            atomic_copy(src, dest)
            return _result(dest, (), limit)
        if remux_without_metadata(src, dest):
            return _result(dest, (metadata_change(source),), limit)
    return _transcode(src, dest, info, source, limit, (width, height))


def _transcode(
    src: Path, dest: Path, info: Probe, source: Source, limit: float, size: tuple[int, int]
) -> VideoResult:
    plan = plan_for_source(*size, info.rotation, source.sample_aspect)
    rate = output_rate(source.fps)
    changes = _planned_changes(info, source, plan, rate)
    expected = min(info.duration or limit, limit)
    encoded = encode_to_fit(src, dest, plan, rate, limit, expected)

    if info.duration is not None and info.duration > limit + TRIM_NOTICE_SECONDS:
        changes.append(
            Change(
                "trimmed",
                {"from": seconds_param(info.duration), "to": seconds_param(encoded.seconds)},
            )
        )
    if encoded.audio_dropped:
        changes.append(Change("audio_removed"))
    if info.size > VIDEO_MAX_BYTES or encoded.encodes > 1:
        changes.append(Change("compressed", {"from": info.size, "to": encoded.size}))
    if source.metadata_kinds:
        changes.append(metadata_change(source))
    return _result(dest, tuple(changes), limit)


def _planned_changes(info: Probe, source: Source, plan: Plan, rate: Fraction) -> list[Change]:
    changes: list[Change] = []
    codec = info.video_codec or "unknown"
    compliant_format = info.container == MOV_DEMUXER and codec == "h264"
    if not compliant_format or source.pix_fmt != "yuv420p":
        label = container_label(info.container, brand=source.brand, codec=codec)
        name = codec_label(codec)
        if name != label:
            label = f"{label}/{name}"
        if compliant_format:
            label = f"{label} {source.pix_fmt}"
        changes.append(Change("converted", {"from": label, "to": OUTPUT_LABEL}))
    if plan.rotation:
        changes.append(Change("rotated", {"degrees": plan.rotation}))
    if plan.padded != plan.display:
        changes.append(Change("padded", {"from": dims(plan.display), "to": dims(plan.padded)}))
    if plan.canvas != plan.padded:
        code = "downscaled" if plan.canvas[0] < plan.padded[0] else "upscaled"
        changes.append(Change(code, {"from": dims(plan.padded), "to": dims(plan.canvas)}))
    if not within_rate_limits(source.fps):
        if source.fps is None:
            changes.append(Change("fps_changed", {"variant": "unknown", "to": fps_param(rate)}))
        else:
            before = fps_param(source.fps)
            changes.append(Change("fps_changed", {"from": before, "to": fps_param(rate)}))
    return changes


def _result(path: Path, changes: tuple[Change, ...], limit: float) -> VideoResult:
    """Re-probe the output, check it against every limit, and describe it."""
    out = checked_output(path, limit)
    return VideoResult(path=path, mime_type=MIME_TYPE, changes=changes, **asdict(out))
