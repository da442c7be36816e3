"""Claims between replicas on one database: each piece of work is taken by exactly one replica,
and what a stopped replica held is taken over by a live one. Every test runs on SQLite and on
PostgreSQL, with several stores (replicas) on the same database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage import Store, database_at
from storage.inbox import Recorded
from storage.models import ChatKey, Delivery, Options, TaskStatus
from storage.tasks import TaskChange
from tests.conftest import on_both_engines
from tests.records import add_photo

pytestmark = on_both_engines

ALICE = ChatKey(chat_id=10, user_id=1)
ALICE_KEY = (10, 1)
BOB_KEY = (20, 2)


@pytest.fixture
async def replicas(
    tmp_path: Path, database_url: str | None
) -> AsyncIterator[Callable[[str], asyncio.Task[Store]]]:
    opened: list[Store] = []

    async def open_one(name: str) -> Store:
        store = Store(
            database_at(database_url, sqlite_path=tmp_path / "bot.sqlite3"), replica_id=name
        )
        await store.open()
        await store.replicas.beat()
        opened.append(store)
        return store

    def start(name: str) -> asyncio.Task[Store]:
        return asyncio.ensure_future(open_one(name))

    yield start
    for store in opened:
        await store.close()


async def _running_task(store: Store, chat: int) -> int:
    key = ChatKey(chat_id=chat, user_id=chat)
    draft = await store.drafts.get_or_create(key, language="en", options=Options())
    task = await store.tasks.create_from_draft(
        draft, request_message_id=None, callback_secret=f"s{chat}"
    )
    assert task is not None
    await store.tasks.update(
        task.id, status=TaskStatus.PROCESSING, upstream_id=f"up-{chat}", next_poll_at=0.0
    )
    return task.id


async def _put(store: Store, update_id: int, key: tuple[int, int], body: str = "{}") -> Recorded:
    """The update written as the bot's queue writes it with several replicas."""
    return await store.inbox.record(keep=[(update_id, body, key)], forget=[], look_behind=True)


async def _done(store: Store, *update_ids: int) -> None:
    await store.inbox.record(keep=[], forget=list(update_ids))


