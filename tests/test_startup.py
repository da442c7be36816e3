"""Start-up as the person who runs the bot sees it: `python -m bot` as a real process, against
the fake Telegram and Evolink. Each problem is one line naming the setting, never a traceback,
never the token; Telegram that does not answer yet is waited for."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter

from bot.runtime.startup import StartupError, Stopped, listen_socket, until_telegram_answers
from tests.fakes.evolink import SUBMIT_PATH, FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.faultkit import eventually
from tests.harness import BotProcess
from tests.mediagen import image_bytes

pytestmark = pytest.mark.e2e

CHAT = 611
# Shaped like a real token (digits, colon, 35 characters), and not the one the fake accepts.
OTHER_TOKEN = "7000000001:" + "AAH" + "x7Rq2pLmZ9vKc3TfWbN8yJd4GsUe1oQiXa"


@pytest.fixture
async def processes(tmp_path: Path) -> AsyncIterator[list[BotProcess]]:
    """Bot processes made by a test; killed at the end whatever happened."""
    made: list[BotProcess] = []
    yield made
    for process in made:
        await process.kill()


def bot_process(
    made: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp: Path, **env: str
) -> BotProcess:
    process = BotProcess(telegram, evolink, tmp / "data", **env)
    made.append(process)
    return process


def lines(process: BotProcess) -> list[str]:
    return process.log.splitlines()


def assert_no_secret(process: BotProcess, token: str) -> None:
    """Neither the token nor its secret half (as a URL would encode it) is anywhere."""
    assert token not in process.log
    assert token.partition(":")[2] not in process.log
    assert "Traceback" not in process.log


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _telegram_at(port: int) -> dict[str, str]:
    return {
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "TELEGRAM_FILE_BASE_URL": f"http://127.0.0.1:{port}/file/bot",
    }


# ---------------------------------------------------------------- a token Telegram rejects


async def test_a_rejected_token_is_one_line_naming_it_and_exit_status_2(
    processes: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    process = bot_process(processes, telegram, evolink, tmp_path, TELEGRAM_BOT_TOKEN=OTHER_TOKEN)
    await process.launch()
    assert await process.exit_code() == 2
    [line] = lines(process)
    assert "ERROR" in line
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in line
    assert "@BotFather" in line and "/revoke" in line
    assert_no_secret(process, OTHER_TOKEN)


# ---------------------------------------------------------------- Telegram not answering yet


async def test_telegram_unreachable_at_boot_is_waited_for_then_the_bot_serves(
    processes: list[BotProcess], evolink: FakeEvolink, tmp_path: Path
) -> None:
    port = _free_port()
    telegram = FakeTelegram()  # not started yet: connections to `port` are refused
    process = bot_process(processes, telegram, evolink, tmp_path, **_telegram_at(port))
    await process.launch()
    await eventually(lambda: len(lines(process)) >= 2, what="two warnings")
    await telegram.start(port=port)
    try:
        await telegram.wait_for(lambda c: c.ok and c.method == "deleteWebhook", timeout=30)
        async with httpx.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{process.port}/healthz")
        assert health.status_code == 200
        assert await process.terminate() == 0
    finally:
        await telegram.stop()

    output = lines(process)
    waits = [line for line in output if "did not answer getMe" in line]
    # Every line until Telegram answered is one WARNING per failed try, with a growing wait.
    assert output[: len(waits)] == waits
    assert all(" WARNING " in line for line in waits)
    assert "trying again in 1 s" in waits[0] and "trying again in 2 s" in waits[1]
    assert f"Telegram (127.0.0.1:{port})" in waits[0]
    assert any("bot running" in line for line in output[len(waits) :])
    assert_no_secret(process, telegram.token)


async def test_sigterm_while_telegram_is_unreachable_exits_cleanly(
    processes: list[BotProcess], evolink: FakeEvolink, tmp_path: Path
) -> None:
    telegram = FakeTelegram()
    process = bot_process(processes, telegram, evolink, tmp_path, **_telegram_at(_free_port()))
    await process.launch()
    await eventually(lambda: "did not answer getMe" in process.log, what="a warning")
    assert await process.terminate(timeout=10) == 0
    output = lines(process)
    assert all("did not answer getMe" in line for line in output[:-1])
    assert "stopped before Telegram answered" in output[-1]
    assert_no_secret(process, telegram.token)


@pytest.mark.parametrize(
    ("mode", "methods"),
    [("polling", ["setMyCommands", "deleteWebhook"]), ("webhook", ["setWebhook"])],
)
async def test_a_blip_on_the_later_start_up_calls_is_one_warning_each(
    processes: list[BotProcess],
    telegram: FakeTelegram,
    evolink: FakeEvolink,
    tmp_path: Path,
    mode: str,
    methods: list[str],
) -> None:
    for method in methods:
        telegram.fail_next(method, error_code=502, description="Bad Gateway")
    process = bot_process(processes, telegram, evolink, tmp_path)
    if mode == "webhook":
        process.env["TELEGRAM_WEBHOOK_URL"] = f"http://127.0.0.1:{process.port}/telegram"
    await process.start()
    assert await process.terminate() == 0
    warnings = [line for line in lines(process) if " WARNING " in line]
    assert [w.split(" did not answer ")[1].split(":")[0] for w in warnings] == methods
    assert all("Bad Gateway; trying again in 1 s" in w for w in warnings)
    assert_no_secret(process, telegram.token)


async def test_a_webhook_telegram_refuses_is_named_and_exit_status_2(
    processes: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    refusal = "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
    telegram.fail_next("setWebhook", error_code=400, description=refusal)
    process = bot_process(processes, telegram, evolink, tmp_path)
    process.env["TELEGRAM_WEBHOOK_URL"] = f"http://127.0.0.1:{process.port}/telegram"
    await process.launch()
    assert await process.exit_code() == 2
    last = lines(process)[-1]
    assert " ERROR " in last and "check TELEGRAM_WEBHOOK_URL" in last and "ports 80, 88" in last
    assert_no_secret(process, telegram.token)


async def test_an_unusable_data_dir_is_one_line_naming_it_and_exit_status_2(
    processes: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    process = bot_process(processes, telegram, evolink, tmp_path, DATA_DIR=str(not_a_dir / "d"))
    await process.launch()
    assert await process.exit_code() == 2
    [line] = lines(process)
    assert f"DATA_DIR {not_a_dir / 'd'} cannot hold the bot's files" in line
    assert_no_secret(process, telegram.token)


# ---------------------------------------------------------------- the web server's port


async def test_a_busy_http_port_is_one_line_naming_it_and_exit_status_2(
    processes: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    process = bot_process(processes, telegram, evolink, tmp_path)
    with socket.socket() as other:
        other.bind(("127.0.0.1", process.port))
        other.listen()
        await process.launch()
        assert await process.exit_code(timeout=30) == 2
    [line] = lines(process)
    assert f"HTTP_PORT {process.port} is already in use on HTTP_HOST 127.0.0.1" in line
    assert not telegram.calls  # the port is checked before anything else
    assert_no_secret(process, telegram.token)


# ---------------------------------------------------------------- the Evolink key


async def test_a_refused_api_key_is_one_error_line_and_the_bot_says_so_to_users(
    processes: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    wrong_key = "sk-" + "refused-" + "4f9a1c77e2"
    # The user is one of the bot's admins: only they read the account's balance.
    process = bot_process(
        processes, telegram, evolink, tmp_path, EVOLINK_API_KEY=wrong_key, ADMIN_USER_IDS=str(CHAT)
    )
    await process.start()
    await eventually(lambda: " ERROR " in process.log, what="the ERROR line")
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{process.port}/healthz")).json()
    assert health["upstream"] == "key refused"

    telegram.send_photo(CHAT, CHAT, image_bytes(800, 600), caption="a kite over dunes")
    telegram.send_text(CHAT, CHAT, "/generate")
    answer = await telegram.wait_for(
        lambda c: c.method == "sendMessage" and "not set up right" in c.text, timeout=20
    )
    assert "owner has been told" in answer.text
    telegram.send_text(CHAT, CHAT, "/balance")
    balance = await telegram.wait_for(
        lambda c: c.method == "sendMessage" and "read the balance" in c.text, timeout=20
    )
    assert "not set up right" in balance.text
    assert ("POST", SUBMIT_PATH) not in evolink.requests  # nothing was sent to be paid for
    assert await process.terminate() == 0

    errors = [line for line in lines(process) if " ERROR " in line]
    assert len(errors) == 1
    assert "EVOLINK_API_KEY" in errors[0] and "the bot runs" in errors[0]
    assert wrong_key not in process.log
    assert_no_secret(process, telegram.token)


async def test_evolink_unreachable_at_boot_is_one_warning_and_the_bot_runs(
    processes: list[BotProcess], telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> None:
    down = f"http://127.0.0.1:{_free_port()}"
    process = bot_process(processes, telegram, evolink, tmp_path, EVOLINK_BASE_URL=down)
    await process.start()
    await eventually(lambda: " WARNING " in process.log, what="the warning")
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{process.port}/healthz")).json()
    assert health["upstream"] == "unreachable"
    await asyncio.sleep(3.5)  # the background check has tried again twice by now
    assert await process.terminate() == 0
    warnings = [line for line in lines(process) if " WARNING " in line or " ERROR " in line]
    assert len(warnings) == 1
    assert "EVOLINK_BASE_URL" in warnings[0] and "checking again" in warnings[0]
    assert_no_secret(process, telegram.token)


# ---------------------------------------------------------------- an unexpected error


CRASH = """
import threading
import bot.__main__ as entry

