"""The bot's configuration: one object, read from the environment and an optional `.env` file."""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.evolink import callback_url


class MediaHosting(enum.StrEnum):
    """Where reference media are put so the upstream can fetch them."""

    EVOLINK = "evolink"
    LOCAL = "local"
    S3 = "s3"


class CallbackMode(enum.StrEnum):
    """Whether submits carry a `callback_url`."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


_WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HEADER_TOKEN_RE = re.compile(r"[\x21-\x7e]{16,256}")
# Routes of the bot's own web server that a webhook path must not shadow.
_RESERVED_PREFIXES = ("/media/", "/callbacks/")
# SigV4 presigned URLs are valid for at most 7 days.
S3_MAX_URL_TTL_SECONDS = 7 * 24 * 3600


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset), else all of the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    """Every setting of the bot; the names are the environment variables, upper-cased."""

    # env_ignore_empty: `NAME=` (as in .env.example, or compose's env_file) means the default.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: SecretStr
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_local_mode: bool = False
    # With a local Bot API server (files up to 2000 MB): the largest file the bot downloads.
    telegram_local_max_file_mb: int = Field(default=200, ge=1, le=2000)
    # Webhook mode (empty URL: long polling). The secret defaults to one derived from the token.
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr | None = None

    evolink_api_key: SecretStr
    evolink_base_url: AnyHttpUrl = AnyHttpUrl("https://api.evolink.ai")
    evolink_files_base_url: AnyHttpUrl = AnyHttpUrl("https://files-api.evolink.ai")
    evolink_callbacks: CallbackMode = CallbackMode.AUTO
    # Tests against a local fake Evolink only: EVOLINK_CALLBACKS=on sends callback URLs that
    # break the API's rules (http, loopback) anyway. The real API refuses every such submit.
    evolink_callbacks_insecure: bool = False

    media_hosting: MediaHosting = MediaHosting.EVOLINK
    public_base_url: AnyHttpUrl | None = None
    media_url_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    media_signing_key: SecretStr | None = None

    # MEDIA_HOSTING=s3: any S3-compatible store, presigned GET URLs.
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_url_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=S3_MAX_URL_TTL_SECONDS)
    s3_key_prefix: str = "seedance-bot/"
    s3_expire_days: int = Field(default=3, ge=1, le=3650)

    http_host: str = "0.0.0.0"  # noqa: S104 - the web server must be reachable from outside the container
    http_port: int = Field(default=8080, ge=0, le=65535)
    # GET /metrics needs "Authorization: Bearer <this>"; unset, the route does not exist.
    metrics_token: SecretStr | None = None

    poll_interval_seconds: float = Field(default=60.0, gt=0)
    progress_edit_seconds: float = Field(default=5.0, ge=0)
    # A group shares 20 messages a minute: progress edits there get at most this many.
    group_progress_edits_per_minute: int = Field(default=4, ge=0, le=20)
    task_deadline_seconds: float = Field(default=2 * 3600, gt=0)
    http_timeout_seconds: float = Field(default=60.0, gt=0)
    album_quiet_seconds: float = Field(default=1.5, ge=0)
    media_timeout_seconds: float = Field(default=180.0, gt=0)
    # The media worker pool: processes that decode users' files (empty: one per CPU), the
    # address space and CPU time each may use, and how many files each handles before a fresh
    # one takes over.
    media_workers: int = Field(default_factory=usable_cpus, ge=1, le=64)
    media_worker_memory_mb: int = Field(default=2048, ge=512)
    media_worker_cpu_seconds: float = Field(default=300.0, gt=0)
    media_worker_max_jobs: int = Field(default=200, ge=1)
    cleanup_interval_seconds: float = Field(default=600.0, gt=0)

    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_chat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    daily_generations_per_user: int = Field(default=20, ge=0)
    max_running_tasks_per_user: int = Field(default=2, ge=0)

    # How many copies of the bot run on the same database (behind a load balancer), and how
    # long one may be silent before the others take over its unfinished work.
    replicas: int = Field(default=1, ge=1, le=100)
    replica_timeout_seconds: float = Field(default=30.0, ge=1)

    data_dir: Path = Path("./data")
    # Unset: SQLite in DATA_DIR. postgresql://user:password@host:5432/database: PostgreSQL.
    database_url: SecretStr | None = None
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("allowed_user_ids", "allowed_chat_ids", "admin_user_ids", mode="before")
    @classmethod
    def _id_list(cls, value: object) -> object:
        # "123, -100456" in the environment; empty means nobody listed.
        if isinstance(value, str):
            return frozenset(
                int(part) for part in value.replace(";", ",").split(",") if part.strip()
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token or ":" not in token or "/" in token:
            raise ValueError("must look like 123456:ABC-DEF... (from @BotFather)")
        return SecretStr(token)

    @field_validator("evolink_api_key")
    @classmethod
    def _key_present(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if not key:
            raise ValueError("must not be empty")
        return SecretStr(key)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url_shape(cls, value: str) -> str:
        url = value.strip()
        if not url:
            return ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://bot.example.com/telegram")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        path = parts.path or "/"
        if not re.fullmatch(r"/[A-Za-z0-9/_.~-]*", path):
            raise ValueError("its path may hold only letters, digits and / _ . ~ -")
        if path.rstrip("/") in ("/healthz", "/metrics", "/media", "/callbacks") or path.startswith(
            _RESERVED_PREFIXES
        ):
            raise ValueError(f"path {path} is taken by the bot's web server; use e.g. /telegram")
        return url

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = value.get_secret_value().strip()
        if not _WEBHOOK_SECRET_RE.fullmatch(secret):
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return SecretStr(secret)

    @field_validator("s3_access_key_id", "s3_secret_access_key", "metrics_token")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # The messages never repeat the URL: it holds the database password.
        url = value.get_secret_value().strip() if value is not None else ""
        if not url:
            return None
        example = "postgresql://user:password@host:5432/database"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError when the port is not a number
        except ValueError:
            raise ValueError(f"is not a valid URL; expected {example}") from None
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"must be a PostgreSQL URL such as {example} (unset: SQLite)")
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError(f"must name the server, as in {example}")
        return SecretStr(url)

    @field_validator("metrics_token")
    @classmethod
    def _token_is_header_safe(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _HEADER_TOKEN_RE.fullmatch(value.get_secret_value()):
            raise ValueError("must be 16-256 visible ASCII characters (it goes in an HTTP header)")
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint_shape(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    "must be an http(s) URL such as https://<account>.r2.cloudflarestorage.com"
                )
        return url

    @field_validator("s3_region")
    @classmethod
    def _region_default(cls, value: str) -> str:
        return value.strip() or "us-east-1"

    @field_validator("s3_key_prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        prefix = value.strip()
        # An empty prefix would put the expiry rule on the whole bucket.
        if not prefix or prefix.startswith("/") or ".." in prefix.split("/"):
            raise ValueError("must be a non-empty key prefix such as seedance-bot/ (no leading /)")
        return prefix

    @property
    def webhook_enabled(self) -> bool:
        """Whether updates come by webhook (else by long polling)."""
        return bool(self.telegram_webhook_url)

    @property
    def webhook_path(self) -> str:
        """The path of the webhook route on the bot's web server (the URL's path)."""
        return urlsplit(self.telegram_webhook_url).path or "/"

    @property
    def webhook_secret(self) -> str:
        """The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token.

        Unless set, derived from the bot token (HMAC-SHA256), so it is the same after a restart
        and changes when the token does; it reveals nothing about the token.
        """
        if self.telegram_webhook_secret is not None:
            return self.telegram_webhook_secret.get_secret_value()
        token = self.telegram_bot_token.get_secret_value().encode()
        return hmac.new(
            token, b"seedance-bot telegram webhook secret v1", hashlib.sha256
        ).hexdigest()

    @property
    def callbacks_enabled(self) -> bool:
        """Whether submits ask Evolink to call back (auto: when Evolink would take the URL)."""
        if self.evolink_callbacks is CallbackMode.OFF or self.public_base_url is None:
            return False
        # "on" with an unfit URL does not start, unless EVOLINK_CALLBACKS_INSECURE says so.
        return self.evolink_callbacks is CallbackMode.ON or self.callback_url_problem is None

    @property
    def callback_url_problem(self) -> str | None:
        """Why Evolink would refuse callback URLs under PUBLIC_BASE_URL (None: it would not)."""
        if self.public_base_url is None:
            return "PUBLIC_BASE_URL is not set"
        return callback_url.problem(str(self.public_base_url))

    @property
    def callbacks_note(self) -> str | None:
        """A start-up line when EVOLINK_CALLBACKS=auto found PUBLIC_BASE_URL unfit for callbacks."""
        if self.evolink_callbacks is not CallbackMode.AUTO or self.public_base_url is None:
            return None
        if self.callback_url_problem is None:
            return None
        return (
            f"EVOLINK_CALLBACKS=auto: no callbacks, tasks are polled, since "
            f"PUBLIC_BASE_URL={self.public_base_url} will not do: {self.callback_url_problem}"
        )

    def public_url(self, path: str) -> str:
        """An absolute URL on the bot's own web server."""
        if self.public_base_url is None:
            raise RuntimeError("PUBLIC_BASE_URL is not set")
        return str(self.public_base_url).rstrip("/") + "/" + path.lstrip("/")

    @property
    def database_path(self) -> Path:
        """The SQLite file (used when DATABASE_URL is unset)."""
        return self.data_dir / "bot.sqlite3"

    @property
    def database_setting(self) -> str:
        """The setting that says where the database is, for start-up errors."""
        return "DATABASE_URL" if self.database_url is not None else "DATA_DIR"

    @property
    def database_secrets(self) -> list[str]:
        """What of DATABASE_URL must never be logged: the URL and its password."""
        if self.database_url is None:
            return []
        url = self.database_url.get_secret_value()
        password = urlsplit(url).password
        return [url, *([password, unquote(password)] if password else [])]

    @property
    def media_dir(self) -> Path:
        """Downloaded and normalised reference media."""
        return self.data_dir / "media"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space for downloads in progress (same disk as media, so moves are renames)."""
        return self.data_dir / "tmp"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            problem = "is required" if error["type"] == "missing" else error["msg"]
            lines.append(f"{name} {problem}")
        raise SettingsError("; ".join(lines)) from None
    if settings.media_hosting is MediaHosting.LOCAL and settings.public_base_url is None:
        raise SettingsError("PUBLIC_BASE_URL is required when MEDIA_HOSTING=local")
    if settings.evolink_callbacks is CallbackMode.ON and settings.public_base_url is None:
        raise SettingsError("PUBLIC_BASE_URL is required when EVOLINK_CALLBACKS=on")
    if (
        settings.evolink_callbacks is CallbackMode.ON
        and settings.callback_url_problem
        and not settings.evolink_callbacks_insecure
    ):
        # Asked for outright, callbacks that Evolink refuses would make every submit fail.
        raise SettingsError(
            f"EVOLINK_CALLBACKS=on cannot work with PUBLIC_BASE_URL={settings.public_base_url}: "
            f"{settings.callback_url_problem} (use EVOLINK_CALLBACKS=auto or off to poll instead)"
        )
    if settings.media_hosting is MediaHosting.S3:
        _check_s3(settings)
    if settings.replicas > 1:
        _check_replicas(settings)
    return settings


def _check_replicas(settings: Settings) -> None:
    n = settings.replicas
    if settings.database_url is None:
        raise SettingsError(
            f"REPLICAS={n} needs DATABASE_URL (PostgreSQL): SQLite is one process's database"
        )
    if not settings.webhook_enabled:
        raise SettingsError(
            f"REPLICAS={n} needs TELEGRAM_WEBHOOK_URL: Telegram gives long-polled updates to one"
            " process only"
        )
    if settings.media_hosting is MediaHosting.LOCAL:
        raise SettingsError(
            f"REPLICAS={n} does not work with MEDIA_HOSTING=local (each replica serves only its"
            " own disk): use s3 or evolink"
        )


def _check_s3(settings: Settings) -> None:
    if not settings.s3_bucket.strip():
        raise SettingsError("S3_BUCKET is required when MEDIA_HOSTING=s3")
    if (settings.s3_access_key_id is None) != (settings.s3_secret_access_key is None):
        raise SettingsError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together")
    if settings.s3_url_ttl_seconds > settings.s3_expire_days * 86400:
        raise SettingsError(
            "S3_URL_TTL_SECONDS must not exceed S3_EXPIRE_DAYS (files would go before their URLs)"
        )
