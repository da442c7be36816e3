"""Deployment files: docker-compose.yml, deploy/Caddyfile, .env.example and the Docker image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
CADDYFILE_REPLICAS = ROOT / "deploy" / "Caddyfile.replicas"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS = {name.upper() for name in Settings.model_fields}
# Read by docker compose (interpolation) or its other services, never by the bot.
COMPOSE_ONLY = {
    "COMPOSE_PROFILES",
    "BOT_DOMAIN",
    "TELEGRAM_API_ID",
    "TELEGRAM_API_HASH",
    "POSTGRES_PASSWORD",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """target path -> source (volume name or host path) of a service's short-syntax volumes."""
    mounts = {}
    for entry in service.get("volumes") or []:
        source, target = str(entry).split(":")[:2]
        mounts[target] = source
    return mounts


def test_the_bot_service(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert bot["build"] in (".", {"context": "."})
    assert "profiles" not in bot  # `docker compose up` runs it
    env_file = bot["env_file"]
    assert ".env" in ([env_file] if isinstance(env_file, str) else env_file)
    env = _environment(bot)
    assert env["DATA_DIR"] == "/data"
    assert _mounts(bot)["/data"] == "bot-data"
    assert "bot-data" in compose["volumes"]
    port = env["HTTP_PORT"]
    assert port == "8080" and f"{port}:{port}" in bot["ports"]
    assert bot["restart"] == "unless-stopped"
    check = " ".join(bot["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/healthz" in check


def test_every_variable_compose_gives_the_bot_is_a_setting(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["bot"])
    assert env and set(env) <= SETTINGS, set(env) - SETTINGS
    assert load_settings(
        telegram_bot_token="123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a",
        evolink_api_key="k",
        **{name.lower(): value for name, value in env.items()},
    )


def test_the_local_bot_api_profile(compose: dict[str, Any]) -> None:
    server = compose["services"]["telegram-bot-api"]
    assert server["image"].startswith("aiogram/telegram-bot-api:")
    assert server["profiles"] == ["local-bot-api"]
    assert _environment(server)["TELEGRAM_LOCAL"] in ("1", "true")
    assert {"TELEGRAM_API_ID", "TELEGRAM_API_HASH"} <= set(_environment(server))
    # The files it writes are read by the bot at the same path (local mode hands out paths).
    path = "/var/lib/telegram-bot-api"
    volume = _mounts(server)[path]
    assert _mounts(compose["services"]["bot"])[path] == volume
    assert volume in compose["volumes"]
    # What .env.example tells the operator to set points at this service, and loads.
    text = ENV_EXAMPLE.read_text()
    base = re.search(r"TELEGRAM_API_BASE_URL=(http://telegram-bot-api:8081/bot)\b", text)
    files = re.search(r"TELEGRAM_FILE_BASE_URL=(http://telegram-bot-api:8081/file/bot)\b", text)
    assert base and files and "TELEGRAM_LOCAL_MODE=true" in text
    assert "8081" in [str(p) for p in server["expose"]]
    settings = load_settings(
        telegram_bot_token="123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a",
        evolink_api_key="k",
        telegram_local_mode="true",
        telegram_api_base_url=base.group(1),
        telegram_file_base_url=files.group(1),
    )
    assert settings.telegram_local_mode is True


def test_the_https_profile(compose: dict[str, Any]) -> None:
    caddy = compose["services"]["caddy"]
    assert caddy["image"].startswith("caddy:")
    assert caddy["profiles"] == ["https"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert _mounts(caddy)["/etc/caddy/Caddyfile"] == "./deploy/Caddyfile"
    assert {"caddy-data", "caddy-config"} <= set(compose["volumes"])
    assert "BOT_DOMAIN" in _environment(caddy)
    caddyfile = CADDYFILE.read_text()
    port = _environment(compose["services"]["bot"])["HTTP_PORT"]
    assert f"reverse_proxy bot:{port}" in caddyfile
    assert "{$BOT_DOMAIN" in caddyfile


@pytest.mark.parametrize("caddyfile", [CADDYFILE, CADDYFILE_REPLICAS], ids=["one", "replicas"])
def test_caddy_keeps_health_and_metrics_off_the_internet(caddyfile: Path) -> None:
    directives = [
        line.split()
        for line in caddyfile.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    hidden = {words[1] for words in directives if words[0] == "respond" and words[-1] == "404"}
    assert "/healthz" in hidden
    assert hidden & {"/metrics", "/metrics*"}, "/metrics must not be passed to the bot"
    # The bot's own guard, for anyone reaching port 8080 directly: a token, off by default.
    assert re.search(r"^METRICS_TOKEN=$", ENV_EXAMPLE.read_text(), re.MULTILINE)


def test_the_postgres_service(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert set(postgres["profiles"]) == {"postgres", "replicas"}
    env = _environment(postgres)
    assert env["POSTGRES_USER"] == "bot" and env["POSTGRES_DB"] == "bot"
    assert "${POSTGRES_PASSWORD" in env["POSTGRES_PASSWORD"]
    assert _mounts(postgres)["/var/lib/postgresql/data"] == "postgres-data"
    assert "postgres-data" in compose["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    # The single bot waits for it when the profile is on, and runs without it when it is not.
    wait = compose["services"]["bot"]["depends_on"]["postgres"]
    assert wait == {"condition": "service_healthy", "required": False}


def test_the_replicas_profile(compose: dict[str, Any]) -> None:
    replica = compose["services"]["replica"]
    assert replica["profiles"] == ["replicas"]
    assert replica["build"] in (".", {"context": "."})
    assert "ports" not in replica  # only the balancer is reachable from outside
    assert "${REPLICAS" in str(replica["deploy"]["replicas"])
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = _environment(replica)
    assert set(env) <= SETTINGS, set(env) - SETTINGS
    assert env["DATABASE_URL"].startswith("postgresql://bot:${POSTGRES_PASSWORD")
    assert env["DATABASE_URL"].endswith("@postgres:5432/bot")
    port = env["HTTP_PORT"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(replica["healthcheck"]["test"])
    # With what .env.example tells the operator to add, the replicas' settings load.
    settings = load_settings(
        telegram_bot_token="123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a",
        evolink_api_key="k",
        telegram_webhook_url="https://bot.example.com/telegram",
        public_base_url="https://bot.example.com",
        s3_bucket="media",
        **{
            name.lower(): value.replace("${POSTGRES_PASSWORD:-}", "pw").replace(
                "${REPLICAS:-3}", "3"
            )
            for name, value in env.items()
        },
    )
    assert settings.replicas == 3 and settings.webhook_enabled

    balancer = compose["services"]["balancer"]
    assert balancer["image"].startswith("caddy:")
    assert balancer["profiles"] == ["replicas"]
    assert {"80:80", "443:443"} <= set(balancer["ports"])
    assert _mounts(balancer)["/etc/caddy/Caddyfile"] == "./deploy/Caddyfile.replicas"
    caddyfile = CADDYFILE_REPLICAS.read_text()
    upstreams = re.search(r"dynamic a \{(.*?)\}", caddyfile, re.DOTALL)
    assert upstreams is not None
    assert "name replica" in upstreams.group(1) and f"port {port}" in upstreams.group(1)
    assert "lb_policy round_robin" in caddyfile and "lb_try_duration" in caddyfile
    assert "{$BOT_DOMAIN" in caddyfile


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE)
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) >= SETTINGS, f"not in .env.example: {sorted(SETTINGS - set(names))}"
    unknown = set(names) - SETTINGS
    assert unknown <= COMPOSE_ONLY, f"neither a setting nor read by compose: {unknown}"
    compose_text = COMPOSE.read_text()
    for name in COMPOSE_ONLY - {"COMPOSE_PROFILES"}:
        assert "${" + name in compose_text, f"{name} is not used by docker-compose.yml"


def test_env_example_as_it_is_loads_once_the_two_required_values_are_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = ENV_EXAMPLE.read_text()
    text = text.replace(
        "TELEGRAM_BOT_TOKEN=\n", "TELEGRAM_BOT_TOKEN=123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a\n"
    ).replace("EVOLINK_API_KEY=\n", "EVOLINK_API_KEY=sk-example\n")
    (tmp_path / ".env").write_text(text)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.webhook_enabled is False  # polling unless TELEGRAM_WEBHOOK_URL is set
    assert settings.public_base_url is None


@pytest.mark.parametrize("caddyfile", [CADDYFILE, CADDYFILE_REPLICAS], ids=["one", "replicas"])
def test_caddyfile_is_valid_caddy_config(caddyfile: Path) -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed here: the Caddyfile was only checked as text")
    result = subprocess.run(  # noqa: S603 - a fixed command
        [caddy, "adapt", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env={**os.environ, "BOT_DOMAIN": "bot.example.com"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"bot.example.com"' in result.stdout
    if caddyfile == CADDYFILE:
        assert '"dial":"bot:8080"' in result.stdout
    else:
        assert '"source":"a"' in result.stdout and '"name":"replica"' in result.stdout


def _docker_engine() -> str | None:
    """Why no Docker engine can be used, or None when one answers."""
    docker = shutil.which("docker")
    if docker is None:
        return "the docker client is not installed"
    try:
        info = subprocess.run(  # noqa: S603 - a fixed command
            [docker, "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        return "no Docker engine answers `docker info` (only the client is here)"
    return None


def test_the_image_builds() -> None:
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(f"docker build not run: {reason}")
    docker = shutil.which("docker")
    assert docker is not None
    tag = "seedance-bot:test-build"
    build = subprocess.run(  # noqa: S603 - a fixed command
        [docker, "build", "-t", tag, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    imports = subprocess.run(  # noqa: S603 - a fixed command
        [docker, "run", "--rm", tag, "python", "-c", "import bot.runtime.runner, bot.hosting.s3"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert imports.returncode == 0, imports.stderr[-4000:]
