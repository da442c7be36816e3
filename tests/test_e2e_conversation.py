"""End to end: options buttons, settings, cost, history, balance, groups, topics, access."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotUnderTest
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

ALICE = 801
BOB = 802
GROUP = -1001234
TOPIC = 77


def summary(telegram: FakeTelegram, chat: int) -> dict[str, Any]:
    """The bot's latest draft summary in the chat, as it stands now."""
    found = [
        m
        for m in telegram.messages.get(chat, {}).values()
        if "Your draft" in (m.get("text") or "") and not m.get("_deleted")
    ]
    assert found, telegram.dump()
    return max(found, key=lambda m: m["message_id"])


def buttons(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row]


def button(message: dict[str, Any], suffix: str) -> str:
    matches = [b for b in buttons(message) if b.endswith(suffix)]
    assert matches, (suffix, buttons(message))
    return matches[0]


async def press(
    bot: BotUnderTest, chat: int, user: int, suffix: str, *, expect: str | None = None
) -> dict[str, Any]:
    """Press the summary's button ending in `suffix`; wait until the bot answered the press."""
    telegram = bot.telegram
    message = summary(telegram, chat)
    query = telegram.press_button(chat, user, message["message_id"], button(message, suffix))
    await telegram.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query["id"]
    )
    if expect is not None:
        await bot.reply_to(chat, text_contains=expect)
    return summary(telegram, chat)


async def test_options_buttons_shape_the_request(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(1024, 768), caption="a paper boat")
    await bot.reply_to(ALICE, text_contains="image 1")
    await press(bot, ALICE, ALICE, ":menu=dur")
    await press(bot, ALICE, ALICE, ":dur=8", expect="Options: 8 s")
    await press(bot, ALICE, ALICE, ":q", expect="480p")
    await press(bot, ALICE, ALICE, ":menu=ar")
    await press(bot, ALICE, ALICE, ":ar=9:16", expect="9:16")
    await press(bot, ALICE, ALICE, ":snd", expect="sound off")
    await press(bot, ALICE, ALICE, ":flt", expect="costs 1.1×")
    await press(bot, ALICE, ALICE, ":gen")
    submission = await evolink.wait_for_submission()
    body = submission.body
    assert (body["duration"], body["quality"], body["aspect_ratio"]) == (8, "480p", "9:16")
    assert body["generate_audio"] is False
    assert body["content_filter"] is False
    closed = summary(telegram, ALICE)
    assert buttons(closed) == []  # a submitted draft keeps its text, loses its buttons


async def test_settings_become_the_defaults_of_new_drafts(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_text(ALICE, ALICE, "/settings")
    menu = await bot.reply_to(ALICE, text_contains="Your defaults")
    message_id = menu.result["message_id"]
    telegram.press_button(ALICE, ALICE, message_id, f"s:u:{ALICE}:menu=dur")
    await bot.telegram.wait_for(lambda c: c.method == "editMessageText" and "s:u" in str(c.params))
    telegram.press_button(ALICE, ALICE, message_id, f"s:u:{ALICE}:dur=12")
    await bot.reply_to(ALICE, text_contains="Options: 12 s")
    telegram.press_button(ALICE, ALICE, message_id, f"s:u:{ALICE}:q")
    await bot.reply_to(ALICE, text_contains="480p")
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="snowfall")
    await bot.reply_to(ALICE, text_contains="Options: 12 s · 480p")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert (submission.body["duration"], submission.body["quality"]) == (12, "480p")


async def test_prompt_ideas_name_the_users_references(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), media_group_id="a")
    telegram.send_photo(ALICE, ALICE, image_bytes(810, 600), media_group_id="a")
    await bot.reply_to(ALICE, text_contains="image 1, image 2")
    await press(bot, ALICE, ALICE, ":menu=ideas")
    await press(bot, ALICE, ALICE, ":idea=new")
    idea = await bot.reply_to(ALICE, text_contains="first frame")
    assert "image 1" in idea.text
    assert "image 2 as the last frame" in idea.text
    assert idea.params.get("parse_mode") == "HTML"


async def test_cost_is_shown_before_and_after_and_balance_reads_the_account(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(admin_user_ids=str(ALICE))
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="first")
    first_summary = await bot.reply_to(ALICE, text_contains="image 1")
    assert "reserves the exact amount" in first_summary.text  # nothing known yet
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    reserved = evolink.tasks[submission.task_id].to_json()["usage"]["credits_reserved"]
    await bot.reply_to(ALICE, text_contains=f"{reserved:g} credits reserved")
    await evolink.complete(submission.task_id)
    video = await bot.video_in(ALICE)
    assert f"{reserved:g} credits" in video.params["caption"]
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="second")
    await bot.reply_to(ALICE, text_contains=f"about {reserved:g} credits")
    telegram.send_text(ALICE, ALICE, "/balance")
    balance = await bot.reply_to(ALICE, text_contains="Account credits left")
    assert f"{evolink.credits:g}" in balance.text
    assert f"{reserved:g} today" in balance.text  # and her own usage


