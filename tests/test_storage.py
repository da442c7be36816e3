"""Storage: migrations, one open draft per person and place, one task per draft, guarded moves.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Store, database_at
from storage.db import IntegrityError
from storage.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from storage.models import ChatKey, Delivery, DraftState, Options, RefStatus, TaskStatus
from tests.conftest import on_both_engines
from tests.records import add_photo

pytestmark = on_both_engines

ALICE = ChatKey(chat_id=10, user_id=1)
BOB_IN_SAME_CHAT = ChatKey(chat_id=10, user_id=2)
ALICE_IN_TOPIC = ChatKey(chat_id=10, user_id=1, topic_id=7)


@pytest.fixture
async def store(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    s = Store(database_at(database_url, sqlite_path=tmp_path / "bot.sqlite3"))
    await s.open()
    yield s
    await s.close()


async def test_schema_is_versioned(store: Store) -> None:
    migrations = SQLITE_MIGRATIONS if store.db.engine == "sqlite" else POSTGRES_MIGRATIONS
    assert await store.db.schema_version() == len(migrations)
    if store.db.engine == "sqlite":
        row = await store.db.fetchone("PRAGMA journal_mode")
        assert row is not None and row[0] == "wal"
    else:  # each test has a schema of its own on the shared server
        row = await store.db.fetchone("SELECT current_schema()")
        assert row is not None and row[0].startswith("test_")
    await store.close()
    await store.open()  # reopening applies nothing twice
    assert await store.db.schema_version() == len(migrations)


async def test_drafts_are_kept_apart_by_user_and_topic(store: Store) -> None:
    a = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    b = await store.drafts.get_or_create(BOB_IN_SAME_CHAT, language="en", options=Options())
    c = await store.drafts.get_or_create(ALICE_IN_TOPIC, language="en", options=Options())
    assert len({a.id, b.id, c.id}) == 3
    again = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    assert again.id == a.id
    assert len({a.idempotency_key, b.idempotency_key, c.idempotency_key}) == 3


async def test_references_keep_their_order_and_outcome(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    refs = [
        await add_photo(store, draft.id, message_id=100 + i, size=1000, media_group_id="album")
        for i in range(3)
    ]
    assert [r.position for r in refs] == [1, 2, 3]
    await store.drafts.mark_rejected(refs[1].id, "too_small", {"width": 10, "height": 10})
    await store.drafts.mark_ready(
        refs[0].id,
        kind="image",
        local_path="/x.jpg",
        mime_type="image/jpeg",
        width=800,
        height=600,
        duration=None,
        size=5,
        changes=[{"code": "converted", "params": {"from": "GIF", "to": "JPEG"}}],
    )
    got = await store.drafts.references(draft.id)
    assert [r.status for r in got] == [RefStatus.READY, RefStatus.REJECTED, RefStatus.PENDING]
    assert got[1].error_params == {"width": 10, "height": 10}
    assert got[0].changes[0]["code"] == "converted"


async def test_a_draft_becomes_exactly_one_task(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options(duration=8))
    await store.drafts.set_prompt(draft.id, "a cat")
    draft = await store.drafts.get(draft.id)
    assert draft is not None
    first = await store.tasks.create_from_draft(draft, request_message_id=5, callback_secret="s1")
    second = await store.tasks.create_from_draft(draft, request_message_id=6, callback_secret="s2")
    assert first is not None
    assert second is None  # the double tap creates nothing
    assert first.status is TaskStatus.PREPARING
    assert first.idempotency_key == draft.idempotency_key
    assert first.options.duration == 8 and first.prompt == "a cat"
    closed = await store.drafts.get(draft.id)
    assert closed is not None and closed.state is DraftState.SUBMITTED
    assert await store.drafts.open_draft(ALICE) is None


async def test_state_moves_only_from_the_expected_state(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    task = await store.tasks.create_from_draft(draft, request_message_id=None, callback_secret="s")
    assert task is not None
    assert await store.tasks.update(
        task.id, status=TaskStatus.SUBMITTING, expect_status=[TaskStatus.PREPARING]
    )
    assert not await store.tasks.update(
        task.id, status=TaskStatus.SUBMITTING, expect_status=[TaskStatus.PREPARING]
    )
    await store.tasks.update(task.id, status=TaskStatus.COMPLETED, result_url="https://r")
    claims = [
        await store.tasks.update(
            task.id, delivery=Delivery.SENDING, expect_delivery=[Delivery.NONE]
        )
        for _ in range(3)
    ]
    assert claims == [True, False, False]
    with pytest.raises(ValueError, match="unknown task columns"):
        await store.tasks.update(task.id, prompt="x")


async def test_a_guarded_move_can_return_the_task_it_moved(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    task = await store.tasks.create_from_draft(draft, request_message_id=None, callback_secret="s")
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.COMPLETED, result_url="https://r")
    claims = [
        await store.tasks.update_returning(
            task.id, delivery=Delivery.SENDING, owner="me", expect_delivery=[Delivery.NONE]
        )
        for _ in range(2)
    ]
    assert claims[1] is None
    moved = claims[0]
    assert moved is not None and moved.id == task.id
    assert (moved.delivery, moved.status, moved.result_url) == (
        Delivery.SENDING,
        TaskStatus.COMPLETED,
        "https://r",
    )
    assert moved == await store.tasks.get(task.id)


async def test_a_statement_for_many_rows_is_written_whole_or_not_at_all(store: Store) -> None:
    tasks = []
    for chat in (10, 11):
        key = ChatKey(chat_id=chat, user_id=chat)
        draft = await store.drafts.get_or_create(key, language="en", options=Options())
        task = await store.tasks.create_from_draft(
            draft, request_message_id=None, callback_secret=f"s{chat}"
        )
        assert task is not None
        tasks.append(task)
    first, second = (task.id for task in tasks)
    sql = "UPDATE tasks SET status = ? WHERE id = ?"
    await store.db.write_many(sql, [("submitting", first), ("submitting", second)])
    assert {(await store.tasks.get(i)).status for i in (first, second)} == {  # type: ignore[union-attr]
        TaskStatus.SUBMITTING
    }
    with pytest.raises(IntegrityError):  # the second breaks a NOT NULL rule: the first is undone
        await store.db.write_many(sql, [("completed", first), (None, second)])
    assert (await store.tasks.get(first)).status is TaskStatus.SUBMITTING  # type: ignore[union-attr]


async def test_a_refused_draft_is_given_back_with_a_new_key(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    await store.tasks.create_from_draft(draft, request_message_id=None, callback_secret="s")
    assert await store.drafts.reopen(draft.id)
    back = await store.drafts.open_draft(ALICE)
    assert back is not None and back.id == draft.id
    assert back.idempotency_key != draft.idempotency_key


async def test_a_refused_draft_does_not_replace_a_newer_one(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    await store.tasks.create_from_draft(draft, request_message_id=None, callback_secret="s")
    newer = await store.drafts.get_or_create(ALICE, language="en", options=Options())
    assert not await store.drafts.reopen(draft.id)
    current = await store.drafts.open_draft(ALICE)
    assert current is not None and current.id == newer.id


async def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    draft = await store.drafts.get_or_create(ALICE, language="en", options=Options())

    async def half_done() -> None:
        async with store.db.transaction() as tx:
            await tx.write("UPDATE drafts SET prompt = 'half' WHERE id = ?", (draft.id,))
            raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        await half_done()
    again = await store.drafts.get(draft.id)
    assert again is not None and again.prompt == ""
