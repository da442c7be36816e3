"""A callback that comes while the submit's answer is being recorded is not lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from bot.runtime.background import Background
from bot.runtime.metrics import Metrics
from bot.tasks.tracking import TaskTracker
from storage import Store, database_at
from storage.models import ChatKey, Options, Task, TaskStatus


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = Store(database_at(None, sqlite_path=tmp_path / "bot.sqlite3"))
    await opened.open()
    yield opened
    await opened.close()


def tracker_on(store: Store) -> TaskTracker:
    unused = cast(Any, None)  # the callback path queries nothing and sends nothing
    return TaskTracker(
        store=store,
        client=unused,
        notices=unused,
        reconciler=unused,
        deliverer=unused,
        background=Background(),
        metrics=Metrics(),
        poll_interval=600.0,
        progress_edit_seconds=5.0,
        deadline_seconds=3600.0,
        callbacks=True,
    )


async def submitting_task(store: Store) -> Task:
    draft = await store.drafts.get_or_create(
        ChatKey(chat_id=7, user_id=7), language="en", options=Options()
    )
    await store.drafts.set_prompt(draft.id, "a kite in a storm")
    fresh = await store.drafts.get(draft.id)
    assert fresh is not None
    task = await store.tasks.create_from_draft(
        fresh, request_message_id=None, callback_secret="s" * 32
    )
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.SUBMITTING)
    read = await store.tasks.get(task.id)
    assert read is not None
    return read


async def test_a_callback_read_before_the_answer_was_recorded_still_makes_the_task_due(
    store: Store,
) -> None:
    tracker = tracker_on(store)
    seen = await submitting_task(store)  # as the callback route read it: no upstream id yet
    # Then the submit's answer is recorded, with the first query planned far ahead.
    await store.tasks.update(
        seen.id, upstream_id="task-1", status=TaskStatus.PENDING, next_poll_at=10**10
    )
    await tracker.on_callback(seen, "task-1")
    now = await store.tasks.get(seen.id)
    assert now is not None and now.next_poll_at == 0.0  # queried at the tracker's next look
    assert now.callback_claim is None  # the answer named it: nothing to adopt
