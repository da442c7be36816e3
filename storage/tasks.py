"""Tasks: one row per paid generation, moved forward only by conditional updates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from storage.db import Connection, Database, Row
from storage.models import (
    DEADLINE,
    ChatKey,
    DayStats,
    Delivery,
    Draft,
    Options,
    Task,
    TaskStatus,
)
from storage.replicas import ORPHANED


@dataclass(frozen=True)
class TaskChange:
    """Fields to set on a task, only if it is still as expected (see `TaskStore.update`)."""

    task_id: int
    fields: Mapping[str, object]
    expect_status: Iterable[TaskStatus] | None = None
    expect_delivery: Iterable[Delivery] | None = None
    expect_poll_at: float | None = None


# A task given up at the deadline is still watched this long after its submit: its result link
# would last 24 hours, so a later completion is of no use to anyone.
LATE_WATCH_SECONDS = 24 * 3600

# Tasks whose video may still come: being made, or sent and awaiting the service's word.
_IN_PROGRESS = (
    "(status IN ('preparing', 'submitting', 'pending', 'processing')"
    " OR (status = 'unknown' AND delivery = 'none'))"
)
# Tasks the tracker looks at when their time comes: running ones are queried, unconfirmed ones
# (no upstream id) are adopted or closed, given-up ones are queried now and then.
_DUE = (
    "(status IN ('pending', 'processing') AND upstream_id IS NOT NULL)"
    " OR (status = 'unknown' AND (delivery = 'none' OR callback_claim IS NOT NULL))"
    f" OR (status = 'failed' AND error_code = '{DEADLINE}' AND upstream_id IS NOT NULL"
    " AND submitted_at >= ?)"
)
# The same without the time limit on given-up tasks: the predicate of the partial index
# `tasks_poll` (by next_poll_at), named word for word in the queries so that both engines use it.
WATCHED = (
    "((status IN ('pending', 'processing') AND upstream_id IS NOT NULL)"
    " OR (status = 'unknown' AND (delivery = 'none' OR callback_claim IS NOT NULL))"
    f" OR (status = 'failed' AND error_code = '{DEADLINE}' AND upstream_id IS NOT NULL))"
)

_COLUMNS = frozenset(
    {
        "status_message_id",
        "upstream_id",
        "status",
        "progress",
        "credits_reserved",
        "estimated_time",
        "result_url",
        "error_code",
        "error_message",
        "next_poll_at",
        "progress_shown",
        "progress_edited_at",
        "delivery",
        "delivered_message_id",
        "delivered_file_id",
        "submitted_at",
        "finished_at",
        "callback_claim",
        "rerun_task_id",
        "owner",
        "rate_progress",
        "rate_at",
    }
)
# Work on a task that one replica holds in hand: its submit, or its send.
_HELD = "(status IN ('preparing', 'submitting') OR delivery = 'sending')"


@dataclass(frozen=True)
class Usage:
    """What one user has spent: videos started today, videos in progress, credits reserved."""

    today: int
    running: int
    credits_today: float
    credits_total: float


class _AlreadyRerun(Exception):
    """Rolls back a second "make it again" of the same video."""


class TaskStore:
    """Reads and writes tasks. Every state change names the state it expects to leave."""

    def __init__(self, db: Database, me: str) -> None:
        self.db = db
        self.me = me

    async def create_from_draft(
        self, draft: Draft, *, request_message_id: int | None, callback_secret: str
    ) -> Task | None:
        """Close the draft and write its task row in one transaction.

        Returns None when the draft was no longer open (a second tap on Generate): the draft's
        one task already exists, so nothing will be submitted twice.
        """
        async with self.db.transaction() as tx:
            now = self.db.clock()
            # The guard: of two concurrent calls only one moves the draft out of 'open' (on
            # PostgreSQL the second waits for the first's row lock, then finds it submitted).
            closed = await tx.write(
                "UPDATE drafts SET state = 'submitted', updated_at = ? WHERE id = ?"
                " AND state = 'open'",
                (now, draft.id),
            )
            if closed != 1:
                return None
            task_id = await _insert(tx, draft, request_message_id, callback_secret, now, self.me)
        task = await self.get(task_id)
        assert task is not None
        return task

    async def create_rerun(
        self,
        source: Task,
        draft: Draft,
        *,
        request_message_id: int | None,
        callback_secret: str,
    ) -> Task | None:
        """The task of "make it again" under `source`'s video, from a submitted copy of its
        draft; None when that button was used already (a double tap pays once)."""
        try:
            async with self.db.transaction() as tx:
                now = self.db.clock()
                task_id = await _insert(
                    tx, draft, request_message_id, callback_secret, now, self.me
                )
                if (
                    await tx.write(
                        "UPDATE tasks SET rerun_task_id = ? WHERE id = ? AND rerun_task_id IS NULL",
                        (task_id, source.id),
                    )
                    != 1
                ):
                    raise _AlreadyRerun
        except _AlreadyRerun:
            return None
        return await self.get(task_id)

    async def get(self, task_id: int) -> Task | None:
        """A task by our id."""
        row = await self.db.fetchone("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return _task(row) if row else None

    async def by_callback_secret(self, secret: str) -> Task | None:
        """The task a callback URL belongs to."""
        row = await self.db.fetchone("SELECT * FROM tasks WHERE callback_secret = ?", (secret,))
        return _task(row) if row else None

    async def update(
        self,
        task_id: int,
        *,
        expect_status: Iterable[TaskStatus] | None = None,
        expect_delivery: Iterable[Delivery] | None = None,
        expect_poll_at: float | None = None,
        **fields: object,
    ) -> bool:
        """Set fields, only if the task is still in one of the expected states.

        Returns whether the row changed: a False tells the caller that someone else (a callback,
        a poll, a restart) already moved the task on. `expect_poll_at` is the value a claim by
        `claim_due` wrote: a hint (a callback) that made the task due since then wins.
        """
        change = TaskChange(task_id, fields, expect_status, expect_delivery, expect_poll_at)
        return await self.db.write(*self._statement(change)) == 1

    async def update_returning(
        self,
        task_id: int,
        *,
        expect_status: Iterable[TaskStatus] | None = None,
        expect_delivery: Iterable[Delivery] | None = None,
        **fields: object,
    ) -> Task | None:
        """`update`, and the task as it is now if its row changed (None if someone else moved
        it on): one round trip instead of a write and a read."""
        change = TaskChange(task_id, fields, expect_status, expect_delivery)
        sql, params = self._statement(change)
        rows = await self.db.write_returning(sql + " RETURNING *", params)
        return _task(rows[0]) if rows else None

    async def update_each(self, changes: Sequence[TaskChange]) -> None:
        """`update` for each change (each only if its task is still as it expects), all in one
        transaction: the changes of one shape (the same fields and expectations) in one trip."""
        shapes: dict[str, list[tuple[object, ...]]] = {}
        for change in changes:
            sql, params = self._statement(change)
            shapes.setdefault(sql, []).append(params)
        async with self.db.transaction() as tx:
            for sql, rows in shapes.items():
                await tx.write_many(sql, rows)

    def _statement(self, change: TaskChange) -> tuple[str, tuple[object, ...]]:
        unknown = set(change.fields) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown task columns: {sorted(unknown)}")
        values = {
            k: (v.value if isinstance(v, TaskStatus | Delivery) else v)
            for k, v in change.fields.items()
        }
        values["updated_at"] = self.db.clock()
        # Column names come from _COLUMNS, never from input; values are bound parameters.
        sql = "UPDATE tasks SET " + ", ".join(f"{k} = ?" for k in values) + " WHERE id = ?"
        params: list[object] = [*values.values(), change.task_id]
        expectations = (("status", change.expect_status), ("delivery", change.expect_delivery))
        for column, expected in expectations:
            if expected is not None:
                states = [s.value for s in expected]
                sql += f" AND {column} IN ({', '.join('?' * len(states))})"
                params.extend(states)
        if change.expect_poll_at is not None:
            sql += " AND next_poll_at = ?"
            params.append(change.expect_poll_at)
        return sql, tuple(params)

    async def claim_due(self, now: float, *, lease_until: float, limit: int = 50) -> list[Task]:
        """Tasks the tracker must look at now (see `_DUE`), soonest first, claimed by this
        replica until `lease_until`: no other replica looks at them meanwhile, and if this one
        stops they are due again then. Their `next_poll_at` is the claim's value."""
        rows = await self.db.write_returning(
            "UPDATE tasks SET next_poll_at = ?,"
            # A send in hand keeps its owner (see `orphaned`).
            " owner = CASE WHEN delivery = 'sending' THEN owner ELSE ? END"
            f" WHERE id IN (SELECT id FROM tasks WHERE {WATCHED} AND ({_DUE})"
            " AND (next_poll_at IS NULL OR next_poll_at <= ?)"
            f" ORDER BY next_poll_at NULLS FIRST LIMIT ?{self.db.skip_locked}) RETURNING *",
            (lease_until, self.me, now - LATE_WATCH_SECONDS, now, limit),
        )
        return sorted((_task(row) for row in rows), key=lambda task: task.id)

    async def release_claims(self, *, alive_since: float) -> int:
        """Make due now the tasks that replicas which stopped had claimed (see `claim_due`), or
        scheduled: at worst one query early."""
        now = self.db.clock()
        return await self.db.write(
            f"UPDATE tasks SET next_poll_at = ? WHERE ({_DUE}) AND next_poll_at > ?"
            " AND delivery <> 'sending' AND owner IS NOT NULL"
            " AND owner NOT IN (SELECT id FROM replicas WHERE seen_at >= ?)",
            (now, now - LATE_WATCH_SECONDS, now, alive_since),
        )

    async def next_poll_at(self, now: float) -> float | None:
        """When the next task is due, if the tracker has any to look at."""
        # The first one in `tasks_poll`'s order: one step along the index, not a count of all.
        row = await self.db.fetchone(
            f"SELECT COALESCE(next_poll_at, 0) FROM tasks WHERE {WATCHED} AND ({_DUE})"
            " ORDER BY next_poll_at NULLS FIRST LIMIT 1",
            (now - LATE_WATCH_SECONDS,),
        )
        return float(row[0]) if row is not None else None

    async def by_upstream_id(self, upstream_id: str) -> Task | None:
        """Our task for an upstream task id, if we have one."""
        row = await self.db.fetchone("SELECT * FROM tasks WHERE upstream_id = ?", (upstream_id,))
        return _task(row) if row else None

    async def claim(self, task_id: int, upstream_id: str) -> bool:
        """Remember the upstream id a callback named for a task whose submit answer we lack."""
        return (
            await self.db.write(
                "UPDATE tasks SET callback_claim = ?, next_poll_at = 0, updated_at = ?"
                " WHERE id = ? AND upstream_id IS NULL",
                (upstream_id, self.db.clock(), task_id),
            )
            == 1
        )

    async def orphaned(self, *, alive_since: float) -> list[Task]:
        """Submits and sends whose replica stopped (see storage.replicas), oldest first."""
        rows = await self.db.fetchall(
            f"SELECT * FROM tasks WHERE {_HELD} AND {ORPHANED} ORDER BY id", (alive_since,)
        )
        return [_task(row) for row in rows]

    async def take(self, task: Task) -> Task | None:
        """Make a task's submit or send this replica's, if the owner seen in `task` still holds
        it; the task as it now stands."""
        rows = await self.db.write_returning(
            f"UPDATE tasks SET owner = ? WHERE id = ? AND {_HELD} AND COALESCE(owner, '') = ?"
            " RETURNING *",
            (self.me, task.id, task.owner or ""),
        )
        return _task(rows[0]) if rows else None

    async def undelivered(self) -> list[Task]:
        """Finished tasks whose outcome nobody has started to send."""
        rows = await self.db.fetchall(
            "SELECT * FROM tasks WHERE status IN ('completed', 'failed', 'cancelled')"
            " AND delivery = 'none' ORDER BY id"
        )
        return [_task(row) for row in rows]

    async def created_since(self, user_id: int, since: float) -> int:
        """How many tasks a user started since `since` (refused ones cost nothing, not counted)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM tasks WHERE user_id = ? AND created_at >= ?"
            " AND status != 'refused'",
            (user_id, since),
        )
        return int(row[0]) if row else 0

    async def usage(self, user_id: int, *, since: float) -> Usage:
        """A user's videos since `since` and in progress, and the credits their tasks reserved
        (refused requests cost nothing and are not counted)."""
        row = await self.db.fetchone(
            "SELECT"
            " COALESCE(SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0),"
            f" COALESCE(SUM(CASE WHEN {_IN_PROGRESS} THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN created_at >= ? THEN credits_reserved ELSE 0 END), 0),"
            " COALESCE(SUM(credits_reserved), 0)"
            " FROM tasks WHERE user_id = ? AND status != 'refused'",
            (since, since, user_id),
        )
        assert row is not None
        return Usage(int(row[0]), int(row[1]), float(row[2]), float(row[3]))

    async def running_count(self, user_id: int) -> int:
        """How many of a user's tasks are in progress, in every chat."""
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM tasks WHERE user_id = ? AND {_IN_PROGRESS}", (user_id,)
        )
        return int(row[0]) if row else 0

    async def history(self, key: ChatKey, limit: int = 10) -> list[Task]:
        """A user's latest tasks in a chat and topic, newest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM tasks WHERE chat_id = ? AND user_id = ? AND topic_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (key.chat_id, key.user_id, key.topic_id, limit),
        )
        return [_task(row) for row in rows]

    async def credit_rate(self, quality: str, content_filter: bool) -> float | None:
        """Credits per second of video that recent tasks with these options reserved."""
        row = await self.db.fetchone(
            "SELECT AVG(credits_reserved / duration) FROM ("
            " SELECT credits_reserved, duration FROM tasks WHERE credits_reserved IS NOT NULL"
            " AND duration > 0 AND quality = ? AND content_filter = ?"
            " ORDER BY id DESC LIMIT 20) AS recent",
            (quality, int(content_filter)),
        )
        return float(row[0]) if row and row[0] is not None else None

    async def running_for(self, key: ChatKey) -> list[Task]:
        """A user's tasks in a chat that have not reached the chat yet."""
        rows = await self.db.fetchall(
            "SELECT * FROM tasks WHERE chat_id = ? AND user_id = ? AND topic_id = ?"
            f" AND {_IN_PROGRESS} ORDER BY id",
            (key.chat_id, key.user_id, key.topic_id),
        )
        return [_task(row) for row in rows]

    async def day_stats(self, since: float) -> DayStats:
        """Tasks started since `since` by status, failures by reason, credits, and the queue."""
        by_status = await self.db.fetchall(
            "SELECT status, COUNT(*) FROM tasks WHERE created_at >= ?"
            " GROUP BY status ORDER BY 2 DESC, 1",
            (since,),
        )
        failures = await self.db.fetchall(
            "SELECT COALESCE(error_code, 'unknown'), COUNT(*) FROM tasks WHERE created_at >= ?"
            " AND status IN ('failed', 'refused', 'unknown', 'cancelled')"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
            (since,),
        )
        totals = await self.db.fetchone(
            "SELECT COALESCE(SUM(credits_reserved), 0), COUNT(DISTINCT user_id) FROM tasks"
            " WHERE created_at >= ?",
            (since,),
        )
        queue = await self.db.fetchone(
            "SELECT COUNT(*) FROM tasks WHERE status IN ('preparing', 'submitting', 'pending',"
            " 'processing') OR (status = 'completed' AND delivery IN ('none', 'sending'))"
        )
        return DayStats(
            by_status=[(str(row[0]), int(row[1])) for row in by_status],
            failures=[(str(row[0]), int(row[1])) for row in failures],
            credits=float(totals[0]) if totals else 0.0,
            users=int(totals[1]) if totals else 0,
            in_progress=int(queue[0]) if queue else 0,
        )

    async def count_by_state(self) -> list[tuple[str, str, int]]:
        """(status, delivery, how many tasks) over every task."""
        rows = await self.db.fetchall(
            "SELECT status, delivery, COUNT(*) FROM tasks GROUP BY status, delivery"
        )
        return [(str(row[0]), str(row[1]), int(row[2])) for row in rows]