async def test_balance_shows_users_their_own_usage_never_the_account(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(admin_user_ids=str(BOB), daily_generations_per_user=5)
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="a tram at night")
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    reserved = evolink.tasks[submission.task_id].credits_reserved
    await bot.reply_to(ALICE, text_contains="credits reserved")

    telegram.send_text(ALICE, ALICE, "/balance")
    mine = await bot.reply_to(ALICE, text_contains="Your videos")
    assert "today: 1 of 5" in mine.text and "in progress: 1" in mine.text
    assert f"{reserved:g} today, {reserved:g} in all" in mine.text
    assert "Account" not in mine.text and f"{evolink.credits:g}" not in mine.text

    # An admin asking in a group sees only their own usage there.
    group = -100777
    telegram.send_text(group, BOB, "/balance", chat_type="supergroup")
    there = await bot.reply_to(group, text_contains="Your videos")
    assert "private chat" in there.text and f"{evolink.credits:g}" not in there.text
    assert not any(
        "Account credits" in c.text for c in telegram.calls if c.params.get("chat_id") == group
    )


async def test_history_resends_a_delivered_video_by_file_id(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="a comet")
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    await evolink.complete(submission.task_id)
    first = await bot.video_in(ALICE)
    file_id = telegram.messages[ALICE][first.result["message_id"]]["video"]["file_id"]
    evolink.expire_result(submission.task_id)  # the 24 h link is gone; Telegram's copy is not
    await asyncio.sleep(0.3)  # the delivery is recorded just after the send returns
    telegram.send_text(ALICE, ALICE, "/history")
    listing = await bot.reply_to(ALICE, text_contains="Your latest videos")
    assert "✅ delivered" in listing.text
    telegram.press_button(ALICE, ALICE, listing.result["message_id"], "h:1:again")
    again = await telegram.wait_for(
        lambda c: c.method == "sendVideo" and c.ok and c.params.get("video") == file_id
    )
    assert again.params["chat_id"] == ALICE


