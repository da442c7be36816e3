"""Pydantic models of the Evolink API: the submit request, tasks, credits, files, errors.

Responses accept extra fields and tolerate missing ones: the API is young and its answers grow.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from bot import limits


class GenerationRequest(BaseModel):
    """The body of POST /v1/videos/generations, checked against every documented limit."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["seedance-2.0-fast-reference-to-video"] = limits.MODEL
    prompt: str = Field(min_length=1, max_length=limits.PROMPT_MAX_CHARS)
    image_urls: list[str] = Field(default_factory=list, max_length=limits.MAX_IMAGES)
    video_urls: list[str] = Field(default_factory=list, max_length=limits.MAX_VIDEOS)
    audio_urls: list[str] = Field(default_factory=list, max_length=limits.MAX_AUDIOS)
    duration: int = Field(
        default=limits.DURATION_DEFAULT, ge=limits.DURATION_MIN, le=limits.DURATION_MAX
    )
    quality: Literal["480p", "720p"] = "720p"
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"] = "16:9"
    generate_audio: bool = True
    content_filter: bool = True
    callback_url: str | None = Field(default=None, max_length=limits.CALLBACK_URL_MAX_CHARS)

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt is empty")
        return value

    @field_validator("image_urls", "video_urls", "audio_urls")
    @classmethod
    def _absolute_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"not an absolute http(s) URL: {url[:40]}")
        return value

    @model_validator(mode="after")
    def _not_audio_alone(self) -> GenerationRequest:
        if self.audio_urls and not (self.image_urls or self.video_urls):
            raise ValueError("audio needs at least one image or video beside it")
        if not (self.image_urls or self.video_urls):
            raise ValueError("at least one image or video is needed")
        return self

    def body(self) -> dict[str, Any]:
        """The JSON body, without empty lists or an unset callback."""
        return self.model_dump(exclude_none=True, exclude_defaults=False)


class _Lenient(BaseModel):
    """An answer of the API: extra fields are kept, and an optional field of an unexpected shape
    is dropped (its default stands) rather than the whole answer refused. A completed task must
    not go unseen because, say, `usage` came as null."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="wrap")
    @classmethod
    def _drop_odd_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise
            optional = {n for n, f in cls.model_fields.items() if not f.is_required()}
            odd = {e["loc"][0] for e in exc.errors() if e["loc"] and e["loc"][0] in optional}
            if not odd:
                raise
            return handler({k: v for k, v in data.items() if k not in odd})


class TaskInfo(_Lenient):
    """Scheduling hints the API gives for a task."""

    can_cancel: bool | None = None
    estimated_time: int | None = None
    video_duration: int | None = None


class Usage(_Lenient):
    """What the task costs."""

    billing_rule: str | None = None
    credits_reserved: float | None = None
    user_group: str | None = None


class TaskError(_Lenient):
    """Why a task failed."""

    code: str = "unknown_error"
    message: str = ""
    type: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> str:
        # Older API versions sent integer codes.
        return str(value) if value is not None else "unknown_error"


class VideoTask(_Lenient):
    """A task as the submit answer, the task query and the callback all describe it."""

    id: str
    status: str = "pending"
    progress: int = 0
    created: int | None = None
    model: str | None = None
    task_info: TaskInfo = Field(default_factory=TaskInfo)
    usage: Usage = Field(default_factory=Usage)
    results: list[str] = Field(default_factory=list)
    error: TaskError | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        status = data.get("status")
        if isinstance(status, str):
            data["status"] = status.strip().lower()
        elif "status" in data:
            del data["status"]  # unknown: keep polling
        if isinstance(data.get("error"), str):
            data["error"] = {"message": data["error"]}
        return data

    @field_validator("progress", mode="before")
    @classmethod
    def _clamp_progress(cls, value: Any) -> int:
        try:
            return max(0, min(100, int(value)))
        except (TypeError, ValueError):
            return 0

    @field_validator("results", mode="before")
    @classmethod
    def _urls_only(cls, value: Any) -> list[str]:
        if not isinstance(value, list):
            return []
        urls: list[str] = []
        for item in value:
            if isinstance(item, str):
                urls.append(item)
            elif isinstance(item, dict) and isinstance(item.get("url"), str):
                urls.append(item["url"])
        return urls

    @property
    def result_url(self) -> str | None:
        """The finished video's URL (valid for 24 hours)."""
        return self.results[0] if self.results else None


class CreditBalance(_Lenient):
    """Remaining and used credits of one side of the account."""

    remaining_credits: float | None = None
    used_credits: float | None = None
    unlimited_credits: bool | None = None


class CreditsData(_Lenient):
    """The two views of the balance: this API key, and the whole user."""

    token: CreditBalance = Field(default_factory=CreditBalance)
    user: CreditBalance = Field(default_factory=CreditBalance)


class Credits(_Lenient):
    """GET /v1/credits."""

    success: bool = True
    message: str | None = None
    data: CreditsData = Field(default_factory=CreditsData)


class UploadedFile(_Lenient):
    """`data` of a Files API upload answer."""

    file_id: str
    file_url: str
    file_name: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    expires_at: str | None = None


class UploadAnswer(_Lenient):
    """The Files API's upload envelope."""

    success: bool = False
    code: int | None = None
    msg: str | None = None
    data: UploadedFile | None = None


class ErrorBody(_Lenient):
    """The `error` object of a failed call."""

    code: str = "unknown_error"
    message: str = ""
    type: str | None = None
    param: str | None = None
    fallback_suggestion: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> str:
        return str(value) if value is not None else "unknown_error"
