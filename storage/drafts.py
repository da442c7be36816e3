"""Drafts and their references."""

from __future__ import annotations

import json
import secrets
from typing import Any

from storage.db import Database, IntegrityError, Row
from storage.models import ChatKey, Draft, DraftState, Options, Reference, RefStatus
from storage.replicas import ORPHANED

# A draft no task can still need files of: closed, and every task of it over and delivered
# (a submit we could not confirm keeps them while it is recent: the upstream may be fetching).
_NO_TASK_NEEDS_IT = (
    "d.state IN ('submitted', 'cancelled')"
    " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.draft_id = d.id AND ("
    "   t.status IN ('preparing', 'submitting', 'pending', 'processing')"
    "   OR (t.status = 'unknown' AND t.updated_at > ?)"
    "   OR (t.status IN ('completed', 'failed', 'cancelled')"
    "       AND t.delivery IN ('none', 'sending'))))"
)
# ... and open drafts left alone: their files can be hosted again when they are submitted.
_NO_HOSTED_COPY_NEEDED = f"(({_NO_TASK_NEEDS_IT}) OR (d.state = 'open' AND d.updated_at < ?))"
# The queries, from the fixed fragments above (no input is ever formatted into them).
_UNNEEDED_HOSTED = (
    "SELECT r.id, r.hosted_id FROM refs r JOIN drafts d ON d.id = r.draft_id"
    f" WHERE r.hosted_id IS NOT NULL AND {_NO_HOSTED_COPY_NEEDED} ORDER BY r.id LIMIT ?"
)
_FORGET_HOSTED = (
    "UPDATE refs SET hosted_id = NULL, hosted_url = NULL, hosted_expires_at = NULL"
    " WHERE id = ? AND hosted_id = ? AND EXISTS"
    f" (SELECT 1 FROM drafts d WHERE d.id = refs.draft_id AND {_NO_HOSTED_COPY_NEEDED})"
)


