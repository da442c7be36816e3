"""Faults of the Evolink API, end to end: what the user is told, and what is spent.

Each test runs the real bot against the fake Telegram and the fake Evolink, injects one fault,
and checks the chat (the fake Telegram's record), the spending (submits the fake Evolink
accepted, and every submit request it saw) and the bot's own record of the task.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from storage.models import Delivery, DraftState, TaskStatus
from tests.conftest import MakeBot
from tests.fakes.evolink import SUBMIT_PATH, FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import (
    UNTRACEABLE,
    draft_and_generate,
    eventually,
    records,
    settle,
    submit_posts,
    texts,
    videos,
)
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

CHAT = 901
KEY_REFUSED = "not set up right: the video service does not accept its key"
SERVICE_DOWN = "not answering right now, so nothing was submitted"
DRAFT_BACK = "Your draft is back"
GIVEN_UP = "wasn't finished within"


async def _draft_is_back_and_submits(
    bot_telegram: FakeTelegram, evolink: FakeEvolink, *, prompt: str
) -> None:
    """The refused draft is open again: /generate with its photo now goes through."""
    bot_telegram.send_text(CHAT, CHAT, f"/generate {prompt}")
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == prompt
    assert len(submission.body["image_urls"]) == 1


# ---------------------------------------------------------------- refusals that cost nothing


@pytest.mark.parametrize(("status", "code"), [(401, "unauthorized"), (403, "model_access_denied")])
async def test_a_refused_api_key_is_explained_logged_and_the_draft_given_back(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    caplog: pytest.LogCaptureFixture,
    status: int,
    code: str,
) -> None:
    caplog.set_level(logging.INFO)
    bot = await make_bot()
    evolink.fail_next(SUBMIT_PATH, status, code=code)
    await draft_and_generate(bot, CHAT, prompt="a paper boat on a river")

    await bot.reply_to(CHAT, text_contains=KEY_REFUSED)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("EVOLINK_API_KEY" in r.getMessage() for r in errors), caplog.text
    assert evolink.api_key not in caplog.text
    assert submit_posts(evolink) == 1  # not retried: a wrong key stays wrong
    assert evolink.submissions == []
    tasks, drafts = await records(bot)
    assert [t.status for t in tasks] == [TaskStatus.REFUSED]
    assert drafts[0].state is DraftState.OPEN

    await _draft_is_back_and_submits(telegram, evolink, prompt="a paper boat, again")


async def test_no_credits_left_is_said_once_without_a_retry(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(cleanup_interval_seconds=0.3)
    evolink.fail_next(SUBMIT_PATH, 402)
    await draft_and_generate(bot, CHAT, prompt="a lantern festival")
    await bot.reply_to(CHAT, text_contains="run out of credits")
    await settle(1.5)  # the client's first backoff, and a few clean-ups, would have run by now
    assert submit_posts(evolink) == 1
    assert evolink.submissions == [] and evolink.used_credits == 0
    tasks, drafts = await records(bot)
    assert tasks[0].status is TaskStatus.REFUSED and tasks[0].error_code == "insufficient_quota"
    assert drafts[0].state is DraftState.OPEN
    # The draft is back, so its files are kept for the next /generate.
    assert any(p.is_file() for p in (bot.data_dir / "media").rglob("*"))


async def test_a_400_from_an_older_api_version_shows_its_message(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # Older versions sent an integer code; the message is what the user needs.
    bot = await make_bot()
    evolink.respond_next(
        SUBMIT_PATH,
        {"error": {"code": 400, "message": "duration must be 4..15", "param": "duration"}},
        status=400,
    )
    await draft_and_generate(bot, CHAT, prompt="a city at dawn")
    refused = await bot.reply_to(CHAT, text_contains="duration must be 4..15")
    assert "Nothing was charged" in refused.text and DRAFT_BACK in refused.text
    await settle()
    assert submit_posts(evolink) == 1 and evolink.submissions == []
    await _draft_is_back_and_submits(telegram, evolink, prompt="a city at dawn, 5 s")


# ---------------------------------------------------------------- retried, then it works


@pytest.mark.parametrize("retry_after", [1.0, None], ids=["retry-after", "backoff"])
async def test_rate_limited_submits_are_retried_and_go_through_once(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, retry_after: float | None
) -> None:
    bot = await make_bot()
    evolink.fail_next(SUBMIT_PATH, 429, retry_after=retry_after, times=2)
    await draft_and_generate(bot, CHAT, prompt="bees over lavender")
    started = asyncio.get_running_loop().time()
    submission = await evolink.wait_for_submission(timeout=15)
    waited = asyncio.get_running_loop().time() - started
    if retry_after is not None:
        assert waited >= 2 * retry_after  # Retry-After was honoured
    await bot.reply_to(CHAT, text_contains="credits reserved")
    assert submit_posts(evolink) == 3 and len(evolink.submissions) == 1
    await evolink.complete(submission.task_id)
    await bot.video_in(CHAT)
    await settle()
    assert len(videos(telegram, CHAT)) == 1


async def test_a_rate_limit_that_does_not_end_is_reported_and_nothing_is_submitted(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    evolink.fail_next(SUBMIT_PATH, 429, retry_after=0.1, times=4)
    await draft_and_generate(bot, CHAT, prompt="a slow train")
    message = await bot.reply_to(CHAT, text_contains=SERVICE_DOWN)
    assert DRAFT_BACK in message.text
    await settle()
    assert submit_posts(evolink) == 4  # bounded
    assert evolink.submissions == [] and evolink.tasks == {}
    tasks, drafts = await records(bot)
    assert tasks[0].status is TaskStatus.REFUSED and tasks[0].upstream_id is None
    assert drafts[0].state is DraftState.OPEN


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_never_resent_and_the_draft_is_not_given_back(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, status: int
) -> None:
    # A 5xx may come from a gateway after the task was created: re-sending could pay twice.
    bot = await make_bot()
    evolink.fail_next(SUBMIT_PATH, status, retry_after=0.1, times=4)
    await draft_and_generate(bot, CHAT, prompt="a glacier calving")
    await bot.reply_to(CHAT, text_contains=UNTRACEABLE)
    await settle(1.5)  # the client's first backoff would have run by now
    assert submit_posts(evolink) == 1
    assert not any(SERVICE_DOWN in text for text in texts(telegram, CHAT))
    tasks, drafts = await records(bot)
    assert tasks[0].status is TaskStatus.UNKNOWN and tasks[0].error_message == f"HTTP {status}"
    assert drafts[0].state is DraftState.SUBMITTED


async def test_an_unreachable_api_is_retried_a_few_times_then_reported(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # Nothing listens at the API's address (the Files API still works): the connection is
    # refused, so the request certainly never left and may be tried again.
    closed = "http://127.0.0.1:9"
    bot = await make_bot(evolink_base_url=closed)
    await draft_and_generate(bot, CHAT, prompt="a windmill")
    message = await bot.reply_to(CHAT, text_contains=SERVICE_DOWN, timeout=20)
    assert DRAFT_BACK in message.text
    assert evolink.submissions == [] and submit_posts(evolink) == 0
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.REFUSED and tasks[0].error_code == "unreachable"


# ---------------------------------------------------------------- timeouts


async def test_a_submit_accepted_after_the_client_gave_up_is_reported_not_repeated(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # The server takes the request (and the credits) but answers after the bot's timeout.
    bot = await make_bot(http_timeout_seconds=1)
    evolink.set_answer_delay(SUBMIT_PATH, 2.5)
    await draft_and_generate(bot, CHAT, prompt="a heron takes off")
    await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains=UNTRACEABLE, timeout=10)
    await settle(3)  # well past the answer: no second submit, blind or idempotent
    assert submit_posts(evolink) == 1 and len(evolink.submissions) == 1
    assert evolink.idempotent_replays == 0
    tasks, drafts = await records(bot)
    assert tasks[0].status is TaskStatus.UNKNOWN and tasks[0].error_code == "submit_unknown"
    assert drafts[0].state is DraftState.SUBMITTED  # not given back: it may have been paid
    assert videos(telegram, CHAT) == []


async def test_task_queries_that_time_out_are_retried_and_the_video_still_arrives(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(http_timeout_seconds=0.5)
    await draft_and_generate(bot, CHAT, prompt="sparks from a grinder")
    submission = await evolink.wait_for_submission()
    evolink.set_delay("/v1/tasks/", 1.0)
    await eventually(lambda: len(evolink.task_queries) >= 5, what="timed-out queries")
    evolink.set_delay("/v1/tasks/", 0)
    await evolink.complete(submission.task_id)
    await bot.video_in(CHAT, timeout=20)
    await settle()
    assert len(videos(telegram, CHAT)) == 1 and len(evolink.submissions) == 1


async def test_a_task_that_never_finishes_is_given_up_at_the_deadline(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(task_deadline_seconds=1.5)
    await draft_and_generate(bot, CHAT, prompt="a clock with no hands")
    submission = await evolink.wait_for_submission()
    evolink.set_progress(submission.task_id, 10)  # running, and it stays so
    message = await bot.reply_to(CHAT, text_contains=GIVEN_UP, timeout=10)
    assert message.method == "sendMessage" and "0 minutes" not in message.text
    await settle()  # the delivery is recorded once the status message points at the news
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.FAILED and tasks[0].error_code == "deadline"
    assert tasks[0].delivery is Delivery.DELIVERED
    queries = len(evolink.task_queries)
    await settle(1)
    assert len(evolink.task_queries) == queries  # no longer polled at the usual pace
    assert len(evolink.submissions) == 1 and videos(telegram, CHAT) == []


@pytest.mark.parametrize("callbacks", ["on", "off"])
async def test_a_task_that_finishes_after_the_deadline_is_still_delivered(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, callbacks: str
) -> None:
    # It is paid for: given up or not, its video must reach the chat. Without callbacks it is
    # queried now and then (every 30 poll intervals: 3 s here).
    bot = await make_bot(
        task_deadline_seconds=1.0, evolink_callbacks=callbacks, poll_interval_seconds=0.1
    )
    await draft_and_generate(bot, CHAT, prompt="a snail crossing a road")
    submission = await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains=GIVEN_UP, timeout=10)
    await evolink.complete(submission.task_id)
    await bot.video_in(CHAT, timeout=10)
    await settle()
    assert len(videos(telegram, CHAT)) == 1 and submit_posts(evolink) == 1
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.COMPLETED and tasks[0].delivery is Delivery.DELIVERED


async def test_queries_that_time_out_until_the_deadline_end_in_a_clear_message(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(http_timeout_seconds=1.0, task_deadline_seconds=4)
    evolink.set_delay("/v1/tasks/", 2.0)  # every query times out (the submit does not)
    await draft_and_generate(bot, CHAT, prompt="a lighthouse in fog")
    await evolink.wait_for_submission()
    await bot.reply_to(CHAT, text_contains=GIVEN_UP, timeout=20)
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.FAILED and tasks[0].error_code == "deadline"
    assert len(evolink.submissions) == 1


# ---------------------------------------------------------------- answers that are odd


async def test_malformed_and_surprising_task_answers_are_tolerated(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    bot = await make_bot()
    await draft_and_generate(bot, CHAT, prompt="jellyfish in the dark")
    submission = await evolink.wait_for_submission()
    task_id = submission.task_id
    real = evolink.tasks[task_id].to_json()
    odd_answers: list[bytes | str | dict[str, Any] | list[Any]] = [
        "{not json",
        b"\x00\xff garbage",
        [],
        {"status": "processing"},  # no id
        {"id": task_id},  # nothing else
        real | {"status": "queued_for_gpu", "progress": "12%", "shiny_new_field": {"a": [1]}},
        real | {"task_info": None, "usage": "n/a", "results": "not-a-list", "error": None},
        real | {"progress": -5, "created": "yesterday", "model": 7},
        # Another task's answer, completed: it must not become this task's video.
        real
        | {
            "id": "task-unified-1700000000-zzzzzzzz",
            "status": "completed",
            "results": ["http://127.0.0.1:9/someone-elses.mp4"],
        },
    ]
    for body in odd_answers:
        evolink.respond_next("/v1/tasks/", body)
    await eventually(lambda: not evolink._canned, what="every odd answer consumed")
    assert videos(telegram, CHAT) == []
    evolink.set_progress(task_id, 60)
    await bot.reply_to(CHAT, text_contains="60%")
    await evolink.complete(task_id)
    # The answer that completes it has odd parts too: they must not hide the video.
    completed = evolink.tasks[task_id].to_json()
    evolink.respond_next(
        "/v1/tasks/",
        completed | {"usage": None, "task_info": "?", "status": "Completed", "created": "x"},
    )
    video = await bot.video_in(CHAT)
    assert video.params["video"] == completed["results"][0]
    await settle()
    assert len(videos(telegram, CHAT)) == 1 and len(evolink.submissions) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    tasks, _ = await records(bot)
    assert tasks[0].upstream_id == task_id and tasks[0].delivery is Delivery.DELIVERED


async def test_a_callback_before_the_submit_answer_changes_nothing(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    # The task is accepted, finished and called back while the submit's answer is still on its
    # way: the bot does not know the task id yet.
    bot = await make_bot(evolink_callbacks="on", poll_interval_seconds=30)
    evolink.set_answer_delay(SUBMIT_PATH, 1.5)
    await draft_and_generate(bot, CHAT, prompt="a kite in a storm")
    submission = await evolink.wait_for_submission()
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.SUBMITTING and tasks[0].upstream_id is None
    await evolink.complete(submission.task_id)  # sends the real callback now
    await evolink.wait_for_callbacks()
    forged = evolink.tasks[submission.task_id].to_json() | {"status": "failed"}
    assert await evolink.send_callback(submission.task_id, body=forged) == 200
    assert all(status == 200 for _, status in evolink.callbacks_sent)
    tasks, _ = await records(bot)
    assert tasks[0].status is TaskStatus.SUBMITTING  # still waiting for the answer
    # The answer arrives; the first query follows at once, the 30 s poll interval is far away.
    await bot.video_in(CHAT, timeout=8)
    await evolink.send_callback(submission.task_id)
    await settle()
    assert len(videos(telegram, CHAT)) == 1
    assert submit_posts(evolink) == 1 and len(evolink.submissions) == 1
    assert not any("could not be made" in text for text in texts(telegram, CHAT))


async def test_only_the_task_query_is_believed_never_the_callback_body(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(evolink_callbacks="on", poll_interval_seconds=30)
    await draft_and_generate(bot, CHAT, prompt="a fox in tall grass")
    submission = await evolink.wait_for_submission()
    task_id = submission.task_id
    evolink.set_progress(task_id, 30)
    # Says "failed" while the API says "processing": no failure message.
    failed = evolink.tasks[task_id].to_json() | {
        "status": "failed",
        "error": {"code": "content_policy_violation", "message": "forged", "type": "task_error"},
    }
    assert await evolink.send_callback(task_id, body=failed) == 200
    await bot.reply_to(CHAT, text_contains="30%")
    await evolink.complete(task_id)
    await evolink.wait_for_callbacks()
    # A "completed" body naming another video: the video sent is the one the API names.
    elsewhere = evolink.tasks[task_id].to_json() | {
        "results": ["http://127.0.0.1:9/not-your-video.mp4"]
    }
    assert await evolink.send_callback(task_id, body=elsewhere) == 200
    video = await bot.video_in(CHAT)
    assert video.params["video"] == evolink.tasks[task_id].results[0]
    await settle()
    assert len(videos(telegram, CHAT)) == 1
    assert not any("could not be made" in text for text in texts(telegram, CHAT))
    assert not any("forged" in text for text in texts(telegram, CHAT))


# ---------------------------------------------------------------- a wrong key, everywhere


async def test_a_wrong_key_refused_by_the_files_api_is_named_as_such(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The default hosting uploads to the Files API with the same key: a wrong key is refused
    # there first, before any submit.
    caplog.set_level(logging.INFO)
    bot = await make_bot(evolink_api_key="sk-wrong-key-000")
    telegram.send_photo(CHAT, CHAT, image_bytes(900, 700), caption="a moth at a lamp")
    await bot.reply_to(CHAT, text_contains="image 1")
    telegram.send_text(CHAT, CHAT, "/generate")
    answer = await bot.reply_to(CHAT, text_contains="❌")
    assert evolink.submissions == []
    assert KEY_REFUSED in answer.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("EVOLINK_API_KEY" in r.getMessage() for r in errors)
