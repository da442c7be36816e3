"""What media processing reports: what a file is, a fix made to it, or why it cannot be used.

Plain data only (no PyAV, no Pillow): these cross from the media workers to the bot process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.media.formats import seconds_param


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


@dataclass(frozen=True)
class Change:
    """One thing the bot fixed in a file; rendered to words elsewhere.

    Codes and their params:

    - ``converted``: ``from``, ``to`` (formats; ``MPO`` is reported as ``JPEG``), plus
      ``animated=1`` when only the first frame was kept and ``colour="CMYK"`` for CMYK JPEGs.
    - ``rotated``: ``orientation`` (the EXIF value that was applied, 2-8).
    - ``padded``: ``from``, ``to`` (``"W×H"``, before any scaling).
    - ``downscaled`` / ``upscaled``: ``from``, ``to`` (``"W×H"``).
    - ``metadata_removed``: ``kinds`` (e.g. ``"EXIF, GPS, XMP"``).
    - ``compressed``: ``quality`` (only when the file had to be re-encoded below the default
      quality to fit IMAGE_MAX_BYTES).
    """

    code: str
    params: dict[str, str | int | float] = field(default_factory=dict, hash=False)


class MediaRejected(Exception):
    """The file cannot be used; rendered to words elsewhere.

    Codes (each normaliser's docstring lists its own): ``not_an_image``; ``corrupt``;
    ``damaged_picture`` (``format``); ``unsupported_format`` (``kind``: what it is, ``format``);
    ``animation_unsupported`` (``format``); ``too_small`` (``width``, ``height``, ``min``);
    ``too_many_pixels`` (``width``, ``height``, ``max`` pixels; only ``max`` and
    ``variant="unsized"`` when the header cannot be read); ``too_big`` (``size``, ``limit``, in
    bytes); ``unprocessable`` (``reason``: ``timeout``, ``memory``, ``crashed``,
    ``interrupted``): the file stopped the media worker, or the bot, and is not tried again.
    """

    def __init__(self, code: str, **params: str | int | float) -> None:
        super().__init__(code, params)
        self.code = code
        self.params: dict[str, str | int | float] = dict(params)

    def __str__(self) -> str:
        if not self.params:
            return self.code
        details = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.code} ({details})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword params are not in self.args, so the default pickling would lose them.
        return (type(self), (self.code,), self.__dict__)


class OutputCheckFailed(Exception):
    """A normaliser's output breaks a limit it promised to keep: a bug, never the user's fault.

    Raised by :func:`require`, which, unlike ``assert``, also holds under ``python -O``.
    """


def require(condition: bool, what: str) -> None:
    """Check one promise about a normaliser's output; OutputCheckFailed naming it if broken."""
    if not condition:
        raise OutputCheckFailed(what)


def budget_limit(
    kind: str, max_seconds: float, *, longest: float, shortest: float, total: float
) -> float:
    """How long a clip or sound may be: what the draft has left (``max_seconds``), at most
    ``longest``; MediaRejected("no_budget") when that is under ``shortest``."""
    limit = min(max_seconds, longest)
    if limit < shortest:
        raise MediaRejected(
            "no_budget", kind=kind, seconds=seconds_param(max(0.0, limit)), total=total
        )
    return limit
