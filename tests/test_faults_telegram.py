"""Faults of the Telegram Bot API, end to end: what reaches the user, and that nothing is sent
twice or lost without a word."""

from __future__ import annotations

import logging

import pytest

from bot.telegram import requests as telegram_requests
from storage.models import Delivery, TaskStatus
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import (
    BotRecords,
    draft_and_generate,
    eventually,
    records,
    settle,
    texts,
    videos,
)

pytestmark = pytest.mark.e2e

CHAT = 911
UNCERTAIN = "could not confirm it"
READ_TIMEOUT = 1.0


@pytest.fixture
def short_telegram_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot waits READ_TIMEOUT seconds for Telegram's answers instead of 30."""
    monkeypatch.setattr(telegram_requests, "READ_TIMEOUT", READ_TIMEOUT)


async def _delivery(bot_data: BotRecords) -> Delivery:
    tasks = await bot_data.tasks()
    return tasks[0].delivery


# ---------------------------------------------------------------- the video send fails midway


@pytest.mark.usefixtures("short_telegram_timeouts")
async def test_a_send_video_that_times_out_is_uncertain_and_never_repeated(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="a dancer in the rain")
    submission = await evolink.wait_for_submission()
    # Telegram takes the video but answers after the bot stopped waiting.
    telegram.set_delay("sendVideo", READ_TIMEOUT + 1.5)
    await evolink.complete(submission.task_id)
    link = await bot.reply_to(CHAT, text_contains=UNCERTAIN)
    assert evolink.tasks[submission.task_id].results[0] in link.text
    await eventually(lambda: bool(telegram.sent("sendVideo")), what="the late sendVideo")
    await settle(1.5)
    attempts = telegram.sent("sendVideo")
    assert len(attempts) == 1  # never sent blindly again, not even as an upload
    assert len(videos(telegram, CHAT)) == 1  # it did arrive: the link text says "if not above"
    tasks, _ = await records(bot)
    assert tasks[0].delivery is Delivery.UNCERTAIN
    assert len(evolink.submissions) == 1


async def test_a_send_video_answered_with_a_server_error_is_uncertain_and_never_repeated(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="a dancer in the snow")
    submission = await evolink.wait_for_submission()
    telegram.fail_next("sendVideo", error_code=500, description="Internal Server Error")
    await evolink.complete(submission.task_id)
    link = await bot.reply_to(CHAT, text_contains=UNCERTAIN)
    assert evolink.tasks[submission.task_id].results[0] in link.text
    await settle(1.0)
    assert len(telegram.sent("sendVideo")) == 1 and videos(telegram, CHAT) == []
    tasks, _ = await records(bot)
    assert tasks[0].delivery is Delivery.UNCERTAIN


# ---------------------------------------------------------------- flood limits


async def test_a_flood_limit_on_the_video_that_outlasts_the_retries_gives_the_link(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # Telegram refuses the video each time (429): nothing was sent, so the link is the answer.
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="a frozen waterfall")
    submission = await evolink.wait_for_submission()
    telegram.fail_next("sendVideo", error_code=429, retry_after=1, times=4)
    await evolink.complete(submission.task_id)
    link = await bot.reply_to(CHAT, text_contains="could not send it", timeout=15)
    assert evolink.tasks[submission.task_id].results[0] in link.text
    await settle()
    assert len(telegram.sent("sendVideo")) == 4  # the first try and the rate limiter's 3
    assert videos(telegram, CHAT) == []
    tasks, _ = await records(bot)
    assert tasks[0].delivery is Delivery.FAILED


async def test_flood_limits_on_messages_and_edits_are_waited_out(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.fail_next("sendMessage", error_code=429, retry_after=1)  # the draft summary
    await draft_and_generate(bot, CHAT, prompt="a carousel at night")
    telegram.fail_next("editMessageText", error_code=429, retry_after=1)  # a status edit
    submission = await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains="credits reserved")
    await evolink.complete(submission.task_id)
    await bot.video_in(CHAT)
    await settle()
    refused = [c for c in telegram.calls if c.response and c.response.get("error_code") == 429]
    assert {c.method for c in refused} == {"sendMessage", "editMessageText"}
    summaries = [t for t in texts(telegram, CHAT) if t.startswith("Your draft")]
    assert summaries  # the summary arrived after the wait
    assert len(videos(telegram, CHAT)) == 1


