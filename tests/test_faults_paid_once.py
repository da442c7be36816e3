"""One request, at most one paid task: the upstream creates the task and then its answer is lost.

For each way an answer can go wrong after the task exists (a 5xx from a gateway, a reset
connection, a body cut off, a corrupt gzip body, an answer after the client gave up), the fake
Evolink counts the tasks it created per Generate tap. With callbacks on, the callback names the
task and its video is delivered exactly once; with callbacks off the user reads the truth.
"""

from __future__ import annotations

import httpx
import pytest

from storage.models import Delivery, DraftState, TaskStatus
from tests.conftest import MakeBot
from tests.fakes.evolink import SUBMIT_PATH, BrokenAnswer, FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import (
    NOTHING_SUBMITTED,
    UNCONFIRMED_WAITING,
    UNTRACEABLE,
    draft_and_generate,
    records,
    settle,
    submit_posts,
    texts,
    videos,
)
from tests.harness import BotUnderTest
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

CHAT = 931
BROKEN: list[BrokenAnswer] = ["500", "502", "503", "504", "reset", "cut", "gzip", "late"]


async def _start(
    make_bot: MakeBot, evolink: FakeEvolink, how: BrokenAnswer, callbacks: str
) -> BotUnderTest:
    """The bot, and a Generate tap whose task is created upstream and its answer lost."""
    bot = await make_bot(evolink_callbacks=callbacks, http_timeout_seconds=1.0)
    evolink.break_next_answer(how, delay=2.0)
    await draft_and_generate(bot, CHAT, prompt=f"a paper plane, answer {how}")
    return bot


@pytest.mark.parametrize("how", BROKEN)
async def test_with_callbacks_the_lost_task_is_adopted_and_delivered_once(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, how: BrokenAnswer
) -> None:
    bot = await _start(make_bot, evolink, how, "on")
    told = await bot.reply_to(CHAT, text_contains=UNCONFIRMED_WAITING, timeout=10)
    assert told.method == "sendMessage"  # news that notifies, not a silent edit
    assert len(evolink.tasks) == 1 and submit_posts(evolink) == 1
    (task_id,) = evolink.tasks

    await evolink.complete(task_id)  # the callback names the task
    await bot.video_in(CHAT)
    await evolink.send_callback(task_id)  # a duplicate changes nothing
    await settle(1.0)

    assert len(videos(telegram, CHAT)) == 1
    assert len(evolink.tasks) == 1 and submit_posts(evolink) == 1
    assert not any(NOTHING_SUBMITTED in text for text in texts(telegram, CHAT))
    tasks, drafts = await records(bot)
    assert tasks[0].upstream_id == task_id and tasks[0].status is TaskStatus.COMPLETED
    assert tasks[0].delivery is Delivery.DELIVERED
    assert drafts[0].state is DraftState.SUBMITTED
    exposed = await bot.metrics()
    assert "seedance_requests_total 1.0" in exposed
    assert 'seedance_upstream_tasks_total{how="adopted"} 1.0' in exposed


@pytest.mark.parametrize("how", BROKEN)
async def test_without_callbacks_the_user_reads_the_truth_and_nothing_is_resent(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, how: BrokenAnswer
) -> None:
    bot = await _start(make_bot, evolink, how, "off")
    told = await bot.reply_to(CHAT, text_contains=UNTRACEABLE, timeout=10)
    assert told.method == "sendMessage"
    (task_id,) = evolink.tasks
    await evolink.complete(task_id)
    await settle(2.5)  # past the late answer and a few polls

    assert len(evolink.tasks) == 1 and submit_posts(evolink) == 1
    assert videos(telegram, CHAT) == []
    shown = texts(telegram, CHAT)
    assert not any(NOTHING_SUBMITTED in text for text in shown)
    assert sum(UNTRACEABLE in text for text in shown) == 1
    tasks, drafts = await records(bot)
    assert tasks[0].status is TaskStatus.UNKNOWN and tasks[0].upstream_id is None
    assert drafts[0].state is DraftState.SUBMITTED  # not given back: it may have been paid


async def test_a_server_error_that_created_nothing_is_not_resent_either(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # From the outside a 502 that created a task and one that did not look the same.
    bot = await make_bot(evolink_callbacks="on", task_deadline_seconds=2.0)
    evolink.fail_next(SUBMIT_PATH, 502)
    await draft_and_generate(bot, CHAT, prompt="a lantern on a lake")
    await bot.reply_to(CHAT, text_contains=UNCONFIRMED_WAITING)
    closing = await bot.reply_to(CHAT, text_contains="most likely not made", timeout=10)
    assert closing.method == "sendMessage"
    await settle()
    assert submit_posts(evolink) == 1 and evolink.tasks == {}
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.UNKNOWN and tasks[0].delivery is Delivery.DELIVERED


async def test_a_task_that_turns_up_after_the_closing_message_is_still_delivered(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(evolink_callbacks="on", task_deadline_seconds=1.0)
    evolink.break_next_answer("502")
    await draft_and_generate(bot, CHAT, prompt="a slow sunrise")
    await bot.reply_to(CHAT, text_contains="most likely not made", timeout=10)
    (task_id,) = evolink.tasks
    await evolink.complete(task_id)
    await bot.video_in(CHAT)
    await settle()
    assert len(videos(telegram, CHAT)) == 1 and submit_posts(evolink) == 1


async def test_a_callback_naming_a_task_that_does_not_fit_is_not_adopted(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(evolink_callbacks="on", poll_interval_seconds=0.2)
    evolink.break_next_answer("504")
    await draft_and_generate(bot, CHAT, prompt="a moth and a candle")
    await bot.reply_to(CHAT, text_contains=UNCONFIRMED_WAITING)
    (ours,) = evolink.tasks
    # Someone else's real task on the same account, of another length, already finished.
    other = await _other_task(evolink, duration=10)
    await evolink.complete(other)
    body = evolink.tasks[other].to_json()
    assert await evolink.send_callback(ours, body=body) == 200
    # A made-up id is refused by the task query (404).
    forged = body | {"id": "task-unified-1700000000-nonexist"}
    assert await evolink.send_callback(ours, body=forged) == 200
    await settle(1.0)
    assert videos(telegram, CHAT) == []
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.UNKNOWN and tasks[0].upstream_id is None
    # The real one still gets through.
    await evolink.complete(ours)
    video = await bot.video_in(CHAT)
    assert video.params["video"] == evolink.tasks[ours].results[0]


async def _other_task(evolink: FakeEvolink, *, duration: int) -> str:
    """A task created on the account by another client (not through this bot)."""
    async with httpx.AsyncClient() as client:
        upload = await client.post(
            f"{evolink.files_base_url}/api/v1/files/upload/stream",
            headers={"Authorization": f"Bearer {evolink.api_key}"},
            files={"file": ("x.jpg", image_bytes(800, 600), "image/jpeg")},
        )
        image_url = upload.json()["data"]["file_url"]
        answer = await client.post(
            f"{evolink.base_url}{SUBMIT_PATH}",
            headers={"Authorization": f"Bearer {evolink.api_key}"},
            json={
                "model": "seedance-2.0-fast-reference-to-video",
                "prompt": "someone else's video",
                "image_urls": [image_url],
                "duration": duration,
            },
        )
    task_id: str = answer.json()["id"]
    return task_id
