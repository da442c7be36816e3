"""Tasks whose submit answer was lost: adopted when the API names them, else closed honestly.

A 5xx from a gateway, a dropped connection or an unreadable answer to the paid POST may hide a
task that exists and is being billed. Such a request is never sent again. With callbacks on, the
upstream calls the task's secret URL when the task ends, and that body names the task: it is
checked against the task query and adopted, so the video still reaches its chat. Without
callbacks nothing can ever name it, and the user is told so at once.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from bot import limits
from bot.evolink import EvolinkError, VideoTask
from bot.evolink import errors as api
from bot.evolink.lanes import TaskReader
from bot.tasks.notices import Notices
from bot.telegram.texts import t
from storage import Store
from storage.db import Clock
from storage.models import Delivery, Task, TaskStatus

log = logging.getLogger(__name__)

# How far the upstream's clock may be from ours when its `created` is compared with our submit.
CLOCK_SKEW_SECONDS = 300.0
# The POST may be answered (or time out) this long after it was sent.
SUBMIT_SPAN_SECONDS = 300.0
RETRY_SECONDS = 30.0


class Reconciler:
    """Records lost submit answers, adopts the task a callback names, closes the rest."""

    def __init__(
        self,
        *,
        store: Store,
        client: TaskReader,
        notices: Notices,
        callbacks: bool,
        window_seconds: float,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._notices = notices
        self._callbacks = callbacks
        self._window = window_seconds
        self._clock = clock

    async def answer_lost(self, task: Task, reason: str) -> None:
        """The submit may have created a task: record it, never re-send, tell the user once."""
        now = self._clock()
        waits = self._callbacks  # only a callback can ever name the task
        if not await self._store.tasks.update(
            task.id,
            status=TaskStatus.UNKNOWN,
            error_code="submit_unknown",
            error_message=reason[:500],
            delivery=Delivery.NONE if waits else Delivery.DELIVERED,
            finished_at=None if waits else now,
            next_poll_at=now + self._window if waits else None,
            expect_status=[TaskStatus.SUBMITTING],
        ):
            return
        log.warning(
            "submit outcome unknown (%s): never re-sent; %s",
            reason,
            "waiting for a callback" if waits else "callbacks are off, so it cannot be followed",
            extra={"task": task.id, "chat": task.key.chat_id, "user": task.key.user_id},
        )
        fresh = await self._store.tasks.get(task.id)
        assert fresh is not None
        if fresh.callback_claim is not None:
            # A callback came while the answer was awaited: it is looked at right away.
            await self._store.tasks.update(task.id, next_poll_at=0.0)
        if waits:
            until = datetime.fromtimestamp(now + self._window, UTC).strftime("%H:%M")
            text = t(task.language, "submit_unknown_waiting", until=until)
        else:
            text = t(task.language, "submit_unknown_untraceable")
        await self._notices.news(fresh, text, status_key="status_unconfirmed")

    async def adopt(self, task: Task) -> tuple[Task, VideoTask] | None:
        """Check the upstream task a callback named and make it this task's; None if it is not
        (or cannot be checked yet: then it is tried again later)."""
        claim = task.callback_claim
        if claim is None or task.status is not TaskStatus.UNKNOWN:
            return None
        context = {"task": task.id, "upstream": claim[:80]}
        try:
            state = await self._client.get_task(claim)
        except api.NotFound:
            await self._reject(task, "no such task upstream", context)
            return None
        except EvolinkError as exc:
            log.warning("claimed task could not be checked: %s", exc, extra=context)
            await self._store.tasks.update(
                task.id, next_poll_at=self._clock() + RETRY_SECONDS, expect_status=[task.status]
            )
            return None
        problem = self._mismatch(task, state, claim)
        if problem is None:
            other = await self._store.tasks.by_upstream_id(claim)
            if other is not None and other.id != task.id:
                problem = f"already task {other.id}'s"
        if problem is not None:
            await self._reject(task, problem, context)
            return None
        if not await self._store.tasks.update(
            task.id,
            upstream_id=claim,
            callback_claim=None,
            status=TaskStatus.PENDING,
            delivery=Delivery.NONE,
            error_code=None,
            error_message=None,
            finished_at=None,
            next_poll_at=self._clock(),
            expect_status=[TaskStatus.UNKNOWN],
        ):
            return None
        log.info(
            "adopted the task a callback named after the submit answer was lost", extra=context
        )
        fresh = await self._store.tasks.get(task.id)
        assert fresh is not None
        return fresh, state

    async def close(self, task: Task) -> None:
        """Nothing named the task within the window: say once that its fate is unknown."""
        if not await self._store.tasks.update(
            task.id,
            delivery=Delivery.DELIVERED,
            finished_at=self._clock(),
            next_poll_at=None,
            expect_status=[TaskStatus.UNKNOWN],
            expect_delivery=[Delivery.NONE],
        ):
            return
        log.warning("no callback named the task in time; the user is told", extra={"task": task.id})
        since = datetime.fromtimestamp(task.submitted_at or task.created_at, UTC)
        text = t(task.language, "submit_unknown_closed", since=since.strftime("%H:%M"))
        await self._notices.news(task, text, status_key="status_unconfirmed")

    async def _reject(self, task: Task, problem: str, context: dict[str, object]) -> None:
        log.warning(
            "a callback named a task that is not this one (%s): ignored", problem, extra=context
        )
        await self._store.tasks.update(
            task.id,
            callback_claim=None,
            # Still waiting, if it was: the window goes on from where it was.
            next_poll_at=(task.submitted_at or task.created_at) + self._window,
            expect_status=[TaskStatus.UNKNOWN],
        )

    @staticmethod
    def _mismatch(task: Task, state: VideoTask, claim: str) -> str | None:
        """Why the upstream task cannot be the one this task's submit created, if it cannot."""
        if state.id != claim:
            return f"the query answered about {state.id[:80]}"
        if state.model is not None and state.model != limits.MODEL:
            return f"another model ({state.model[:40]})"
        sent = task.submitted_at or task.created_at
        if state.created is not None and not (
            sent - CLOCK_SKEW_SECONDS
            <= state.created
            <= sent + SUBMIT_SPAN_SECONDS + CLOCK_SKEW_SECONDS
        ):
            return "created at another time"
        duration = state.task_info.video_duration
        if duration is not None and duration != task.options.duration:
            return f"another length ({duration} s)"
        return None
