"""The inbox is written in batches, and always before Telegram may forget an update."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from telegram import Chat, Message, Update, User

from bot.telegram.inbox import DurableUpdateQueue
from bot.telegram.requests import GatedGetUpdates
from storage import Store, database_at
from storage.inbox import InboxStore, Key, Recorded
from tests.conftest import on_both_engines


def _update(update_id: int) -> Update:
    user = User(id=7, first_name="u", is_bot=False)
    message = Message(
        message_id=update_id, date=None, chat=Chat(id=7, type="private"), from_user=user
    )  # type: ignore[arg-type]
    return Update(update_id=update_id, message=message)


class _SlowInbox:
    """Records what is written, each batch taking a moment (as a commit does)."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[int], list[int]]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def record(
        self, *, keep: list[tuple[int, str, Key | None]], forget: list[int], look_behind: bool
    ) -> Recorded:
        await self.release.wait()
        await asyncio.sleep(0.01)
        self.batches.append(([update_id for update_id, _, _ in keep], list(forget)))
        return Recorded(new={update_id for update_id, _, _ in keep}, behind=set())


def _queue() -> tuple[DurableUpdateQueue, _SlowInbox]:
    queue, inbox = DurableUpdateQueue(), _SlowInbox()
    queue.inbox = inbox  # type: ignore[assignment]
    return queue, inbox


async def test_a_batch_of_updates_is_written_in_one_go_before_durable_returns() -> None:
    queue, inbox = _queue()
    for n in range(1, 101):
        await queue.put(_update(n))
    assert queue.qsize() == 100  # queued at once, for handling to start
    await queue.durable()
    assert [ids for ids, _ in inbox.batches] == [list(range(1, 101))]


async def test_an_update_handled_before_it_was_written_is_never_written() -> None:
    queue, inbox = _queue()
    inbox.release.clear()
    await queue.put(_update(1))
    await asyncio.sleep(0)  # the writer took update 1 and waits
    await queue.put(_update(2))
    await queue.handled(2)  # handled while still in memory: Telegram still has it too
    await queue.handled(1)  # handled while its row is being written: deleted afterwards
    inbox.release.set()
    await queue.durable()
    await asyncio.sleep(0.05)
    assert inbox.batches == [([1], []), ([], [1])]


async def test_get_updates_waits_for_the_inbox_and_nothing_else_does() -> None:
    queue, inbox = _queue()
    inbox.release.clear()
    await queue.put(_update(1))
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path.rsplit("/", 1)[-1])
        return httpx.Response(200, json={"ok": True, "result": []})

    request = GatedGetUpdates(queue.durable)
    request._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    poll = asyncio.create_task(request.do_request("https://t/bot1:x/getUpdates", "POST"))
    await request.do_request("https://t/bot1:x/sendMessage", "POST")
    await asyncio.sleep(0.05)
    assert sent == ["sendMessage"]  # the poll that would confirm update 1 waits
    inbox.release.set()
    await poll
    assert sent == ["sendMessage", "getUpdates"]
    assert inbox.batches == [([1], [])]


async def test_updates_are_kept_as_telegram_sent_them() -> None:
    # A field python-telegram-bot does not know stays too: replay sees what Telegram sent.
    sent = {
        "update_id": 5,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 7, "type": "private"},
            "text": "/help",
            "a_field_from_the_future": {"x": 1},
        },
    }
    answer = json.dumps({"ok": True, "result": [sent]}).encode()
    queue, inbox = _queue()
    kept: list[tuple[int, str]] = []
    record = inbox.record

    async def keeping(
        *, keep: list[tuple[int, str, Key | None]], forget: list[int], look_behind: bool
    ) -> Recorded:
        kept.extend((update_id, body) for update_id, body, _ in keep)
        return await record(keep=keep, forget=forget, look_behind=look_behind)

    inbox.record = keeping  # type: ignore[method-assign]
    request = GatedGetUpdates(queue.durable, queue.received)
    request._client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=answer))
    )
    await request.do_request("https://t/bot1:x/getUpdates", "POST")
    await queue.put(Update.de_json(sent, None))
    await queue.put(_update(6))  # not in the answer (or not a dict): serialised by the bot
    await queue.durable()
    assert [update_id for update_id, _ in kept] == [5, 6]
    assert json.loads(kept[0][1]) == sent
    assert json.loads(kept[1][1])["update_id"] == 6


@on_both_engines
async def test_the_inbox_store_keeps_and_forgets_in_one_transaction(
    tmp_path: Path, database_url: str | None
) -> None:
    store = Store(database_at(database_url, sqlite_path=tmp_path / "db.sqlite3"))
    await store.open()
    try:
        inbox: InboxStore = store.inbox
        kept = await inbox.record(
            keep=[(n, f'{{"update_id": {n}}}', (7, 7)) for n in range(1, 451)], forget=[]
        )
        assert kept.new == set(range(1, 451))
        await inbox.record(keep=[], forget=list(range(1, 401)))
        left = await inbox.earlier((7, 7), 1000, alive_since=0.0)
        assert [e.update_id for e in left] == list(range(401, 451))
    finally:
        await store.close()


@on_both_engines
async def test_with_several_replicas_an_update_is_queued_once_written_and_a_copy_not_at_all(
    tmp_path: Path, database_url: str | None
) -> None:
    stores = [
        Store(database_at(database_url, sqlite_path=tmp_path / "db.sqlite3"), replica_id=name)
        for name in ("a", "b")
    ]
    queues = []
    for store in stores:
        await store.open()
        queue = DurableUpdateQueue()
        queue.inbox, queue.shared = store.inbox, True
        queues.append(queue)
    a, b = queues
    try:
        # Webhook requests arriving together: one batch, each queued once it is written.
        await asyncio.gather(*(a.put_durably(_update(n)) for n in range(1, 21)))
        assert a.qsize() == 20
        await b.put_durably(_update(5))  # Telegram sent it again, to the other replica
        assert b.qsize() == 0
        await a.handled(5)
        await b.put_durably(_update(21))
        assert b.qsize() == 1
        assert 21 in b.behind  # Alice's updates 1-20 are a's and not all handled yet
    finally:
        for store in stores:
            await store.close()
