"""One person's updates reaching different replicas are handled in order, each once: an update
waits for the person's earlier one another replica holds, and takes over (handling it first)
one that a stopped replica left. Two replicas in one process, on one database (both engines)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram import Chat, Message, Update, User

from bot.telegram.inbox import DurableUpdateQueue, PersonTurns
from bot.telegram.update_order import PerChatUpdateProcessor
from storage import Store, database_at
from tests.conftest import on_both_engines

pytestmark = on_both_engines

ALICE = 10


def _update(update_id: int, user: int = ALICE) -> Update:
    sender = User(id=user, first_name="u", is_bot=False)
    chat = Chat(id=user, type="private")
    message = Message(
        message_id=update_id,
        date=datetime.now(UTC),
        chat=chat,
        from_user=sender,
        text=f"m{update_id}",
    )
    return Update(update_id=update_id, message=message)


class Replica:
    """The update path of one replica: its queue (writing the inbox), its processor, its turns;
    handling an update records it in `handled` (shared by all replicas)."""

    def __init__(self, store: Store, handled: list[tuple[str, int]]) -> None:
        self.store, self.handled = store, handled
        self.queue = DurableUpdateQueue()
        self.queue.inbox = store.inbox
        self.queue.shared = True
        self.processor = PerChatUpdateProcessor()
        self.processor.on_handled = self.queue.handled
        self.processor.turn = PersonTurns(
            queue=self.queue,
            inbox=store.inbox,
            processor=self.processor,
            alive_since=lambda: time.time() - 30,
        )
        self.processor.handle_body = self._handle_body

    async def _handle_body(self, body: str) -> None:
        self.handled.append((self.store.replica_id, int(json.loads(body)["update_id"])))

    async def receive(
        self, update: Update, work: asyncio.Event | None = None
    ) -> asyncio.Task[None]:
        """The update arrives here (as a webhook request would): written, then handled."""
        await self.queue.put(update)
        if self.queue.empty():
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return asyncio.ensure_future(done)
        return self.handle_next(work)

    def handle_next(self, work: asyncio.Event | None = None) -> asyncio.Task[None]:
        """Take the next update from the queue and handle it (as python-telegram-bot does)."""
        queued = self.queue.get_nowait()

        async def handle() -> None:
            if work is not None:
                await work.wait()
            self.handled.append((self.store.replica_id, queued.update_id))  # type: ignore[attr-defined]

        return asyncio.create_task(self.processor.process_update(queued, handle()))


@pytest.fixture
async def stores(tmp_path: Path, database_url: str | None) -> AsyncIterator[list[Store]]:
    opened = []
    for name in ("a", "b"):
        store = Store(
            database_at(database_url, sqlite_path=tmp_path / "bot.sqlite3"), replica_id=name
        )
        await store.open()
        await store.replicas.beat()
        opened.append(store)
    yield opened
    for store in opened:
        await store.close()


async def test_a_persons_update_waits_for_their_earlier_one_on_another_replica(
    stores: list[Store],
) -> None:
    handled: list[tuple[str, int]] = []
    a, b = Replica(stores[0], handled), Replica(stores[1], handled)
    slow = asyncio.Event()
    first = await a.receive(_update(1), work=slow)  # on a, and slow
    second = await b.receive(_update(2))  # on b: must wait for a's
    other = await b.receive(_update(3, user=20))  # someone else's: goes at once
    await other
    await asyncio.sleep(0.3)
    assert handled == [("b", 3)]
    slow.set()
    await asyncio.gather(first, second)
    assert handled == [("b", 3), ("a", 1), ("b", 2)]


async def test_an_update_left_by_a_stopped_replica_is_taken_over_and_handled_first(
    stores: list[Store],
) -> None:
    handled: list[tuple[str, int]] = []
    a, b = Replica(stores[0], handled), Replica(stores[1], handled)
    never = asyncio.Event()
    stuck = await a.receive(_update(1), work=never)  # a takes it, then stops
    second = await b.receive(_update(2))
    await asyncio.sleep(0.2)
    assert handled == []
    stuck.cancel()
    await stores[0].replicas.leave()  # a is gone: its update is anyone's
    await asyncio.wait_for(second, 10)
    assert handled == [("b", 1), ("b", 2)]  # taken over, in order, each once
    copy = await stores[1].inbox.record(keep=[(1, "{}", (ALICE, ALICE))], forget=[])
    assert copy.new == set()
    assert await stores[1].inbox.take_orphans(alive_since=time.time() - 30) == []


async def test_updates_a_previous_run_left_are_handled_once_each_in_their_order(
    stores: list[Store],
) -> None:
    gone, here = stores
    bodies = [(n, json.dumps(_update(n).to_dict()), (ALICE, ALICE)) for n in (1, 2, 3)]
    await gone.inbox.record(keep=bodies, forget=[])
    await gone.replicas.leave()
    handled: list[tuple[str, int]] = []
    b = Replica(here, handled)
    b.queue.shared = False  # one process: handled marks are written in the background
    for _, body in await here.inbox.take_orphans(alive_since=time.time() - 30):
        b.queue.requeue(Update.de_json(json.loads(body), None))  # type: ignore[arg-type]
    await asyncio.wait_for(asyncio.gather(*(b.handle_next() for _ in range(3))), 10)
    assert handled == [("b", 1), ("b", 2), ("b", 3)]
    for _ in range(100):  # the marks reach the inbox
        if not await here.inbox.earlier((ALICE, ALICE), 4, alive_since=time.time() - 30):
            break
        await asyncio.sleep(0.05)
    assert await here.inbox.earlier((ALICE, ALICE), 4, alive_since=time.time() - 30) == []
