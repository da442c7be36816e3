"""From a draft to a paid upstream task, submitted at most once."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from bot.access import AccessPolicy
from bot.background import Background
from bot.drafts import DraftService
from bot.evolink import EvolinkClient, EvolinkError, GenerationRequest, Unreachable
from bot.evolink import errors as api
from bot.messenger import Messenger
from bot.metrics import Metrics
from bot.references import ReferenceProcessor
from bot.texts import t
from storage import Store
from storage.db import Clock
from storage.models import ChatKey, Delivery, RefStatus, Task, TaskStatus

log = logging.getLogger(__name__)


class Submitter:
    """Checks a draft, writes its task row, hosts its files and submits it once."""

    def __init__(
        self,
        *,
        store: Store,
        drafts: DraftService,
        processor: ReferenceProcessor,
        client: EvolinkClient,
        messenger: Messenger,
        background: Background,
        access: AccessPolicy,
        metrics: Metrics,
        callback_url: Callable[[str], str | None],
        on_submitted: Callable[[], None],
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._processor = processor
        self._client = client
        self._messenger = messenger
        self._background = background
        self._access = access
        self._metrics = metrics
        self._callback_url = callback_url
        self._on_submitted = on_submitted
        self._clock = clock

    async def generate(
        self, key: ChatKey, language: str, *, request_message_id: int | None, prompt: str | None
    ) -> Task | None:
        """Turn the user's open draft into a task and start its submit; answers the user.

        Returns the task when one was created; the submit itself continues in the background.
        """
        if prompt and not await self._drafts.set_prompt(key, language, prompt, announce=False):
            return None
        draft = await self._store.drafts.open_draft(key)
        if draft is None:
            running = await self._store.tasks.running_for(key)
            text_key = "already_submitted" if running else "nothing_to_generate"
            await self._reply(key, language, text_key, request_message_id)
            return None
        refs = await self._store.drafts.references(draft.id)
        usable = [r for r in refs if r.status is not RefStatus.REJECTED]
        # A file still being read ("auto") may well be a picture: the submit checks again.
        if not any(r.kind in {"image", "video", "auto"} for r in usable):
            await self._reply(key, language, "need_visual", request_message_id)
            return None
        if not draft.prompt.strip():
            await self._reply(key, language, "need_prompt", request_message_id)
            return None
        refusal = await self._access.quota_refusal(key.user_id)
        if refusal is not None:
            text = t(language, refusal.text_key, limit=refusal.limit)
            await self._messenger.send(key, text, reply_to=request_message_id)
            return None
        task = await self._store.tasks.create_from_draft(
            draft,
            request_message_id=request_message_id,
            callback_secret=secrets.token_urlsafe(24),
        )
        if task is None:
            await self._reply(key, language, "already_submitted", request_message_id)
            return None
        self._drafts.forget(draft.id)  # closed: its menu and arrival times are no longer needed
        if draft.summary_message_id is not None:
            # The draft is closed: its buttons go, its text stays as a record of the request.
            await self._messenger.edit(
                key.chat_id, draft.summary_message_id, await self._drafts.summary_text(draft)
            )
        pending = self._drafts.pending(draft.id)
        text = (
            t(language, "waiting_for_files", count=pending)
            if pending
            else t(language, "submitting")
        )
        status_id = await self._messenger.send(key, text, reply_to=request_message_id)
        await self._store.tasks.update(task.id, status_message_id=status_id)
        self.start(task.id)
        return await self._store.tasks.get(task.id)

    async def generate_when_quiet(
        self, key: ChatKey, language: str, draft_id: int, *, request_message_id: int | None
    ) -> None:
        """Generate once the rest of an album has arrived (a caption starting with /generate)."""
        await self._drafts.wait_quiet(draft_id)
        await self.generate(key, language, request_message_id=request_message_id, prompt=None)

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
            # Whatever broke, the user must not wait for a video that will never come; before
            # the submit nothing was spent, so the draft goes back.
            log.exception("task %s: preparing the submit failed", task.id)
            await self._refuse(task, "internal_error", code="internal", message="")
            raise

    async def _run(self, task: Task) -> None:
        await self._drafts.wait_ready(task.draft_id)
        refs = [
            r
            for r in await self._store.drafts.references(task.draft_id)
            if r.status is RefStatus.READY
        ]
        if not any(r.kind in {"image", "video"} for r in refs):
            await self._refuse(task, "need_visual", code="no_references", message="no usable file")
            return
        try:
            hosted = [await self._processor.ensure_hosted(r) for r in refs]
        except (api.Unauthorized, api.Forbidden) as exc:
            self._log_key_refused(exc)
            await self._refuse(task, "service_auth", code=exc.code, message=exc.message)
            return
        except EvolinkError as exc:
            log.warning("task %s: hosting failed: %s", task.id, exc)
            await self._refuse(task, "hosting_failed", code=exc.code, message=exc.message)
            return
        request = GenerationRequest(
            prompt=task.prompt,
            image_urls=[r.hosted_url for r in hosted if r.kind == "image" and r.hosted_url],
            video_urls=[r.hosted_url for r in hosted if r.kind == "video" and r.hosted_url],
            audio_urls=[r.hosted_url for r in hosted if r.kind == "audio" and r.hosted_url],
            duration=task.options.duration,
            quality=task.options.quality,
            aspect_ratio=task.options.aspect_ratio,
            generate_audio=task.options.generate_audio,
            content_filter=task.options.content_filter,
            callback_url=self._callback_url(task.callback_secret),
        )
        # From here on the request may reach the upstream: a restart must not send it again.
        if not await self._store.tasks.update(
            task.id, status=TaskStatus.SUBMITTING, expect_status=[TaskStatus.PREPARING]
        ):
            return
        try:
            with self._metrics.submit_seconds.time():
                answer = await self._client.submit(request, idempotency_key=task.idempotency_key)
        except Unreachable as exc:
            if exc.maybe_sent:
                await self._unknown(task, exc)
            else:
                await self._refuse(task, "service_down", code=exc.code, message=exc.message)
            return
        except api.MalformedResponse as exc:
            await self._unknown(task, exc)
            return
        except (api.Unauthorized, api.Forbidden) as exc:
            self._log_key_refused(exc)
            await self._refuse(task, "service_auth", code=exc.code, message=exc.message)
            return
        except api.QuotaExceeded as exc:
            await self._refuse(task, "quota", code=exc.code, message=exc.message)
            return
        except (api.RateLimited, api.ServerError) as exc:
            await self._refuse(task, "service_down", code=exc.code, message=exc.message)
            return
        except EvolinkError as exc:
            await self._refuse(task, "refused", code=exc.code, message=exc.message)
            return
        status = (
            TaskStatus(answer.status)
            if answer.status in {"pending", "processing"}
            else TaskStatus.PENDING
        )
        now = self._clock()
        await self._store.tasks.update(
            task.id,
            upstream_id=answer.id,
            status=status,
            progress=answer.progress,
            credits_reserved=answer.usage.credits_reserved,
            estimated_time=answer.task_info.estimated_time,
            submitted_at=now,
            next_poll_at=now,
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
        if task.status_message_id is not None:
            fresh = await self._store.tasks.get(task.id)
            credits = credits_text(task.language, answer.usage.credits_reserved, "credits_reserved")
            if fresh is not None and fresh.status_message_id is not None:
                await self._messenger.edit(
                    task.key.chat_id,
                    fresh.status_message_id,
                    t(task.language, "submitted", credits=credits),
                )
        self._on_submitted()

    async def resume(self) -> None:
        """After a restart: tasks not yet sent are submitted; interrupted submits are reported."""
        for task in await self._store.tasks.needing_attention():
            if task.status is TaskStatus.PREPARING:
                self.start(task.id)
            elif task.status is TaskStatus.SUBMITTING:
                await self._unknown(task, RuntimeError("restarted during submit"))

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
        await self._messenger.send_or_edit(task.key, task.status_message_id, text)

    @staticmethod
    def _log_key_refused(exc: EvolinkError) -> None:
        log.error(
            "Evolink refused the API key (%s %s): check EVOLINK_API_KEY", exc.status, exc.code
        )

    async def _unknown(self, task: Task, exc: BaseException) -> None:
        log.warning("task %s: submit outcome unknown: %s", task.id, exc)
        if await self._store.tasks.update(
            task.id,
            status=TaskStatus.UNKNOWN,
            error_code="submit_unknown",
            error_message=str(exc)[:500],
            finished_at=self._clock(),
            delivery=Delivery.DELIVERED,
            expect_status=[TaskStatus.SUBMITTING],
        ):
            await self._messenger.send_or_edit(
                task.key, task.status_message_id, t(task.language, "submit_unknown")
            )

    async def _reply(
        self, key: ChatKey, language: str, text_key: str, reply_to: int | None
    ) -> None:
        await self._messenger.send(key, t(language, text_key), reply_to=reply_to)


def credits_text(language: str, credits: float | None, key: str) -> str:
    """The credits part of a message, empty when the API did not say."""
    if credits is None:
        return ""
    value = f"{credits:g}"
    return t(language, key, credits=value)


def _plain(message: str) -> str:
    return message.strip()[:300] or "no reason given"
