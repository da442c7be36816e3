"""One person's flood of updates never delays anyone else, and a crash in the middle of it loses
none of them: every update is in the inbox before Telegram may forget it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import MakeBot
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotProcess

pytestmark = pytest.mark.e2e

FLOODER, OTHER = 4101, 4102
FLOOD = 300
PROMPT = re.compile(r"flood (\d{3})")


def _flood(telegram: FakeTelegram) -> None:
    for n in range(FLOOD):
        telegram.send_text(FLOODER, FLOODER, f"flood {n:03}")


def _prompts_shown(telegram: FakeTelegram) -> list[int]:
    """The flood prompts the bot showed back to the flooder, in the order it showed them."""
    shown: list[int] = []
    for call in telegram.calls:
        if call.ok and call.method == "sendMessage" and call.params.get("chat_id") == FLOODER:
            shown.extend(int(n) for n in PROMPT.findall(call.text))
    return shown


def _to(chat: int):  # type: ignore[no-untyped-def]
    return lambda c: c.ok and c.method == "sendMessage" and c.params.get("chat_id") == chat


async def test_one_persons_flood_does_not_delay_another_persons_reply(
    make_bot: MakeBot, telegram: FakeTelegram
) -> None:
    bot = await make_bot()
    telegram.set_delay("sendMessage", 0.03, chat_id=FLOODER)  # each of their replies takes time
    _flood(telegram)
    await telegram.wait_for(_to(FLOODER))  # the backlog is being worked through
    asked = asyncio.get_running_loop().time()
    telegram.send_text(OTHER, OTHER, "/help")
    await telegram.wait_for(_to(OTHER), timeout=5)
    waited = asyncio.get_running_loop().time() - asked
    print(f"/help answered in {waited:.3f} s during the flood")
    assert waited < 1.0, f"/help waited {waited:.2f} s behind someone else's backlog"
    assert len(_prompts_shown(telegram)) < FLOOD  # the flood was still going on meanwhile

    await bot.reply_to(FLOODER, text_contains=f"flood {FLOOD - 1:03}", timeout=60)
    assert _prompts_shown(telegram) == list(range(FLOOD))  # all of it, in order


@pytest.fixture
async def process(
    telegram: FakeTelegram, evolink: FakeEvolink, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    # A restart takes over the backlog 100 updates at a time, a pass every REPLICA_TIMEOUT / 2
    # (15 s by default): 2 s makes the passes come every second.
    bot = BotProcess(telegram, evolink, tmp_path / "data", REPLICA_TIMEOUT_SECONDS="2")
    yield bot
    await bot.kill()


async def test_a_sigkill_in_the_middle_of_a_backlog_loses_none_of_it(
    process: BotProcess, telegram: FakeTelegram
) -> None:
    telegram.set_delay("sendMessage", 0.01, chat_id=FLOODER)
    await process.start()
    _flood(telegram)
    await telegram.wait_for(lambda c: _to(FLOODER)(c) and "flood 060" in c.text, timeout=30)
    await process.kill()
    handled_before = len(_prompts_shown(telegram))
    assert handled_before < FLOOD
    assert telegram.unconfirmed_updates() == 0  # Telegram considers every update delivered

    await process.start()
    await telegram.wait_for(
        lambda c: _to(FLOODER)(c) and f"flood {FLOOD - 1:03}" in c.text, timeout=60
    )
    shown = _prompts_shown(telegram)
    assert sorted(set(shown)) == list(range(FLOOD)), "some updates were lost"
    # In order on both sides of the crash; at most the update in hand at the kill comes twice.
    first_seen = list(dict.fromkeys(shown))
    assert first_seen == list(range(FLOOD))
    assert len(shown) - FLOOD <= 1
