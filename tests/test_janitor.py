"""Clean-up: finished drafts lose their files, running ones keep them; stale drafts expire."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.janitor import DAY, HOUR, Janitor
from storage import Store, database_at
from storage.models import ChatKey, Delivery, Options, TaskStatus
from tests.conftest import on_both_engines

pytestmark = on_both_engines


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    clock = Clock()
    store = Store(database_at(database_url, sqlite_path=tmp_path / "db.sqlite3", clock=clock))
    await store.open()
    janitor = Janitor(
        store=store, media_dir=tmp_path / "media", tmp_dir=tmp_path / "tmp", clock=clock
    )
    yield store, janitor, clock, tmp_path
    await store.close()


async def _draft_with_file(store: Store, tmp_path: Path, user: int) -> tuple[int, Path]:
    draft = await store.drafts.get_or_create(
        ChatKey(chat_id=user, user_id=user), language="en", options=Options()
    )
    ref = await store.drafts.add_reference(
        draft.id,
        kind="image",
        source="photo",
        file_id="f",
        file_unique_id="u",
        message_id=1,
        media_group_id=None,
        file_name=None,
        size=10,
    )
    path = tmp_path / "media" / f"d{draft.id}" / "r.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    await store.drafts.mark_ready(
        ref.id,
        kind="image",
        local_path=str(path),
        mime_type="image/jpeg",
        width=1,
        height=1,
        duration=None,
        size=1,
        changes=[],
    )
    await store.drafts.set_prompt(draft.id, "p")
    return draft.id, path


async def test_files_go_once_the_video_reached_the_chat_and_not_before(setup) -> None:  # type: ignore[no-untyped-def]
    store, janitor, _, tmp_path = setup
    draft_id, path = await _draft_with_file(store, tmp_path, 1)
    draft = await store.drafts.get(draft_id)
    task = await store.tasks.create_from_draft(draft, request_message_id=1, callback_secret="s")
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.PROCESSING)
    await janitor.sweep()
    assert path.exists()  # the upstream may still fetch it
    await store.tasks.update(task.id, status=TaskStatus.COMPLETED)
    await janitor.sweep()
    assert path.exists()  # not delivered yet
    await store.tasks.update(task.id, delivery=Delivery.DELIVERED)
    result = await janitor.sweep()
    assert result.drafts_cleaned == 1
    assert not path.parent.exists()
    assert (await store.drafts.references(draft_id))[0].local_path is None


async def test_an_open_draft_keeps_its_files_until_it_goes_stale(setup) -> None:  # type: ignore[no-untyped-def]
    store, janitor, clock, tmp_path = setup
    _, path = await _draft_with_file(store, tmp_path, 2)
    await janitor.sweep()
    assert path.exists()
    clock.now += 8 * DAY
    result = await janitor.sweep()
    assert result.drafts_expired == 1
    assert not path.exists()
    assert await store.drafts.open_draft(ChatKey(chat_id=2, user_id=2)) is None


async def test_an_unconfirmed_submit_keeps_its_files_for_a_day(setup) -> None:  # type: ignore[no-untyped-def]
    store, janitor, clock, tmp_path = setup
    draft_id, path = await _draft_with_file(store, tmp_path, 3)
    draft = await store.drafts.get(draft_id)
    task = await store.tasks.create_from_draft(draft, request_message_id=1, callback_secret="s3")
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.UNKNOWN, delivery=Delivery.DELIVERED)
    await janitor.sweep()
    assert path.exists()
    clock.now += DAY + 1
    await janitor.sweep()
    assert not path.exists()


async def test_old_temp_files_are_removed_and_fresh_ones_kept(setup) -> None:  # type: ignore[no-untyped-def]
    _, janitor, clock, tmp_path = setup
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    old, fresh = tmp / "old.part", tmp / "fresh.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (clock.now - 2 * HOUR, clock.now - 2 * HOUR))
    os.utime(fresh, (clock.now, clock.now))
    result = await janitor.sweep()
    assert result.temp_files == 1
    assert not old.exists()
    assert fresh.exists()
