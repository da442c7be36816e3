"""End to end: photos and a caption in a private chat become a video in the same chat."""

from __future__ import annotations

import pytest

from tests.conftest import MakeBot, on_both_engines
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

USER = 501
CHAT = 501


@on_both_engines
async def test_photo_caption_generate_video_with_evolink_hosting_and_polling(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot()  # the defaults a user behind NAT gets: Files API + polling
    telegram.send_photo(CHAT, USER, image_bytes(1280, 720), caption="a red fox runs through snow")
    await bot.reply_to(CHAT, text_contains="image 1")
    generate = telegram.send_text(CHAT, USER, "/generate")

    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a red fox runs through snow"
    assert len(submission.body["image_urls"]) == 1
    assert submission.body["image_urls"][0].startswith(evolink.files_base_url)
    assert "callback_url" not in submission.body
    assert submission.headers.get("idempotency-key")
    assert submission.references[0].kind == "image"
    assert (submission.references[0].width, submission.references[0].height) == (1280, 720)

    await bot.reply_to(CHAT, text_contains="credits reserved")
    evolink.set_progress(submission.task_id, 40)
    await bot.reply_to(CHAT, text_contains="40%")
    await evolink.complete(submission.task_id)

    video = await bot.video_in(CHAT)
    assert video.params["reply_parameters"]["message_id"] == generate["message_id"]
    message = telegram.messages[CHAT][video.result["message_id"]]
    assert message["video"]["_has_audio"] is True
    assert "credits" in (message.get("caption") or "")
    assert len(evolink.submissions) == 1
