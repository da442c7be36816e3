"""Bringing a finished task to its chat: the video (or a link), or the reason it failed. Once."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from pathlib import Path

import httpx
from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot import limits
from bot.media.jobs import MediaJobs
from bot.media.results import MediaRejected
from bot.runtime.metrics import Metrics
from bot.tasks.notices import Notices, result_keyboard, video_caption
from bot.tasks.safe_fetch import checked_redirect
from bot.telegram.messenger import Messenger, reply_parameters
from bot.telegram.texts import t
from storage import Store
from storage.db import Clock
from storage.models import DEADLINE, Delivery, Task, TaskStatus

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
MAX_REDIRECTS = 3
# Videos sent at once: each holds one of the bot's few Telegram connections for seconds (while
# Telegram fetches the URL, or the upload streams), and replies must always find one free.
VIDEOS_AT_ONCE = 4

# Failure codes where the user must change the input; the others may work on another try.
USER_FIXABLE = {
    "content_policy_violation",
    "invalid_parameters",
    "image_processing_error",
    "image_dimension_mismatch",
}


class _TooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _Expired(Exception):
    pass


class Deliverer:
    """Sends each finished task's outcome to its chat exactly once."""

    def __init__(
        self,
        *,
        bot: Bot,
        store: Store,
        messenger: Messenger,
        notices: Notices,
        media: MediaJobs,
        http: httpx.AsyncClient,
        tmp_dir: Path,
        metrics: Metrics,
        clock: Clock = time.time,
    ) -> None:
        self._bot = bot
        self._video_slots = asyncio.Semaphore(VIDEOS_AT_ONCE)
        self._store = store
        self._metrics = metrics
        self._messenger = messenger
        self._notices = notices
        self._media = media
        self._http = http
        self._tmp_dir = tmp_dir
        self._clock = clock

    async def deliver(self, task_id: int) -> None:
        """Send the outcome of a final task, unless it was already sent or is being sent."""
        task = await self._store.tasks.update_returning(
            task_id,
            delivery=Delivery.SENDING,
            owner=self._store.replica_id,  # if this replica stops, another settles the send
            expect_delivery=[Delivery.NONE],
        )
        if task is None:
            return
        try:
            if task.status is TaskStatus.COMPLETED and task.result_url:
                outcome, message_id, file_id = await self._send_video(task, task.result_url)
            else:
                outcome, message_id, file_id = await self._send_failure(task)
        except Exception as exc:
            # Whatever went wrong, the task must not stay "sending" until the next restart.
            log.exception("task %s: delivery failed unexpectedly", task_id)
            if task.result_url:
                outcome, message_id, file_id = await self._uncertain(task, task.result_url, exc)
            else:
                outcome, message_id, file_id = Delivery.FAILED, None, None
        await self._store.tasks.update(
            task_id,
            delivery=outcome,
            delivered_message_id=message_id,
            delivered_file_id=file_id,
            expect_delivery=[Delivery.SENDING],
        )
        if outcome is Delivery.DELIVERED and task.status is TaskStatus.COMPLETED:
            self._metrics.delivery_seconds.observe(self._clock() - task.created_at)
        log.info(
            "outcome %s",
            outcome.value,
            extra={"task": task_id, "chat": task.key.chat_id, "user": task.key.user_id},
        )

    async def settle_interrupted(self, task: Task) -> None:
        """A restart found a send in flight: it may have arrived, so offer the link instead.

        An explanation of a failure costs nothing to repeat: it is sent again, better twice
        than never.
        """
        if task.status is not TaskStatus.COMPLETED or not task.result_url:
            if await self._store.tasks.update(
                task.id, delivery=Delivery.NONE, expect_delivery=[Delivery.SENDING]
            ):
                await self.deliver(task.id)
            return
        if not await self._store.tasks.update(
            task.id, delivery=Delivery.UNCERTAIN, expect_delivery=[Delivery.SENDING]
        ):
            return
        await self._messenger.send(
            task.key,
            t(task.language, "delivery_uncertain", url=task.result_url),
            reply_to=task.request_message_id,
        )

    async def _send_failure(self, task: Task) -> tuple[Delivery, int | None, str | None]:
        # A failure the service may not repeat gets "Try again"; a task given up at the deadline
        # may still come, so it gets no buttons.
        markup = None if task.error_code == DEADLINE else result_keyboard(task, failed=True)
        sent = await self._notices.news(
            task, failure_text(task), status_key="status_failed", markup=markup
        )
        # Nothing reached the chat (the bot was blocked, the chat is gone): say so in the record.
        return (Delivery.DELIVERED if sent else Delivery.FAILED), None, None

    async def _send_video(self, task: Task, url: str) -> tuple[Delivery, int | None, str | None]:
        caption = video_caption(task)
        # Without sound Telegram would show the video as a GIF: it gets a silent track first,
        # which needs our own copy. With sound, let Telegram fetch the URL (fast, no traffic here).
        if task.options.generate_audio:
            try:
                message = await self._post_video(task, url, caption)
            except BadRequest as exc:
                log.info("task %s: Telegram refused the URL (%s); uploading instead", task.id, exc)
            except Forbidden:
                return Delivery.FAILED, None, None
            except NetworkError as exc:
                return await self._uncertain(task, url, exc)
            except TelegramError as exc:
                # Refused outright (a flood limit that outlasted the retries, a group that became
                # a supergroup...): nothing was sent, so the link is offered instead.
                log.warning("task %s: Telegram refused the video: %s", task.id, exc)
                return await self._failed_with_link(task, url)
            else:
                return await self._delivered(task, message)
        try:
            return await self._upload(task, url, caption)
        except _TooBig as exc:
            text = t(task.language, "video_too_big", size_mb=round(exc.size / 2**20, 1), url=url)
            message_id = await self._messenger.send(
                task.key, text, reply_to=task.request_message_id
            )
            await self._finish_status(task)
            return (Delivery.DELIVERED if message_id else Delivery.FAILED), message_id, None
        except _Expired:
            message_id = await self._messenger.send(
                task.key, t(task.language, "result_expired"), reply_to=task.request_message_id
            )
            return Delivery.FAILED, message_id, None

    async def _upload(
        self, task: Task, url: str, caption: str
    ) -> tuple[Delivery, int | None, str | None]:
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        download = self._tmp_dir / f"result{task.id}-{secrets.token_hex(6)}.mp4"
        prepared: Path | None = None
        try:
            await self._download(url, download)
            try:
                # In a media worker, like every decode: the result is a file from the network.
                prepared = video = await self._media.ensure_audio_track(
                    download, self._tmp_dir, owner=task.key.user_id
                )
            except MediaRejected as exc:
                # Better a video Telegram shows as a GIF than none at all.
                log.warning("task %s: could not add a sound track (%s)", task.id, exc)
                video = download
            size = video.stat().st_size
            if size > limits.TELEGRAM_UPLOAD_MAX_BYTES:
                raise _TooBig(size)
            with video.open("rb") as handle:
                try:
                    # Streamed from disk by httpx, never read whole into memory.
                    upload = InputFile(handle, filename="video.mp4", read_file_handle=False)
                    message = await self._post_video(task, upload, caption)
                except Forbidden:
                    return Delivery.FAILED, None, None
                except NetworkError as exc:
                    return await self._uncertain(task, url, exc)
            return await self._delivered(task, message)
        except (TelegramError, httpx.HTTPError, OSError) as exc:
            log.warning("task %s: upload failed: %s", task.id, exc)
            return await self._failed_with_link(task, url)
        finally:
            download.unlink(missing_ok=True)
            if prepared is not None and prepared != download:
                prepared.unlink(missing_ok=True)

    async def _post_video(self, task: Task, video: str | InputFile, caption: str) -> Message:
        """sendVideo as a reply to the request, with the buttons to make it again."""
        async with self._video_slots:
            return await self._bot.send_video(
                chat_id=task.key.chat_id,
                video=video,
                caption=caption,
                reply_markup=result_keyboard(task),
                supports_streaming=True,
                message_thread_id=task.key.topic_id or None,
                reply_parameters=reply_parameters(task.request_message_id),
            )

    async def _download(self, url: str, dest: Path) -> None:
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            async with self._http.stream("GET", target) as response:
                if response.is_redirect:
                    # A CDN may redirect; a redirect into our own network never is followed.
                    target = await checked_redirect(response)
                    continue
                if response.status_code in {403, 404, 410}:
                    raise _Expired
                response.raise_for_status()
                size = 0
                with dest.open("wb") as out:
                    async for chunk in response.aiter_bytes(CHUNK):
                        size += len(chunk)
                        if size > limits.TELEGRAM_UPLOAD_MAX_BYTES:
                            raise _TooBig(int(response.headers.get("content-length") or size))
                        out.write(chunk)
                return
        raise httpx.TooManyRedirects("too many redirects", request=response.request)

    async def _delivered(
        self, task: Task, message: Message
    ) -> tuple[Delivery, int | None, str | None]:
        await self._finish_status(task)
        file_id = message.video.file_id if message.video else None
        return Delivery.DELIVERED, message.message_id, file_id

    async def _failed_with_link(
        self, task: Task, url: str
    ) -> tuple[Delivery, int | None, str | None]:
        message_id = await self._messenger.send(
            task.key,
            t(task.language, "delivery_failed", url=url),
            reply_to=task.request_message_id,
        )
        return Delivery.FAILED, message_id, None

    async def _uncertain(
        self, task: Task, url: str, exc: Exception
    ) -> tuple[Delivery, int | None, str | None]:
        # The video may have arrived even though the answer did not: never send it blindly again.
        log.warning("task %s: send outcome unknown: %s", task.id, exc)
        message_id = await self._messenger.send(
            task.key,
            t(task.language, "delivery_uncertain", url=url),
            reply_to=task.request_message_id,
        )
        return Delivery.UNCERTAIN, message_id, None

    async def _finish_status(self, task: Task) -> None:
        if task.status_message_id is not None:
            await self._messenger.edit(
                task.key.chat_id, task.status_message_id, t(task.language, "done_status")
            )


def failure_text(task: Task) -> str:
    """Why a task produced no video, in plain words."""
    lang = task.language
    code = task.error_code or "unknown_error"
    message = (task.error_message or "").strip()[:300] or code
    if code == DEADLINE:
        return t(lang, "failed_deadline", minutes=message)
    if code in USER_FIXABLE:
        reason = t(lang, f"fail_{code}", message=message)
    else:
        reason = t(lang, "fail_generic", message=message)
    text = t(lang, "failed", reason=reason)
    if code not in USER_FIXABLE:
        text += "\n" + t(lang, "failed_retry")
    return text
