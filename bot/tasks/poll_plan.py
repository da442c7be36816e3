"""When to ask about a running task next: rarely while it cannot be done, often when it should be.

- Queued upstream (pending, no progress): it cannot end before it has been processed, which
  takes most of its estimate, so it is asked about every half of its estimate: often enough to
  see it processing before it can end.
- Processing, with no pace (its progress does not move): the next query comes halfway to the
  end its estimated time gives (counted from when it was first seen processing, if that is
  later).
- Processing, first seen: the next query comes soon (a tenth of the estimate, sooner if the
  progress made since the previous query says it may be nearly done), to measure its pace
  (progress gained per second since the tracker first saw it processing).
- Processing, with a pace: its end is predicted from the pace, and the next query comes just
  before that, early by the prediction's margin of error.
- Around the predicted end: every `fast` seconds (so a finished task waits half that, on
  average); past it, less and less often the later the task is (a wrong estimate), or the
  longer its progress stays where it is (stuck at 99 %).

No gap is longer than `longest` (POLL_INTERVAL_SECONDS). With callbacks on, the upstream says
when a task ends: the queries are a safety net, `SAFETY_NET_FACTOR` times rarer.

A query that need not be exact is brought forward onto a grid (`due_at`), so that the queries
falling due at about the same time fall due together: the tracker claims and sends them as one
batch, and a query in a batch of dozens costs about half the CPU of one on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Used when the upstream gives no estimate (its reference shows 165 s for an 8 s video).
DEFAULT_ESTIMATE_SECONDS = 120.0
FAST_SECONDS = 2.0  # the gap around the predicted end
APPROACH = 0.5  # without a pace, the next query comes this share of the way to the end
PROCESSING_SHARE = 0.8  # of its estimate, what processing takes (the queue before it, the rest)
PACE_PROBE = 0.1  # a task first seen processing is asked again this share of its estimate later
# A queued task is asked about this share of its estimate apart: less than the time the fastest
# tasks take to be processed, so it is seen processing before it can end.
QUEUED_SHARE = 0.5
LATE_BACKOFF = 0.5  # past the end, the gap grows by this share of how late the task is
STUCK_GROWTH = 1.5  # at its end but not moving: each gap this many times the one before
MIN_PACE_SECONDS = 3.0  # a pace measured over less time than this is not trusted
# The margin of a predicted end: progress is whole percents (so ±1 at each end of the pace's
# span), and a task's pace wanders a little.
PACE_WANDER = 0.04
SAFETY_NET_FACTOR = 10.0
GRID_SHARE = 0.1  # a query is brought forward by less than this share of its delay


@dataclass(frozen=True)
class Reading:
    """What is known of a task at a query: its age, the upstream's estimate, status and
    progress, and the pace baseline (the first reading that saw it processing)."""

    age: float  # seconds since the submit
    estimate: float | None  # the upstream's estimated_time, seconds
    progress: int
    queued: bool = False  # pending upstream, nothing done yet
    baseline_age: float | None = None
    baseline_progress: int | None = None
    since_previous: float | None = None  # seconds since the previous query, if any
    previous_progress: int | None = None  # what the previous query said

    def pace(self) -> float | None:
        """Progress points per second since the baseline, when it can be trusted."""
        if (
            self.baseline_age is None
            or self.baseline_progress is None
            or self.progress <= self.baseline_progress
            or self.age - self.baseline_age < MIN_PACE_SECONDS
        ):
            return None
        return (self.progress - self.baseline_progress) / (self.age - self.baseline_age)


def remaining(reading: Reading) -> float:
    """Seconds until the predicted end (negative: that long late)."""
    pace = reading.pace()
    if pace is not None:
        return (100 - reading.progress) / pace
    estimate = reading.estimate or DEFAULT_ESTIMATE_SECONDS
    left = estimate - reading.age
    if reading.baseline_age is not None:
        # Seen processing since then: processing takes most of the estimate, whatever the wait
        # in the queue before it.
        left = max(left, reading.baseline_age + PROCESSING_SHARE * estimate - reading.age)
    return left


def next_delay(
    reading: Reading,
    *,
    longest: float,
    callbacks: bool = False,
    fast: float = FAST_SECONDS,
) -> float:
    """Seconds until the next query of a task that is still running upstream."""
    fast = min(fast, longest)
    estimate = reading.estimate or DEFAULT_ESTIMATE_SECONDS
    left = remaining(reading)
    pace = reading.pace()
    if reading.queued:
        # Whatever its estimate says: it cannot end before it has been processed.
        delay = QUEUED_SHARE * estimate
    elif pace is None and (
        reading.baseline_age is None or reading.age - reading.baseline_age < MIN_PACE_SECONDS
    ):
        # First seen processing, or too recently for a pace: its progress alone says how soon
        # it may end (a task first seen at 96 % and again at 99 % is nearly done whatever its
        # estimate says).
        delay = max(fast, PACE_PROBE * estimate)
        if reading.progress > 0 and reading.since_previous:
            # All of this progress may have been made since the previous query: at that pace
            # it ends in (100 - p) / p of that time.
            soonest = reading.since_previous * (100 - reading.progress) / reading.progress
            delay = min(delay, APPROACH * soonest)
    elif left <= 2 * fast:
        delay = fast + LATE_BACKOFF * max(0.0, -left)
    elif pace is not None:
        assert reading.baseline_progress is not None
        gained = reading.progress - reading.baseline_progress
        margin = max(fast, left * (PACE_WANDER + 2 / gained))
        delay = left - margin
    else:
        delay = APPROACH * left
    if (
        pace is not None
        and reading.since_previous
        and reading.progress == reading.previous_progress
    ):
        # Not moving since the previous query (stuck at 99 %, "finalising"): each gap half as
        # long again as the one before.
        delay = max(delay, STUCK_GROWTH * reading.since_previous)
    delay = min(max(delay, fast), longest)
    if callbacks:
        delay *= SAFETY_NET_FACTOR
    return delay


def due_at(now: float, delay: float) -> float:
    """When a query planned `delay` seconds after `now` falls due: brought forward onto a grid of
    whole seconds, the coarsest power of two under a tenth of the delay (never later than planned,
    so never past a predicted end). Queries due in less than 10 s stay exact."""
    if delay < 1 / GRID_SHARE:
        return now + delay
    grid = 2.0 ** math.floor(math.log2(GRID_SHARE * delay))
    return max(now, math.floor((now + delay) / grid) * grid)
