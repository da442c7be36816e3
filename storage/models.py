"""Rows of the bot's database, as plain typed records."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any


class DraftState(enum.StrEnum):
    """A draft is open until it is submitted or cancelled."""

    OPEN = "open"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"


class RefStatus(enum.StrEnum):
    """A reference is pending while it is downloaded and checked."""

    PENDING = "pending"
    READY = "ready"
    REJECTED = "rejected"


class TaskStatus(enum.StrEnum):
    """A task's life: ours until `submitting`, then the upstream's statuses."""

    PREPARING = "preparing"  # row written, references being hosted; nothing sent upstream yet
    SUBMITTING = "submitting"  # the paid submit may be on the wire
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUSED = "refused"  # the upstream refused the submit: nothing was charged
    # The submit's answer was lost: a task may exist upstream. Waits for a callback naming it
    # (then adopted) until the user is told it is unconfirmed; adopted even after that.
    UNKNOWN = "unknown"

    @property
    def running(self) -> bool:
        """Whether the upstream is still working on it."""
        return self in {TaskStatus.PENDING, TaskStatus.PROCESSING}

    @property
    def final(self) -> bool:
        """Whether nothing more will happen upstream."""
        return self in _FINAL


_FINAL = {
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.CANCELLED,
    TaskStatus.REFUSED,
    TaskStatus.UNKNOWN,
}


DEADLINE = "deadline"  # the error code of a task the bot stopped waiting for


class Delivery(enum.StrEnum):
    """Where the finished video is on its way to the chat."""

    NONE = "none"
    SENDING = "sending"  # claimed by one sender; a crash here leaves it uncertain
    DELIVERED = "delivered"
    UNCERTAIN = "uncertain"  # a send may or may not have arrived; never resent blindly
    FAILED = "failed"


@dataclass(frozen=True)
class ChatKey:
    """Who a draft belongs to: a user in a chat, in a forum topic (0 when none)."""

    chat_id: int
    user_id: int
    topic_id: int = 0

    @property
    def private(self) -> bool:
        """Whether this is the user's one-to-one chat with the bot."""
        return self.chat_id == self.user_id


@dataclass(frozen=True)
class Options:
    """The generation options a user can choose."""

    duration: int = 5
    quality: str = "720p"
    aspect_ratio: str = "16:9"
    generate_audio: bool = True
    content_filter: bool = True

    def to_json(self) -> str:
        """Serialise for the database."""
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Options:
        """Read from the database, ignoring keys this version does not know."""
        data: dict[str, Any] = json.loads(text) if text else {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class SeenMedia:
    """A file from a user's message, described without Telegram's objects."""

    kind: str  # image | video | audio, or auto: decided by reading the file (documents)
    source: str  # photo | document | video | video_note | animation | voice | audio
    file_id: str
    file_unique_id: str
    message_id: int
    media_group_id: str | None = None
    file_name: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Oneshot:
    """A request made by a caption starting with /generate, once its album is in."""

    id: int
    key: ChatKey
    language: str
    media_group_id: str | None
    draft_id: int
    request_message_id: int
    owner: str | None = None


@dataclass(frozen=True)
class Draft:
    """What a user is putting together in a chat."""

    id: int
    key: ChatKey
    state: DraftState
    prompt: str
    options: Options
    idempotency_key: str
    summary_message_id: int | None
    language: str
    created_at: float
    updated_at: float
    # /generate found no prompt and the draft asked for one: the answer makes the video.
    prompt_asked: bool = False


@dataclass(frozen=True)
class Reference:
    """One photo, clip or sound in a draft, from arrival to hosting."""

    id: int
    draft_id: int
    position: int
    kind: str  # image | video | audio
    source: str  # photo | document | video | ...
    telegram_file_id: str
    telegram_file_unique_id: str
    message_id: int
    media_group_id: str | None
    file_name: str | None
    status: RefStatus
    local_path: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    size: int | None = None
    hosted_url: str | None = None
    hosted_id: str | None = None
    hosted_expires_at: float | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    error_code: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0  # times its media processing was started
    started_at: float | None = None  # when the last attempt started
    owner: str | None = None  # the replica checking it while it is pending


@dataclass(frozen=True)
class DayStats:
    """Tasks since a moment: counts by status, failures by reason, credits, the queue now."""

    by_status: list[tuple[str, int]]
    failures: list[tuple[str, int]]
    credits: float
    users: int
    in_progress: int


@dataclass(frozen=True)
class Task:
    """One paid generation, from the row written before the submit to the delivered video."""

    id: int
    draft_id: int
    key: ChatKey
    language: str
    request_message_id: int | None
    status_message_id: int | None
    idempotency_key: str
    callback_secret: str
    upstream_id: str | None
    status: TaskStatus
    progress: int
    prompt: str
    options: Options
    credits_reserved: float | None
    estimated_time: int | None
    result_url: str | None
    error_code: str | None
    error_message: str | None
    next_poll_at: float | None
    progress_shown: int
    progress_edited_at: float | None
    delivery: Delivery
    delivered_message_id: int | None
    delivered_file_id: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    finished_at: float | None
    callback_claim: str | None = None
    rerun_task_id: int | None = None
    # The replica holding the task's submit or send (see storage.replicas).
    owner: str | None = None
    # The first progress above 0 the tracker saw, and when: the baseline of its pace.
    rate_progress: int | None = None
    rate_at: float | None = None

    @property
    def given_up(self) -> bool:
        """Stopped waiting at the deadline: still watched, and delivered if it finishes late."""
        return self.status is TaskStatus.FAILED and self.error_code == DEADLINE
