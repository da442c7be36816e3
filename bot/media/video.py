"""Turn a clip a user sent into a reference video the upstream accepts, or refuse it clearly.

Synchronous and file-to-file; the caller runs it in a worker thread. A clip that already meets
every limit is copied byte for byte. One that only carries private metadata (GPS, dates, device)
is remuxed without it. Anything else is transcoded to H.264 yuv420p MP4 (faststart) frame by
frame: decoded, turned upright, padded to the allowed aspect ratio, scaled into the allowed
pixel range, retimed to a constant 24-60 fps and trimmed to the caller's budget, with its sound
re-encoded to AAC. Memory stays flat whatever the input's length: nothing past the trim point is
even read.

Change params follow one convention: picture sizes are ``"W×H"`` strings, durations are seconds
as floats rounded down to 0.1 s, frame rates are numbers (an int when whole), byte counts are
ints, formats are ``"CONTAINER/CODEC"`` labels (``"MOV/HEVC"``, ``"WebM/VP9"``, or one word such
as ``"GIF"`` when both share a name).

Changes (in this order when several apply):

- ``converted``: ``from``, ``to`` (``"MP4/H.264"``).
- ``rotated``: ``degrees`` (counter-clockwise, as ``Probe.rotation``).
- ``padded``: ``from``, ``to`` (before any scaling).
- ``upscaled`` / ``downscaled``: ``from``, ``to``.
- ``fps_changed``: ``from``, ``to``.
- ``trimmed``: ``from``, ``to`` (seconds).
- ``audio_removed``: ``codec`` (a sound track FFmpeg cannot decode is dropped).
- ``compressed``: ``from``, ``to`` (bytes; the input or the first encode was over the limit).
- ``metadata_removed``: ``kinds`` (e.g. ``"GPS, date, device"``).

Rejections: ``not_a_video`` (``kind``: what it is instead); ``too_many_pixels`` (``width``,
``height``, ``max`` pixels); ``too_short`` (``seconds``, ``min``); ``no_budget`` (``kind``,
``seconds`` left, ``total``); ``unsupported_codec`` (``codec``); ``too_big`` (``size``, ``limit``);
``corrupt`` (``reason``) and ``no_video_stream`` from :func:`bot.media.probe.probe`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
from av.audio.stream import AudioStream
from av.codec.context import ThreadType
from av.container import InputContainer, OutputContainer
from av.filter import Graph
from av.video.stream import VideoStream

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
    VIDEO_TOTAL_SECONDS,
)
from bot.media.files import atomic_copy, check_stem, partial_path
from bot.media.probe import (
    MAX_DECODE_PIXELS,
    MAX_DECODE_SIDE,
    TRIM_NOTICE_SECONDS,
    Probe,
    codec_label,
    container_label,
    is_picture_demuxer,
    main_video_stream,
    probe,
)
from bot.media.results import Change, MediaRejected

__all__ = [
    "OUTPUT_LABEL",
    "VideoResult",
    "normalise_video",
    "within_video_limits",
]

OUTPUT_LABEL: Final = "MP4/H.264"
MIME_TYPE: Final = "video/mp4"

# The reference gives one side range (300-6000 px) for images and videos alike.
_MIN_SIDE: Final = IMAGE_MIN_SIDE
_MAX_SIDE: Final = IMAGE_MAX_SIDE
_ASPECT_MIN: Final = Fraction(str(ASPECT_MIN))
_ASPECT_MAX: Final = Fraction(str(ASPECT_MAX))
_MOV_DEMUXER: Final = "mov,mp4,m4a,3gp,3g2,mj2"

# Over 60 fps (slow-motion phone clips) becomes 30, not 60: half the frames to encode and
# upload, and the motion reference is just as good.
_HIGH_FPS_TARGET: Final = Fraction(30)
_DEFAULT_FPS: Final = Fraction(30)  # when the header has no rate at all

# x264 at "veryfast" is ~3x faster than "medium" for a few % more bits; CRF 20 keeps detail
# the model can use. maxrate/bufsize (VBV) bound the size so the 50 MB limit holds on the first
# try for anything a phone records.
_X264_PRESET: Final = "veryfast"
_X264_CRF: Final = "20"
_VBV_SECONDS: Final = 1  # bufsize = this many seconds at maxrate
_SIZE_HEADROOM: Final = 0.9  # aim below the byte limit: muxing overhead, VBV slack
_MAX_ENCODES: Final = 3

_AAC_BITRATE: Final = 128_000
_AAC_RATES: Final = frozenset(
    {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}
)
_AAC_DEFAULT_RATE: Final = 48_000
_AUDIO_CHUNK: Final = 1024  # samples per frame handed to the encoder: one AAC frame

# Container/stream metadata keys that say nothing about the person or the device.
_HARMLESS_METADATA: Final = frozenset(
    {
        "major_brand",
        "minor_version",
        "compatible_brands",
        "encoder",
        "handler_name",
        "vendor_id",
        "language",
        "duration",
    }
)
# Substrings of metadata keys, and the kind of private data they reveal.
_METADATA_KINDS: Final = (
    ("location", "GPS"),
    ("xyz", "GPS"),
    ("gps", "GPS"),
    ("creation_time", "date"),
    ("date", "date"),
    ("make", "device"),
    ("model", "device"),
    ("software", "device"),
    ("com.android", "device"),
)
_KIND_ORDER: Final = ("GPS", "date", "device", "other")


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


def within_video_limits(
    width: int, height: int, *, fps: float, duration: float, size: int, max_seconds: float
) -> bool:
    """Whether a clip's numbers are all inside the upstream's limits (and the caller's budget)."""
    return (
        _geometry_ok(width, height)
        and VIDEO_MIN_FPS <= fps <= VIDEO_MAX_FPS
        and VIDEO_MIN_SECONDS <= duration <= min(max_seconds, VIDEO_MAX_SECONDS)
        and 0 < size <= VIDEO_MAX_BYTES
    )


def normalise_video(
    src: Path, dest_dir: Path, *, stem: str, max_seconds: float = VIDEO_MAX_SECONDS
) -> VideoResult:
    """Write an upstream-acceptable MP4 of the clip at ``src`` to ``dest_dir/stem.mp4``.

    ``max_seconds`` is what is left of the draft's video budget; the result is never longer.
    A clip that meets every limit is copied unchanged; anything else is remuxed or transcoded
    as the module docstring describes. Raises MediaRejected when no usable clip can be made.
    """
    check_stem(stem)
    limit = min(max_seconds, VIDEO_MAX_SECONDS)
    if limit < VIDEO_MIN_SECONDS:
        raise MediaRejected(
            "no_budget", kind="video", seconds=_seconds(max(0.0, limit)), total=VIDEO_TOTAL_SECONDS
        )
    info = probe(src)
    if info.kind != "video":
        raise MediaRejected("not_a_video", kind=info.kind)
    source = _inspect(src)
    width, height = info.width or 0, info.height or 0
    if max(width, height) > MAX_DECODE_SIDE or width * height > MAX_DECODE_PIXELS:
        raise MediaRejected("too_many_pixels", width=width, height=height, max=MAX_DECODE_PIXELS)
    if width <= 0 or height <= 0:
        if info.video_codec is not None and is_picture_demuxer(info.container):
            # An animation FFmpeg cannot decode (this build has no animated-WebP decoder).
            raise MediaRejected("unsupported_codec", codec=codec_label(info.video_codec))
        raise MediaRejected("corrupt", reason="no_frames")
    if info.duration is not None and info.duration < VIDEO_MIN_SECONDS:
        raise MediaRejected("too_short", seconds=_seconds(info.duration), min=VIDEO_MIN_SECONDS)

    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{stem}.mp4"
    if _compliant(info, source, limit):
        if not source.metadata_kinds:
            atomic_copy(src, dest)
            return _result(dest, (), limit)
        if _remux(src, dest):
            return _result(dest, (_metadata_change(source),), limit)
    return _transcode(src, dest, info, source, limit)


# --- inspection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """What probe() does not report but the decisions here need."""

    pix_fmt: str
    sample_aspect: Fraction  # 1 for square pixels
    brand: str  # the MP4 family's major_brand ("" otherwise)
    fps: Fraction | None  # exact average frame rate
    metadata_kinds: tuple[str, ...]


def _inspect(src: Path) -> _Source:
    try:
        with av.open(str(src), "r") as container:
            stream = main_video_stream(container)
            if stream is None or stream.codec_context is None:
                raise MediaRejected("unsupported_codec", codec=_unsupported_name(container))
            ctx = stream.codec_context
            sar = ctx.sample_aspect_ratio
            rate = stream.average_rate or stream.guessed_rate
            return _Source(
                pix_fmt=ctx.format.name if ctx.format is not None else "",
                sample_aspect=sar if sar is not None and sar > 0 else Fraction(1),
                brand=container.metadata.get("major_brand", ""),
                fps=rate if rate else None,
                metadata_kinds=_metadata_kinds(container),
            )
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="unreadable") from exc