async def test_group_reply_with_generate_uses_the_replied_media_in_its_topic(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    group = {"chat_type": "supergroup", "message_thread_id": TOPIC}
    photo = telegram.send_photo(GROUP, ALICE, image_bytes(900, 600), **group)
    await asyncio.sleep(0.3)
    assert not telegram.sent("sendMessage", GROUP)  # media alone in a group: no chatter
    command = telegram.send_text(
        GROUP,
        ALICE,
        "/generate a lantern floats up",
        reply_to_message_id=photo["message_id"],
        **group,
    )
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a lantern floats up"
    assert len(submission.body["image_urls"]) == 1
    await evolink.complete(submission.task_id)
    video = await bot.video_in(GROUP)
    assert video.params["message_thread_id"] == TOPIC
    assert video.params["reply_parameters"]["message_id"] == command["message_id"]


async def test_a_group_album_reply_brings_the_whole_album(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    await make_bot()
    items = [
        telegram.send_photo(
            GROUP, ALICE, image_bytes(700 + i, 600), media_group_id="alb", chat_type="supergroup"
        )
        for i in range(3)
    ]
    await asyncio.sleep(0.3)
    telegram.send_text(
        GROUP,
        BOB,
        "/generate three frames become one shot",
        reply_to_message_id=items[1]["message_id"],
        chat_type="supergroup",
    )
    submission = await evolink.wait_for_submission()
    assert [r.width for r in submission.references] == [700, 701, 702]


async def test_a_caption_starting_with_generate_is_a_one_shot_request(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    await make_bot()
    telegram.send_photo(
        ALICE,
        ALICE,
        image_bytes(800, 600),
        caption="/generate a hot air balloon",
        media_group_id="x",
    )
    telegram.send_photo(ALICE, ALICE, image_bytes(820, 600), media_group_id="x")
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a hot air balloon"
    assert len(submission.body["image_urls"]) == 2  # the rest of the album joined


async def test_two_people_in_one_group_keep_separate_drafts(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    sg = {"chat_type": "supergroup"}
    a = telegram.send_photo(GROUP, ALICE, image_bytes(800, 600), **sg)
    b = telegram.send_photo(GROUP, BOB, image_bytes(640, 640), **sg)
    telegram.send_text(GROUP, ALICE, "/generate alice", reply_to_message_id=a["message_id"], **sg)
    telegram.send_text(GROUP, BOB, "/generate bob", reply_to_message_id=b["message_id"], **sg)
    await evolink.wait_for_submission(2)
    by_prompt = {s.body["prompt"]: s for s in evolink.submissions}
    assert by_prompt["alice"].references[0].width == 800
    assert by_prompt["bob"].references[0].width == 640
    await evolink.complete(by_prompt["bob"].task_id)
    video = await bot.video_in(GROUP)
    replied = telegram.messages[GROUP][video.params["reply_parameters"]["message_id"]]
    assert replied["from"]["id"] == BOB


async def test_only_the_owner_can_press_a_drafts_buttons(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    sg = {"chat_type": "supergroup"}
    photo = telegram.send_photo(GROUP, ALICE, image_bytes(800, 600), **sg)
    telegram.send_text(GROUP, ALICE, "/generate", reply_to_message_id=photo["message_id"], **sg)
    # No prompt: the draft asks for one, and stays open with its buttons.
    await bot.reply_to(GROUP, text_contains="Prompt: needed")
    telegram.send_text(GROUP, ALICE, "/cancel", **sg)
    await bot.reply_to(GROUP, text_contains="Draft discarded")


async def test_group_defaults_are_for_admins(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    sg = {"chat_type": "supergroup"}
    telegram.send_text(GROUP, BOB, "/settings", **sg)
    await bot.reply_to(GROUP, text_contains="Only the group's admins")
    telegram.admins[GROUP] = {ALICE}
    telegram.send_text(GROUP, ALICE, "/settings", **sg)
    menu = await bot.reply_to(GROUP, text_contains="This group's defaults")
    query = telegram.press_button(GROUP, BOB, menu.result["message_id"], f"s:g:{GROUP}:q")
    answer = await telegram.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query["id"]
    )
    assert "admins" in answer.params.get("text", "")
    telegram.press_button(GROUP, ALICE, menu.result["message_id"], f"s:g:{GROUP}:q")
    await bot.reply_to(GROUP, text_contains="480p")
    photo = telegram.send_photo(GROUP, BOB, image_bytes(800, 600), **sg)
    telegram.send_text(GROUP, BOB, "/generate go", reply_to_message_id=photo["message_id"], **sg)
    submission = await evolink.wait_for_submission()
    assert submission.body["quality"] == "480p"


async def test_a_stranger_is_told_once_and_then_ignored(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot(allowed_user_ids=str(ALICE))
    telegram.send_text(BOB, BOB, "/start")
    await bot.reply_to(BOB, text_contains="this bot is private")
    telegram.send_photo(BOB, BOB, image_bytes(800, 600), caption="let me in")
    telegram.send_text(BOB, BOB, "/generate")
    telegram.send_text(ALICE, ALICE, "/start")
    await bot.reply_to(ALICE, text_contains="/help")
    assert len(telegram.sent("sendMessage", BOB)) == 1


async def test_daily_and_concurrent_quotas(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(daily_generations_per_user=2, max_running_tasks_per_user=1)

    async def videos(count: int) -> None:
        await telegram.wait_for(
            lambda c: len([x for x in telegram.sent("sendVideo", ALICE) if x.ok]) >= count
        )
        await asyncio.sleep(0.3)  # the delivery is recorded just after the send returns

    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="take 1")
    await bot.reply_to(ALICE, text_contains="take 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    first = await evolink.wait_for_submission()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="take 2")
    await bot.reply_to(ALICE, text_contains="take 2")
    telegram.send_text(ALICE, ALICE, "/generate")
    await bot.reply_to(ALICE, text_contains="at your limit (1 at once)")
    await evolink.complete(first.task_id)
    await videos(1)
    telegram.send_text(ALICE, ALICE, "/generate")  # the draft waited; now it may go
    second = await evolink.wait_for_submission(2)
    assert second.body["prompt"] == "take 2"
    await evolink.complete(second.task_id)
    await videos(2)
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="take 3")
    await bot.reply_to(ALICE, text_contains="take 3")
    telegram.send_text(ALICE, ALICE, "/generate")
    await bot.reply_to(ALICE, text_contains="today's limit of 2 videos")
    assert len(evolink.submissions) == 2


async def test_commands_are_registered_in_english_and_chinese(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    await make_bot()
    calls = telegram.sent("setMyCommands")
    languages = {c.params.get("language_code") for c in calls}
    assert languages == {None, "zh"}
    names = {c["command"] for c in calls[0].params["commands"]}
    assert names == {"generate", "settings", "status", "history", "balance", "cancel", "help"}


async def test_a_chinese_speaker_is_answered_in_chinese(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_text(ALICE, ALICE, "/start", language_code="zh-hans")
    await bot.reply_to(ALICE, text_contains="/help")
    welcome = telegram.sent("sendMessage", ALICE)[-1].text
    assert "图片1" in welcome and "积分" in welcome
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="一只猫", language_code="zh")
    draft = await bot.reply_to(ALICE, text_contains="一只猫")
    assert "图片1" in draft.text
    assert "image" not in draft.text


async def test_cancel_explains_that_a_running_video_cannot_be_stopped(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="a slow river")
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    await evolink.wait_for_submission()
    telegram.send_text(ALICE, ALICE, "/cancel")
    await bot.reply_to(ALICE, text_contains="no way to stop it")


async def test_stats_are_for_admins(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(admin_user_ids=str(BOB))
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="counted")
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    await evolink.fail(submission.task_id, code="content_policy_violation")
    await bot.reply_to(ALICE, text_contains="content policy")
    telegram.send_text(ALICE, ALICE, "/stats")
    await bot.reply_to(ALICE, text_contains="/generate")  # not an admin: the help text
    telegram.send_text(BOB, BOB, "/stats")
    report = await bot.reply_to(BOB, text_contains="Today (UTC): 1 tasks from 1 users")
    assert "content_policy_violation: 1" in report.text
    assert "Credits reserved today: 6" in report.text