class DraftStore:
    """Reads and writes drafts; one open draft per (chat, topic, user)."""

    def __init__(self, db: Database, me: str) -> None:
        self.db = db
        self.me = me

    async def open_draft(self, key: ChatKey) -> Draft | None:
        """The user's open draft in that chat and topic, if any."""
        row = await self.db.fetchone(
            "SELECT * FROM drafts WHERE chat_id = ? AND topic_id = ? AND user_id = ?"
            " AND state = 'open'",
            (key.chat_id, key.topic_id, key.user_id),
        )
        return _draft(row) if row else None

    async def get(self, draft_id: int) -> Draft | None:
        """A draft by id, whatever its state."""
        row = await self.db.fetchone("SELECT * FROM drafts WHERE id = ?", (draft_id,))
        return _draft(row) if row else None

    async def get_or_create(self, key: ChatKey, *, language: str, options: Options) -> Draft:
        """The open draft, created (with a fresh idempotency key) when there is none."""
        now = self.db.clock()
        await self.db.write(
            "INSERT INTO drafts (chat_id, topic_id, user_id, options, idempotency_key,"
            " language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (
                key.chat_id,
                key.topic_id,
                key.user_id,
                options.to_json(),
                _new_key(),
                language,
                now,
                now,
            ),
        )
        draft = await self.open_draft(key)
        assert draft is not None
        return draft

    async def set_prompt(self, draft_id: int, prompt: str) -> None:
        """Replace the prompt."""
        await self.db.write(
            "UPDATE drafts SET prompt = ?, updated_at = ? WHERE id = ?",
            (prompt, self.db.clock(), draft_id),
        )

    async def set_options(self, draft_id: int, options: Options) -> None:
        """Replace the generation options."""
        await self.db.write(
            "UPDATE drafts SET options = ?, updated_at = ? WHERE id = ? AND state = 'open'",
            (options.to_json(), self.db.clock(), draft_id),
        )

    async def set_summary_message(self, draft_id: int, message_id: int | None) -> None:
        """Remember the message that shows the draft, so it is edited rather than resent."""
        await self.db.write(
            "UPDATE drafts SET summary_message_id = ? WHERE id = ?", (message_id, draft_id)
        )

    async def cancel(self, key: ChatKey) -> Draft | None:
        """Discard the open draft; returns it, or None when there was none."""
        draft = await self.open_draft(key)
        if draft is None:
            return None
        changed = await self.db.write(
            "UPDATE drafts SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = 'open'",
            (self.db.clock(), draft.id),
        )
        return draft if changed else None

    async def reopen(self, draft_id: int) -> bool:
        """Give a refused draft back to its owner, unless they already started another one."""
        try:
            changed = await self.db.write(
                "UPDATE drafts SET state = 'open', idempotency_key = ?, updated_at = ?"
                " WHERE id = ? AND state = 'submitted'",
                (_new_key(), self.db.clock(), draft_id),
            )
        except IntegrityError:  # the owner has another open draft there
            return False
        return changed == 1

    async def add_reference(
        self,
        draft_id: int,
        *,
        kind: str,
        source: str,
        file_id: str,
        file_unique_id: str,
        message_id: int,
        media_group_id: str | None,
        file_name: str | None,
        size: int | None,
    ) -> Reference | None:
        """Append a reference at the next position, pending until it has been checked.

        Its processing counts as started (``attempts`` 1): it starts right away. None when that
        message is already in the draft (an update handled twice after a crash).
        """
        now = self.db.clock()
        touch = "UPDATE drafts SET updated_at = ? WHERE id = ?", (now, draft_id)
        insert = (
            "INSERT INTO refs (draft_id, position, kind, source, telegram_file_id,"
            " telegram_file_unique_id, message_id, media_group_id, file_name, size,"
            " created_at, attempts, started_at, owner)"
            " SELECT ?, next, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?"
            " FROM (SELECT COALESCE(MAX(position), 0) + 1 AS next FROM refs"
            " WHERE draft_id = ?) AS p"
            " WHERE NOT EXISTS (SELECT 1 FROM refs WHERE draft_id = ? AND message_id = ?)"
            " RETURNING *",
            (
                draft_id,
                kind,
                source,
                file_id,
                file_unique_id,
                message_id,
                media_group_id,
                file_name,
                size,
                now,
                now,
                self.me,
                draft_id,
                draft_id,
                message_id,
            ),
        )
        try:
            if self.db.engine == "sqlite":
                # One writer at a time: each statement alone is enough, and a person's files
                # wait in line for these trips to the database (two here, four in a transaction).
                await self.db.write(*touch)
                rows = await self.db.write_returning(*insert)
            else:
                async with self.db.transaction() as tx:
                    # Touching the draft first locks its row, so two references arriving at
                    # once for one draft take positions one after the other.
                    await tx.write(*touch)
                    rows = await tx.fetchall(*insert)
        except IntegrityError:  # the same message added at this moment elsewhere
            return None
        return _reference(rows[0]) if rows else None

    async def reference(self, ref_id: int) -> Reference | None:
        """One reference by id."""
        row = await self.db.fetchone("SELECT * FROM refs WHERE id = ?", (ref_id,))
        return _reference(row) if row else None

    async def references(self, draft_id: int) -> list[Reference]:
        """A draft's references in the order they arrived."""
        rows = await self.db.fetchall(
            # Message ids give the order the user sent things in, even when an album's updates
            # arrive out of order.
            "SELECT * FROM refs WHERE draft_id = ? ORDER BY message_id, position",
            (draft_id,),
        )
        return [_reference(row) for row in rows]

    async def mark_ready(
        self,
        ref_id: int,
        *,
        kind: str,
        local_path: str,
        mime_type: str,
        width: int | None,
        height: int | None,
        duration: float | None,
        size: int,
        changes: list[dict[str, Any]],
        hosted_url: str | None = None,
        hosted_id: str | None = None,
        hosted_expires_at: float | None = None,
    ) -> None:
        """Record the checked, normalised file (and where it is hosted, if it already is)."""
        await self.db.write(
            "UPDATE refs SET status = 'ready', kind = ?, local_path = ?, mime_type = ?, width = ?,"
            " height = ?, duration = ?, size = ?, changes = ?, hosted_url = ?, hosted_id = ?,"
            " hosted_expires_at = ? WHERE id = ?",
            (
                kind,
                local_path,
                mime_type,
                width,
                height,
                duration,
                size,
                json.dumps(changes),
                hosted_url,
                hosted_id,
                hosted_expires_at,
                ref_id,
            ),
        )

    async def mark_started(self, ref_id: int) -> None:
        """Count one more attempt at processing the file, before it starts (so a crash in the
        middle is on record after the restart)."""
        await self.db.write(
            "UPDATE refs SET attempts = attempts + 1, started_at = ? WHERE id = ?",
            (self.db.clock(), ref_id),
        )

    async def mark_rejected(self, ref_id: int, code: str, params: dict[str, Any]) -> None:
        """Record why the file cannot be used; the rest of the draft is untouched."""
        await self.db.write(
            "UPDATE refs SET status = 'rejected', error_code = ?, error_params = ? WHERE id = ?",
            (code, json.dumps(params), ref_id),
        )

    async def mark_hosted(
        self, ref_id: int, *, url: str, hosted_id: str | None, expires_at: float | None
    ) -> None:
        """Record where the upstream can fetch the file, and until when."""
        await self.db.write(
            "UPDATE refs SET hosted_url = ?, hosted_id = ?, hosted_expires_at = ? WHERE id = ?",
            (url, hosted_id, expires_at, ref_id),
        )

    async def expire_stale(self, idle_before: float) -> int:
        """Cancel open drafts untouched since `idle_before`; returns how many."""
        return await self.db.write(
            "UPDATE drafts SET state = 'cancelled', updated_at = ?"
            " WHERE state = 'open' AND updated_at < ?",
            (self.db.clock(), idle_before),
        )

    async def finished_among(self, draft_ids: list[int], unconfirmed_since: float) -> list[int]:
        """Of these drafts (whose files are on this replica's disk), those no task can still
        need."""
        found: list[int] = []
        for start in range(0, len(draft_ids), 500):
            chunk = draft_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"SELECT d.id FROM drafts d WHERE d.id IN ({marks}) AND {_NO_TASK_NEEDS_IT}",
                (*chunk, unconfirmed_since),
            )
            found += [int(row[0]) for row in rows]
        return sorted(found)

    async def unneeded_hosted(
        self, *, unconfirmed_since: float, idle_before: float, limit: int
    ) -> list[tuple[int, str]]:
        """(reference id, hosted file id) of uploads no task can need: drafts finished as in
        `finished_among`, and open drafts untouched since `idle_before`."""
        rows = await self.db.fetchall(_UNNEEDED_HOSTED, (unconfirmed_since, idle_before, limit))
        return [(int(row[0]), str(row[1])) for row in rows]

    async def forget_hosted(
        self, ref_id: int, hosted_id: str, *, unconfirmed_since: float, idle_before: float
    ) -> bool:
        """Forget an upload about to be deleted, if its draft still does not need it: a submit
        starting now then finds no URL and uploads afresh rather than hand over a deleted one."""
        changed = await self.db.write(
            _FORGET_HOSTED, (ref_id, hosted_id, unconfirmed_since, idle_before)
        )
        return changed > 0

    async def forget_files(self, draft_id: int) -> None:
        """The draft's files were removed from disk."""
        await self.db.write("UPDATE refs SET local_path = NULL WHERE draft_id = ?", (draft_id,))

    async def ask_prompt(self, draft_id: int, asked: bool) -> None:
        """Remember (or forget) that the draft asked for its prompt to make the video."""
        await self.db.write(
            "UPDATE drafts SET prompt_asked = ? WHERE id = ?", (1 if asked else 0, draft_id)
        )

    async def remove_reference(self, draft_id: int, ref_id: int) -> bool:
        """Take a file out of an open draft; False when it was not there (or not open)."""
        removed = await self.db.write(
            "DELETE FROM refs WHERE id = ? AND draft_id = ?"
            " AND draft_id IN (SELECT id FROM drafts WHERE state = 'open')",
            (ref_id, draft_id),
        )
        return removed == 1

    async def clone(
        self, source_id: int, *, prompt: str, options: Options, language: str, open_: bool
    ) -> Draft | None:
        """A new draft with the files of another that were used, for making its video again:
        open (to edit; None when its owner already has an open draft there) or submitted."""
        async with self.db.transaction() as tx:
            now = self.db.clock()
            row = await tx.fetchone(
                "INSERT INTO drafts (chat_id, topic_id, user_id, state, prompt, options,"
                " idempotency_key, language, created_at, updated_at)"
                " SELECT chat_id, topic_id, user_id, ?, ?, ?, ?, ?, ?, ? FROM drafts WHERE id = ?"
                " ON CONFLICT DO NOTHING RETURNING id",
                (
                    "open" if open_ else "submitted",
                    prompt,
                    options.to_json(),
                    _new_key(),
                    language,
                    now,
                    now,
                    source_id,
                ),
            )
            if row is None:
                return None
            draft_id = int(row[0])
            # The files are read again from Telegram: the old draft's copies and their URLs
            # belong to its own task and are cleaned up with it.
            await tx.write(
                "INSERT INTO refs (draft_id, position, kind, source, telegram_file_id,"
                " telegram_file_unique_id, message_id, media_group_id, file_name, size,"
                " created_at)"
                " SELECT ?, position, kind, source, telegram_file_id, telegram_file_unique_id,"
                " message_id, media_group_id, file_name, size, ? FROM refs"
                " WHERE draft_id = ? AND status = 'ready' ORDER BY position",
                (draft_id, now, source_id),
            )
        return await self.get(draft_id)

    async def orphaned_references(self, *, alive_since: float) -> list[Reference]:
        """References still pending whose replica stopped checking them (see storage.replicas)."""
        rows = await self.db.fetchall(
            "SELECT * FROM refs WHERE status = 'pending'"
            f" AND {ORPHANED} AND draft_id IN (SELECT id FROM drafts"
            " WHERE state IN ('open', 'submitted')) ORDER BY id",
            (alive_since,),
        )
        return [_reference(row) for row in rows]

    async def take_reference(self, ref: Reference) -> bool:
        """Make checking a pending reference this replica's, if its owner seen in `ref` still
        holds it."""
        return (
            await self.db.write(
                "UPDATE refs SET owner = ? WHERE id = ? AND status = 'pending'"
                " AND COALESCE(owner, '') = ?",
                (self.me, ref.id, ref.owner or ""),
            )
            == 1
        )

    async def ready_of_kind(self, draft_id: int, kind: str) -> dict[int, float | None]:
        """The draft's checked files of one kind: their lengths (None: an image), by id."""
        rows = await self.db.fetchall(
            "SELECT id, duration FROM refs WHERE draft_id = ? AND kind = ? AND status = 'ready'",
            (draft_id, kind),
        )
        return {int(row[0]): None if row[1] is None else float(row[1]) for row in rows}

    async def pending_count(self, draft_id: int) -> int:
        """How many of the draft's files are still being checked, on any replica."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM refs WHERE draft_id = ? AND status = 'pending'", (draft_id,)
        )
        return int(row[0]) if row else 0

    async def pending_elsewhere(self, draft_id: int) -> int:
        """How many of the draft's files another replica is still checking."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM refs WHERE draft_id = ? AND status = 'pending'"
            " AND COALESCE(owner, '') <> ?",
            (draft_id, self.me),
        )
        return int(row[0]) if row else 0

    async def touched_at(self, draft_id: int) -> float | None:
        """When a file last joined the draft (or it changed otherwise), by the database clock."""
        row = await self.db.fetchone("SELECT updated_at FROM drafts WHERE id = ?", (draft_id,))
        return float(row[0]) if row else None

    # -- the summary message: one refresh at a time, once files stop arriving -------------------

    async def summary_due(self, draft_id: int, at: float) -> None:
        """The summary is to be refreshed at `at` (a later arrival pushes it on)."""
        await self.db.write("UPDATE drafts SET summary_due_at = ? WHERE id = ?", (at, draft_id))

    async def take_summary_due(self, draft_id: int, now: float) -> float | None:
        """Claim a due refresh: 0.0 when this caller is to refresh now; the time it is due at
        when that is still ahead; None when there is none (another replica took it)."""
        if await self.db.write(
            "UPDATE drafts SET summary_due_at = NULL WHERE id = ? AND summary_due_at <= ?",
            (draft_id, now),
        ):
            return 0.0
        row = await self.db.fetchone("SELECT summary_due_at FROM drafts WHERE id = ?", (draft_id,))
        return float(row[0]) if row and row[0] is not None else None

    async def lock_summary(self, draft_id: int, token: str, *, until: float) -> bool:
        """Take the draft's summary lock (free, held past its expiry, or left by this same
        holder) until `until`."""
        now = self.db.clock()
        return (
            await self.db.write(
                "UPDATE drafts SET summary_lock = ?, summary_lock_until = ? WHERE id = ?"
                " AND (summary_lock_until IS NULL OR summary_lock_until < ? OR summary_lock = ?)",
                (token, until, draft_id, now, token),
            )
            == 1
        )

    async def release_summary_locks(self, *, alive_since: float) -> int:
        """Release summary locks held by replicas that stopped."""
        return await self.db.write(
            "UPDATE drafts SET summary_lock_until = NULL WHERE summary_lock_until IS NOT NULL"
            " AND summary_lock NOT IN (SELECT id FROM replicas WHERE seen_at >= ?)",
            (alive_since,),
        )

    async def unlock_summary(self, draft_id: int, token: str) -> None:
        """Release the summary lock, if `token` still holds it."""
        await self.db.write(
            "UPDATE drafts SET summary_lock_until = NULL WHERE id = ? AND summary_lock = ?",
            (draft_id, token),
        )