def _unsupported_name(container: InputContainer) -> str:
    # Without a decoder PyAV gives no codec context; the demuxer still knows the codec's tag.
    stream = container.streams.video[0] if container.streams.video else None
    return stream.codec_tag if stream is not None and stream.codec_tag else "unknown"


def _metadata_kinds(container: InputContainer) -> tuple[str, ...]:
    found: set[str] = set()
    tables = [container.metadata, *(stream.metadata for stream in container.streams)]
    for table in tables:
        for key in table:
            lowered = key.lower()
            if lowered in _HARMLESS_METADATA:
                continue
            kinds = {kind for part, kind in _METADATA_KINDS if part in lowered}
            found |= kinds or {"other"}
    return tuple(kind for kind in _KIND_ORDER if kind in found)


def _metadata_change(source: _Source) -> Change:
    return Change("metadata_removed", {"kinds": ", ".join(source.metadata_kinds)})


def _compliant(info: Probe, source: _Source, limit: float) -> bool:
    return (
        info.container == _MOV_DEMUXER
        and info.video_codec == "h264"
        and source.pix_fmt == "yuv420p"
        and source.sample_aspect == 1
        and info.rotation == 0
        and info.width is not None
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


def _geometry_ok(width: int, height: int) -> bool:
    return (
        _MIN_SIDE <= width <= _MAX_SIDE
        and _MIN_SIDE <= height <= _MAX_SIDE
        and VIDEO_MIN_PIXELS <= width * height <= VIDEO_MAX_PIXELS
        and _ASPECT_MIN <= Fraction(width, height) <= _ASPECT_MAX
    )


# --- remux (drop metadata, keep every bit of picture and sound) ------------------------------


def _remux(src: Path, dest: Path) -> bool:
    """Copy the picture and first sound track's packets into a fresh MP4; False if impossible."""
    tmp = partial_path(dest)
    try:
        with (
            av.open(str(src), "r") as source,
            av.open(
                str(tmp), "w", format="mp4", container_options={"movflags": "+faststart"}
            ) as out,
        ):
            video = main_video_stream(source)
            assert video is not None  # probe() found it
            streams: list[VideoStream | AudioStream] = [video, *source.streams.audio[:1]]
            targets = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in source.demux(streams):
                if packet.dts is None:  # the demuxer's end-of-stream markers
                    continue
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
        os.replace(tmp, dest)
    except (av.FFmpegError, ValueError):  # e.g. a sound codec the MP4 muxer cannot carry
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


# --- geometry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """How the decoded picture becomes the output picture."""

    rotation: int  # counter-clockwise degrees to turn the stored picture
    display: tuple[int, int]  # upright, square-pixel size of the source
    padded: tuple[int, int]  # canvas at source scale, after padding to the aspect bounds
    canvas: tuple[int, int]  # output size
    content: tuple[int, int]  # the picture's size on the canvas

    @property
    def offset(self) -> tuple[int, int]:
        return (
            (self.canvas[0] - self.content[0]) // 2,
            (self.canvas[1] - self.content[1]) // 2,
        )


def _plan(info: Probe, source: _Source) -> _Plan:
    assert info.width is not None
    assert info.height is not None
    width, height = info.width, info.height
    if info.rotation in (90, 270):  # undo probe()'s swap to apply the pixel aspect first
        width, height = height, width
    width = max(2, round(width * source.sample_aspect))
    if info.rotation in (90, 270):
        width, height = height, width
    return _plan_for(width, height, info.rotation)


def _plan_for(width: int, height: int, rotation: int = 0) -> _Plan:
    """Pad to the nearest allowed aspect ratio, then scale into the pixel range (even sides)."""
    padded_w, padded_h = width, height
    if Fraction(width, height) > _ASPECT_MAX:
        padded_h = math.ceil(width / _ASPECT_MAX)
    elif Fraction(width, height) < _ASPECT_MIN:
        padded_w = math.ceil(height * _ASPECT_MIN)
    canvas = _fit(padded_w, padded_h)
    if (padded_w, padded_h) == (width, height):
        content = canvas
    else:
        content = (
            min(canvas[0], _even(width * canvas[0] / padded_w)),
            min(canvas[1], _even(height * canvas[1] / padded_h)),
        )
    return _Plan(rotation, (width, height), (padded_w, padded_h), canvas, content)


def _fit(width: int, height: int) -> tuple[int, int]:
    """The even size closest to ``width``×``height`` scaled (only as far as needed) into range.

    yuv420p needs even sides, and rounding to them can nudge the pixel count or the aspect ratio
    just past a bound, so nearby even sizes are searched for the valid one closest in shape.
    """
    pixels = width * height
    scale = 1.0
    if pixels < VIDEO_MIN_PIXELS:
        scale = math.sqrt(VIDEO_MIN_PIXELS / pixels)
    elif pixels > VIDEO_MAX_PIXELS:
        scale = math.sqrt(VIDEO_MAX_PIXELS / pixels)
    ideal_w, ideal_h = width * scale, height * scale
    aspect = width / height
    candidates = [
        (w, h) for w in _evens_near(ideal_w) for h in _evens_near(ideal_h) if _geometry_ok(w, h)
    ]
    assert candidates, (width, height)
    return min(
        candidates,
        key=lambda c: (abs(math.log(c[0] / c[1] / aspect)), abs(c[0] * c[1] - ideal_w * ideal_h)),
    )


def _evens_near(value: float) -> range:
    base = 2 * round(value / 2)
    return range(max(2, base - 6), base + 8, 2)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def _output_rate(rate: Fraction | None) -> Fraction:
    """The constant output frame rate for a source averaging ``rate`` fps."""
    if rate is None or rate <= 0:
        return _DEFAULT_FPS
    if rate < VIDEO_MIN_FPS:
        return Fraction(VIDEO_MIN_FPS)
    if rate > VIDEO_MAX_FPS:
        return _HIGH_FPS_TARGET
    if rate.denominator in (1, 1001):  # 30, 29.97, ...: keep exactly
        return rate
    # A variable-rate phone clip averages something like 29.87; encode at the whole rate.
    return min(Fraction(VIDEO_MAX_FPS), max(Fraction(VIDEO_MIN_FPS), Fraction(round(rate))))


# --- transcode -------------------------------------------------------------------------------


def _transcode(src: Path, dest: Path, info: Probe, source: _Source, limit: float) -> VideoResult:
    plan = _plan(info, source)
    rate = _output_rate(source.fps)
    changes = _planned_changes(info, source, plan, rate)
    expected = min(info.duration or limit, limit)
    maxrate = _maxrate(VIDEO_MAX_BYTES, expected)

    tmp = partial_path(dest)
    encodes = 0
    try:
        while True:
            stats = _encode(src, tmp, plan, rate, limit, maxrate)
            encodes += 1
            if stats.seconds < VIDEO_MIN_SECONDS:  # the header promised more than there was
                raise MediaRejected(
                    "too_short", seconds=_seconds(stats.seconds), min=VIDEO_MIN_SECONDS
                )
            size = tmp.stat().st_size
            if size <= VIDEO_MAX_BYTES:
                break
            if encodes >= _MAX_ENCODES:
                raise MediaRejected("too_big", size=size, limit=VIDEO_MAX_BYTES)
            # VBV bounds the average, it does not promise a size; aim lower in proportion.
            maxrate = int(maxrate * VIDEO_MAX_BYTES * _SIZE_HEADROOM / size)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)

    if info.duration is not None and info.duration > limit + TRIM_NOTICE_SECONDS:
        changes.append(
            Change("trimmed", {"from": _seconds(info.duration), "to": _seconds(stats.seconds)})
        )
    if stats.audio_dropped:
        changes.append(Change("audio_removed", {"codec": codec_label(stats.audio_dropped)}))
    if info.size > VIDEO_MAX_BYTES or encodes > 1:
        changes.append(Change("compressed", {"from": info.size, "to": size}))
    if source.metadata_kinds:
        changes.append(_metadata_change(source))
    return _result(dest, tuple(changes), limit)


