"""The fake Telegram server, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram import Update as TgUpdate
from telegram.error import BadRequest, InvalidToken, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fakes.telegram import FakeTelegram
from tests.mediagen import image_bytes, write_video

CHAT = USER = 777


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small MP4 with sound and one without."""
    root = tmp_path_factory.mktemp("videos")
    kw = {"width": 64, "height": 48, "seconds": 1.0, "fps": 10}
    return {
        "sound": write_video(root / "sound.mp4", audio=True, **kw),  # type: ignore[arg-type]
        "silent": write_video(root / "silent.mp4", audio=False, **kw),  # type: ignore[arg-type]
    }


async def test_get_me(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "seedance_test_bot", True)
    assert me.can_join_groups
    assert not me.supports_inline_queries
    assert fake.sent("getMe")[0].ok


async def test_long_poll_hands_out_queued_photo_then_times_out(
    bot: Bot, fake: FakeTelegram
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()  # waiting for an update
    photo = image_bytes(800, 600)
    sent = fake.send_photo(CHAT, USER, photo, caption="/start a cat")
    started = time.monotonic()
    updates = await poll
    assert time.monotonic() - started < 1
    assert [u.update_id for u in updates] == [1000]
    msg = updates[0].message
    assert msg is not None
    assert msg.message_id == sent["message_id"] == 1
    assert [(p.width, p.height) for p in msg.photo] == [(320, 240), (800, 600)]
    assert msg.caption == "/start a cat"
    assert msg.caption_entities[0].type == "bot_command"
    assert msg.from_user is not None
    assert msg.from_user.first_name == f"User{USER}"
    # Not confirmed yet: handed out again; confirmed with offset: gone, and the poll waits.
    assert [u.update_id for u in await bot.get_updates()] == [1000]
    started = time.monotonic()
    assert await bot.get_updates(offset=1001, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 1.8


async def test_get_file_downloads_the_same_bytes(bot: Bot, fake: FakeTelegram) -> None:
    photo = image_bytes(640, 480, "PNG")
    sizes = fake.send_photo(CHAT, USER, photo)["photo"]
    tg_file = await bot.get_file(sizes[-1]["file_id"])
    assert tg_file.file_path is not None
    assert "/photos/file_" in tg_file.file_path
    assert tg_file.file_size == len(photo)
    assert bytes(await tg_file.download_as_bytearray()) == photo
    thumb = await (await bot.get_file(sizes[0]["file_id"])).download_as_bytearray()
    assert thumb[:2] == b"\xff\xd8"  # the thumbnail is a JPEG of its own
    doc = fake.send_document(CHAT, USER, b"%PDF-1.4 hello", file_name="a.pdf")["document"]
    assert doc["mime_type"] == "application/pdf"
    got = await (await bot.get_file(doc["file_id"])).download_as_bytearray()
    assert bytes(got) == b"%PDF-1.4 hello"
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("AgACnope")


async def test_send_message_with_reply_parameters(bot: Bot, fake: FakeTelegram) -> None:
    question = fake.send_text(CHAT, USER, "hello")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    reply = await bot.send_message(
        CHAT,
        "hi <b>there</b>",
        parse_mode="HTML",
        reply_markup=markup,
        reply_parameters=ReplyParameters(question["message_id"]),
    )
    assert reply.message_id == 2
    assert reply.text == "hi there"
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "hello"
    assert reply.reply_markup == markup
    call = await fake.wait_for_method("sendMessage", CHAT, text_contains="there")
    assert call.params["reply_parameters"] == {"message_id": question["message_id"]}
    assert call.params["chat_id"] == CHAT
    stored = fake.messages[CHAT][2]
    assert stored["from"]["is_bot"]
    assert stored["reply_markup"]["inline_keyboard"][0][0]["text"]
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(CHAT, "x", reply_parameters=ReplyParameters(99))
    lenient = ReplyParameters(99, allow_sending_without_reply=True)
    assert (await bot.send_message(CHAT, "x", reply_parameters=lenient)).reply_to_message is None
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "  ")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(CHAT, image_bytes(10, 10), caption="c" * 1025)


async def test_edit_and_delete(bot: Bot, fake: FakeTelegram) -> None:
    msg = await bot.send_message(CHAT, "working…")
    edited = await bot.edit_message_text("done", CHAT, msg.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "done"
    assert fake.messages[CHAT][msg.message_id]["text"] == "done"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("done", CHAT, msg.message_id)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
    await bot.edit_message_reply_markup(CHAT, msg.message_id, reply_markup=markup)
    assert fake.messages[CHAT][msg.message_id]["reply_markup"] == markup.to_dict()
    assert await bot.delete_message(CHAT, msg.message_id)
    assert fake.messages[CHAT][msg.message_id]["_deleted"]
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("later", CHAT, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)replied not found"):
        await bot.send_message(CHAT, "re", reply_to_message_id=msg.message_id)


async def test_send_video_by_url(bot: Bot, fake: FakeTelegram, videos: dict[str, Path]) -> None:
    urls = {}
    for name, path in videos.items():  # the fake serves the MP4s itself, via its file route
        doc = fake.send_document(CHAT, USER, path.read_bytes(), file_name=f"{name}.mp4")
        info = await bot.get_file(doc["document"]["file_id"])
        assert info.file_path is not None
        urls[name] = info.file_path
    for name, has_audio in (("sound", True), ("silent", False)):
        msg = await bot.send_video(CHAT, urls[name], caption=name)
        video = fake.messages[CHAT][msg.message_id]["video"]
        assert (video["width"], video["height"], video["duration"]) == (64, 48, 1)
        assert video["_has_audio"] is has_audio
        assert video["mime_type"] == "video/mp4"
        assert video["file_size"] == videos[name].stat().st_size
        assert msg.video is not None
        assert msg.video.file_id == video["file_id"]
        assert "_has_audio" not in (await fake.wait_for_method("sendVideo")).result["video"]
        got = await (await bot.get_file(video["file_id"])).download_as_bytearray()
        assert bytes(got) == videos[name].read_bytes()
    with pytest.raises(BadRequest, match=r"(?i)failed to get HTTP URL content"):
        await bot.send_video(CHAT, fake.base_file_url + fake.token + "/videos/nope.mp4")
    photo = fake.send_photo(CHAT, USER, image_bytes(32, 32))["photo"][-1]
    jpeg_url = (await bot.get_file(photo["file_id"])).file_path
    assert jpeg_url is not None
    with pytest.raises(BadRequest, match=r"(?i)wrong type of the web page content"):
        await bot.send_video(CHAT, jpeg_url)


async def test_send_video_by_upload(bot: Bot, fake: FakeTelegram, videos: dict[str, Path]) -> None:
    with videos["silent"].open("rb") as fh:
        msg = await bot.send_video(CHAT, InputFile(fh, read_file_handle=False), caption="clip")
    call = fake.sent("sendVideo")[-1]
    assert call.files["video"].size == videos["silent"].stat().st_size
    assert call.files["video"].filename == "silent.mp4"
    assert call.params["caption"] == "clip"
    stored = fake.messages[CHAT][msg.message_id]
    assert stored["video"]["_has_audio"] is False
    assert stored["caption"] == "clip"
    # Re-sending by file_id reuses the file.
    again = await bot.send_video(CHAT, stored["video"]["file_id"])
    assert again.video is not None
    assert msg.video is not None
    assert again.video.file_unique_id == msg.video.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)wrong type"):
        await bot.send_video(CHAT, InputFile(b"not a video", filename="x.mp4"))


async def test_fail_next_retry_after(
    bot: Bot, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without PTB_TIMEDELTA, PTB 22 warns (PTBDeprecationWarning, an error here) on RetryAfter.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    fake.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "first")
    assert caught.value.retry_after == dt.timedelta(seconds=3)
    assert CHAT not in fake.messages  # no side effect
    assert (await bot.send_message(CHAT, "second")).message_id == 1
    failed, ok = fake.sent("sendmessage")
    assert failed.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert ok.ok
    fake.fail_next("editMessageText", description="Bad Request: boom", times=2)
    for _ in range(2):
        with pytest.raises(BadRequest, match=r"(?i)boom"):
            await bot.edit_message_text("x", CHAT, 1)


async def test_wrong_token_and_raw_http(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):  # Bot.initialize() calls getMe
        async with Bot("999:wrong", base_url=fake.base_url):
            pass
    assert fake.sent() == []  # a wrong token is not a call
    root = fake.base_url + fake.token
    async with httpx.AsyncClient() as client:
        got = await client.get(f"{root}/GETME")
        assert got.json()["result"]["username"] == "seedance_test_bot"
        got = await client.post(f"{root}/nosuchMethod")
        assert got.status_code == 404
        assert got.json()["description"] == "Not Found"
        got = await client.post(f"{root}/sendMessage", json={"chat_id": 5, "text": "json"})
        assert got.json()["result"]["chat"] == {"id": 5, "type": "private", "first_name": "User5"}
        got = await client.get(f"{root}/sendMessage", params={"chat_id": "5", "text": "query"})
        assert got.json()["result"]["message_id"] == 2
        got = await client.get(fake.base_file_url + "wrong/photos/file_1.jpg")
        assert got.status_code == 404


async def test_wait_for_times_out_with_a_dump(bot: Bot, fake: FakeTelegram) -> None:
    await bot.send_message(CHAT, "something else")
    with pytest.raises(AssertionError, match=r"sendMessage .*something else"):
        await fake.wait_for_method("sendVideo", timeout=0.1)


async def test_application_end_to_end(fake: FakeTelegram) -> None:
    async def start(update: TgUpdate, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ping", callback_data="ping")]])
        await update.effective_message.reply_text("Welcome!", reply_markup=keyboard, do_quote=True)

    async def pressed(update: TgUpdate, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"pong ({query.data})")

    application = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(pressed))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        fake.send_text(CHAT, USER, "/start")
        welcome = await fake.wait_for_method("sendMessage", CHAT, timeout=3)
        assert welcome.text == "Welcome!"
        assert welcome.ok
        assert welcome.params["reply_parameters"]["message_id"] == 1
        fake.press_button(CHAT, USER, welcome.result["message_id"], "ping")
        await fake.wait_for_method("editMessageText", CHAT, timeout=3)
        assert fake.sent("answerCallbackQuery")[0].ok
        assert fake.messages[CHAT][2]["text"] == "pong (ping)"
        await application.updater.stop()
        await application.stop()
    assert fake.sent("deleteWebhook")
    assert fake.sent("getMe")


async def test_uploads_are_streamed_and_limited(
    bot: Bot, fake: FakeTelegram, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(3 * 1024 * 1024)  # above starlette's 1 MB spooling threshold
    with big.open("rb") as fh:
        msg = await bot.send_document(CHAT, InputFile(fh, read_file_handle=False))
    upload = fake.sent("sendDocument")[-1].files["document"]
    assert upload.size == 3 * 1024 * 1024
    assert upload.path.stat().st_size == upload.size
    assert msg.document is not None
    assert msg.document.file_name == "big.bin"
    with big.open("r+b") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)
    async with httpx.AsyncClient(timeout=30) as client:
        with big.open("rb") as fh:
            got = await client.post(
                f"{fake.base_url}{fake.token}/sendDocument",
                data={"chat_id": str(CHAT)},
                files={"document": ("big.bin", fh)},
            )
    assert got.status_code == 413
    assert got.json() == {"ok": False, "error_code": 413, "description": "Request Entity Too Large"}


async def test_second_poll_conflicts_and_stop_releases_polls(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}{fake.token}/getUpdates"
    async with httpx.AsyncClient(timeout=30) as client:
        first = asyncio.create_task(client.post(url, data={"timeout": "20"}))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(client.post(url, data={"timeout": "20"}))
        assert (await first).status_code == 409  # terminated by the newer getUpdates
        started = time.monotonic()
        await fake.stop()
        assert (await second).json() == {"ok": True, "result": []}
        assert time.monotonic() - started < 1
