"""One person's updates stay in order; different people's run side by side."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from bot.update_order import PerChatUpdateProcessor


def _update(update_id: int, chat_id: int, user_id: int) -> Update:
    user = User(id=user_id, first_name="u", is_bot=False)
    chat = Chat(id=chat_id, type="private")
    message = Message(message_id=update_id, date=None, chat=chat, from_user=user)  # type: ignore[arg-type]
    return Update(update_id=update_id, message=message)


async def test_a_slow_update_of_one_person_does_not_hold_up_another() -> None:
    processor = PerChatUpdateProcessor()
    order: list[str] = []
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()
        order.append("alice-1")

    async def record(name: str) -> None:
        order.append(name)

    alice_1 = asyncio.create_task(processor.process_update(_update(1, 10, 10), slow()))
    alice_2 = asyncio.create_task(processor.process_update(_update(2, 10, 10), record("alice-2")))
    bob = asyncio.create_task(processor.process_update(_update(3, 20, 20), record("bob")))
    await bob
    assert order == ["bob"]  # Bob did not wait for Alice's slow update
    release.set()
    await asyncio.gather(alice_1, alice_2)
    assert order == ["bob", "alice-1", "alice-2"]  # Alice's stayed in order
    assert processor._locks == {}  # nothing kept once idle


class _OvertakingInbox:
    """An inbox whose first write is the slowest, as pooled PostgreSQL writes can be."""

    def __init__(self) -> None:
        self.delays = [0.2, 0.0, 0.0]
        self.kept: list[int] = []

    async def put(self, update_id: int, body: str) -> None:
        await asyncio.sleep(self.delays.pop(0) if self.delays else 0)
        self.kept.append(update_id)

    async def done(self, update_id: int) -> None:
        self.kept.remove(update_id)


async def test_a_slow_inbox_write_does_not_let_a_later_update_overtake() -> None:
    processor = PerChatUpdateProcessor()
    inbox = _OvertakingInbox()
    processor.inbox = inbox  # type: ignore[assignment]
    order: list[int] = []

    async def record(n: int) -> None:
        order.append(n)

    # The photo, its caption's /generate, then /cancel: handled in the order sent.
    await asyncio.gather(
        *(processor.process_update(_update(n, 10, 10), record(n)) for n in (1, 2, 3))
    )
    assert order == [1, 2, 3]
    assert inbox.kept == []
