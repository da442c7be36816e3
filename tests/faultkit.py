"""Helpers shared by the fault-injection tests: drive a request, then read what the user saw
(the fake Telegram), what was spent (the fake Evolink) and what the bot recorded (its database)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage import SqliteDatabase, Store
from storage.models import Draft, DraftState, Task
from tests.fakes.evolink import SUBMIT_PATH, FakeEvolink
from tests.fakes.telegram import Call, FakeTelegram
from tests.harness import BotUnderTest
from tests.mediagen import image_bytes

# What the user reads when…
NOTHING_SUBMITTED = "nothing was submitted"  # …a refusal proves nothing was paid
UNCONFIRMED_WAITING = "if it did, the video will arrive here"  # …an answer was lost, callbacks on
UNTRACEABLE = "no way to follow it"  # …an answer was lost and callbacks are off


async def draft_and_generate(
    bot: BotUnderTest, chat: int, *, prompt: str, width: int = 900, height: int = 700
) -> dict[str, Any]:
    """A photo with `prompt` as caption, its summary awaited, then /generate; returns that
    /generate message."""
    bot.telegram.send_photo(chat, chat, image_bytes(width, height), caption=prompt)
    await bot.reply_to(chat, text_contains="image 1")
    return bot.telegram.send_text(chat, chat, "/generate")


def submit_posts(evolink: FakeEvolink) -> int:
    """How many submit requests reached the fake Evolink, accepted or not."""
    return sum(1 for method, path in evolink.requests if method == "POST" and path == SUBMIT_PATH)


def texts(telegram: FakeTelegram, chat: int) -> list[str]:
    """Every text the user of `chat` was shown (sent or edited in), in order."""
    return [
        c.text
        for c in telegram.calls
        if c.ok
        and c.method in {"sendMessage", "editMessageText"}
        and c.params.get("chat_id") == chat
    ]


def videos(telegram: FakeTelegram, chat: int) -> list[Call]:
    """The videos that reached `chat`."""
    return [c for c in telegram.sent("sendVideo", chat) if c.ok]


async def settle(seconds: float = 0.6) -> None:
    """Give a bot that should be idle the time to do something it should not."""
    await asyncio.sleep(seconds)


async def eventually(
    check: Callable[[], bool], *, timeout: float = 15.0, what: str = "condition"
) -> None:
    """Wait until `check()` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.05)


class BotRecords:
    """Read-only view of the bot's database, opened beside the running bot (SQLite WAL)."""

    def __init__(self, data_dir: Path) -> None:
        self.store = Store(SqliteDatabase(data_dir / "bot.sqlite3"))

    async def __aenter__(self) -> BotRecords:
        await self.store.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.store.close()

    async def tasks(self) -> list[Task]:
        """Every task row, oldest first."""
        rows = await self.store.db.fetchall("SELECT id FROM tasks ORDER BY id")
        found = [await self.store.tasks.get(int(row[0])) for row in rows]
        return [task for task in found if task is not None]

    async def drafts(self) -> list[Draft]:
        """Every draft row, oldest first."""
        rows = await self.store.db.fetchall("SELECT id FROM drafts ORDER BY id")
        found = [await self.store.drafts.get(int(row[0])) for row in rows]
        return [draft for draft in found if draft is not None]

    async def open_drafts(self) -> list[Draft]:
        """The drafts users can still add to and submit."""
        return [d for d in await self.drafts() if d.state is DraftState.OPEN]


async def records(bot: BotUnderTest) -> tuple[list[Task], list[Draft]]:
    """The bot's tasks and drafts right now."""
    async with BotRecords(bot.data_dir) as db:
        return await db.tasks(), await db.drafts()