async def crash(settings, **_):
    token = settings.telegram_bot_token.get_secret_value()

    def leak():
        raise ValueError("a thread saw " + token)

    if "{where}" == "thread":
        worker = threading.Thread(target=leak)
        worker.start()
        worker.join()
    raise RuntimeError(f"could not use {{token}} or %3A{{token.partition(':')[2]}}")

entry.serve = crash
entry.main()
"""


@pytest.mark.parametrize("where", ["main", "thread"])
async def test_an_unexpected_error_has_its_traceback_scrubbed(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path, where: str
) -> None:
    process = BotProcess(telegram, evolink, tmp_path / "data")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASH.format(where=where),
        env=process.env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(child.communicate(), 60))[0].decode()
    assert child.returncode == 1
    assert "CRITICAL bot: the bot stopped on an unexpected error" in output
    assert "RuntimeError: could not use [redacted] or %3A[redacted]" in output
    if where == "thread":
        assert "CRITICAL bot: uncaught error" in output
        assert "ValueError: a thread saw [redacted]" in output
    assert telegram.token not in output
    assert telegram.token.partition(":")[2] not in output


# ---------------------------------------------------------------- the pieces, quickly


def test_a_busy_port_is_named_in_process() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(StartupError, match=f"HTTP_PORT {port} is already in use"):
            listen_socket("127.0.0.1", port)


async def test_retries_back_off_to_the_cap_and_honour_flood_control(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[Exception] = [
        NetworkError("httpx.ConnectError: refused"),
        NetworkError("Bad Gateway"),
        RetryAfter(0.05),
        NetworkError("httpx.ConnectError: refused"),
        NetworkError("httpx.ConnectError: refused"),
    ]

    async def get_me() -> str:
        if failures:
            raise failures.pop(0)
        return "me"

    result = await until_telegram_answers(
        "getMe", get_me, stop=asyncio.Event(), where="t", first_delay=0.01, max_delay=0.04
    )
    assert result == "me"
    waits = [
        r.getMessage().rpartition("in ")[2]
        for r in caplog.records
        if r.name == "bot.runtime.startup"
    ]
    assert waits == ["0.01 s", "0.02 s", "0.05 s", "0.04 s", "0.04 s"]


@pytest.mark.parametrize(
    ("error", "raised"),
    [(InvalidToken("Unauthorized"), StartupError), (BadRequest("x"), BadRequest)],
)
async def test_refusals_are_not_retried(error: Exception, raised: type[Exception]) -> None:
    calls = 0

    async def get_me() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(raised):
        await until_telegram_answers("getMe", get_me, stop=asyncio.Event(), where="t")
    assert calls == 1


async def test_stop_ends_the_wait_at_once() -> None:
    stop = asyncio.Event()

    async def get_me() -> None:
        raise NetworkError("httpx.ConnectError: refused")

    waiting = asyncio.create_task(
        until_telegram_answers("getMe", get_me, stop=stop, where="t", first_delay=30)
    )
    await asyncio.sleep(0.05)
    stop.set()
    with pytest.raises(Stopped):
        await asyncio.wait_for(waiting, 1)
