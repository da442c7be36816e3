"""Progress edits in a group share one small budget, so replies and videos always go first."""

from __future__ import annotations

import asyncio

import pytest

from bot.telegram.edit_budget import EditBudget
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes

GROUP = -100555


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_group_gets_a_burst_then_a_steady_few_a_minute() -> None:
    clock = Clock()
    budget = EditBudget(per_minute=4, clock=clock)
    assert [budget.allow(GROUP) for _ in range(3)] == [True, True, False]
    clock.now += 14
    assert budget.allow(GROUP) is False
    clock.now += 1  # 15 s: one more token
    assert budget.allow(GROUP) is True
    assert budget.allow(-100556) is True  # every group has its own


def test_many_tasks_in_one_group_never_exceed_the_budget() -> None:
    clock = Clock()
    budget = EditBudget(per_minute=4, clock=clock)
    allowed = 0
    for _ in range(600):  # ten minutes, five tasks asking every second
        clock.now += 1
        allowed += sum(budget.allow(GROUP) for _ in range(5))
    assert allowed <= 2 + 4 * 10


def test_private_chats_are_not_budgeted_and_zero_means_none_in_groups() -> None:
    budget = EditBudget(per_minute=0, clock=Clock())
    assert all(budget.allow(42) for _ in range(100))
    assert not any(budget.allow(GROUP) for _ in range(100))


def test_groups_that_went_quiet_are_forgotten() -> None:
    clock = Clock()
    budget = EditBudget(per_minute=4, clock=clock)
    for chat in range(1, 1001):
        budget.allow(-chat)
    assert len(budget) == 1000
    clock.now += 60  # every bucket refilled
    for _ in range(256):
        budget.allow(42 * -1)
    assert len(budget) <= 1


@pytest.mark.e2e
async def test_in_a_busy_group_progress_yields_while_a_private_chat_still_sees_it(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the group's 15 s pause between edits of one task, only the budget holds them back.
    monkeypatch.setattr("bot.tasks.tracking.GROUP_EDIT_SECONDS", 0.0)
    bot = await make_bot(poll_interval_seconds=0.1, max_running_tasks_per_user=0)
    users = [701, 702, 703, 704]
    for n, user in enumerate(users):
        telegram.send_photo(
            GROUP,
            user,
            image_bytes(800 + n, 600),
            caption=f"/generate group video {n}",
            chat_type="supergroup",
        )
    telegram.send_photo(705, 705, image_bytes(800, 600), caption="/generate private video")
    submissions = await evolink.wait_for_submission(5, timeout=30)
    await asyncio.sleep(0.5)
    for submission in evolink.submissions:
        evolink.set_progress(submission.task_id, 40)
    await asyncio.sleep(2.0)  # many polls: every task would like to show 40 %

    def progress_edits(chat: int) -> int:
        return sum(1 for c in telegram.sent("editMessageText", chat) if c.ok and "Making" in c.text)

    assert len(submissions.references) == 1
    # Each request's status message turns into the progress once submitted (up to 4 edits);
    # after that each of the four group tasks would show 40 % (8 edits in all), but the group's
    # burst is two edits and the next token comes 15 s later.
    assert progress_edits(GROUP) <= len(users) + 2
    assert progress_edits(705) >= 2  # a private chat sees 0 % and 40 %
    telegram.send_text(GROUP, 701, "/status", chat_type="supergroup")
    await bot.reply_to(GROUP, text_contains="in progress")  # an answer is not held back
