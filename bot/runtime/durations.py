"""Lengths of time in seconds, named once."""

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def utc_midnight(now: float) -> float:
    """The start of the UTC day `now` (unix seconds) falls in."""
    return now - now % DAY
