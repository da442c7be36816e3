"""Typed errors of the Evolink API, one class per documented status."""

from __future__ import annotations


class EvolinkError(Exception):
    """The API answered with an error, or could not be reached."""

    status: int | None = None
    retryable = False

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{status or '-'} {code}: {message}")
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(EvolinkError):
    """400: the request was refused as invalid; nothing was charged."""

    status = 400


class Unauthorized(EvolinkError):
    """401: the API key is wrong or expired."""

    status = 401


class QuotaExceeded(EvolinkError):
    """402: the account has no credits left."""

    status = 402


class Forbidden(EvolinkError):
    """403: the key may not use this model."""

    status = 403


class NotFound(EvolinkError):
    """404: no such task or file."""

    status = 404


class PayloadTooLarge(EvolinkError):
    """413: the request or file is too big."""

    status = 413


class RateLimited(EvolinkError):
    """429: too many requests."""

    status = 429
    retryable = True


class ServerError(EvolinkError):
    """5xx: the service failed; worth another try."""

    status = 500
    retryable = True


class Unreachable(EvolinkError):
    """No answer: a connection failure or a timeout.

    `maybe_sent` says whether the request may have reached the server (a timeout while waiting
    for the answer) or certainly did not (the connection was never made).
    """

    retryable = True

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__("unreachable", message)
        self.maybe_sent = maybe_sent


class MalformedResponse(EvolinkError):
    """The answer was not the JSON we expected."""


_BY_STATUS: dict[int, type[EvolinkError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: QuotaExceeded,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
}


def error_for_status(status: int, code: str, message: str) -> EvolinkError:
    """The typed error for an HTTP status."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else EvolinkError
    return cls(code, message, status=status)
