"""Secrets never reach the log, whatever logs them."""

from __future__ import annotations

import io
import logging

from bot.runtime.logs import RedactSecrets

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789a"


def _logger_into(buffer: io.StringIO, secrets: list[str]) -> logging.Logger:
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactSecrets(secrets))
    logger = logging.getLogger(f"test-redact-{id(buffer)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_known_secrets_and_token_shapes_are_replaced() -> None:
    buffer = io.StringIO()
    log = _logger_into(buffer, [TOKEN, "sk-evolink-secret"])
    log.info("GET https://api.telegram.org/file/bot%s/photos/1.jpg", TOKEN)
    log.info("key=%s", "sk-evolink-secret")
    log.info("someone else's token %s", "987654321:" + "Z" * 35)
    text = buffer.getvalue()
    assert TOKEN not in text
    assert "sk-evolink-secret" not in text
    assert "987654321:ZZZ" not in text
    assert text.count("[redacted]") == 3


def test_tracebacks_are_scrubbed_too() -> None:
    buffer = io.StringIO()
    log = _logger_into(buffer, [TOKEN])
    try:
        raise RuntimeError(f"failed to fetch https://x/bot{TOKEN}/getMe")
    except RuntimeError:
        log.exception("boom")
    assert TOKEN not in buffer.getvalue()
    assert "RuntimeError" in buffer.getvalue()


def test_events_carry_their_ids_as_text_or_json() -> None:
    import json

    from bot.runtime.logs import JsonFormatter, TextFormatter

    record = logging.LogRecord(
        "bot.tasks.submit", logging.INFO, __file__, 1, "submitted", None, None
    )
    record.task, record.chat, record.user = 7, 42, 99
    line = TextFormatter().format(record)
    assert line.endswith("submitted chat=42 user=99 task=7")
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "submitted"
    assert (data["task"], data["chat"], data["user"]) == (7, 42, 99)