def _planned_changes(info: Probe, source: _Source, plan: _Plan, rate: Fraction) -> list[Change]:
    changes: list[Change] = []
    assert info.video_codec is not None
    compliant_format = info.container == _MOV_DEMUXER and info.video_codec == "h264"
    if not compliant_format or source.pix_fmt != "yuv420p":
        label = container_label(info.container, brand=source.brand, codec=info.video_codec)
        codec = codec_label(info.video_codec)
        if codec != label:
            label = f"{label}/{codec}"
        if compliant_format:
            label = f"{label} {source.pix_fmt}"
        changes.append(Change("converted", {"from": label, "to": OUTPUT_LABEL}))
    if plan.rotation:
        changes.append(Change("rotated", {"degrees": plan.rotation}))
    if plan.padded != plan.display:
        changes.append(Change("padded", {"from": _dims(plan.display), "to": _dims(plan.padded)}))
    if plan.canvas != plan.padded:
        code = "downscaled" if plan.canvas[0] < plan.padded[0] else "upscaled"
        changes.append(Change(code, {"from": _dims(plan.padded), "to": _dims(plan.canvas)}))
    if source.fps is None or not VIDEO_MIN_FPS <= source.fps <= VIDEO_MAX_FPS:
        before: int | float | str = _fps(source.fps) if source.fps is not None else "?"
        changes.append(Change("fps_changed", {"from": before, "to": _fps(rate)}))
    return changes