async def test_an_update_is_kept_once_and_a_copy_is_known(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = await replicas("a"), await replicas("b")
    assert (await _put(a, 1, ALICE_KEY)).new == {1}
    copy = await _put(b, 1, ALICE_KEY)  # Telegram sent it again, to another replica
    assert copy.new == set()
    await _done(a, 1)
    assert (await _put(b, 1, ALICE_KEY)).new == set()  # handled: still known as a copy


async def test_a_batch_tells_which_updates_are_new_and_which_wait(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = await replicas("a"), await replicas("b")
    await _put(a, 1, ALICE_KEY)
    batch = await b.inbox.record(
        keep=[(1, "{}", ALICE_KEY), (2, "{}", ALICE_KEY), (3, "{}", BOB_KEY), (4, "{}", None)],
        forget=[],
        look_behind=True,
    )
    assert batch.new == {2, 3, 4}  # 1 is a copy
    assert batch.behind == {2}  # behind a's update 1; Bob's and the chatless one are not


async def test_a_persons_next_update_is_behind_one_another_replica_holds(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = await replicas("a"), await replicas("b")
    await _put(a, 1, ALICE_KEY)
    assert (await _put(a, 2, ALICE_KEY)).behind == set()  # its own: in line here
    assert (await _put(b, 3, ALICE_KEY)).behind == {3}
    assert (await _put(b, 4, BOB_KEY)).behind == set()  # someone else's
    earlier = await b.inbox.earlier(ALICE_KEY, 3, alive_since=time.time() - 30)
    assert [(e.update_id, e.owner, e.alive) for e in earlier] == [(1, "a", True), (2, "a", True)]
    await _done(a, 1, 2)
    assert await b.inbox.earlier(ALICE_KEY, 3, alive_since=time.time() - 30) == []


async def test_updates_of_a_stopped_replica_go_to_exactly_one_live_one(replicas) -> None:  # type: ignore[no-untyped-def]
    gone = await replicas("gone")
    for update_id in range(1, 21):
        await _put(gone, update_id, (update_id % 3, 1), f'{{"n": {update_id}}}')
    await _done(gone, 5)
    await gone.replicas.leave()
    live = [await replicas(f"live{n}") for n in range(3)]
    since = time.time() - 30
    taken = await asyncio.gather(*(s.inbox.take_orphans(alive_since=since) for s in live))
    ids = sorted(u for got in taken for u, _ in got)
    assert ids == [u for u in range(1, 21) if u != 5]  # each once, the handled one not at all
    for got in taken:
        assert got == sorted(got)  # oldest first
    assert await live[0].inbox.take_orphans(alive_since=since) == []


async def test_a_live_replicas_updates_are_not_taken(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = await replicas("a"), await replicas("b")
    await _put(a, 1, ALICE_KEY)
    assert await b.inbox.take_orphans(alive_since=time.time() - 30) == []
    assert await b.inbox.take(1, from_owner="someone else") is None
    assert await b.inbox.take(1, from_owner="a") == "{}"  # handed over by name only


async def test_each_due_task_is_claimed_by_one_replica_at_a_time(replicas) -> None:  # type: ignore[no-untyped-def]
    stores = [await replicas(f"r{n}") for n in range(3)]
    ids = [await _running_task(stores[0], chat) for chat in range(100, 160)]
    now = time.time()
    claims = await asyncio.gather(
        *(s.tasks.claim_due(now, lease_until=now + 30, limit=25) for s in stores)
    )
    claimed = [t.id for got in claims for t in got]
    assert sorted(claimed) == ids  # 60 due, 75 asked for: each claimed once
    for store, got in zip(stores, claims, strict=True):
        assert all(t.next_poll_at == now + 30 and t.owner == store.replica_id for t in got)
    assert await stores[0].tasks.claim_due(now + 1, lease_until=now + 31) == []


async def test_a_hint_meanwhile_wins_over_the_claims_next_poll(replicas) -> None:  # type: ignore[no-untyped-def]
    store = await replicas("a")
    task_id = await _running_task(store, 100)
    now = time.time()
    (task,) = await store.tasks.claim_due(now, lease_until=now + 30)
    assert await store.tasks.update(task_id, next_poll_at=0.0)  # a callback: look now
    assert not await store.tasks.update(
        task_id, next_poll_at=now + 60, expect_poll_at=task.next_poll_at
    )
    assert (await store.tasks.get(task_id)).next_poll_at == 0.0  # type: ignore[union-attr]


async def test_next_queries_written_together_each_keep_their_own_condition(replicas) -> None:  # type: ignore[no-untyped-def]
    store = await replicas("a")
    ids = [await _running_task(store, chat) for chat in (100, 101, 102)]
    now = time.time()
    claimed = await store.tasks.claim_due(now, lease_until=now + 30)
    assert await store.tasks.update(ids[1], next_poll_at=0.0)  # a callback for the second
    await store.tasks.update(ids[2], status=TaskStatus.COMPLETED)  # the third ended meanwhile
    running = (TaskStatus.PENDING, TaskStatus.PROCESSING)
    # Changes of two shapes: the first also records progress.
    shapes = [{"next_poll_at": now + 60, "progress": 40}] + [{"next_poll_at": now + 60}] * 2
    await store.tasks.update_each(
        [
            TaskChange(t.id, fields, running, expect_poll_at=t.next_poll_at)
            for t, fields in zip(claimed, shapes, strict=True)
        ]
    )
    tasks = [await store.tasks.get(i) for i in ids]
    assert [t.next_poll_at for t in tasks] == [now + 60, 0.0, now + 30]  # type: ignore[union-attr]
    assert tasks[0].progress == 40  # type: ignore[union-attr]


async def test_a_stopped_replicas_claims_are_due_again(replicas) -> None:  # type: ignore[no-untyped-def]
    gone = await replicas("gone")
    task_id = await _running_task(gone, 100)
    now = time.time()
    await gone.tasks.claim_due(now, lease_until=now + 3600)
    live = await replicas("live")
    assert await live.tasks.release_claims(alive_since=now - 30) == 0  # "gone" still beats
    await gone.replicas.leave()
    assert await live.tasks.release_claims(alive_since=now - 30) == 1
    (task,) = await live.tasks.claim_due(time.time(), lease_until=time.time() + 30)
    assert task.id == task_id and task.owner == "live"


async def test_a_submit_or_send_left_by_a_stopped_replica_is_taken_once(replicas) -> None:  # type: ignore[no-untyped-def]
    gone = await replicas("gone")
    key = ChatKey(chat_id=7, user_id=7)
    draft = await gone.drafts.get_or_create(key, language="en", options=Options())
    task = await gone.tasks.create_from_draft(draft, request_message_id=None, callback_secret="s")
    assert task is not None and task.owner == "gone" and task.status is TaskStatus.PREPARING
    live = [await replicas(f"live{n}") for n in range(3)]
    since = time.time() - 30
    assert await live[0].tasks.orphaned(alive_since=since) == []  # "gone" still beats
    await gone.replicas.leave()
    (orphan,) = await live[0].tasks.orphaned(alive_since=since)
    taken = await asyncio.gather(*(s.tasks.take(orphan) for s in live))
    assert [t is not None for t in taken].count(True) == 1
    # A send in hand is kept by its owner even when a poll claims the task.
    winner = next(t for t in taken if t is not None)
    await live[0].tasks.update(
        task.id,
        status=TaskStatus.FAILED,
        error_code="deadline",
        upstream_id="up",
        submitted_at=time.time(),
        delivery=Delivery.SENDING,
        owner=winner.owner,
        next_poll_at=0.0,
    )
    now = time.time()
    (claimed,) = await live[2].tasks.claim_due(now, lease_until=now + 30)
    assert claimed.owner == winner.owner


async def test_a_file_a_stopped_replica_was_checking_is_taken_once(replicas) -> None:  # type: ignore[no-untyped-def]
    gone = await replicas("gone")
    draft = await gone.drafts.get_or_create(ALICE, language="en", options=Options())
    ref = await add_photo(gone, draft.id)
    assert ref is not None and ref.owner == "gone"
    live = [await replicas(f"live{n}") for n in range(2)]
    assert await live[0].drafts.pending_elsewhere(draft.id) == 1
    await gone.replicas.leave()
    (orphan,) = await live[0].drafts.orphaned_references(alive_since=time.time() - 30)
    won = await asyncio.gather(*(s.drafts.take_reference(orphan) for s in live))
    assert sorted(won) == [False, True]


async def test_a_one_shot_request_left_behind_is_taken_once(replicas) -> None:  # type: ignore[no-untyped-def]
    gone = await replicas("gone")
    group = ChatKey(chat_id=-100, user_id=5, topic_id=9)
    await gone.oneshots.add(
        group, language="en", draft_id=1, request_message_id=3, media_group_id="alb"
    )
    live = [await replicas(f"live{n}") for n in range(2)]
    assert await live[0].oneshots.album_of(-100, "alb", since=0) == group
    await gone.replicas.leave()
    (orphan,) = await live[0].oneshots.orphaned(alive_since=time.time() - 30)
    won = await asyncio.gather(*(s.oneshots.take(orphan) for s in live))
    assert sorted(won) == [False, True]
    await live[0].oneshots.done(orphan.id)
    assert await live[1].oneshots.orphaned(alive_since=0) == []


async def test_a_periodic_job_runs_on_one_replica_per_period(replicas) -> None:  # type: ignore[no-untyped-def]
    stores = [await replicas(f"r{n}") for n in range(4)]
    won = await asyncio.gather(*(s.replicas.claim_job("clean-up", every=600) for s in stores))
    assert won.count(True) == 1
    assert not await stores[0].replicas.claim_job("clean-up", every=600)


async def test_one_summary_refresh_at_a_time_and_once_when_due(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = await replicas("a"), await replicas("b")
    draft = await a.drafts.get_or_create(ALICE, language="en", options=Options())
    now = time.time()
    await a.drafts.summary_due(draft.id, now - 1)
    await b.drafts.summary_due(draft.id, now + 60)  # a file reached b later: due later
    assert await a.drafts.take_summary_due(draft.id, now) == now + 60
    await b.drafts.summary_due(draft.id, now - 1)
    taken = await asyncio.gather(
        a.drafts.take_summary_due(draft.id, now), b.drafts.take_summary_due(draft.id, now)
    )
    assert sorted(taken, key=lambda x: x is None) == [0.0, None]
    assert await a.drafts.lock_summary(draft.id, "a", until=now + 30)
    assert not await b.drafts.lock_summary(draft.id, "b", until=now + 30)
    await a.drafts.unlock_summary(draft.id, "a")
    assert await b.drafts.lock_summary(draft.id, "b", until=now + 30)
    await b.replicas.leave()
    assert await a.drafts.release_summary_locks(alive_since=now - 30) == 1
    assert await a.drafts.lock_summary(draft.id, "a", until=now + 30)
