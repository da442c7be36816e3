"""Clean-up: finished drafts lose their files, running ones keep them; stale drafts expire."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.evolink import EvolinkError
from bot.runtime.durations import DAY, HOUR
from bot.runtime.janitor import UNHOST_IDLE_SECONDS, Janitor
from storage import Store, database_at
from storage.models import ChatKey, Delivery, Options, TaskStatus
from tests.conftest import on_both_engines
from tests.records import add_photo

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
    ref = await add_photo(store, draft.id, size=10)
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


# --- hosted copies (Files API): given back once nothing can need them -------------------------


class Remover:
    """Stands in for the Files API host: records what it was asked to delete."""

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.fail = False

    async def remove(self, remote_id: str) -> None:
        if self.fail:
            raise EvolinkError("unavailable", "the Files API did not answer", status=503)
        self.removed.append(remote_id)


@pytest.fixture
async def hosted(tmp_path: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    clock = Clock()
    store = Store(database_at(database_url, sqlite_path=tmp_path / "db.sqlite3", clock=clock))
    await store.open()
    remover = Remover()
    janitor = Janitor(
        store=store,
        media_dir=tmp_path / "media",
        tmp_dir=tmp_path / "tmp",
        host=remover,
        clock=clock,
    )
    yield store, janitor, clock, tmp_path, remover
    await store.close()


async def _hosted_draft(store: Store, tmp_path: Path, user: int) -> int:
    draft_id, _ = await _draft_with_file(store, tmp_path, user)
    ref = (await store.drafts.references(draft_id))[0]
    await store.drafts.mark_hosted(
        ref.id, url=f"https://files.test/{user}", hosted_id=f"file_{user}", expires_at=9e9
    )
    return draft_id


async def test_a_cancelled_drafts_uploads_are_deleted(hosted) -> None:  # type: ignore[no-untyped-def]
    store, janitor, _, tmp_path, remover = hosted
    draft_id = await _hosted_draft(store, tmp_path, 11)
    await store.drafts.cancel(ChatKey(chat_id=11, user_id=11))
    result = await janitor.sweep()
    assert remover.removed == ["file_11"] and result.hosted_removed == 1
    ref = (await store.drafts.references(draft_id))[0]
    assert (ref.hosted_id, ref.hosted_url, ref.hosted_expires_at) == (None, None, None)
    await janitor.sweep()
    assert remover.removed == ["file_11"]  # once


async def test_a_submitted_tasks_uploads_stay_until_it_is_over_and_delivered(hosted) -> None:  # type: ignore[no-untyped-def]
    store, janitor, _, tmp_path, remover = hosted
    draft_id = await _hosted_draft(store, tmp_path, 12)
    draft = await store.drafts.get(draft_id)
    task = await store.tasks.create_from_draft(draft, request_message_id=1, callback_secret="h")
    assert task is not None
    for status in (TaskStatus.PREPARING, TaskStatus.SUBMITTING, TaskStatus.PROCESSING):
        await store.tasks.update(task.id, status=status)
        await janitor.sweep()
        assert remover.removed == [], status  # the upstream fetches references after the submit
    await store.tasks.update(task.id, status=TaskStatus.COMPLETED)
    await janitor.sweep()
    assert remover.removed == []  # the video is not in the chat yet
    await store.tasks.update(task.id, delivery=Delivery.DELIVERED)
    await janitor.sweep()
    assert remover.removed == ["file_12"]


async def test_an_unconfirmed_submit_keeps_its_uploads_for_a_day(hosted) -> None:  # type: ignore[no-untyped-def]
    store, janitor, clock, tmp_path, remover = hosted
    draft = await store.drafts.get(await _hosted_draft(store, tmp_path, 13))
    task = await store.tasks.create_from_draft(draft, request_message_id=1, callback_secret="u")
    assert task is not None
    await store.tasks.update(task.id, status=TaskStatus.UNKNOWN, delivery=Delivery.DELIVERED)
    await janitor.sweep()
    assert remover.removed == []
    clock.now += DAY + 1
    await janitor.sweep()
    assert remover.removed == ["file_13"]


async def test_an_abandoned_open_draft_gives_its_uploads_back_after_hours(hosted) -> None:  # type: ignore[no-untyped-def]
    store, janitor, clock, tmp_path, remover = hosted
    draft_id = await _hosted_draft(store, tmp_path, 14)
    await janitor.sweep()
    clock.now += UNHOST_IDLE_SECONDS - 60
    await janitor.sweep()
    assert remover.removed == []  # still fresh
    clock.now += 120
    await janitor.sweep()
    assert remover.removed == ["file_14"]
    ref = (await store.drafts.references(draft_id))[0]
    assert ref.hosted_url is None and ref.local_path is not None  # a submit hosts it again
    assert await store.drafts.open_draft(ChatKey(chat_id=14, user_id=14)) is not None


async def test_a_delete_that_fails_is_logged_and_left_to_expire(
    hosted,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, janitor, _, tmp_path, remover = hosted
    await _hosted_draft(store, tmp_path, 15)
    await store.drafts.cancel(ChatKey(chat_id=15, user_id=15))
    remover.fail = True
    result = await janitor.sweep()
    assert result.hosted_removed == 0
    assert "hosted file file_15 not deleted" in caplog.text


async def test_without_a_removable_host_uploads_are_left_alone(setup) -> None:  # type: ignore[no-untyped-def]
    store, janitor, _, tmp_path = setup
    draft_id = await _hosted_draft(store, tmp_path, 16)
    await store.drafts.cancel(ChatKey(chat_id=16, user_id=16))
    await janitor.sweep()
    assert (await store.drafts.references(draft_id))[0].hosted_id == "file_16"


async def test_one_sweep_takes_down_every_unneeded_upload_in_batches(
    hosted,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, janitor, _, tmp_path, remover = hosted
    monkeypatch.setattr("bot.runtime.janitor.UNHOST_BATCH", 2)
    for user in range(20, 25):
        await _hosted_draft(store, tmp_path, user)
        await store.drafts.cancel(ChatKey(chat_id=user, user_id=user))
    result = await janitor.sweep()
    assert result.hosted_removed == 5
    assert sorted(remover.removed) == [f"file_{user}" for user in range(20, 25)]
