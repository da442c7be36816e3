"""When to ask about a running task next: rarely while it cannot be done, often when it should be.

- Queued upstream (pending, no progress), or processing without a pace yet: the next query
  comes halfway to the end its estimated time gives (at most `longest` later).
- Processing, first seen: the next query comes soon (a tenth of the estimate), to measure its
  pace (progress gained per second since the tracker first saw it processing).
- Processing, with a pace: its end is predicted from the pace, and the next query comes just
  before that, early by the prediction's margin of error.
- Around the predicted end: every `fast` seconds (so a finished task waits half that, on
  average); past it, less and less often the later the task is (stuck at 99 %, or a wrong
  estimate).

No gap is longer than `longest` (POLL_INTERVAL_SECONDS). With callbacks on, the upstream says
when a task ends: the queries are a safety net, `SAFETY_NET_FACTOR` times rarer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Used when the upstream gives no estimate (its reference shows 165 s for an 8 s video).
DEFAULT_ESTIMATE_SECONDS = 120.0
FAST_SECONDS = 2.0  # the gap around the predicted end
APPROACH = 0.5  # without a pace, the next query comes this share of the way to the end
PACE_PROBE = 0.1  # a task first seen processing is asked again this share of its estimate later
LATE_BACKOFF = 0.25  # past the end, the gap grows by this share of how late the task is
MIN_PACE_SECONDS = 3.0  # a pace measured over less time than this is not trusted
# The margin of a predicted end: progress is whole percents (so ±1 at each end of the pace's
# span), and a task's pace wanders a little.
PACE_WANDER = 0.04
SAFETY_NET_FACTOR = 10.0
JITTER = 0.1


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
    return (reading.estimate or DEFAULT_ESTIMATE_SECONDS) - reading.age


def next_delay(
    reading: Reading,
    *,
    longest: float,
    callbacks: bool = False,
    fast: float = FAST_SECONDS,
    jitter: bool = True,
) -> float:
    """Seconds until the next query of a task that is still running upstream."""
    fast = min(fast, longest)
    left = remaining(reading)
    pace = reading.pace()
    if reading.queued:
        delay = longest
    elif left <= 2 * fast:
        delay = fast + LATE_BACKOFF * max(0.0, -left)
    elif pace is not None:
        assert reading.baseline_progress is not None
        gained = reading.progress - reading.baseline_progress
        margin = max(fast, left * (PACE_WANDER + 2 / gained))
        delay = left - margin
    elif reading.queued:
        delay = APPROACH * left
    else:
        estimate = reading.estimate or DEFAULT_ESTIMATE_SECONDS
        delay = min(APPROACH * left, max(fast, PACE_PROBE * estimate))
    delay = min(max(delay, fast), longest)
    if callbacks:
        delay *= SAFETY_NET_FACTOR
    if jitter:
        # Spreads queries that fell due together; only earlier, never past a predicted end.
        delay *= random.uniform(1 - JITTER, 1)  # noqa: S311 - spreading, not secrecy
    return delay
