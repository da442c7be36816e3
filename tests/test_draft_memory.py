"""What the bot keeps per draft in memory goes when the draft ends: a bot that runs for months
holds state for the drafts in flight, not for every draft it has seen.

The whole bot runs against the fake Telegram and Evolink; drafts are opened and filled in the
ways people do (a prompt alone, a photo with a caption, an album, a one-shot album in a group,
a menu left open, a file that is refused) and then cancelled or generated and delivered. Once
the background work is over and the periodic clean-up has run, every per-draft table is empty.
(`python -m bench.soak` measures the same at scale, as memory.)
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import _PERSISTENCE_MARKS, forget_persistence_marks
from bot.services import BotApplication
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

GROUP = -100777
SG = {"chat_type": "supergroup"}


async def _summary_buttons(telegram: FakeTelegram, chat: int) -> tuple[int, list[str]]:
    call = await telegram.wait_for(
        lambda c: (
            c.ok
            and c.method in {"sendMessage", "editMessageText"}
            and c.params.get("chat_id") in (chat, str(chat))
            and "reply_markup" in c.params
            and ":gen" in str(c.params["reply_markup"])
        )
    )
    message = call.result
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return message["message_id"], [b["callback_data"] for row in rows for b in row]


async def _settled(application: BotApplication, timeout: float = 20.0) -> None:
    background = application.bot_data.services.background
    deadline = time.monotonic() + timeout
    while len(background) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert not len(background), "background work did not finish"


async def test_per_draft_state_is_gone_once_drafts_end(
    make_bot: MakeBot,
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    applications: list[BotApplication],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A one-shot album may grow for 60 s after its first item; a second will do here.
    monkeypatch.setattr("bot.drafts.service.ONESHOT_ALBUM_SECONDS", 1.0)
    bot_ = await make_bot()
    drafts = applications[-1].bot_data.services.drafts

    # A prompt alone, then /cancel.
    telegram.send_text(901, 901, "a lighthouse in a storm")
    await bot_.reply_to(901, text_contains="lighthouse")
    telegram.send_text(901, 901, "/cancel")
    await bot_.reply_to(901, text_contains="discarded")

    # A photo, a menu opened and left open, /cancel.
    telegram.send_photo(902, 902, image_bytes(800, 600), caption="a fox")
    message_id, data = await _summary_buttons(telegram, 902)
    telegram.press_button(902, 902, message_id, next(d for d in data if d.endswith("menu=dur")))
    await telegram.wait_for_method("answerCallbackQuery")
    telegram.send_text(902, 902, "/cancel")
    await bot_.reply_to(902, text_contains="discarded")

    # A photo and a refused file, a menu open, then Generate: submitted and delivered.
    telegram.send_photo(903, 903, image_bytes(800, 600), caption="a cat")
    telegram.send_document(903, 903, b"%PDF-1.4 not media", file_name="notes.pdf")
    await bot_.reply_to(903, text_contains="notes.pdf")
    message_id, data = await _summary_buttons(telegram, 903)
    telegram.press_button(903, 903, message_id, next(d for d in data if d.endswith("menu=ar")))
    await asyncio.sleep(0.3)
    telegram.send_text(903, 903, "/generate")
    first = await evolink.wait_for_submission()
    await evolink.complete(first.task_id)
    await bot_.video_in(903)

    # An album, then /cancel.
    for i in range(3):
        telegram.send_photo(904, 904, image_bytes(700 + i, 600), media_group_id="a904")
    await bot_.reply_to(904, text_contains="image 3")
    telegram.send_text(904, 904, "/cancel")
    await bot_.reply_to(904, text_contains="discarded")

    # A one-shot album in a group: "/generate ..." on its first item.
    telegram.send_photo(
        GROUP, 905, image_bytes(800, 600), caption="/generate waves", media_group_id="g", **SG
    )
    telegram.send_photo(GROUP, 905, image_bytes(810, 600), media_group_id="g", **SG)
    second = await evolink.wait_for_submission(2)
    await evolink.complete(second.task_id)
    await bot_.video_in(GROUP)

    await _settled(applications[-1])
    assert any(drafts.tracked().values()), "the flows above left nothing to clean up"
    await asyncio.sleep(1.0)  # past the quiet period and the album's time
    drafts.prune()  # what the periodic clean-up does
    assert drafts.tracked() == dict.fromkeys(drafts.tracked(), 0)


async def test_python_telegram_bots_per_user_notes_are_emptied(
    make_bot: MakeBot, telegram: FakeTelegram, applications: list[BotApplication]
) -> None:
    bot_ = await make_bot()
    application = applications[-1]
    for user in range(950, 960):
        telegram.send_text(user, user, "/help")
        await bot_.reply_to(user, text_contains="/generate")
    await _settled(application)
    await asyncio.sleep(0.2)  # the notes are taken once the handler has returned
    # Without a persistence nothing ever reads these notes; python-telegram-bot keeps adding.
    marks = [getattr(application, name) for name in _PERSISTENCE_MARKS]
    assert [len(m) for m in marks] == [10, 10]
    forget_persistence_marks(application)  # part of the periodic clean-up
    assert all(len(m) == 0 for m in marks)