def _maxrate(size_limit: int, seconds: float) -> int:
    """A video bitrate (bit/s) whose worst case, with the sound, fits ``size_limit`` bytes."""
    budget = size_limit * 8 * _SIZE_HEADROOM - _AAC_BITRATE * seconds
    return max(100_000, int(budget / (seconds + _VBV_SECONDS)))


@dataclass(frozen=True)
class _Stats:
    seconds: float  # output duration
    audio_dropped: str | None  # codec of a sound track that could not be decoded


def _encode(
    src: Path, dest: Path, plan: _Plan, rate: Fraction, limit: float, maxrate: int
) -> _Stats:
    """Decode ``src`` once, stream it through the filters and encoders into ``dest``."""
    try:
        with (
            av.open(str(src), "r") as source,
            av.open(
                str(dest), "w", format="mp4", container_options={"movflags": "+faststart"}
            ) as out,
        ):
            return _pump(source, out, plan, rate, limit, maxrate)
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="undecodable") from exc


def _pump(
    source: InputContainer,
    out: OutputContainer,
    plan: _Plan,
    rate: Fraction,
    limit: float,
    maxrate: int,
) -> _Stats:
    video_in = main_video_stream(source)
    assert video_in is not None  # probe() found it
    video_in.thread_type = ThreadType.AUTO  # frame threads: decoding is most of the work
    video = _VideoOut(out, video_in, plan, rate, limit, maxrate)

    audio_in = source.streams.audio[0] if source.streams.audio else None
    dropped: str | None = None
    if audio_in is not None and audio_in.codec_context is None:
        dropped, audio_in = audio_in.codec_tag or "unknown", None
    audio = _AudioOut(out, audio_in, video.origin, limit) if audio_in is not None else None

    streams: list[VideoStream | AudioStream] = [video_in]
    if audio_in is not None:
        streams.append(audio_in)
    for packet in source.demux(streams):
        if packet.stream.index == video_in.index:
            if not video.done:
                video.feed(video_in.decode(packet))
        elif audio is not None and audio_in is not None and not audio.done:
            audio.feed(audio_in.decode(packet))
        if video.done and (audio is None or audio.done):
            break  # never read past the trim point
    video.finish()
    if audio is not None:
        audio.finish()
    seconds = video.seconds if audio is None else max(video.seconds, audio.seconds)
    return _Stats(seconds=seconds, audio_dropped=dropped)


