"""One person's updates stay in order; different people's run side by side."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from bot.telegram.update_order import PerChatUpdateProcessor


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
    assert processor._tails == {}  # nothing kept once idle
