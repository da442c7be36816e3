"""What a submit proves: a task was created, none was, or nobody can tell."""

from __future__ import annotations

from dataclasses import dataclass

from bot.evolink.errors import EvolinkError
from bot.evolink.models import VideoTask


@dataclass(frozen=True)
class Accepted:
    """The API answered with the task it created."""

    task: VideoTask


@dataclass(frozen=True)
class Refused:
    """The answer proves no task was created: nothing was charged, the request may be re-sent."""

    error: EvolinkError


@dataclass(frozen=True)
class Unknown:
    """The request reached the API, and the answer that would say what it did was lost.

    A task may exist and be paid for: whatever happens next must never send the request again.
    """

    reason: str


SubmitOutcome = Accepted | Refused | Unknown
