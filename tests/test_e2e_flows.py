"""End to end: hosting modes, callbacks, restarts, bad input and the commands, through real HTTP."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from storage.models import ChatKey
from tests.conftest import MakeBot, on_both_engines
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import eventually
from tests.harness import BotUnderTest
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

ALICE = 601
BOB = 602


async def _draft_and_generate(
    bot: BotUnderTest, chat: int, *, photos: int = 1, prompt: str = "waves at sunset"
) -> dict[str, object]:
    telegram = bot.telegram
    for i in range(photos):
        telegram.send_photo(
            chat, chat, image_bytes(900 + i, 700), caption=prompt if i == 0 else None
        )
    await bot.reply_to(chat, text_contains=f"image {photos}")
    return telegram.send_text(chat, chat, "/generate")


async def test_local_hosting_with_callbacks(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(media_hosting="local", evolink_callbacks="on", poll_interval_seconds=30)
    await _draft_and_generate(bot, ALICE, photos=2)
    submission = await evolink.wait_for_submission()
    urls = submission.body["image_urls"]
    assert len(urls) == 2
    assert all(u.startswith(f"http://127.0.0.1:{bot.port}/media/") for u in urls)
    assert [r.width for r in submission.references] == [900, 901]  # fetched from the bot itself
    assert evolink.uploads == []  # nothing went to the Files API
    assert submission.body["callback_url"].startswith(
        f"http://127.0.0.1:{bot.port}/callbacks/evolink/"
    )

    queries_before = len(evolink.task_queries)
    await evolink.complete(submission.task_id)
    # The 30 s poll interval is far away: only the callback can bring the video this fast.
    await bot.video_in(ALICE, timeout=10)
    assert len(evolink.task_queries) > queries_before  # the callback was checked with the API
    # The fake notes the callback's answer once it has read it, which may come just after the
    # video: the answer was on its way already (the retries come 0.1 s and more later).
    await eventually(lambda: bool(evolink.callbacks_sent), timeout=5, what="the callback's answer")
    assert evolink.callbacks_sent and evolink.callbacks_sent[0][1] == 200


@on_both_engines
async def test_duplicate_and_forged_callbacks_deliver_once(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(evolink_callbacks="on", poll_interval_seconds=30)
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    task = evolink.tasks[submission.task_id]
    # A forged "completed" before the task is done changes nothing: the API still says pending.
    forged = task.to_json() | {"status": "completed", "results": ["http://127.0.0.1:9/evil.mp4"]}
    assert await evolink.send_callback(submission.task_id, body=forged) == 200
    assert await evolink.send_callback(submission.task_id, url=task.callback_url + "x") == 404
    await asyncio.sleep(0.5)
    assert not telegram.sent("sendVideo")

    await evolink.complete(submission.task_id)
    await bot.video_in(ALICE)
    for _ in range(3):
        assert await evolink.send_callback(submission.task_id) == 200
    await asyncio.sleep(0.5)
    assert len([c for c in telegram.sent("sendVideo") if c.ok]) == 1


@on_both_engines
async def test_restart_in_the_middle_of_a_task_delivers_exactly_once(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    await bot.reply_to(ALICE, text_contains="credits reserved")
    await bot.stop()
    await evolink.complete(submission.task_id)  # finishes while the bot is down
    await bot.start()
    await bot.video_in(ALICE)
    await bot.restart()  # and a second restart sends nothing again
    await asyncio.sleep(0.8)
    assert len([c for c in telegram.sent("sendVideo") if c.ok]) == 1
    assert len(evolink.submissions) == 1


async def test_a_silent_video_gets_a_sound_track_before_upload(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(1000, 800), caption="quiet forest")
    await bot.reply_to(ALICE, text_contains="image 1")
    # Turn sound off in the draft (the options menu is another feature; the store is the truth).
    store = bot.store()
    await store.open()
    draft = await store.drafts.open_draft(ChatKey(chat_id=ALICE, user_id=ALICE))
    assert draft is not None
    await store.drafts.set_options(draft.id, replace(draft.options, generate_audio=False))
    await store.close()
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert submission.body["generate_audio"] is False
    await evolink.complete(submission.task_id)
    video = await bot.video_in(ALICE)
    assert "video" in video.files  # uploaded, not fetched by URL
    assert telegram.messages[ALICE][video.result["message_id"]]["video"]["_has_audio"] is True


async def test_a_task_just_submitted_is_first_asked_about_when_it_may_have_moved(
    make_bot: MakeBot, evolink: FakeEvolink
) -> None:
    # The submit's answer says it is queued and will take about 120 s: asked at once, the API
    # would say the same again. It is asked once half its estimate has passed.
    bot = await make_bot(poll_interval_seconds=600)
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    submitted = time.time()
    await asyncio.sleep(1.0)
    assert submission.task_id not in evolink.task_queries
    store = bot.store()
    await store.open()
    try:
        task = await store.tasks.by_upstream_id(submission.task_id)
    finally:
        await store.close()
    assert task is not None and task.next_poll_at is not None
    # Brought forward onto a grid of at most a tenth of the gap (see poll_plan.due_at).
    assert submitted + 60 * 0.9 - 2 <= task.next_poll_at <= submitted + 60


async def test_when_telegram_refuses_the_url_the_video_is_uploaded(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    telegram.fail_next("sendVideo", description="Bad Request: failed to get HTTP URL content")
    await evolink.complete(submission.task_id)
    video = await bot.video_in(ALICE)
    assert "video" in video.files
    refused = [c for c in telegram.sent("sendVideo") if not c.ok]
    assert len(refused) == 1 and isinstance(refused[0].params["video"], str)


async def test_a_video_over_50_mb_is_sent_as_a_link(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    await evolink.complete(submission.task_id, pad_to_bytes=51 * 1024 * 1024)
    message = await bot.reply_to(ALICE, text_contains="too big for Telegram")
    assert evolink.tasks[submission.task_id].results[0] in message.text
    assert "24 hours" in message.text
    assert not [c for c in telegram.sent("sendVideo") if c.ok]


async def test_a_failed_task_is_explained(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    await evolink.fail(submission.task_id, code="content_policy_violation")
    await bot.reply_to(ALICE, text_contains="content policy")


@on_both_engines
async def test_a_refused_submit_gives_the_draft_back(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    evolink.fail_next("/v1/videos/generations", 400, message="prompt contains banned words")
    await _draft_and_generate(bot, ALICE)
    await bot.reply_to(ALICE, text_contains="prompt contains banned words")
    await bot.reply_to(ALICE, text_contains="Nothing was charged")
    telegram.send_text(ALICE, ALICE, "/generate a calm lake")  # the same photos, a new prompt
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a calm lake"
    assert len(submission.body["image_urls"]) == 1


@on_both_engines
async def test_double_generate_submits_once(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="fireworks")
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    telegram.send_text(ALICE, ALICE, "/generate")
    await bot.reply_to(ALICE, text_contains="already submitted")
    await evolink.wait_for_submission()
    await asyncio.sleep(0.5)
    assert len(evolink.submissions) == 1


async def test_bad_files_are_named_and_the_good_ones_stay(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(1024, 768), caption="two friends on a bench")
    telegram.send_photo(ALICE, ALICE, image_bytes(80, 80))
    telegram.send_document(ALICE, ALICE, b"%PDF-1.4 not an image", file_name="notes.pdf")
    too_small = await bot.reply_to(ALICE, text_contains="80×80")
    assert "300" in too_small.text
    not_image = await bot.reply_to(ALICE, text_contains="notes.pdf")
    assert "not a photo, video or sound file" in not_image.text
    await bot.reply_to(ALICE, text_contains="References: image 1\n")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert len(submission.body["image_urls"]) == 1


async def test_small_photos_are_fixed_and_the_user_is_told(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(200, 150), caption="tiny")
    summary = await bot.reply_to(ALICE, text_contains="scaled up")
    assert "200×150" in summary.text
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert min(submission.references[0].width, submission.references[0].height) >= 300


async def test_missing_pieces_are_asked_for(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_text(ALICE, ALICE, "/generate")
    await bot.reply_to(ALICE, text_contains="nothing to generate")
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600))
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    await bot.reply_to(ALICE, text_contains="Prompt: needed")
    # The answer to the question is all it takes: the request goes ahead with it.
    telegram.send_text(ALICE, ALICE, "a kite over the sea")
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a kite over the sea"


async def test_prompt_longer_than_the_api_allows_is_refused(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    # 3,400 Chinese characters fit one Telegram message but may be over 10,000 tokens.
    telegram.send_text(ALICE, ALICE, "视" * 3_400)
    message = await bot.reply_to(ALICE, text_contains="too long")
    assert "3,300 Chinese characters" in message.text and "3% over" in message.text
    # 2,000 emoji (8,000 bytes) are within the bound: taken as the prompt.
    telegram.send_text(ALICE, ALICE, "🦊" * 2_000)
    await bot.reply_to(ALICE, text_contains="Prompt: “🦊🦊🦊")


@on_both_engines
async def test_an_album_gives_one_summary(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    for i in range(3):
        telegram.send_photo(
            ALICE,
            ALICE,
            image_bytes(700 + i, 700),
            caption="album" if i == 0 else None,
            media_group_id="g1",
        )
    await bot.reply_to(ALICE, text_contains="image 1, image 2, image 3")
    summaries = [c for c in telegram.sent("sendMessage", ALICE) if "Your draft" in c.text]
    assert len(summaries) == 1
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert [r.width for r in submission.references] == [700, 701, 702]


@on_both_engines
async def test_commands(make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink) -> None:
    bot = await make_bot()
    telegram.send_text(ALICE, ALICE, "/start")
    welcome = await bot.reply_to(ALICE, text_contains="/help")
    telegram.send_text(ALICE, ALICE, "/help")
    how_to = await bot.reply_to(ALICE, text_contains="/generate")
    assert welcome.text != how_to.text
    telegram.send_text(ALICE, ALICE, "/status")
    await bot.reply_to(ALICE, text_contains="no videos in progress")
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="x")
    await bot.reply_to(ALICE, text_contains="image 1")
    cancel = telegram.send_text(ALICE, ALICE, "/cancel")
    answer = await bot.reply_to(ALICE, text_contains="Draft discarded, with its file")
    assert answer.method == "sendMessage"  # news notifies: not an edit of an older message
    assert answer.params["reply_parameters"]["message_id"] == cancel["message_id"]
    telegram.send_text(ALICE, ALICE, "/cancel")
    await bot.reply_to(ALICE, text_contains="no draft to discard")
    await _draft_and_generate(bot, ALICE)
    await evolink.wait_for_submission()
    telegram.send_text(ALICE, ALICE, "/status")
    await bot.reply_to(ALICE, text_contains="Your videos in progress")
    commands = telegram.sent("setMyCommands")
    assert {c["command"] for c in commands[0].params["commands"]} >= {
        "generate",
        "cancel",
        "status",
    }


async def test_slow_work_for_one_user_does_not_hold_up_another(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    evolink.set_delay("/api/v1/files/upload/stream", 3)
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="slow upload")
    await asyncio.sleep(0.3)
    started = time.monotonic()
    telegram.send_text(BOB, BOB, "/help")
    await bot.reply_to(BOB, text_contains="/generate")
    assert time.monotonic() - started < 2  # answered while Alice's upload is still running
    assert not evolink.uploads


async def test_drafts_of_two_users_never_mix(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="alice's cat")
    telegram.send_photo(BOB, BOB, image_bytes(640, 480), caption="bob's dog")
    telegram.send_photo(BOB, BOB, image_bytes(650, 480))
    await bot.reply_to(ALICE, text_contains="image 1")
    await bot.reply_to(BOB, text_contains="image 2")
    telegram.send_text(BOB, BOB, "/generate")
    bob = await evolink.wait_for_submission()
    assert bob.body["prompt"] == "bob's dog" and len(bob.body["image_urls"]) == 2
    telegram.send_text(ALICE, ALICE, "/generate")
    alice = await evolink.wait_for_submission(2)
    assert alice.body["prompt"] == "alice's cat" and len(alice.body["image_urls"]) == 1
    assert bob.headers["idempotency-key"] != alice.headers["idempotency-key"]
    store = bot.store()
    await store.open()
    assert len(await store.tasks.running_for(ChatKey(chat_id=BOB, user_id=BOB))) == 1
    await store.close()


async def test_reference_files_are_removed_after_delivery(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(cleanup_interval_seconds=0.3, media_hosting="local")
    await _draft_and_generate(bot, ALICE)
    submission = await evolink.wait_for_submission()
    media = bot.data_dir / "media"
    assert any(media.rglob("*.jpg"))  # served to the upstream while the task runs
    await evolink.complete(submission.task_id)
    await bot.video_in(ALICE)
    for _ in range(50):
        if not any(media.rglob("*.*")):
            break
        await asyncio.sleep(0.1)
    assert not any(media.rglob("*.*"))
    assert not any((bot.data_dir / "tmp").glob("*"))


async def test_a_slow_upstream_call_for_one_user_does_not_freeze_the_others(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    evolink.set_delay("/v1/credits", 3)
    bot = await make_bot(admin_user_ids=str(ALICE))
    telegram.send_text(ALICE, ALICE, "/balance")
    await asyncio.sleep(0.3)
    started = time.monotonic()
    telegram.send_text(BOB, BOB, "/help")
    await bot.reply_to(BOB, text_contains="/generate")
    assert time.monotonic() - started < 2
    await bot.reply_to(ALICE, text_contains="Account credits left")


@on_both_engines
async def test_health_and_metrics(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    token = "scraper-" + "x" * 24
    bot = await make_bot(metrics_token=token)
    base = f"http://127.0.0.1:{bot.port}"
    async with httpx.AsyncClient() as http:
        first = (await http.get(f"{base}/healthz")).json()
        assert first["status"] == "ok"
        assert first["database"] == "ok"
        for _ in range(50):  # the upstream check runs in the background
            health = (await http.get(f"{base}/healthz")).json()
            if health["upstream"] != "unknown":
                break
            await asyncio.sleep(0.05)
        assert health["upstream"] == "ok"
        await _draft_and_generate(bot, ALICE)
        submission = await evolink.wait_for_submission()
        await evolink.complete(submission.task_id)
        await bot.video_in(ALICE)
        await asyncio.sleep(0.3)
        assert (await http.get(f"{base}/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer " + "y" * 32}
        assert (await http.get(f"{base}/metrics", headers=wrong)).status_code == 401
        scrape = await http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scrape.status_code == 200
        text = scrape.text
    assert 'seedance_tasks{delivery="delivered",status="completed"} 1.0' in text
    assert "seedance_submit_seconds_count 1.0" in text
    assert "seedance_time_to_delivery_seconds_count 1.0" in text
    assert "seedance_media_bytes_hosted_total" in text
    assert telegram.token not in text


async def test_a_full_disk_is_named_and_the_rest_of_the_draft_kept(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from bot.telegram.files import TelegramFiles

    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="before the disk filled")
    await bot.reply_to(ALICE, text_contains="image 1")

    async def disk_full(self: TelegramFiles, url: str, dest: Path) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TelegramFiles, "_stream", disk_full)
    telegram.send_photo(ALICE, ALICE, image_bytes(810, 600))
    message = await bot.reply_to(ALICE, text_contains="out of disk space")
    assert "2nd photo" in message.text
    monkeypatch.undo()
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert len(submission.body["image_urls"]) == 1