def _new_key() -> str:
    return secrets.token_hex(16)


def _draft(row: Row) -> Draft:
    return Draft(
        id=row["id"],
        key=ChatKey(chat_id=row["chat_id"], user_id=row["user_id"], topic_id=row["topic_id"]),
        state=DraftState(row["state"]),
        prompt=row["prompt"],
        options=Options.from_json(row["options"]),
        idempotency_key=row["idempotency_key"],
        summary_message_id=row["summary_message_id"],
        language=row["language"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        prompt_asked=bool(row["prompt_asked"]),
    )


def _reference(row: Row) -> Reference:
    return Reference(
        id=row["id"],
        draft_id=row["draft_id"],
        position=row["position"],
        kind=row["kind"],
        source=row["source"],
        telegram_file_id=row["telegram_file_id"],
        telegram_file_unique_id=row["telegram_file_unique_id"],
        message_id=row["message_id"],
        media_group_id=row["media_group_id"],
        file_name=row["file_name"],
        status=RefStatus(row["status"]),
        local_path=row["local_path"],
        mime_type=row["mime_type"],
        width=row["width"],
        height=row["height"],
        duration=row["duration"],
        size=row["size"],
        hosted_url=row["hosted_url"],
        hosted_id=row["hosted_id"],
        hosted_expires_at=row["hosted_expires_at"],
        changes=json.loads(row["changes"] or "[]"),
        error_code=row["error_code"],
        error_params=json.loads(row["error_params"] or "{}"),
        attempts=row["attempts"],
        started_at=row["started_at"],
        owner=row["owner"],
    )
