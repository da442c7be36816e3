"""Find out what a media file really is, from its content, without decoding more than one frame.

A file's name and MIME type are whatever the sender's phone said; only the bytes count. Pillow
answers first for still pictures (HEIC included, see :mod:`bot.media.pillow_formats`), FFmpeg for
everything else. The answer is a :class:`Probe`, or a MediaRejected that already says what the
file is when it cannot be used: a damaged picture, an animation nothing here can convert, a
stream in a format without a decoder.

Rotation is read from the display matrix the decoder attaches to the first frame (PyAV exposes it
on frames only), so probing a video decodes exactly one frame - unless the header declares a
picture too large to decode safely (:data:`MAX_DECODE_SIDE`, :data:`MAX_DECODE_PIXELS`), in which
case nothing is decoded and the rotation is reported as 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import av
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream
from PIL import Image, UnidentifiedImageError

from bot.media.formats import (
    ANIMATION_REFUSED,
    MOV_DEMUXER,
    container_label,
    is_picture_demuxer,
    picture_label,
    sniff_picture,
)
from bot.media.pillow_formats import OPEN_FORMATS
from bot.media.results import MediaRejected, Probe

__all__ = [
    "MAX_DECODE_PIXELS",
    "MAX_DECODE_SIDE",
    "TRIM_NOTICE_SECONDS",
    "Probe",
    "main_video_stream",
    "probe",
]

# Decompression-bomb guards: no video frame larger than this is ever decoded. Phones record at
# most 8K (7680×4320 = 33 MP); anything bigger is a bomb or a mistake.
MAX_DECODE_SIDE: Final = 8192
MAX_DECODE_PIXELS: Final = 40_000_000

# The normalisers do not report trimming less than this: it is codec padding (an AAC or MP3
# frame), not content the user will miss.
TRIM_NOTICE_SECONDS: Final = 0.1

# Index entries checked per stream for truncation; samples are stored roughly in time order.
_TAIL_ENTRIES: Final = 64

# Formats Pillow reads as several frames that are still one picture: a camera's stereo pair, an
# iPhone's primary image plus its depth map or burst.
_MULTI_IMAGE_STILLS: Final = frozenset({"MPO", "HEIF"})


def probe(path: Path) -> Probe:
    """Identify the media at ``path`` by its content.

    A still picture Pillow can open is an ``image``; a file with a real video stream (not cover
    art) is a ``video``, including animated GIF and PNG; a file with only audio is ``audio``.

    Raises MediaRejected: ``corrupt`` with a ``reason`` (``empty``, ``unreadable``,
    ``truncated``, ``no_frames``); ``no_video_stream`` for a container with neither pictures
    nor sound; ``damaged_picture`` (``format``) for a picture that cannot be decoded;
    ``unsupported_format`` (``kind``, ``format``) for a picture format the bot does not use or a
    stream without a decoder; ``animation_unsupported`` (``format``) for an animated WebP/AVIF.
    """
    size = path.stat().st_size  # a missing file is the caller's bug, not the user's
    if size == 0:
        raise MediaRejected("corrupt", reason="empty")
    still = _pillow_still(path, size)
    if still is not None:
        return still
    try:
        with av.open(str(path), "r") as container:
            return _probe_container(container, size)
    except av.FFmpegError as exc:
        with path.open("rb") as head:
            picture = sniff_picture(head.read(32))
        if picture is not None:  # a picture's header, and nothing could read past it
            raise MediaRejected("damaged_picture", format=picture) from exc
        raise MediaRejected("corrupt", reason="unreadable") from exc


def _pillow_still(path: Path, size: int) -> Probe | None:
    """A Probe if Pillow recognises a still picture, None to ask FFmpeg."""
    try:
        with Image.open(path, formats=OPEN_FORMATS) as image:
            image_format = image.format or "unknown"
            if getattr(image, "is_animated", False) and image_format not in _MULTI_IMAGE_STILLS:
                if image_format in ANIMATION_REFUSED:
                    raise MediaRejected("animation_unsupported", format=picture_label(image_format))
                return None  # GIF and APNG: FFmpeg reads them as clips
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Only raised, not warned, when warnings are errors. Either way it is a picture, and a
        # huge one: normalise_image refuses it with the details.
        return Probe("image", "unknown", None, None, None, None, 0, None, None, size, False)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None
    fmt = image_format.lower()
    return Probe("image", fmt, None, None, width, height, 0, None, None, size, False)


def _probe_container(container: InputContainer, size: int) -> Probe:
    fmt = container.format.name
    brand = container.metadata.get("major_brand", "")
    label = container_label(fmt, brand=brand)
    main = main_video_stream(container)
    audios = list(container.streams.audio)
    if fmt == MOV_DEMUXER and _truncated(container, size):
        raise MediaRejected("corrupt", reason="truncated")
    duration = _duration(container, main)

    if main is None:
        if not audios:
            raise MediaRejected("no_video_stream")
        if audios[0].codec_context is None:
            raise MediaRejected("unsupported_format", kind="audio", format=label)
        audio_codec = _codec_name(audios[0])
        return Probe("audio", fmt, None, audio_codec, None, None, 0, duration, None, size, True)

    picture = is_picture_demuxer(fmt, brand=brand)
    ctx = main.codec_context
    if ctx is None:
        kind = "image" if picture else "video"
        raise MediaRejected("unsupported_format", kind=kind, format=label)
    width, height = ctx.width, ctx.height
    decodable = 0 < width <= MAX_DECODE_SIDE and 0 < height <= MAX_DECODE_SIDE
    decodable = decodable and width * height <= MAX_DECODE_PIXELS
    if picture and not decodable:
        # Pillow could not open it; FFmpeg does not even know its size.
        raise MediaRejected("damaged_picture", format=label)
    rotation = 0
    if decodable:
        frames = _first_frames(container, main, 2 if picture else 1, picture=picture, label=label)
        if not frames:
            if picture:
                raise MediaRejected("damaged_picture", format=label)
            raise MediaRejected("corrupt", reason="no_frames")
        if picture and len(frames) == 1:
            # A still Pillow did not open: one it cannot read (damaged), or a format unused here.
            if label in _PILLOW_LABELS:
                raise MediaRejected("damaged_picture", format=label)
            raise MediaRejected("unsupported_format", kind="image", format=label)
        rotation = round(frames[0].rotation / 90) * 90 % 360
        if frames[0].width and frames[0].height:
            # The codec header can be missing or stale (some GIFs); the frame is the truth.
            width, height = frames[0].width, frames[0].height
    if rotation in (90, 270):
        width, height = height, width
    rate = main.average_rate or main.guessed_rate
    return Probe(
        kind="video",
        container=fmt,
        video_codec=_codec_name(main),
        audio_codec=_codec_name(audios[0]) if audios and audios[0].codec_context else None,
        width=width or None,
        height=height or None,
        rotation=rotation,
        duration=duration,
        fps=float(rate) if rate else None,
        size=size,
        has_audio=bool(audios),
    )


# Labels of picture formats Pillow opens: when FFmpeg finds one Pillow refused, it is damaged.
_PILLOW_LABELS: Final = frozenset(
    {"JPEG", "PNG", "WebP", "GIF", "BMP", "TIFF", "HEIC", "AVIF", "picture"}
)


def _codec_name(stream: av.stream.Stream) -> str:
    # The decoder's own name can differ from the format's ("mp3float", "libdav1d").
    ctx = stream.codec_context
    return ctx.codec.canonical_name if ctx is not None else "unknown"


def _duration(container: InputContainer, video: VideoStream | None) -> float | None:
    """The longest of the container's and the video stream's declared durations, in seconds."""
    candidates: list[float] = []
    if container.duration is not None and container.duration > 0:
        candidates.append(container.duration / av.time_base)
    if video is not None and video.duration and video.time_base:
        candidates.append(float(video.duration * video.time_base))
    return max(candidates) if candidates else None


def _truncated(container: InputContainer, size: int) -> bool:
    """Whether an MP4/MOV's sample index points past the end of the file."""
    for stream in container.streams:
        entries = stream.index_entries
        count = len(entries)
        for entry in entries[max(0, count - _TAIL_ENTRIES) : count]:
            if entry.pos + entry.size > size:
                return True
    return False


def _first_frames(
    container: InputContainer, stream: VideoStream, limit: int, *, picture: bool, label: str
) -> list[av.VideoFrame]:
    """Decode up to ``limit`` frames from the start of ``stream``."""
    frames: list[av.VideoFrame] = []
    try:
        for frame in container.decode(stream):
            frames.append(frame)
            if len(frames) >= limit:
                break
    except av.FFmpegError as exc:
        if picture:
            raise MediaRejected("damaged_picture", format=label) from exc
        if not frames:
            raise
    return frames


def main_video_stream(container: InputContainer) -> VideoStream | None:
    """The first video stream that is a picture track, not an attached cover image."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None
