"""Find out what a media file really is, from its content, without decoding more than one frame.

A file's name and MIME type are whatever the sender's phone said; only the bytes count. Pillow
answers first for still pictures (it also knows HEIC through pillow-heif), FFmpeg for everything
else. The answer is a :class:`Probe`; a file neither can read is ``MediaRejected("corrupt")``.

Rotation is read from the display matrix the decoder attaches to the first frame (PyAV exposes it
on frames only), so probing a video decodes exactly one frame - unless the header declares a
picture too large to decode safely (:data:`MAX_DECODE_SIDE`, :data:`MAX_DECODE_PIXELS`), in which
case nothing is decoded and the rotation is reported as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import av
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream
from PIL import Image, UnidentifiedImageError

from bot.media.results import MediaRejected

__all__ = [
    "MAX_DECODE_PIXELS",
    "MAX_DECODE_SIDE",
    "TRIM_NOTICE_SECONDS",
    "Probe",
    "audio_label",
    "codec_label",
    "container_label",
    "is_picture_demuxer",
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

# Still formats Pillow may identify. Others (EPS, PSD, ICO, ...) are left to FFmpeg, and in the
# end to normalise_image, which refuses them.
_STILL_FORMATS: Final = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "HEIF", "AVIF")
Image.init()
_PILLOW_FORMATS: Final = tuple(f for f in _STILL_FORMATS if f in Image.OPEN)

# FFmpeg demuxers for pictures (besides the "*_pipe" ones): one frame is a still, more a video.
_PICTURE_DEMUXERS: Final = frozenset({"image2", "gif", "apng", "webp", "jpegxl_anim"})
# The ISO BMFF family (MP4, MOV, 3GP, ...) indexes every sample, so truncation is detectable.
_MOV_DEMUXER: Final = "mov,mp4,m4a,3gp,3g2,mj2"
# Index entries checked per stream for truncation; samples are stored roughly in time order.
_TAIL_ENTRIES: Final = 64

# Names users know, for the "converted from X to Y" notes.
_CODEC_LABELS: Final = {
    "h264": "H.264",
    "hevc": "HEVC",
    "av1": "AV1",
    "vp8": "VP8",
    "vp9": "VP9",
    "mpeg4": "MPEG-4",
    "h263": "H.263",
    "mpeg1video": "MPEG-1",
    "mpeg2video": "MPEG-2",
    "mjpeg": "MJPEG",
    "prores": "ProRes",
    "theora": "Theora",
    "wmv3": "WMV",
    "vc1": "VC-1",
    "gif": "GIF",
    "apng": "APNG",
    "webp": "WebP",
    "aac": "AAC",
    "mp3": "MP3",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "flac": "FLAC",
    "alac": "ALAC",
    "amr_nb": "AMR",
    "amr_wb": "AMR-WB",
    "ac3": "AC-3",
    "eac3": "E-AC-3",
    "wmav2": "WMA",
}
_CONTAINER_LABELS: Final = {
    "gif": "GIF",
    "apng": "APNG",
    "webp": "WebP",
    "avi": "AVI",
    "flv": "FLV",
    "asf": "WMV",
    "mpegts": "MPEG-TS",
    "mpeg": "MPEG-PS",
    "ogg": "OGG",
    "mp3": "MP3",
    "wav": "WAV",
    "flac": "FLAC",
    "aac": "AAC",
    "amr": "AMR",
    "caf": "CAF",
    "aiff": "AIFF",
}
_WEBM_CODECS: Final = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})


@dataclass(frozen=True)
class Probe:
    """What a file contains, as far as the headers and at most one decoded frame tell.

    ``container`` is PyAV's demuxer name (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"ogg"``,
    ``"matroska,webm"``, ``"gif"``, ``"mp3"``, ``"wav"``, ...), or for a still image Pillow's
    format in lower case (``"jpeg"``, ``"png"``, ``"heif"``, ...). Codecs are FFmpeg's canonical
    names (``"h264"``, ``"hevc"``, ``"mp3"``, ``"opus"``). ``width`` and ``height`` are the
    display size: swapped when the rotation is 90 or 270. ``rotation`` is how far the stored
    picture must be turned counter-clockwise to show upright (0, 90, 180 or 270; from the
    display matrix). ``duration`` (seconds) and ``fps`` are the header's values, ``None`` when
    absent; ``fps`` is the average frame rate. ``size`` is in bytes.
    """

    kind: Literal["image", "video", "audio"]
    container: str
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    rotation: int
    duration: float | None
    fps: float | None
    size: int
    has_audio: bool


def probe(path: Path) -> Probe:
    """Identify the media at ``path`` by its content.

    A still picture Pillow can open is an ``image``; a file with a real video stream (not cover
    art) is a ``video``, including animated GIF/PNG/WebP; a file with only audio is ``audio``.
    Raises MediaRejected("corrupt") with a ``reason`` (``empty``, ``unreadable``, ``truncated``,
    ``no_frames``) and MediaRejected("no_video_stream") for a container with neither pictures
    nor sound.
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
        raise MediaRejected("corrupt", reason="unreadable") from exc