def _task(row: Row) -> Task:
    return Task(
        id=row["id"],
        draft_id=row["draft_id"],
        key=ChatKey(chat_id=row["chat_id"], user_id=row["user_id"], topic_id=row["topic_id"]),
        language=row["language"],
        request_message_id=row["request_message_id"],
        status_message_id=row["status_message_id"],
        idempotency_key=row["idempotency_key"],
        callback_secret=row["callback_secret"],
        upstream_id=row["upstream_id"],
        status=TaskStatus(row["status"]),
        progress=row["progress"],
        prompt=row["prompt"],
        options=Options.from_json(row["options"]),
        credits_reserved=row["credits_reserved"],
        estimated_time=row["estimated_time"],
        result_url=row["result_url"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        next_poll_at=row["next_poll_at"],
        progress_shown=row["progress_shown"],
        progress_edited_at=row["progress_edited_at"],
        delivery=Delivery(row["delivery"]),
        delivered_message_id=row["delivered_message_id"],
        delivered_file_id=row["delivered_file_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
        callback_claim=row["callback_claim"],
        rerun_task_id=row["rerun_task_id"],
        owner=row["owner"],
        rate_progress=row["rate_progress"],
        rate_at=row["rate_at"],
    )


async def _insert(
    tx: Connection,
    draft: Draft,
    request_message_id: int | None,
    callback_secret: str,
    now: float,
    owner: str,
) -> int:
    """A new task row for the draft, about to be submitted by `owner`; returns its id."""
    options = draft.options
    row = await tx.fetchone(
        "INSERT INTO tasks (draft_id, chat_id, topic_id, user_id, language,"
        " request_message_id, idempotency_key, callback_secret, status, prompt, options,"
        " duration, quality, content_filter, created_at, updated_at, owner)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            draft.id,
            draft.key.chat_id,
            draft.key.topic_id,
            draft.key.user_id,
            draft.language,
            request_message_id,
            draft.idempotency_key,
            callback_secret,
            TaskStatus.PREPARING.value,
            draft.prompt,
            options.to_json(),
            options.duration,
            options.quality,
            int(options.content_filter),
            now,
            now,
            owner,
        ),
    )
    assert row is not None
    return int(row[0])
