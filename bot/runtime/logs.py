"""Logging set-up: one line per event, and secrets scrubbed from every record."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType

# Bot tokens have this shape; scrubbed even when they are not ours (e.g. in a pasted URL).
_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")


class RedactSecrets(logging.Filter):
    """Replaces known secrets, and anything shaped like a bot token, in a record's text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """The text with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return _TOKEN_SHAPE.sub("[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, scrub it, and drop the arguments that held it."""
        message = record.getMessage()
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(formatted)
        return True


# Context a log call may pass with `extra=`; shown as key=value, or as JSON fields.
CONTEXT_FIELDS = ("chat", "user", "task", "upstream", "draft", "ref")


class TextFormatter(logging.Formatter):
    """One line: time, level, logger, message, then the event's ids as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line, with context appended."""
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        )
        return f"{line} {context}" if context else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON."""
        data: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({n: getattr(record, n) for n in CONTEXT_FIELDS if hasattr(record, n)})
        if record.exc_info:
            data["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str, secrets: Iterable[str], *, json_lines: bool = False) -> None:
    """Log to stderr at `level`, through the redacting filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram's URLs contain the bot token; botocore
    # logs signed requests at DEBUG.
    for noisy in ("httpx", "httpcore", "apscheduler", "botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_uncaught() -> None:
    """Send what Python would print by itself (an uncaught error, in any thread, or one it had
    to ignore) through the logging, so that its traceback is scrubbed like every line."""
    log = logging.getLogger("bot")

    def uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        log.critical("uncaught error", exc_info=(kind, error, tb))

    def in_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            uncaught(args.exc_type, args.exc_value, args.exc_traceback)

    def ignored(args: sys.UnraisableHookArgs) -> None:
        exc_info = (
            (args.exc_type, args.exc_value, args.exc_traceback)
            if args.exc_value is not None
            else None
        )
        log.error("%s: %r", args.err_msg or "Exception ignored in", args.object, exc_info=exc_info)

    sys.excepthook = uncaught
    threading.excepthook = in_thread
    sys.unraisablehook = ignored