def is_picture_demuxer(name: str) -> bool:
    """Whether an FFmpeg demuxer name (``Probe.container``) is one for picture files."""
    return any(part in _PICTURE_DEMUXERS or part.endswith("_pipe") for part in name.split(","))


def _pillow_still(path: Path, size: int) -> Probe | None:
    """A Probe if Pillow recognises a single-frame picture, else None."""
    try:
        with Image.open(path, formats=_PILLOW_FORMATS) as image:
            if getattr(image, "is_animated", False) and image.format != "MPO":
                return None
            width, height = image.size
            image_format = (image.format or "unknown").lower()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Only raised, not warned, when warnings are errors. Either way it is a picture, and a
        # huge one: normalise_image refuses it with the details.
        return Probe("image", "unknown", None, None, None, None, 0, None, None, size, False)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None
    return Probe("image", image_format, None, None, width, height, 0, None, None, size, False)


def _probe_container(container: InputContainer, size: int) -> Probe:
    fmt = container.format.name
    main = main_video_stream(container)
    videos = [main] if main is not None else []
    audios = list(container.streams.audio)
    audio_codec = _codec_name(audios[0]) if audios else None
    if fmt == _MOV_DEMUXER and _truncated(container, size):
        raise MediaRejected("corrupt", reason="truncated")
    duration = _duration(container, videos[0] if videos else None)

    if not videos:
        if not audios:
            raise MediaRejected("no_video_stream")
        return Probe("audio", fmt, None, audio_codec, None, None, 0, duration, None, size, True)

    stream = videos[0]
    ctx = stream.codec_context
    width, height = (ctx.width, ctx.height) if ctx is not None else (0, 0)
    decodable = ctx is not None and 0 < width <= MAX_DECODE_SIDE and 0 < height <= MAX_DECODE_SIDE
    decodable = decodable and width * height <= MAX_DECODE_PIXELS
    rotation = 0
    kind: Literal["image", "video"] = "video"
    if decodable:
        frames = _first_frames(container, stream, 2 if is_picture_demuxer(fmt) else 1)
        if not frames:
            raise MediaRejected("corrupt", reason="no_frames")
        rotation = round(frames[0].rotation / 90) * 90 % 360
        if is_picture_demuxer(fmt) and len(frames) == 1:
            kind = "image"
        elif frames[0].width and frames[0].height:
            # The codec header can be missing or stale (some GIFs); the frame is the truth.
            width, height = frames[0].width, frames[0].height
    if rotation in (90, 270):
        width, height = height, width
    rate = stream.average_rate or stream.guessed_rate
    return Probe(
        kind=kind,
        container=fmt,
        video_codec=_codec_name(stream),
        audio_codec=audio_codec,
        width=width or None,
        height=height or None,
        rotation=rotation,
        duration=None if kind == "image" else duration,
        fps=float(rate) if rate and kind == "video" else None,
        size=size,
        has_audio=bool(audios),
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
    container: InputContainer, stream: VideoStream, limit: int
) -> list[av.VideoFrame]:
    """Decode up to ``limit`` frames from the start of ``stream``."""
    frames: list[av.VideoFrame] = []
    for frame in container.decode(stream):
        frames.append(frame)
        if len(frames) >= limit:
            break
    return frames


def main_video_stream(container: InputContainer) -> VideoStream | None:
    """The first video stream that is a picture track, not an attached cover image."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None


def codec_label(codec: str) -> str:
    """A codec's everyday name (``"hevc"`` -> ``"HEVC"``)."""
    if codec.startswith("pcm_"):
        return "PCM"
    return _CODEC_LABELS.get(codec, codec.upper())


def container_label(demuxer: str, *, brand: str = "", codec: str | None = None) -> str:
    """A container's everyday name: the MP4 family is told apart by its ``major_brand``."""
    if demuxer == _MOV_DEMUXER:
        brand = brand.strip().lower()
        if brand == "qt":
            return "MOV"
        if brand.startswith("3g"):
            return "3GP"
        if brand.startswith("m4a"):
            return "M4A"
        return "MP4"
    if demuxer.startswith("matroska"):
        return "WebM" if codec in _WEBM_CODECS else "MKV"
    return _CONTAINER_LABELS.get(demuxer, demuxer.split(",")[0].upper())


def audio_label(demuxer: str, codec: str, *, brand: str = "") -> str:
    """``"OGG/Opus"``, ``"M4A/AAC"``; one word when container and codec share a name."""
    container = container_label(demuxer, brand=brand, codec=codec)
    name = codec_label(codec)
    if name == container or (container == "WAV" and name == "PCM"):
        return container
    return f"{container}/{name}"
