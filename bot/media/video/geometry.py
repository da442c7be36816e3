"""Where the picture goes: turned upright, padded to the allowed shape, scaled into the allowed
pixel range, on even sides (yuv420p needs them)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from bot.limits import VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS
from bot.media.results import require
from bot.media.video.limits import ASPECT_HIGH, ASPECT_LOW, geometry_ok


@dataclass(frozen=True)
class Plan:
    """How the decoded picture becomes the output picture."""

    rotation: int  # counter-clockwise degrees to turn the stored picture
    display: tuple[int, int]  # upright, square-pixel size of the source
    padded: tuple[int, int]  # canvas at source scale, after padding to the aspect bounds
    canvas: tuple[int, int]  # output size
    content: tuple[int, int]  # the picture's size on the canvas

    @property
    def offset(self) -> tuple[int, int]:
        """Top-left corner of the picture on the canvas (centred)."""
        return (
            (self.canvas[0] - self.content[0]) // 2,
            (self.canvas[1] - self.content[1]) // 2,
        )


def plan_for_source(width: int, height: int, rotation: int, sample_aspect: Fraction) -> Plan:
    """The plan for a clip probed as ``width``×``height`` (display size, after ``rotation``)
    whose pixels are ``sample_aspect`` wide (1: square)."""
    if rotation in (90, 270):  # undo probe()'s swap to apply the pixel aspect first
        width, height = height, width
    width = max(2, round(width * sample_aspect))
    if rotation in (90, 270):
        width, height = height, width
    return plan_for(width, height, rotation)


def plan_for(width: int, height: int, rotation: int = 0) -> Plan:
    """Pad to the nearest allowed aspect ratio, then scale into the pixel range (even sides)."""
    padded_w, padded_h = width, height
    if Fraction(width, height) > ASPECT_HIGH:
        padded_h = math.ceil(width / ASPECT_HIGH)
    elif Fraction(width, height) < ASPECT_LOW:
        padded_w = math.ceil(height * ASPECT_LOW)
    canvas = _fit(padded_w, padded_h)
    if (padded_w, padded_h) == (width, height):
        content = canvas
    else:
        content = (
            min(canvas[0], _even(width * canvas[0] / padded_w)),
            min(canvas[1], _even(height * canvas[1] / padded_h)),
        )
    return Plan(rotation, (width, height), (padded_w, padded_h), canvas, content)


def _fit(width: int, height: int) -> tuple[int, int]:
    """The even size closest to ``width``×``height`` scaled (only as far as needed) into range.

    Rounding to even sides can nudge the pixel count or the aspect ratio just past a bound, so
    nearby even sizes are searched for the valid one closest in shape.
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
        (w, h) for w in _evens_near(ideal_w) for h in _evens_near(ideal_h) if geometry_ok(w, h)
    ]
    require(bool(candidates), f"no valid even size near {width}×{height}")
    # The truest shape among the sizes within 1 % of the pixels needed: a shape exact to 0.01 %
    # is not worth 2 % more pixels than the limits need.
    close = [c for c in candidates if abs(c[0] * c[1] / (ideal_w * ideal_h) - 1) <= 0.01]
    return min(
        close or candidates,
        key=lambda c: (abs(math.log(c[0] / c[1] / aspect)), abs(c[0] * c[1] - ideal_w * ideal_h)),
    )


def _evens_near(value: float) -> range:
    base = 2 * round(value / 2)
    return range(max(2, base - 6), base + 8, 2)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def rotation_filters(rotation: int) -> Iterator[tuple[str, str]]:
    """FFmpeg filters (name, arguments) that turn the stored picture upright."""
    if rotation == 90:
        yield "transpose", "cclock"
    elif rotation == 270:
        yield "transpose", "clock"
    elif rotation == 180:
        yield "hflip", ""
        yield "vflip", ""