class _VideoOut:
    """Filters (fps, rotate, scale, pad) and encodes one video stream, capped at ``limit``."""

    def __init__(
        self,
        out: OutputContainer,
        stream: VideoStream,
        plan: _Plan,
        rate: Fraction,
        limit: float,
        maxrate: int,
    ) -> None:
        assert stream.time_base is not None
        self._out = out
        self._time_base = stream.time_base
        self._rate = rate
        self._cap = math.floor(limit * rate)  # frames; each lasts 1/rate s
        self._written = 0
        # Output timestamps come from the input's (through the fps filter), relative to the
        # stream's start, so the picture stays in step with the sound whatever the input's
        # frame timing; the sound uses the same origin.
        self._start = stream.start_time or 0
        self.origin = self._start * stream.time_base  # seconds
        self._fallback_pts = 0
        self.done = False

        self._encoder = out.add_stream("libx264", rate=rate)
        self._encoder.width, self._encoder.height = plan.canvas
        self._encoder.pix_fmt = "yuv420p"
        self._encoder.options = {
            "preset": _X264_PRESET,
            "crf": _X264_CRF,
            "maxrate": str(maxrate),
            "bufsize": str(maxrate * _VBV_SECONDS),
        }
        self._graph = _video_graph(stream, plan, rate)

    @property
    def seconds(self) -> float:
        return float(self._written / self._rate)

    def feed(self, frames: list[av.VideoFrame]) -> None:
        for frame in frames:
            if frame.pts is None:
                # Rare (raw elementary streams); space such frames at the nominal rate.
                frame.pts = self._fallback_pts
            self._fallback_pts = frame.pts + max(1, round(1 / (self._rate * self._time_base)))
            if (frame.pts - self._start) * self._time_base >= self._limit_seconds:
                self.done = True
                return
            frame.pts -= self._start
            self._graph.vpush(frame)
            self._drain()
            if self.done:
                return

    @property
    def _limit_seconds(self) -> Fraction:
        return Fraction(self._cap) / self._rate

    def finish(self) -> None:
        self._graph.vpush(None)
        self._drain()
        self._out.mux(self._encoder.encode(None))

    def _drain(self) -> None:
        while True:
            try:
                frame = self._graph.vpull()
            except (av.BlockingIOError, av.EOFError):
                return
            if self._written >= self._cap:
                self.done = True
                continue  # pull the rest so the graph can finish; never encode past the cap
            frame.pts = self._written
            frame.time_base = 1 / self._rate
            self._out.mux(self._encoder.encode(frame))
            self._written += 1
            if self._written >= self._cap:
                self.done = True


