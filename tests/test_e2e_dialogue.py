"""End to end, as a person on a phone reads it: every instruction works where it is given, one
live draft at a time, news that notifies, re-rolls that pay once, and privacy mode explained."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import MakeBot
from tests.fakes.evolink import SUBMIT_PATH, FakeEvolink
from tests.fakes.telegram import Call, FakeTelegram
from tests.faultkit import draft_and_generate, settle, submit_posts, videos
from tests.harness import BotUnderTest
from tests.mediagen import image_bytes
from tests.test_e2e_conversation import button, buttons, summary

pytestmark = pytest.mark.e2e

ALICE = 811
BOB = 812
GROUP = -100811


async def _answered(telegram: FakeTelegram, query: dict[str, Any]) -> Call:
    return await telegram.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params["callback_query_id"] == query["id"]
    )


def _keyboard(telegram: FakeTelegram, chat: int, message_id: int) -> list[str]:
    return buttons(telegram.messages[chat][message_id])


# ---------------------------------------------------------------- instructions that work


async def test_in_a_group_a_reply_to_the_draft_asking_is_the_prompt_and_the_video_goes_ahead(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    photo = telegram.send_photo(GROUP, ALICE, image_bytes(800, 600), chat_type="supergroup")
    telegram.send_text(
        GROUP, ALICE, "/generate", chat_type="supergroup", reply_to_message_id=photo["message_id"]
    )
    question = await bot.reply_to(GROUP, text_contains="reply to this message")
    assert "I'll make it right away" in question.text  # the draft itself asks, with its buttons
    assert any(b.endswith(":gen") for b in buttons(question.params))
    assert evolink.submissions == []
    # Small talk in the group is not for the bot.
    telegram.send_text(GROUP, ALICE, "nice weather today", chat_type="supergroup")
    telegram.send_text(
        GROUP,
        ALICE,
        "a paper lantern floats up into the night",
        chat_type="supergroup",
        reply_to_message_id=question.result["message_id"],
    )
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a paper lantern floats up into the night"
    assert len(submission.body["image_urls"]) == 1


async def test_in_a_group_a_bare_generate_says_how_to_give_it_media(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    request = telegram.send_text(GROUP, ALICE, "/generate a fox", chat_type="supergroup")
    answer = await bot.reply_to(GROUP, text_contains="Reply with /generate")
    assert answer.params["reply_parameters"]["message_id"] == request["message_id"]
    assert evolink.submissions == []


async def test_in_privacy_mode_a_one_shot_without_prompt_is_answered_by_reply(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    telegram.privacy_mode = True
    bot = await make_bot()  # only what is addressed to the bot reaches it
    telegram.send_photo(
        GROUP, ALICE, image_bytes(800, 600), chat_type="supergroup", caption="/generate"
    )
    draft_asks = await bot.reply_to(GROUP, text_contains="I'll make it right away")
    telegram.send_text(
        GROUP,
        ALICE,
        "waves crash on black rocks",
        chat_type="supergroup",
        reply_to_message_id=draft_asks.result["message_id"],
    )
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "waves crash on black rocks"


async def test_in_private_the_text_after_the_question_makes_the_video(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600))
    draft = await bot.reply_to(ALICE, text_contains="Your draft")
    assert "send me a text describing the video" in draft.text
    telegram.send_text(ALICE, ALICE, "/generate")
    await bot.reply_to(ALICE, text_contains="and I'll make it right away")
    telegram.send_text(ALICE, ALICE, "a heron lands on a pier")
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a heron lands on a pier"


async def test_a_clip_alone_is_enough_and_the_advice_says_so(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    telegram.send_voice(ALICE, ALICE, b"not really audio", duration=3)
    telegram.send_text(ALICE, ALICE, "/generate sounds of the sea")
    advice = await bot.reply_to(ALICE, text_contains="first")
    assert "photo or a video clip" in advice.text


# ---------------------------------------------------------------- one live draft


async def test_only_the_newest_draft_message_has_buttons(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="a red kite")
    first = await bot.reply_to(ALICE, text_contains="a red kite")
    on_the_phone = copy.deepcopy(telegram.messages[ALICE][first.result["message_id"]])
    telegram.send_text(ALICE, ALICE, "a blue kite over dunes")
    second = await bot.reply_to(ALICE, text_contains="a blue kite")
    assert second.result["message_id"] != first.result["message_id"]
    await telegram.wait_for(lambda c: c.method == "editMessageReplyMarkup")
    assert _keyboard(telegram, ALICE, first.result["message_id"]) == []
    assert any(b.endswith(":gen") for b in _keyboard(telegram, ALICE, second.result["message_id"]))

    # A tap that left the phone before the buttons went changes nothing and says where to look.
    query = telegram.press_button(
        ALICE, ALICE, first.result["message_id"], button(on_the_phone, ":q"), as_seen=on_the_phone
    )
    answered = await _answered(telegram, query)
    assert "moved" in answered.params["text"]
    await settle()
    assert "720p" in summary(telegram, ALICE)["text"]  # the quality was not switched


async def test_a_file_can_be_removed_from_the_draft(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    telegram.send_photo(ALICE, ALICE, image_bytes(800, 600), caption="two birds")
    await bot.reply_to(ALICE, text_contains="image 1")
    telegram.send_photo(ALICE, ALICE, image_bytes(640, 640))
    await bot.reply_to(ALICE, text_contains="image 1, image 2")
    message = summary(telegram, ALICE)
    query = telegram.press_button(ALICE, ALICE, message["message_id"], button(message, "menu=rm"))
    await _answered(telegram, query)
    menu = summary(telegram, ALICE)
    removable = [b for b in buttons(menu) if ":rm=" in b]
    assert len(removable) == 2
    query = telegram.press_button(ALICE, ALICE, menu["message_id"], removable[0])
    await _answered(telegram, query)
    await bot.reply_to(ALICE, text_contains="References: image 1\n")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission()
    assert len(submission.body["image_urls"]) == 1


async def test_the_tenth_photo_is_told_how_to_make_room(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    for n in range(10):
        telegram.send_photo(ALICE, ALICE, image_bytes(700 + n, 600))
    refused = await bot.reply_to(ALICE, text_contains="at most 9", timeout=30)
    assert "Remove a file" in refused.text and "/cancel" not in refused.text
    # The refusal comes after the draft it talks about.
    first_summary = next(c for c in telegram.sent("sendMessage", ALICE) if "Your draft" in c.text)
    assert first_summary.at <= refused.at


# ---------------------------------------------------------------- news, not silent edits


async def test_a_failure_is_a_new_reply_with_try_again_which_pays_once(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    request = await draft_and_generate(bot, ALICE, prompt="a tower of cards falls")
    submission = await evolink.wait_for_submission()
    await evolink.fail(submission.task_id, code="service_error", message="GPU on fire")
    failed = await bot.reply_to(ALICE, text_contains="could not be made")
    assert failed.method == "sendMessage"
    assert failed.params["reply_parameters"]["message_id"] == request["message_id"]
    retry = button(telegram.messages[ALICE][failed.result["message_id"]], ":again")
    query = telegram.press_button(ALICE, ALICE, failed.result["message_id"], retry)
    again = await evolink.wait_for_submission(2)
    assert again.body["prompt"] == "a tower of cards falls"
    assert len(again.body["image_urls"]) == 1
    await _answered(telegram, query)
    await settle()
    assert submit_posts(evolink) == 2


async def test_a_refused_request_gives_the_draft_back_with_its_buttons(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    evolink.fail_next(SUBMIT_PATH, 400, message="prompt rejected")
    await draft_and_generate(bot, ALICE, prompt="a river of honey")
    refused = await bot.reply_to(ALICE, text_contains="prompt rejected")
    assert refused.method == "sendMessage"
    back = await telegram.wait_for(
        lambda c: (
            c.method == "sendMessage" and c.text.startswith("Your draft") and c.at >= refused.at
        )
    )
    assert any(b.endswith(":gen") for b in buttons(back.params))


# ---------------------------------------------------------------- re-roll


async def _delivered(bot: BotUnderTest, evolink: FakeEvolink, prompt: str) -> Call:
    await draft_and_generate(bot, ALICE, prompt=prompt)
    submission = await evolink.wait_for_submission(len(evolink.submissions) + 1)
    await evolink.complete(submission.task_id)
    return await bot.video_in(ALICE)


async def test_again_under_a_video_makes_one_new_task_with_the_same_request(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    video = await _delivered(bot, evolink, "a lighthouse beam sweeps the fog")
    caption = video.params["caption"]
    assert "a lighthouse beam sweeps the fog" in caption and "5 s" in caption
    reserved = evolink.tasks[evolink.submissions[0].task_id].credits_reserved
    message = telegram.messages[ALICE][video.result["message_id"]]
    again = button(message, ":again")
    label = next(
        b["text"]
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"] == again
    )
    assert f"{reserved:g} credits" in label  # the cost is on the button
    telegram.press_button(ALICE, ALICE, message["message_id"], again)
    double = telegram.press_button(ALICE, ALICE, message["message_id"], again)  # a double tap
    second = await evolink.wait_for_submission(2)
    assert second.body["prompt"] == evolink.submissions[0].body["prompt"]
    assert len(second.body["image_urls"]) == len(evolink.submissions[0].body["image_urls"])
    assert "made again already" in (await _answered(telegram, double)).params["text"]
    await evolink.complete(second.task_id)
    await telegram.wait_for(lambda c: len(videos(telegram, ALICE)) == 2)
    await settle()
    assert submit_posts(evolink) == 2 and len(evolink.tasks) == 2


async def test_edit_under_a_video_opens_a_draft_with_the_same_files_and_prompt(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    video = await _delivered(bot, evolink, "a koi pond in the rain")
    message = telegram.messages[ALICE][video.result["message_id"]]
    telegram.press_button(ALICE, ALICE, message["message_id"], button(message, ":edit"))
    draft = await telegram.wait_for(
        lambda c: c.method == "sendMessage" and "Your draft" in c.text and c.at >= video.at
    )
    await bot.reply_to(ALICE, text_contains="References: image 1\nPrompt: “a koi pond")
    assert any(b.endswith(":gen") for b in buttons(draft.params))
    telegram.send_text(ALICE, ALICE, "a koi pond in the snow")
    telegram.send_text(ALICE, ALICE, "/generate")
    submission = await evolink.wait_for_submission(2)
    assert submission.body["prompt"] == "a koi pond in the snow"
    assert len(submission.body["image_urls"]) == 1


async def test_history_sends_a_video_again_with_its_caption(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    first = await _delivered(bot, evolink, "a kettle starts to steam")
    await settle()  # the delivery is recorded just after the send returns
    telegram.send_text(ALICE, ALICE, "/history")
    listing = await bot.reply_to(ALICE, text_contains="UTC")
    message = telegram.messages[ALICE][listing.result["message_id"]]
    telegram.press_button(ALICE, ALICE, message["message_id"], button(message, ":again"))
    await telegram.wait_for(lambda c: len(videos(telegram, ALICE)) == 2)
    assert videos(telegram, ALICE)[1].params["caption"] == first.params["caption"]


# ---------------------------------------------------------------- progress


async def test_progress_goes_straight_from_submitting_to_making_with_an_estimate(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()
    await draft_and_generate(bot, ALICE, prompt="sand dunes at noon")
    submission = await evolink.wait_for_submission()
    making = await bot.reply_to(ALICE, text_contains="Making your video… 0%")
    assert "credits reserved" in making.text and "ready in about 2 min" in making.text
    evolink.set_progress(submission.task_id, 40)
    await bot.reply_to(ALICE, text_contains="40%")
    await evolink.complete(submission.task_id)
    await bot.video_in(ALICE)
    await settle()
    status_id = next(c for c in telegram.sent("sendMessage", ALICE) if "Submitting" in c.text)
    shown = [
        c.text
        for c in telegram.calls
        if c.method == "editMessageText"
        and c.params.get("message_id") == status_id.result["message_id"]
    ]
    assert not any("Submitted" in text for text in shown)
    not_modified = [c for c in telegram.calls if "not modified" in str(c.result)]
    assert not_modified == []


# ---------------------------------------------------------------- privacy mode


async def test_privacy_mode_is_explained_in_the_groups_help_and_for_albums(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    telegram.privacy_mode = True
    bot = await make_bot()
    telegram.send_text(GROUP, ALICE, "/help", chat_type="supergroup")
    help_text = await bot.reply_to(GROUP, text_contains="privacy mode")
    assert "Reply to a photo" in help_text.text
    album = [
        telegram.send_photo(
            GROUP, ALICE, image_bytes(w, 600), chat_type="supergroup", media_group_id="cats"
        )
        for w in (800, 640)
    ]
    telegram.send_text(
        GROUP,
        ALICE,
        "/generate two cats",
        chat_type="supergroup",
        reply_to_message_id=album[0]["message_id"],
    )
    await bot.reply_to(GROUP, text_contains="could see only the item you replied to")
    submission = await evolink.wait_for_submission()
    assert len(submission.body["image_urls"]) == 1
