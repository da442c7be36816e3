"""The money path: a task's files hosted, its one paid request sent, and what the answer proves
recorded. Nothing here ever sends a request twice: only an answer that proves no task was created
gives the draft back; a lost answer goes to the reconciler."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.drafts.references import ReferenceProcessor
from bot.drafts.service import DraftService
from bot.evolink import (
    Accepted,
    EvolinkClient,
    EvolinkError,
    GenerationRequest,
    Refused,
    Unknown,
    Unreachable,
    VideoTask,
)
from bot.evolink import errors as api
from bot.hosting import HOSTING_FAILURES
from bot.runtime.background import Background
from bot.runtime.metrics import Metrics
from bot.tasks.notices import Notices, progress_text
from bot.tasks.reconcile import Reconciler
from bot.telegram.texts import t
from storage import Store
from storage.db import Clock
from storage.models import Delivery, Reference, RefStatus, Task, TaskStatus

log = logging.getLogger(__name__)


class Submitter:
    """Hosts a task's files and sends its paid request once; records what the answer proves."""

    def __init__(
        self,
        *,
        store: Store,
        drafts: DraftService,
        processor: ReferenceProcessor,
        client: EvolinkClient,
        notices: Notices,
        reconciler: Reconciler,
        background: Background,
        metrics: Metrics,
        callback_url: Callable[[str], str | None],
        first_query_at: Callable[[VideoTask], float],
        on_submitted: Callable[[], None],
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._processor = processor
        self._client = client
        self._notices = notices
        self._reconciler = reconciler
        self._background = background
        self._metrics = metrics
        self._callback_url = callback_url
        self._first_query_at = first_query_at
        self._on_submitted = on_submitted
        self._clock = clock

    def start(self, task_id: int) -> None:
        """Run the submit of a task in the background."""
        self._background.spawn(self.run(task_id), name=f"submit-{task_id}")

    async def run(self, task_id: int) -> None:
        """Host the task's files and submit it. Safe to call again: it acts only once."""
        task = await self._store.tasks.get(task_id)
        if task is None or task.status is not TaskStatus.PREPARING:
            return
        try:
            await self._run(task)
        except Exception:
            log.exception("task %s: the submit failed unexpectedly", task.id)
            current = await self._store.tasks.get(task.id)
            if current is not None and current.status is TaskStatus.SUBMITTING:
                # The request may have left: never sent again, never given back.
                await self._reconciler.answer_lost(current, "an error while it was sent")
            else:
                # Broken before the request left: nothing was spent, the draft goes back.
                await self._refuse(task, "internal_error", code="internal", message="")
            raise

    async def recover(self, alive_since: float) -> None:
        """Submits a stopped replica (or this process's previous run) left: tasks not yet sent
        are submitted here; those cut off while being sent are unknown (never sent again)."""
        for orphan in await self._store.tasks.orphaned(alive_since=alive_since):
            if orphan.status not in {TaskStatus.PREPARING, TaskStatus.SUBMITTING}:
                continue
            task = await self._store.tasks.take(orphan)
            if task is None:
                continue  # another replica took it
            log.info("submit taken over (%s)", task.status.value, extra={"task": task.id})
            if task.status is TaskStatus.PREPARING:
                self.start(task.id)
            elif task.status is TaskStatus.SUBMITTING:
                await self._reconciler.answer_lost(task, "restarted while the submit was sent")

    async def _run(self, task: Task) -> None:
        refs = await self._ready_references(task)
        if not any(r.kind in {"image", "video"} for r in refs):
            await self._refuse(task, "need_visual", code="no_references", message="no usable file")
            return
        hosted = await self._host(task, refs)
        if hosted is None:
            return
        request = self._request(task, hosted)
        # From here on the request may reach the upstream: a restart must not send it again.
        if not await self._store.tasks.update(
            task.id,
            status=TaskStatus.SUBMITTING,
            submitted_at=self._clock(),
            expect_status=[TaskStatus.PREPARING],
        ):
            return
        with self._metrics.submit_seconds.time():
            outcome = await self._client.submit(request, idempotency_key=task.idempotency_key)
        match outcome:
            case Accepted(task=answer):
                self._metrics.upstream_tasks.labels(how="accepted").inc()
                await self._accepted(task, answer)
            case Refused(error=error):
                await self._refused(task, error)
            case Unknown(reason=reason):
                await self._reconciler.answer_lost(task, reason)

    async def _ready_references(self, task: Task) -> list[Reference]:
        await self._drafts.wait_ready(task.draft_id)
        refs = await self._store.drafts.references(task.draft_id)
        return [r for r in refs if r.status is RefStatus.READY]

    async def _host(self, task: Task, refs: list[Reference]) -> list[Reference] | None:
        """Every reference at a URL the upstream can fetch, or None (the user was told why)."""
        try:
            return [await self._processor.ensure_hosted(r) for r in refs]
        except (api.Unauthorized, api.Forbidden) as exc:
            _log_key_refused(exc)
            await self._refuse(task, "service_auth", code=exc.code, message=exc.message)
        except HOSTING_FAILURES as exc:
            log.warning("task %s: hosting failed: %s", task.id, exc)
            await self._refuse(task, "hosting_failed", code=exc.code, message=exc.message)
        return None

    def _request(self, task: Task, hosted: list[Reference]) -> GenerationRequest:
        def urls(kind: str) -> list[str]:
            return [r.hosted_url for r in hosted if r.kind == kind and r.hosted_url]

        return GenerationRequest(
            prompt=task.prompt,
            image_urls=urls("image"),
            video_urls=urls("video"),
            audio_urls=urls("audio"),
            duration=task.options.duration,
            quality=task.options.quality,
            aspect_ratio=task.options.aspect_ratio,
            generate_audio=task.options.generate_audio,
            content_filter=task.options.content_filter,
            callback_url=self._callback_url(task.callback_secret),
        )

    async def _accepted(self, task: Task, answer: VideoTask) -> None:
        status = (
            TaskStatus(answer.status)
            if answer.status in {"pending", "processing"}
            else TaskStatus.PENDING
        )
        await self._store.tasks.update(
            task.id,
            upstream_id=answer.id,
            status=status,
            progress=answer.progress,
            credits_reserved=answer.usage.credits_reserved,
            estimated_time=answer.task_info.estimated_time,
            next_poll_at=self._first_query_at(answer),
            expect_status=[TaskStatus.SUBMITTING],
        )
        log.info(
            "submitted, %s credits reserved",
            answer.usage.credits_reserved,
            extra={
                "task": task.id,
                "upstream": answer.id,
                "chat": task.key.chat_id,
                "user": task.key.user_id,
            },
        )
        fresh = await self._store.tasks.get(task.id)
        if fresh is not None and fresh.callback_claim is not None:
            # A callback came while the answer was on its way: the task may have moved on.
            await self._store.tasks.update(task.id, next_poll_at=0.0, expect_status=[status])
        if fresh is not None:
            now = self._clock()
            await self._notices.status(fresh, progress_text(fresh, answer.progress, now=now))
            await self._store.tasks.update(
                task.id, progress_shown=answer.progress, progress_edited_at=now
            )
        self._on_submitted()

    async def _refused(self, task: Task, error: EvolinkError) -> None:
        """The answer proves nothing was created: say why, in the words that fit the cause."""
        if isinstance(error, api.Unauthorized | api.Forbidden):
            _log_key_refused(error)
            text_key = "service_auth"
        elif isinstance(error, api.QuotaExceeded):
            text_key = "quota"
        elif isinstance(error, api.RateLimited | Unreachable):
            text_key = "service_down"
        else:
            text_key = "refused"
        await self._refuse(task, text_key, code=error.code, message=error.message)

    async def _refuse(self, task: Task, text_key: str, *, code: str, message: str) -> None:
        """Nothing was charged: record it, give the draft back, and tell the user."""
        if not await self._store.tasks.update(
            task.id,
            status=TaskStatus.REFUSED,
            error_code=code,
            error_message=message[:500],
            finished_at=self._clock(),
            delivery=Delivery.DELIVERED,
            expect_status=[TaskStatus.PREPARING, TaskStatus.SUBMITTING],
        ):
            return
        reopened = await self._store.drafts.reopen(task.draft_id)
        if text_key == "refused":
            text_key = "refused" if reopened else "refused_kept"
        text = t(task.language, text_key, message=_plain(message))
        await self._notices.news(task, text, status_key="status_not_submitted")
        if reopened:
            # The draft comes back as it was, with its buttons, right under the explanation.
            await self._drafts.refresh_summary(task.draft_id, anew=True)


def _log_key_refused(exc: EvolinkError) -> None:
    log.error("Evolink refused the API key (%s %s): check EVOLINK_API_KEY", exc.status, exc.code)


def _plain(message: str) -> str:
    return message.strip()[:300] or "no reason given"
