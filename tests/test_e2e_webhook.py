"""Telegram webhook mode: updates POSTed to the bot's own web server, and back to polling."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update

from bot.settings import SettingsError, load_settings
from bot.telegram.webhook import SECRET_HEADER, webhook_route
from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink, LoopbackServer
from tests.fakes.s3 import FakeS3
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import eventually
from tests.harness import BotProcess
from tests.mediagen import image_bytes

USER = 601
CHAT = 601
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a"


def _forged_update(chat_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": 424242,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Mallory"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Mallory"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


@pytest.mark.e2e
async def test_webhook_mode_makes_a_video_then_polling_takes_over_again(
    make_bot: MakeBot, telegram: FakeTelegram, evolink: FakeEvolink
) -> None:
    bot = await make_bot(telegram_webhook_url="http://127.0.0.1:{port}/telegram")
    assert bot.settings is not None
    url = f"http://127.0.0.1:{bot.port}/telegram"
    assert telegram.webhook["url"] == url
    secret = telegram.webhook["secret_token"]
    assert secret == bot.settings.webhook_secret and len(secret) == 64
    set_webhook = telegram.sent("setWebhook")[-1]
    assert set_webhook.params["allowed_updates"] == list(Update.ALL_TYPES)
    assert set_webhook.params["drop_pending_updates"] is False
    assert not telegram.sent("getUpdates") and not telegram.sent("deleteWebhook")

    telegram.send_photo(CHAT, USER, image_bytes(1280, 720), caption="a kite over the dunes")
    await bot.reply_to(CHAT, text_contains="image 1")
    generate = telegram.send_text(CHAT, USER, "/generate")
    submission = await evolink.wait_for_submission()
    assert submission.body["prompt"] == "a kite over the dunes"
    await evolink.complete(submission.task_id)
    video = await bot.video_in(CHAT)
    assert video.params["reply_parameters"]["message_id"] == generate["message_id"]

    # Every update came by webhook, each accepted at the first try, in order.
    deliveries = telegram.webhook_deliveries
    assert len(deliveries) == 2 and all(d.ok and d.url == url for d in deliveries)
    assert [d.update_id for d in deliveries] == sorted(d.update_id for d in deliveries)
    assert not telegram.sent("getUpdates")

    # Requests without the secret are refused before anything is read or handled.
    forged = _forged_update(666, "/generate")
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        assert (await client.post(url, json=forged)).status_code == 403
        wrong = {SECRET_HEADER: "x" * len(secret)}
        assert (await client.post(url, json=forged, headers=wrong)).status_code == 403
        almost = {SECRET_HEADER: secret[:-1]}
        assert (await client.post(url, json=forged, headers=almost)).status_code == 403
        assert (await client.get(url, headers={SECRET_HEADER: secret})).status_code == 405
        good = {SECRET_HEADER: secret, "content-type": "application/json"}
        bad = await client.post(url, content=b'{"update_id": 1, "message": ', headers=good)
        assert bad.status_code == 400
        assert (await client.post(url, content=b"[1, 2]", headers=good)).status_code == 400
        huge = json.dumps({"update_id": 7, "pad": "x" * (1024 * 1024)}).encode()
        assert (await client.post(url, content=huge, headers=good)).status_code == 413
    await asyncio.sleep(0.5)
    assert not telegram.sent(chat_id=666)  # the forged update never reached the handlers

    # Back to long polling: start_polling deletes the webhook, getUpdates works again.
    restarted = time.time()
    bot.overrides["telegram_webhook_url"] = ""
    await bot.restart()
    assert telegram.webhook["url"] == ""
    assert [c for c in telegram.sent("deleteWebhook") if c.at >= restarted and c.ok]
    delivered = len(telegram.webhook_deliveries)
    telegram.send_photo(CHAT, USER, image_bytes(800, 800), caption="a lantern in fog")
    await telegram.wait_for(
        lambda c: (
            c.method in {"sendMessage", "editMessageText"}
            and c.at >= restarted
            and "image 1" in c.text
        )
    )
    polled = [c for c in telegram.sent("getUpdates") if c.at >= restarted and c.result]
    assert polled, telegram.dump()
    assert len(telegram.webhook_deliveries) == delivered
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        gone = await client.post(url, json=forged, headers={SECRET_HEADER: secret})
    assert gone.status_code == 404  # no webhook route in polling mode


@pytest.mark.e2e
async def test_the_fake_telegram_retries_a_refused_update_then_polling_gets_the_rest(
    telegram: FakeTelegram,
) -> None:
    telegram.webhook_retry_delays = (0.05, 0.05)
    seen: list[tuple[int, str | None]] = []
    answers = [500, 503, 200, 200]

    async def receive(request: Request) -> Response:
        seen.append(((await request.json())["update_id"], request.headers.get(SECRET_HEADER)))
        return Response(status_code=answers.pop(0) if answers else 200)

    server = LoopbackServer(Starlette(routes=[Route("/hook", receive, methods=["POST"])]))
    url = await server.start() + "/hook"
    api = f"{telegram.base_url}{telegram.token}"
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(f"{api}/setWebhook", data={"url": url, "secret_token": "s"})
            assert answer.json()["ok"] is True
            first = telegram.send_text(CHAT, USER, "one")
            telegram.send_text(CHAT, USER, "two")
            await eventually(lambda: len(telegram.webhook_deliveries) >= 4, what="4 deliveries")
            # The first update three times (500, 503, then 200), then the second: in order.
            ids = [update_id for update_id, _ in seen]
            assert ids[:3] == [ids[0]] * 3 and ids[3] == ids[0] + 1
            assert all(header == "s" for _, header in seen)
            assert [d.status for d in telegram.webhook_deliveries] == [500, 503, 200, 200]
            conflict = await client.post(f"{api}/getUpdates")
            assert conflict.json()["error_code"] == 409

            answers.extend([500] * 10)  # the bot is down: Telegram gives up after a few tries
            telegram.send_text(CHAT, USER, "three")
            await asyncio.sleep(0.5)
            assert [d.status for d in telegram.webhook_deliveries][4:] == [500, 500, 500]

            assert (await client.post(f"{api}/deleteWebhook")).json()["ok"] is True
            telegram.send_text(CHAT, USER, "four")
            polled = (await client.post(f"{api}/getUpdates")).json()["result"]
            assert [u["message"]["text"] for u in polled] == ["four"]
            assert first["message_id"] < polled[0]["message"]["message_id"]
    finally:
        await server.stop()


@pytest.fixture
async def route_client() -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def on_update(data: dict[str, Any]) -> None:
        received.append(data)

    app = Starlette(routes=[webhook_route("/tg", secret="abc_DEF-1", on_update=on_update)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        yield client, received


async def test_the_route_limits_bodies_without_a_content_length(
    route_client: tuple[httpx.AsyncClient, list[dict[str, Any]]],
) -> None:
    client, received = route_client
    headers = {SECRET_HEADER: "abc_DEF-1"}

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"update_id": 5, "pad": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    assert (await client.post("/tg", content=chunks(), headers=headers)).status_code == 413
    ok = await client.post("/tg", json={"update_id": 5, "message": {}}, headers=headers)
    assert ok.status_code == 200 and ok.content == b""
    assert (await client.post("/tg", json={"no": "id"}, headers=headers)).status_code == 400
    assert (await client.post("/tg", content=b"\xff\xfe", headers=headers)).status_code == 400
    assert received == [{"update_id": 5, "message": {}}]


def test_webhook_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    base: dict[str, object] = dict(telegram_bot_token=TOKEN, evolink_api_key="k")
    polling = load_settings(**base)
    assert polling.webhook_enabled is False and polling.telegram_webhook_url == ""

    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.com/telegram")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "")  # empty: derived from the token
    settings = load_settings(**base)
    assert settings.webhook_enabled and settings.webhook_path == "/telegram"
    derived = settings.webhook_secret
    assert len(derived) == 64 and derived.isalnum()
    assert derived == load_settings(**base).webhook_secret  # stable across restarts
    other_token = load_settings(**(base | {"telegram_bot_token": TOKEN[:-1] + "b"}))
    assert other_token.webhook_secret != derived
    assert TOKEN.split(":")[1] not in derived

    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "my_Secret-123")
    assert load_settings(**base).webhook_secret == "my_Secret-123"
    for value in ("has space", "semi;colon", "x" * 257):
        monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", value)
        with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET") as info:
            load_settings(**base)
        assert value not in str(info.value)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")

    for url in (
        "ftp://bot.example.com/x",
        "bot.example.com/telegram",
        "https://h/healthz",
        "https://h/tg/{x}",
        "https://h/tg?x=1",
    ):
        monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", url)
        with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL"):
            load_settings(**base)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://h/media/x")
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL"):
        load_settings(**base)


@pytest.mark.e2e
async def test_webhook_and_s3_in_a_real_process_keep_every_secret_out_of_the_log(
    telegram: FakeTelegram, evolink: FakeEvolink, s3: FakeS3, tmp_path: Path
) -> None:
    bucket = s3.create_bucket()
    process = BotProcess(
        telegram,
        evolink,
        tmp_path / "data",
        LOG_LEVEL="DEBUG",
        MEDIA_HOSTING="s3",
        S3_ENDPOINT_URL=s3.endpoint_url,
        S3_BUCKET=bucket,
        S3_ACCESS_KEY_ID=s3.access_key_id,
        S3_SECRET_ACCESS_KEY=s3.secret_access_key,
        TELEGRAM_WEBHOOK_SECRET="process_webhook_secret-0123456789",
    )
    process.env["TELEGRAM_WEBHOOK_URL"] = f"http://127.0.0.1:{process.port}/telegram"
    try:
        await process.start()
        assert telegram.webhook["secret_token"] == "process_webhook_secret-0123456789"
        telegram.send_photo(CHAT, USER, image_bytes(800, 800), caption="a bell tower at dawn")
        telegram.send_text(CHAT, USER, "/generate")
        submission = await evolink.wait_for_submission(timeout=20)
        assert submission.body["image_urls"][0].startswith(f"{s3.endpoint_url}/{bucket}/")
        await evolink.complete(submission.task_id)
        await telegram.wait_for(lambda c: c.method == "sendVideo" and c.ok, timeout=20)
        assert await process.terminate() == 0
    finally:
        await process.kill()
    log = process.log
    assert "DEBUG" in log and "webhook at http://127.0.0.1" in log
    for secret in (
        "process_webhook_secret-0123456789",
        s3.secret_access_key,
        telegram.token.split(":")[1],
        evolink.api_key,
    ):
        assert secret not in log
    database = (tmp_path / "data" / "bot.sqlite3").read_bytes()
    assert s3.secret_access_key.encode() not in database
    assert b"process_webhook_secret" not in database


@pytest.mark.e2e
async def test_an_update_answered_200_survives_a_sigkill_before_it_is_handled(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    # Telegram forgets an update once the webhook answered 200: from then on only the bot's
    # inbox remembers it.
    process = BotProcess(
        telegram, evolink, tmp_path / "data", TELEGRAM_WEBHOOK_SECRET="survive_secret-0123456789"
    )
    process.env["TELEGRAM_WEBHOOK_URL"] = f"http://127.0.0.1:{process.port}/telegram"
    try:
        await process.start()
        telegram.send_photo(CHAT, USER, image_bytes(800, 600), caption="a lost request")
        await telegram.wait_for(lambda c: c.method == "sendMessage" and "image 1" in c.text)
        telegram.set_delay("sendMessage", 3)  # /help is answered slowly; /generate waits behind
        telegram.send_text(CHAT, USER, "/help")
        telegram.send_text(CHAT, USER, "/generate")
        last = telegram.last_update_id
        await eventually(
            lambda: any(d.ok and d.update_id == last for d in telegram.webhook_deliveries),
            what="the /generate update answered 200",
        )
        await process.kill()
        assert telegram.unconfirmed_updates() == 0  # nothing left for Telegram to re-send
        telegram.set_delay("sendMessage", 0)
        await process.start()
        submission = await evolink.wait_for_submission(timeout=20)
        assert submission.body["prompt"] == "a lost request"
    finally:
        await process.kill()
