"""When a running task is asked about next: rarely while it cannot be done, often around its end."""

from __future__ import annotations

import pytest

from bot.tasks.poll_plan import (
    FAST_SECONDS,
    SAFETY_NET_FACTOR,
    Reading,
    due_at,
    next_delay,
    remaining,
)

LONGEST = 60.0


def delay(reading: Reading, **kwargs: object) -> float:
    return next_delay(reading, longest=LONGEST, **kwargs)  # type: ignore[arg-type]


def test_a_queued_task_is_asked_about_at_a_share_of_its_estimate_however_late() -> None:
    # It cannot end before it is processed, which takes most of its estimate.
    for age in (0.5, 100, 900):
        assert delay(Reading(age=age, estimate=100, progress=0, queued=True)) == pytest.approx(50)


def test_a_task_first_seen_far_along_is_asked_again_before_it_can_end() -> None:
    # 80 % done, and 40 s ago it had not started: at that pace it ends in 10 s.
    reading = Reading(
        age=70,
        estimate=120,
        progress=80,
        baseline_age=70,
        baseline_progress=80,
        since_previous=40,
    )
    assert delay(reading) == pytest.approx(5.0)


def test_a_task_seen_nearly_done_twice_too_close_for_a_pace_is_asked_again_at_once() -> None:
    # First seen at 96 % (58 s after the submit), then 2 s later at 99 %: too short a span for
    # a pace, but nearly done whatever its 120 s estimate says.
    reading = Reading(
        age=60,
        estimate=120,
        progress=99,
        baseline_age=58,
        baseline_progress=96,
        since_previous=2,
        previous_progress=96,
    )
    assert delay(reading) == FAST_SECONDS


def test_a_task_first_seen_processing_is_asked_again_soon_to_learn_its_pace() -> None:
    reading = Reading(age=30, estimate=120, progress=25, baseline_age=30, baseline_progress=25)
    assert delay(reading) == pytest.approx(12.0)  # a tenth of the estimate


def test_with_a_pace_the_next_query_comes_just_before_the_predicted_end() -> None:
    # 40 points in 40 s: 1 point/s, 20 points (20 s) to go.
    reading = Reading(age=70, estimate=120, progress=80, baseline_age=30, baseline_progress=40)
    assert remaining(reading) == pytest.approx(20.0)
    wait = delay(reading)
    assert 15 < wait < 20  # early by the margin of the prediction, never past the end


def test_around_the_predicted_end_it_is_every_fast_gap() -> None:
    reading = Reading(age=99, estimate=120, progress=99, baseline_age=30, baseline_progress=40)
    assert delay(reading) == FAST_SECONDS


def test_the_later_past_the_estimate_the_rarer_up_to_the_longest_gap() -> None:
    # Processing (seen at 120 s), its progress not moving: the estimate is all there is.
    late = [
        Reading(age=age, estimate=120, progress=40, baseline_age=20, baseline_progress=40)
        for age in (124, 140, 180, 900)
    ]
    waits = [delay(r) for r in late]
    assert waits == sorted(waits) and waits[0] > FAST_SECONDS and waits[-1] == LONGEST


def test_a_task_stuck_at_its_last_percent_is_asked_less_and_less_often() -> None:
    gap, age, waits = 2.0, 100.0, []
    for _ in range(12):
        reading = Reading(
            age=age,
            estimate=120,
            progress=99,
            baseline_age=30,
            baseline_progress=40,
            since_previous=gap,
            previous_progress=99,
        )
        gap = delay(reading)
        age += gap
        waits.append(gap)
    assert waits == sorted(waits) and waits[0] == 3.0 and waits[-1] == LONGEST


def test_progress_that_does_not_move_falls_back_on_the_estimate() -> None:
    stuck = Reading(age=50, estimate=120, progress=10, baseline_age=20, baseline_progress=10)
    assert remaining(stuck) == pytest.approx(70.0)


def test_with_callbacks_on_queries_are_a_rare_safety_net() -> None:
    reading = Reading(age=99, estimate=120, progress=99, baseline_age=30, baseline_progress=40)
    assert delay(reading, callbacks=True) == FAST_SECONDS * SAFETY_NET_FACTOR


def test_a_query_is_only_ever_brought_forward_and_by_less_than_a_tenth_of_its_delay() -> None:
    for now in (1_700_000_000.0, 1_700_000_000.37, 1_700_000_003.9):
        for planned in (10.0, 12.5, 48.0, 60.0, 600.0):
            assert now + 0.9 * planned < due_at(now, planned) <= now + planned


def test_queries_due_in_less_than_ten_seconds_stay_exact() -> None:
    now = 1_700_000_000.37
    for planned in (0.4, 2.0, 9.9):
        assert due_at(now, planned) == now + planned


def test_queries_planned_at_about_the_same_time_fall_due_together() -> None:
    # Tasks last asked about at different moments of the same few seconds: one batch.
    planned = {due_at(1_700_000_000.0 + offset / 10, 60.0) for offset in range(1, 40)}
    assert len(planned) == 1


def test_no_gap_is_shorter_than_the_fast_one_nor_longer_than_the_longest() -> None:
    for age in range(0, 400, 7):
        for progress in (0, 10, 50, 99):
            reading = Reading(
                age=age, estimate=120, progress=progress, baseline_age=0, baseline_progress=0
            )
            assert FAST_SECONDS <= delay(reading) <= LONGEST