async def test_a_flood_limit_that_outlasts_the_retries_ends_the_delivery_as_failed(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # The rate limiter gives up after 3 retries; the failure explanation cannot be sent, and
    # the task must still reach an end instead of staying "sending" until a restart.
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="a melting snowman")
    submission = await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains="Making your video")  # no edit due after this
    for method in ("sendMessage", "editMessageText"):
        telegram.fail_next(method, error_code=429, retry_after=1, times=4)
    await evolink.fail(submission.task_id, code="service_error", message="GPU on fire")
    async with BotRecords(bot.data_dir) as db:
        for _ in range(200):
            if await _delivery(db) not in {Delivery.NONE, Delivery.SENDING}:
                break
            await settle(0.05)
        assert await _delivery(db) is Delivery.FAILED


# ---------------------------------------------------------------- the user is gone


@pytest.mark.parametrize("outcome", ["completed", "failed"])
async def test_a_user_who_blocked_the_bot_gets_no_retry_loop(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    caplog: pytest.LogCaptureFixture,
    outcome: str,
) -> None:
    caplog.set_level(logging.WARNING)
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="a hot air balloon")
    submission = await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains="Making your video")
    telegram.block(CHAT)
    blocked_at = len(telegram.calls)

    def edits() -> int:
        calls = telegram.calls[blocked_at:]
        return len([c for c in calls if c.method == "editMessageText"])

    evolink.set_progress(submission.task_id, 20)
    await settle(2.0)  # a few polls see 20%: one refused edit, not one per poll
    assert edits() == 1
    evolink.set_progress(submission.task_id, 60)
    await eventually(lambda: edits() == 2, what="the edit for 60%")
    if outcome == "completed":
        await evolink.complete(submission.task_id)
    else:
        await evolink.fail(submission.task_id, code="content_policy_violation")
    async with BotRecords(bot.data_dir) as db:
        for _ in range(200):
            if await _delivery(db) not in {Delivery.NONE, Delivery.SENDING}:
                break
            await settle(0.05)
        assert await _delivery(db) is Delivery.FAILED
    calls_at_end = len(telegram.calls)
    await settle(1.5)
    to_chat = [c for c in telegram.calls[blocked_at:] if c.params.get("chat_id") == CHAT]
    assert all(not c.ok for c in to_chat)
    # One edit per new progress figure, the outcome's attempts, and then silence.
    assert len(to_chat) <= 2 + 3
    assert len([c for c in to_chat if c.method == "sendVideo"]) <= 1
    chat_calls_after = [c for c in telegram.calls[calls_at_end:] if c.params.get("chat_id") == CHAT]
    assert chat_calls_after == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert len(evolink.submissions) == 1


async def test_a_deleted_request_message_still_gets_its_video(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    generate = await draft_and_generate(bot, CHAT, prompt="a paper plane")
    submission = await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains="credits reserved")
    # The user deletes their /generate message, and the bot's status message too.
    telegram.messages[CHAT][generate["message_id"]]["_deleted"] = True
    status = next(c for c in telegram.sent("sendMessage", CHAT) if "Submitting" in c.text)
    telegram.messages[CHAT][status.result["message_id"]]["_deleted"] = True
    await evolink.complete(submission.task_id)
    video = await bot.video_in(CHAT)
    message = telegram.messages[CHAT][video.result["message_id"]]
    assert "reply_to_message" not in message  # sent plainly: the target is gone
    await settle()
    assert len(videos(telegram, CHAT)) == 1
    tasks, _ = await records(bot)
    assert tasks[0].delivery is Delivery.DELIVERED


async def test_a_result_link_that_expired_before_delivery_is_explained(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="a sandcastle at high tide")
    submission = await evolink.wait_for_submission()
    await evolink.complete(submission.task_id)
    evolink.expire_result(submission.task_id)  # before the bot's next poll
    await bot.reply_to(CHAT, text_contains="download link expired")
    await settle()
    attempts = telegram.sent("sendVideo")
    assert len(attempts) == 1 and not attempts[0].ok  # Telegram could not fetch it either
    assert videos(telegram, CHAT) == []
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.COMPLETED and tasks[0].delivery is Delivery.FAILED
    assert len(evolink.submissions) == 1
