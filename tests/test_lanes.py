"""Lanes: one request per lane at a time, the others wait, a quiet caller reuses one lane."""

from __future__ import annotations

import asyncio

from bot.runtime.lanes import Lanes


async def test_each_lane_carries_one_request_at_a_time_and_the_rest_wait() -> None:
    lanes = Lanes(["a", "b"])
    busy: dict[str, int] = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0, "all": 0}

    async def request() -> None:
        async with lanes.take() as lane:
            busy[lane] += 1
            most[lane] = max(most[lane], busy[lane])
            most["all"] = max(most["all"], sum(busy.values()))
            await asyncio.sleep(0.01)
            busy[lane] -= 1

    await asyncio.gather(*(request() for _ in range(10)))
    assert most == {"a": 1, "b": 1, "all": 2}


async def test_one_caller_after_another_keeps_to_one_lane() -> None:
    lanes = Lanes(["a", "b", "c"])
    used = []
    for _ in range(5):
        async with lanes.take() as lane:
            used.append(lane)
    assert len(set(used)) == 1
