"""The bot's configuration: one object, read from the environment and an optional `.env` file."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaHosting(enum.StrEnum):
    """Where reference media are put so the upstream can fetch them."""

    EVOLINK = "evolink"
    LOCAL = "local"


class CallbackMode(enum.StrEnum):
    """Whether submits carry a `callback_url`."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class Settings(BaseSettings):
    """Every setting of the bot; the names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_local_mode: bool = False

    evolink_api_key: SecretStr
    evolink_base_url: AnyHttpUrl = AnyHttpUrl("https://api.evolink.ai")
    evolink_files_base_url: AnyHttpUrl = AnyHttpUrl("https://files-api.evolink.ai")
    evolink_callbacks: CallbackMode = CallbackMode.AUTO

    media_hosting: MediaHosting = MediaHosting.EVOLINK
    public_base_url: AnyHttpUrl | None = None
    media_url_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    media_signing_key: SecretStr | None = None

    http_host: str = "0.0.0.0"  # noqa: S104 - the web server must be reachable from outside the container
    http_port: int = Field(default=8080, ge=0, le=65535)

    poll_interval_seconds: float = Field(default=10.0, gt=0)
    progress_edit_seconds: float = Field(default=5.0, ge=0)
    task_deadline_seconds: float = Field(default=2 * 3600, gt=0)
    http_timeout_seconds: float = Field(default=60.0, gt=0)
    album_quiet_seconds: float = Field(default=1.5, ge=0)

    data_dir: Path = Path("./data")
    log_level: str = "INFO"

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

    @property
    def callbacks_enabled(self) -> bool:
        """Whether submits ask Evolink to call back (auto: only when the public URL is HTTPS)."""
        if self.evolink_callbacks is CallbackMode.OFF or self.public_base_url is None:
            return False
        if self.evolink_callbacks is CallbackMode.ON:
            return True
        return self.public_base_url.scheme == "https"

    def public_url(self, path: str) -> str:
        """An absolute URL on the bot's own web server."""
        if self.public_base_url is None:
            raise RuntimeError("PUBLIC_BASE_URL is not set")
        return str(self.public_base_url).rstrip("/") + "/" + path.lstrip("/")

    @property
    def database_path(self) -> Path:
        """The SQLite file."""
        return self.data_dir / "bot.sqlite3"

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
    return settings
