"""Following submitted tasks to the end: polling, callback hints, progress, hand-off to delivery.

Also the tasks whose submit answer was lost (adopted when a callback names them, see
`bot.tasks.reconcile`) and those given up at the deadline (still watched, delivered if they finish).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from bot.evolink import EvolinkError, VideoTask
from bot.evolink.lanes import TaskReader
from bot.runtime.background import Background, Loop
from bot.runtime.metrics import Metrics
from bot.tasks.delivery import Deliverer
from bot.tasks.notices import Notices, progress_text
from bot.tasks.poll_plan import Reading, due_at, next_delay
from bot.tasks.reconcile import Reconciler
from bot.telegram.texts import t
from storage import Store
from storage.db import Clock
from storage.models import DEADLINE, Delivery, Task, TaskStatus
from storage.tasks import TaskChange

log = logging.getLogger(__name__)

GROUP_EDIT_SECONDS = 15.0
# A task given up at the deadline is queried this many poll intervals apart (a callback, when
# callbacks are on, brings a late completion at once).
LATE_POLL_INTERVALS = 30
# After a failed query, the next one comes in twice the interval, but at most this many seconds.
RETRY_SECONDS = 5.0
# Task queries in flight at once (see bot.evolink.lanes): a sweep of a thousand tasks takes
# seconds, and at 150 ms an answer some fifty queries a second go through.
QUERY_CONCURRENCY = 8
# Due tasks are gathered this long into one claim (unless a submit or a callback wakes the loop).
GATHER_SECONDS = 0.4
# The answers that leave a task running are written together, those of this long in one
# transaction: one write each would cost a sixth of a query's CPU.
RESCHEDULE_SECONDS = 0.2
_RUNNING = (TaskStatus.PENDING, TaskStatus.PROCESSING)

_FINAL_UPSTREAM = {
    "completed": TaskStatus.COMPLETED,
    "failed": TaskStatus.FAILED,
    "cancelled": TaskStatus.CANCELLED,
}


class TaskTracker:
    """One loop polls every running task when it is due; callbacks only make a task due now.

    With several replicas, each claims the due tasks it queries (storage `claim_due`): a task
    is queried by one replica at a time, and is due again when the claim runs out, so the tasks
    of a replica that stopped move on. When to query next: see `bot.tasks.poll_plan`.
    """

    def __init__(
        self,
        *,
        store: Store,
        client: TaskReader,
        notices: Notices,
        reconciler: Reconciler,
        deliverer: Deliverer,
        background: Background,
        metrics: Metrics,
        poll_interval: float,
        progress_edit_seconds: float,
        deadline_seconds: float,
        callbacks: bool = False,
        claim_seconds: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._notices = notices
        self._reconciler = reconciler
        self._deliverer = deliverer
        self._background = background
        self._metrics = metrics
        self._interval = poll_interval
        self._edit_every = progress_edit_seconds
        self._deadline = deadline_seconds
        self._callbacks = callbacks
        self._claim_seconds = claim_seconds
        self._clock = clock
        self._wake = asyncio.Event()
        self._wake_at = 0.0  # when the loop means to look for due tasks next
        self._busy: set[int] = set()
        # Tasks hinted while a check of theirs was in flight: that check may have read the state
        # from before the change, so they are checked again once it is over.
        self._recheck: set[int] = set()
        self._loop = Loop(self._run, name="task-tracker")
        # Running tasks' next queries, written together (see `_reschedule`), with when each is due.
        self._reschedules: list[tuple[TaskChange, float]] = []
        self._rescheduling: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the polling loop."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop the polling loop (tasks in flight are picked up again after a restart)."""
        await self._loop.stop()
        if self._rescheduling is not None:
            await self._rescheduling

    def wake(self) -> None:
        """Look for due tasks now (a task was submitted, or a callback came)."""
        self._wake.set()

    def _due(self, at: float) -> None:
        """A task was scheduled for `at`: the loop looks sooner if it meant to sleep past it."""
        if at < self._wake_at:
            self._wake.set()

    def first_query_at(self, answer: VideoTask) -> float:
        """When to first ask about a task just submitted: planned from the submit's answer as
        from a query's (asked at once, it would mostly say the same again)."""
        now = self._clock()
        if answer.status not in ("pending", "processing"):
            return now
        reading = Reading(
            age=0.0,
            estimate=answer.task_info.estimated_time,
            progress=answer.progress,
            queued=answer.status == "pending" and answer.progress <= 0,
        )
        return due_at(now, next_delay(reading, longest=self._interval, callbacks=self._callbacks))

    async def on_callback(self, task: Task, claim: str | None) -> None:
        """A callback to this task's secret URL said it changed; `claim` is the task id its body
        names. Only the task query is believed: the body is at most a lead."""
        if task.upstream_id is None:
            # The submit's answer is awaited or was lost: the callback may be all there is.
            if claim is not None and await self._store.tasks.claim(task.id, claim):
                self.wake()
                return
            fresh = await self._store.tasks.get(task.id)
            if fresh is None or fresh.upstream_id is None:
                return
            task = fresh  # the answer was recorded meanwhile: a hint like any other
        if task.status.running or task.given_up:
            if task.id in self._busy:
                self._recheck.add(task.id)
            await self._store.tasks.update(task.id, next_poll_at=0.0, expect_status=[task.status])
            self.wake()
        elif task.status.final:
            await self._finish(task.id)

    async def recover(self, alive_since: float) -> None:
        """Tasks a stopped replica was querying are due at once; sends it left are settled;
        finished tasks nobody sends are sent."""
        await self._store.tasks.release_claims(alive_since=alive_since)
        for orphan in await self._store.tasks.orphaned(alive_since=alive_since):
            if orphan.delivery is not Delivery.SENDING:
                continue
            task = await self._store.tasks.take(orphan)
            if task is not None and task.delivery is Delivery.SENDING:
                log.info("send cut off by a stop taken over", extra={"task": task.id})
                self._background.spawn(
                    self._deliverer.settle_interrupted(task), name=f"settle-{task.id}"
                )
        # Sent once whichever replica asks: the send is claimed by a conditional update.
        for task in await self._store.tasks.undelivered():
            self._background.spawn(self._deliverer.deliver(task.id), name=f"deliver-{task.id}")
        self.wake()

    async def _check_owned(self, task: Task) -> None:
        """Look at a task this replica claimed (`task` as the claim returned it)."""
        task_id = task.id
        try:
            if task.status is TaskStatus.UNKNOWN:
                await self._settle_unknown(task)
                return
            if task.upstream_id is None or not (task.status.running or task.given_up):
                return
            if task.status.running and self._clock() - self._sent_at(task) > self._deadline:
                await self._give_up(task)
                return
            try:
                state = await self._client.get_task(task.upstream_id)
            except EvolinkError as exc:
                log.warning("task %s: query failed: %s", task.id, exc)
                await self._retry_later(task)
                return
            if state.id != task.upstream_id:
                # Never take another task's state (and its video) for this one.
                log.warning(
                    "task %s: the query for %s answered about %s; ignored",
                    task.id,
                    task.upstream_id,
                    state.id[:80],
                )
                await self._retry_later(task)
                return
            if task.given_up:
                await self._apply_late(task, state)
            else:
                await self.apply(task, state)
        finally:
            self._busy.discard(task_id)
            if task_id in self._recheck:
                self._recheck.discard(task_id)
                await self._store.tasks.update(
                    task_id,
                    next_poll_at=0.0,
                    expect_status=[TaskStatus.PENDING, TaskStatus.PROCESSING, TaskStatus.FAILED],
                )
                self.wake()

    async def _settle_unknown(self, task: Task) -> None:
        """A task with no upstream id: adopt what a callback named, or close it when due."""
        if task.callback_claim is not None:
            adopted = await self._reconciler.adopt(task)
            if adopted is not None:
                self._metrics.upstream_tasks.labels(how="adopted").inc()
                fresh, state = adopted
                if state.status not in _FINAL_UPSTREAM:
                    await self._notices.news(
                        fresh, t(fresh.language, "submit_confirmed"), status_key="status_confirmed"
                    )
                await self.apply(fresh, state)
            return
        if task.delivery is Delivery.NONE:
            await self._reconciler.close(task)

    async def _apply_late(self, task: Task, state: VideoTask) -> None:
        """A task given up at the deadline: its video is still sent if it comes."""
        if state.status == "completed" and state.result_url:
            if await self._store.tasks.update(
                task.id,
                status=TaskStatus.COMPLETED,
                progress=100,
                result_url=state.result_url,
                error_code=None,
                error_message=None,
                delivery=Delivery.NONE,
                finished_at=self._clock(),
                expect_status=[TaskStatus.FAILED],
            ):
                log.info("task %s: finished after the deadline; delivering", task.id)
                await self._finish(task.id)
            return
        if state.status in _FINAL_UPSTREAM:
            # It ended without a video: the user was already told it was given up.
            error = state.error
            await self._store.tasks.update(
                task.id,
                error_code=error.code if error else state.status,
                error_message=error.message if error else None,
                next_poll_at=None,
                expect_status=[TaskStatus.FAILED],
            )
            return
        await self._store.tasks.update(
            task.id,
            next_poll_at=self._clock() + self._interval * LATE_POLL_INTERVALS,
            expect_status=[TaskStatus.FAILED],
            expect_poll_at=task.next_poll_at,
        )

    def _sent_at(self, task: Task) -> float:
        return task.submitted_at or task.created_at

    async def _retry_later(self, task: Task) -> None:
        if task.given_up:
            later = self._interval * LATE_POLL_INTERVALS
        else:
            later = min(self._interval * 2, RETRY_SECONDS)
        if await self._store.tasks.update(
            task.id,
            next_poll_at=self._clock() + later,
            expect_status=[task.status],
            expect_poll_at=task.next_poll_at,
        ):
            self._due(self._clock() + later)

    async def apply(self, task: Task, state: VideoTask) -> None:
        """Record what the task query said; a final state goes on to delivery."""
        final = _FINAL_UPSTREAM.get(state.status)
        if final is TaskStatus.COMPLETED and not state.result_url:
            final = None  # completed without a URL yet: ask again shortly
        if final is not None:
            error = state.error
            moved = await self._store.tasks.update(
                task.id,
                status=final,
                progress=100 if final is TaskStatus.COMPLETED else state.progress,
                result_url=state.result_url,
                error_code=error.code
                if error
                else ("cancelled" if final is TaskStatus.CANCELLED else None),
                error_message=error.message if error else None,
                finished_at=self._clock(),
                expect_status=_RUNNING,
            )
            if moved:
                await self._finish(task.id)
            return
        now = self._clock()
        status = TaskStatus.PROCESSING if state.status == "processing" else task.status
        # The pace baseline: the first reading that saw the task processing upstream.
        baseline = (task.rate_at, task.rate_progress)
        if task.rate_at is None and state.status == "processing":
            baseline = (now, state.progress)
        estimate = state.task_info.estimated_time or task.estimated_time
        reading = Reading(
            age=now - self._sent_at(task),
            estimate=estimate,
            progress=state.progress,
            queued=state.status == "pending" and state.progress <= 0,
            baseline_age=None if baseline[0] is None else baseline[0] - self._sent_at(task),
            baseline_progress=baseline[1],
            # The previous query's answer was written then (or the submit's).
            since_previous=now - task.updated_at,
            previous_progress=task.progress,
        )
        at = due_at(now, next_delay(reading, longest=self._interval, callbacks=self._callbacks))
        fields = {
            "status": status,
            "progress": state.progress,
            "estimated_time": estimate,
            "rate_at": baseline[0],
            "rate_progress": baseline[1],
            "next_poll_at": at,
        }
        # A callback that made the task due meanwhile wins: it is looked at again at once.
        self._reschedule(
            TaskChange(task.id, fields, expect_status=_RUNNING, expect_poll_at=task.next_poll_at),
            at,
        )
        await self._show_progress(task, state.progress)

    def _reschedule(self, change: TaskChange, at: float) -> None:
        """Write a running task's next query soon, with the others that come meanwhile (until
        then the claim keeps it from being due)."""
        self._reschedules.append((change, at))
        if self._rescheduling is None or self._rescheduling.done():
            self._rescheduling = asyncio.create_task(self._write_reschedules())

    async def _write_reschedules(self) -> None:
        await asyncio.sleep(RESCHEDULE_SECONDS)
        while self._reschedules:
            batch, self._reschedules = self._reschedules, []
            try:
                await self._store.tasks.update_each([change for change, _ in batch])
            except Exception:
                # Each is due again when its claim runs out.
                log.exception("the next queries of %d tasks were not written", len(batch))
                continue
            # A change that did not apply (a callback made its task due) already woke the loop.
            self._due(min(at for _, at in batch))

    async def _finish(self, task_id: int) -> None:
        self._background.spawn(self._deliverer.deliver(task_id), name=f"deliver-{task_id}")

    async def _give_up(self, task: Task) -> None:
        """Stop waiting and say so; the task is still watched now and then, and delivered if it
        finishes after all (it is paid for)."""
        minutes = max(1, round(self._deadline / 60))  # "within 0 minutes" would make no sense
        now = self._clock()
        if await self._store.tasks.update(
            task.id,
            status=TaskStatus.FAILED,
            error_code=DEADLINE,
            error_message=str(minutes),
            finished_at=now,
            next_poll_at=now + self._interval * LATE_POLL_INTERVALS,
            expect_status=[task.status],
        ):
            log.warning("task %s (%s): deadline passed, giving up", task.id, task.upstream_id)
            await self._finish(task.id)

    async def _show_progress(self, task: Task, progress: int) -> None:
        now = self._clock()
        if task.status_message_id is None or progress <= task.progress_shown:
            return
        # Groups share a 20 messages/minute budget among everyone: edit them less often.
        every = self._edit_every if task.key.private else max(self._edit_every, GROUP_EDIT_SECONDS)
        if task.progress_edited_at is not None and now - task.progress_edited_at < every:
            return
        if not self._notices.may_show_progress(task):
            return  # the group's budget is spent: replies and deliveries first; next poll again
        if not await self._notices.status(task, progress_text(task, progress, now=now)):
            # Not tried again for the same figure: a chat that refuses edits (the bot blocked,
            # the message deleted) would otherwise get one on every poll until the task ends.
            log.info("task %s: progress %s%% not shown", task.id, progress)
        await self._store.tasks.update(task.id, progress_shown=progress, progress_edited_at=now)

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:
                log.exception("task tracker tick failed")
            self._wake_at = math.inf  # a check that ends meanwhile wakes the loop
            next_at = await self._store.tasks.next_poll_at(self._clock())
            timeout = self._interval if next_at is None else next_at - self._clock()
            timeout = min(max(timeout, GATHER_SECONDS), self._interval)
            self._wake_at = self._clock() + timeout
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def _tick(self) -> None:
        now = self._clock()
        lease = now + max(self._claim_seconds, 1.0)
        for task in await self._store.tasks.claim_due(now, lease_until=lease):
            if task.id in self._busy:
                # Made due again (a callback) while a check of it is in flight: that check may
                # have read the state from before the change, so it is checked again after it.
                self._recheck.add(task.id)
                continue
            self._busy.add(task.id)
            self._background.spawn(self._check_owned(task), name=f"poll-{task.id}")
