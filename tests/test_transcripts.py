"""Whole conversations, in English and in Chinese, read back as the user sees them.

Each test drives a private chat and a forum topic of a group from the first /start to a
delivered video, a re-roll and a failure, then checks every message the bot sent: written in the
user's language, no template left unfilled, no placeholder, nothing Telegram would refuse. Run
with `-s` to print the transcript.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import settle
from tests.harness import BotUnderTest
from tests.mediagen import image_bytes
from tests.test_e2e_conversation import button

pytestmark = pytest.mark.e2e

USER = 821
GROUP = -100821
TOPIC = 9
CJK = re.compile(r"[\u4e00-\u9fff]")
LEFTOVERS = re.compile(r"\{[a-z_]+\}|\bNone\b|\?×\?|file\(s\)")
ASKS = {"en": "reply to this message", "zh": "请回复这条消息"}


def _newest_draft(telegram: FakeTelegram) -> dict[str, Any]:
    """The user's newest draft message that still has buttons."""
    drafts = [
        m
        for m in telegram.messages[USER].values()
        if "d:" in str(m.get("reply_markup")) and ":gen" in str(m.get("reply_markup"))
    ]
    return max(drafts, key=lambda m: m["message_id"])


async def _converse(
    bot: BotUnderTest, telegram: FakeTelegram, evolink: FakeEvolink, lang: str
) -> None:
    opts = {"language_code": lang}
    group = {"language_code": lang, "chat_type": "supergroup", "message_thread_id": TOPIC}
    telegram.send_text(USER, USER, "/start", **opts)
    await bot.reply_to(USER, text_contains="/help")
    telegram.send_text(USER, USER, "/help", **opts)
    telegram.send_photo(USER, USER, image_bytes(900, 700), **opts)
    await bot.reply_to(USER, text_contains="1")
    telegram.send_text(USER, USER, "/generate", **opts)
    await settle(0.5)
    telegram.send_text(USER, USER, "a fox in the snow" if lang == "en" else "雪地里的狐狸", **opts)
    first = await evolink.wait_for_submission()
    await evolink.complete(first.task_id)
    video = await bot.video_in(USER)
    message = telegram.messages[USER][video.result["message_id"]]
    telegram.press_button(USER, USER, message["message_id"], button(message, ":again"))
    second = await evolink.wait_for_submission(2)
    await evolink.fail(second.task_id, code="service_error", message="busy")
    await settle(1.0)
    telegram.send_text(USER, USER, "/status", **opts)
    telegram.send_text(USER, USER, "/history", **opts)
    telegram.send_text(USER, USER, "/balance", **opts)
    telegram.send_photo(USER, USER, image_bytes(800, 600), **opts)
    await settle(1.0)
    draft = _newest_draft(telegram)
    telegram.press_button(USER, USER, draft["message_id"], button(draft, ":menu=dur"))
    await settle(0.5)
    telegram.send_text(USER, USER, "/cancel", **opts)
    # A forum topic of a group: reply to a photo with /generate, answer the question by reply.
    telegram.send_text(GROUP, USER, "/help", **group)
    photo = telegram.send_photo(GROUP, USER, image_bytes(800, 800), **group)
    telegram.send_text(GROUP, USER, "/generate", reply_to_message_id=photo["message_id"], **group)
    question = await bot.reply_to(GROUP, text_contains=ASKS[lang])
    telegram.send_text(
        GROUP,
        USER,
        "waves on rocks" if lang == "en" else "海浪拍打礁石",
        reply_to_message_id=question.result["message_id"],
        **group,
    )
    third = await evolink.wait_for_submission(3)
    await evolink.complete(third.task_id)
    await bot.video_in(GROUP)
    await settle(1.0)


def _transcript(telegram: FakeTelegram) -> list[tuple[str, str]]:
    """(where, text) of every message the bot showed, in order."""
    shown = []
    for call in telegram.calls:
        if not call.ok or call.method not in {"sendMessage", "editMessageText", "sendVideo"}:
            continue
        text = call.text or str(call.params.get("caption") or "")
        where = "group" if call.params.get("chat_id") == GROUP else "private"
        shown.append((f"{where}/{call.method}", text))
    return shown


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_whole_conversation_reads_right(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink, lang: str
) -> None:
    bot = await make_bot()
    await _converse(bot, telegram, evolink, lang)
    transcript = _transcript(telegram)
    print(f"\n===== transcript ({lang}) =====")
    for where, text in transcript:
        print(f"--- {where}\n{text}")
    assert len(transcript) > 15
    for where, text in transcript:
        assert not LEFTOVERS.search(text), (where, text)
        assert len(text) <= (1024 if where.endswith("sendVideo") else 4096)
        if lang == "zh":
            assert CJK.search(text), f"an untranslated message ({where}): {text!r}"
    assert not [c for c in telegram.calls if "not modified" in str(c.result)]
