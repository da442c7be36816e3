"""`python -m bot` and the `seedance-bot` command."""

from __future__ import annotations

import asyncio
import sys

from bot.logs import configure_logging
from bot.runner import serve
from bot.settings import SettingsError, load_settings


def main() -> None:
    """Read the settings, then run the bot until SIGINT or SIGTERM."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    secrets = [
        settings.telegram_bot_token.get_secret_value(),
        settings.evolink_api_key.get_secret_value(),
    ]
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
    configure_logging(settings.log_level, secrets, json_lines=settings.log_format == "json")
    asyncio.run(serve(settings, handle_signals=True))


if __name__ == "__main__":
    main()
