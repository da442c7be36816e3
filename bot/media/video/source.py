"""What a clip is made of, beyond what probe() reports: pixel format, pixel shape, exact frame
rate, and the private metadata it carries."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
from av.container import InputContainer

from bot.media.formats import container_label
from bot.media.probe import main_video_stream
from bot.media.results import Change, MediaRejected

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
# Substrings of metadata keys, and the kind of private data they reveal (the kinds are those of
# bot.media.images.METADATA_KIND_ORDER, so photos and clips are described alike).
_METADATA_KINDS: Final = (
    ("location", "location"),
    ("xyz", "location"),
    ("gps", "location"),
    ("creation_time", "date"),
    ("date", "date"),
    ("make", "device"),
    ("model", "device"),
    ("software", "device"),
    ("com.android", "device"),
    ("artist", "author"),
    ("author", "author"),
    ("copyright", "author"),
    ("comment", "comment"),
    ("description", "comment"),
)
_KIND_ORDER: Final = ("location", "date", "device", "author", "comment", "other")


@dataclass(frozen=True)
class Source:
    """What probe() does not report but the decisions here need."""

    pix_fmt: str
    sample_aspect: Fraction  # 1 for square pixels
    brand: str  # the MP4 family's major_brand ("" otherwise)
    fps: Fraction | None  # exact average frame rate
    metadata_kinds: tuple[str, ...]


def inspect_source(src: Path) -> Source:
    """Read the main video stream's details and the file's metadata."""
    try:
        with av.open(str(src), "r") as container:
            stream = main_video_stream(container)
            if stream is None or stream.codec_context is None:  # probe() refuses these first
                brand = container.metadata.get("major_brand", "")
                label = container_label(container.format.name, brand=brand)
                raise MediaRejected("unsupported_format", kind="video", format=label)
            ctx = stream.codec_context
            sar = ctx.sample_aspect_ratio
            rate = stream.average_rate or stream.guessed_rate
            return Source(
                pix_fmt=ctx.format.name if ctx.format is not None else "",
                sample_aspect=sar if sar is not None and sar > 0 else Fraction(1),
                brand=container.metadata.get("major_brand", ""),
                fps=rate if rate else None,
                metadata_kinds=_metadata_kinds(container),
            )
    except av.FFmpegError as exc:
        raise MediaRejected("corrupt", reason="unreadable") from exc


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


def metadata_change(source: Source) -> Change:
    """The note saying which private metadata did not make it into the output."""
    return Change("metadata_removed", {"kinds": ", ".join(source.metadata_kinds)})