def _video_graph(stream: VideoStream, plan: _Plan, rate: Fraction) -> Graph:
    """buffer → fps → rotate → scale → pad → setsar → format → buffersink."""
    graph = Graph()
    # fps first: at 120 fps in, three of four frames are dropped before any pixel work.
    nodes = [
        graph.add_buffer(template=stream),
        graph.add("fps", f"fps={rate.numerator}/{rate.denominator}:start_time=0"),
    ]
    nodes += [graph.add(name, args) for name, args in _rotation_filters(plan.rotation)]
    nodes.append(graph.add("scale", f"w={plan.content[0]}:h={plan.content[1]}:flags=bicubic"))
    if plan.content != plan.canvas:
        x, y = plan.offset
        nodes.append(
            graph.add("pad", f"w={plan.canvas[0]}:h={plan.canvas[1]}:x={x}:y={y}:color=black")
        )
    nodes += [
        graph.add("setsar", "1"),
        graph.add("format", "pix_fmts=yuv420p"),
        graph.add("buffersink"),
    ]
    graph.link_nodes(*nodes).configure()
    return graph


def _rotation_filters(rotation: int) -> Iterator[tuple[str, str]]:
    if rotation == 90:
        yield "transpose", "cclock"
    elif rotation == 270:
        yield "transpose", "clock"
    elif rotation == 180:
        yield "hflip", ""
        yield "vflip", ""


