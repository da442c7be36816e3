"""`python -m bot` and the `seedance-bot` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from bot.runtime.logs import configure_logging, log_uncaught
from bot.runtime.runner import serve
from bot.runtime.startup import StartupError
from bot.settings import Settings, SettingsError, load_settings
from storage import DatabaseUnavailable

log = logging.getLogger("bot")


def main() -> None:
    """Read the settings, then run the bot until SIGINT or SIGTERM.

    Exit status 2: a setting to fix (one line naming it); 1: an unexpected error (its traceback
    goes through the logging, which scrubs every secret from it).
    """
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(
        settings.log_level, _secrets(settings), json_lines=settings.log_format == "json"
    )
    log_uncaught()
    try:
        _run(serve(settings, handle_signals=True))
    except StartupError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    except DatabaseUnavailable as exc:  # its message carries no password
        print(f"Configuration error: {settings.database_setting}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        raise SystemExit(130) from None
    except Exception:
        log.critical("the bot stopped on an unexpected error", exc_info=True)
        raise SystemExit(1) from None


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (not on Windows), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _secrets(settings: Settings) -> list[str]:
    """Every secret the logs must never show."""
    token = settings.telegram_bot_token.get_secret_value()
    # The part after the colon alone is the secret, and appears alone in URL-encoded text.
    secrets = [token, token.partition(":")[2], settings.evolink_api_key.get_secret_value()]
    if settings.media_signing_key is not None:
        secrets.append(settings.media_signing_key.get_secret_value())
    if settings.webhook_enabled:
        secrets.append(settings.webhook_secret)
    for optional in (
        settings.s3_secret_access_key,
        settings.s3_access_key_id,
        settings.metrics_token,
    ):
        if optional is not None:
            secrets.append(optional.get_secret_value())
    return secrets + settings.database_secrets


if __name__ == "__main__":
    main()
