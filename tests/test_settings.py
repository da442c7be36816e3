"""Settings: read from the environment, with one clear line for what is missing or wrong."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.media.pool import worker_env
from bot.settings import CallbackMode, MediaHosting, SettingsError, load_settings, usable_cpus

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "EVOLINK_API_KEY",
        "MEDIA_HOSTING",
        "PUBLIC_BASE_URL",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_follow_the_documented_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-abc")
    settings = load_settings()
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.telegram_file_base_url == "https://api.telegram.org/file/bot"
    assert str(settings.evolink_base_url) == "https://api.evolink.ai/"
    assert str(settings.evolink_files_base_url) == "https://files-api.evolink.ai/"
    assert settings.media_hosting is MediaHosting.EVOLINK
    assert settings.evolink_callbacks is CallbackMode.AUTO
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8080)
    assert settings.poll_interval_seconds == 60
    assert (settings.replicas, settings.replica_timeout_seconds) == (1, 30)
    assert settings.data_dir == Path("data")
    assert settings.callbacks_enabled is False  # no public URL: behind NAT, polling only
    assert settings.database_url is None  # SQLite in DATA_DIR
    assert settings.database_path == Path("data/bot.sqlite3")


PASSWORD = "n0t-for-logs%21"  # percent-encoded in the URL: "n0t-for-logs!"


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://bot:{PASSWORD}@db:3306/bot",
        f"postgresql://bot:{PASSWORD}@db:port/bot",
        f"postgresql://bot:{PASSWORD}@/bot",
    ],
)
def test_an_unusable_database_url_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-abc")
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError, match=r"^DATABASE_URL ") as info:
        load_settings()
    assert "n0t-for-logs" not in str(info.value)
    assert "postgresql://user:password@host:5432/database" in str(info.value)


def test_a_postgresql_url_is_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-abc")
    url = f"postgresql://bot:{PASSWORD}@db.internal:5432/bot?search_path=seedance"
    monkeypatch.setenv("DATABASE_URL", url)
    settings = load_settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == url
    assert "n0t-for-logs" not in repr(settings) and "n0t-for-logs" not in str(settings)
    # What the log filter scrubs: the URL, and the password as written and as decoded.
    assert set(settings.database_secrets) == {url, PASSWORD, "n0t-for-logs!"}
    assert settings.database_setting == "DATABASE_URL"


def test_missing_required_variables_are_named() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "TELEGRAM_BOT_TOKEN is required" in str(info.value)
    assert "EVOLINK_API_KEY is required" in str(info.value)


def test_malformed_token_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-abc")
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        load_settings()


def test_local_hosting_needs_a_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-abc")
    monkeypatch.setenv("MEDIA_HOSTING", "local")
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL is required"):
        load_settings()


@pytest.mark.parametrize(
    ("mode", "url", "enabled"),
    [
        ("auto", "https://bot.example.com", True),
        ("auto", "http://bot.example.com", False),
        ("auto", "https://10.0.0.5", False),
        ("auto", "https://bot.example.com/" + "p" * 2000, False),
        ("on", "https://bot.example.com", True),
        ("on", "https://203.0.113.9:8443/bot", False),  # documentation range: not global
        ("off", "https://bot.example.com", False),
    ],
)
def test_callbacks_follow_the_mode_and_the_apis_rules(mode: str, url: str, enabled: bool) -> None:
    settings = None
    with contextlib.suppress(SettingsError):
        settings = load_settings(
            telegram_bot_token=TOKEN,
            evolink_api_key="k",
            evolink_callbacks=mode,
            public_base_url=url,
        )
    assert (settings is not None and settings.callbacks_enabled) is enabled


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://bot.example.com", "HTTPS only"),
        ("https://127.0.0.1:8443", "127.0.0.1 is not a public address"),
        ("https://192.168.1.20", "192.168.1.20 is not a public address"),
        ("https://[fe80::1]", "fe80::1 is not a public address"),
        ("https://bot:8443", "bot is not a public address"),
        ("https://bot.example.com/" + "p" * 2000, "over Evolink's 2048"),
    ],
)
def test_callbacks_on_with_a_url_evolink_refuses_stops_start_up(url: str, why: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            telegram_bot_token=TOKEN,
            evolink_api_key="k",
            evolink_callbacks="on",
            public_base_url=url,
        )
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith("EVOLINK_CALLBACKS=on cannot work with PUBLIC_BASE_URL=")
    assert why in line


def test_auto_says_at_start_up_why_it_polls() -> None:
    settings = load_settings(
        telegram_bot_token=TOKEN, evolink_api_key="k", public_base_url="http://bot.example.com"
    )
    assert settings.callbacks_enabled is False
    note = settings.callbacks_note
    assert note is not None and "\n" not in note
    assert note.startswith("EVOLINK_CALLBACKS=auto: no callbacks")
    assert "PUBLIC_BASE_URL=http://bot.example.com" in note and "HTTPS only" in note
    public = load_settings(
        telegram_bot_token=TOKEN, evolink_api_key="k", public_base_url="https://bot.example.com"
    )
    assert public.callbacks_note is None


def test_insecure_callbacks_are_an_explicit_choice_for_a_local_fake() -> None:
    settings = load_settings(
        telegram_bot_token=TOKEN,
        evolink_api_key="k",
        evolink_callbacks="on",
        evolink_callbacks_insecure="true",
        public_base_url="http://127.0.0.1:8080",
    )
    assert settings.callbacks_enabled is True
    # "auto" still keeps to Evolink's rules.
    auto = load_settings(
        telegram_bot_token=TOKEN,
        evolink_api_key="k",
        evolink_callbacks_insecure="true",
        public_base_url="http://127.0.0.1:8080",
    )
    assert auto.callbacks_enabled is False


REPLICATED = {
    "telegram_bot_token": TOKEN,
    "evolink_api_key": "k",
    "replicas": 3,
    "database_url": "postgresql://bot:pw@db:5432/bot",
    "telegram_webhook_url": "https://bot.example.com/telegram",
    "public_base_url": "https://bot.example.com",
}


def test_several_replicas_with_what_they_need_load() -> None:
    for hosting in ("s3", "evolink"):
        extra = {"s3_bucket": "media"} if hosting == "s3" else {}
        settings = load_settings(**REPLICATED, media_hosting=hosting, **extra)
        assert settings.replicas == 3


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"database_url": ""}, "REPLICAS=3 needs DATABASE_URL (PostgreSQL)"),
        ({"telegram_webhook_url": ""}, "REPLICAS=3 needs TELEGRAM_WEBHOOK_URL"),
        ({"media_hosting": "local"}, "REPLICAS=3 does not work with MEDIA_HOSTING=local"),
        ({"replicas": 0}, "REPLICAS"),
    ],
)
def test_settings_that_cannot_work_with_replicas_are_refused_in_one_line(
    change: dict[str, object], named: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**(REPLICATED | change))
    message = str(refused.value)
    assert named in message and "\n" not in message
    assert "pw@" not in message  # the database password is never repeated


def test_a_replica_started_with_long_polling_stops_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "EVOLINK_API_KEY": "k",
        "REPLICAS": "2",
        "DATABASE_URL": "postgresql://bot:pw@db:5432/bot",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "REPLICAS=2 needs TELEGRAM_WEBHOOK_URL" in line


def test_env_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nEVOLINK_API_KEY=sk-from-file\n")
    settings = load_settings()
    assert settings.evolink_api_key.get_secret_value() == "sk-from-file"


def _start_up_error(tmp_path: Path, **env: str) -> str:
    """`python -m bot` with only `env`: it must stop with exit code 2 and one line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_start_up_without_configuration_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    assert "TELEGRAM_BOT_TOKEN is required" in _start_up_error(tmp_path)


def test_start_up_with_callbacks_evolink_would_refuse_is_one_line(tmp_path: Path) -> None:
    line = _start_up_error(
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        EVOLINK_API_KEY="sk-abc",
        EVOLINK_CALLBACKS="on",
        PUBLIC_BASE_URL="http://203.0.113.9:8080",
    )
    assert "EVOLINK_CALLBACKS=on" in line and "PUBLIC_BASE_URL=http://203.0.113.9" in line


def test_the_media_workers_get_none_of_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://bot:{PASSWORD}@db/bot")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = worker_env()
    assert "TELEGRAM_BOT_TOKEN" not in env and "DATABASE_URL" not in env
    assert env["LANG"] == "C.UTF-8" and env["PATH"] == os.environ["PATH"]


def test_media_workers_default_to_the_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-abc")
    settings = load_settings()
    assert settings.media_workers == usable_cpus() >= 1
    assert (settings.media_worker_memory_mb, settings.media_worker_max_jobs) == (2048, 200)
    monkeypatch.setenv("MEDIA_WORKERS", "0")
    with pytest.raises(SettingsError, match="MEDIA_WORKERS"):
        load_settings()
