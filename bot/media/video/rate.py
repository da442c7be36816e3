"""The output's frame rate: constant, within 24-60 fps, as close to the source's as it allows."""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from bot.limits import VIDEO_MAX_FPS, VIDEO_MIN_FPS

# Over 60 fps (slow-motion phone clips) becomes 30, not 60: half the frames to encode and
# upload, and the motion reference is just as good.
HIGH_FPS_TARGET: Final = Fraction(30)
DEFAULT_FPS: Final = Fraction(30)  # when the header has no rate at all


def output_rate(rate: Fraction | None) -> Fraction:
    """The constant output frame rate for a source averaging ``rate`` fps."""
    if rate is None or rate <= 0:
        return DEFAULT_FPS
    if rate < VIDEO_MIN_FPS:
        return Fraction(VIDEO_MIN_FPS)
    if rate > VIDEO_MAX_FPS:
        return HIGH_FPS_TARGET
    if rate.denominator in (1, 1001):  # 30, 29.97, ...: keep exactly
        return rate
    # A variable-rate phone clip averages something like 29.87; encode at the whole rate.
    return min(Fraction(VIDEO_MAX_FPS), max(Fraction(VIDEO_MIN_FPS), Fraction(round(rate))))


def within_rate_limits(rate: Fraction | None) -> bool:
    """Whether a source's average rate may be kept as it is."""
    return rate is not None and VIDEO_MIN_FPS <= rate <= VIDEO_MAX_FPS


def fps_param(rate: Fraction | float) -> int | float:
    """A frame rate for a message: an int when whole, else two decimals (29.97)."""
    value = float(rate)
    return round(value) if abs(value - round(value)) < 0.005 else round(value, 2)