class _AudioOut:
    """Re-encodes one sound track to AAC, aligned with the video's origin, capped at ``limit``."""

    def __init__(
        self, out: OutputContainer, stream: AudioStream, origin: Fraction, limit: float
    ) -> None:
        ctx = stream.codec_context
        rate = ctx.sample_rate if ctx.sample_rate in _AAC_RATES else _AAC_DEFAULT_RATE
        self._layout = "mono" if ctx.channels == 1 else "stereo"
        self._rate = rate
        self._out = out
        self._encoder = out.add_stream("aac", rate=rate)
        self._encoder.layout = self._layout
        self._encoder.bit_rate = _AAC_BITRATE
        self._resampler = av.AudioResampler(format="fltp", layout=self._layout, rate=rate)
        self._fifo = av.AudioFifo()
        # Whole AAC frames only, so the track cannot end a fraction of a frame past the limit.
        self._cap = math.floor(limit * rate / _AUDIO_CHUNK) * _AUDIO_CHUNK
        self._origin = origin  # seconds; the video's first instant
        self._aligned = False
        self._skip = 0
        self._written = 0
        self.done = False

    @property
    def seconds(self) -> float:
        return self._written / self._rate

    def feed(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            if not self._aligned and frame.pts is not None and frame.time_base is not None:
                self._align(frame.pts * frame.time_base - self._origin)
            for resampled in self._resampler.resample(frame):
                self._queue(resampled)
            if self.done:
                return

    def finish(self) -> None:
        for resampled in self._resampler.resample(None):
            self._queue(resampled)
        self._emit(final=True)
        self._out.mux(self._encoder.encode(None))

    def _align(self, offset: Fraction) -> None:
        """Start the track at the video's origin: pad a late start, cut an early one."""
        self._aligned = True
        samples = round(offset * self._rate)
        if samples < 0:
            self._skip = -samples
        elif samples > 0:
            silence = av.AudioFrame(format="fltp", layout=self._layout, samples=samples)
            for plane in silence.planes:
                plane.update(bytes(plane.buffer_size))
            silence.sample_rate = self._rate
            self._queue(silence)

    def _queue(self, frame: av.AudioFrame) -> None:
        self._aligned = True
        frame.pts = None  # the fifo would check continuity; positions are counted here
        self._fifo.write(frame)
        if self._skip:
            dropped = self._fifo.read(min(self._skip, self._fifo.samples))
            self._skip -= dropped.samples if dropped is not None else 0
        self._emit(final=False)

    def _emit(self, *, final: bool) -> None:
        while not self.done:
            room = self._cap - self._written
            if room <= 0:
                self.done = True
                return
            wanted = min(_AUDIO_CHUNK, room)
            frame = self._fifo.read(wanted, partial=final)
            if frame is None:
                return
            frame.pts = self._written
            frame.time_base = Fraction(1, self._rate)
            self._out.mux(self._encoder.encode(frame))
            self._written += frame.samples


# --- results ---------------------------------------------------------------------------------


def _result(path: Path, changes: tuple[Change, ...], limit: float) -> VideoResult:
    """Re-probe the output and check it against every limit before handing it out."""
    out = probe(path)
    assert out.kind == "video", out
    assert out.container == _MOV_DEMUXER, out
    assert out.video_codec == "h264", out
    assert out.rotation == 0, out
    assert out.width is not None, out
    assert out.height is not None, out
    assert out.fps is not None, out
    assert out.duration is not None, out
    assert within_video_limits(
        out.width, out.height, fps=out.fps, duration=out.duration, size=out.size, max_seconds=limit
    ), (out, limit)
    return VideoResult(
        path=path,
        width=out.width,
        height=out.height,
        duration=out.duration,
        fps=out.fps,
        size=out.size,
        has_audio=out.has_audio,
        mime_type=MIME_TYPE,
        changes=changes,
    )


def _seconds(value: float) -> float:
    """Seconds for a message: rounded down to 0.1 s, so 1.98 s is never shown as "2.0"."""
    return math.floor(value * 10 + 1e-9) / 10


def _fps(rate: Fraction | float) -> int | float:
    value = float(rate)
    return round(value) if abs(value - round(value)) < 0.005 else round(value, 2)


def _dims(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"
