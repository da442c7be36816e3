"""The Evolink API: client, models and errors."""

from bot.evolink.client import EvolinkClient, RetryPolicy
from bot.evolink.errors import EvolinkError, Unreachable
from bot.evolink.models import GenerationRequest, VideoTask

__all__ = [
    "EvolinkClient",
    "EvolinkError",
    "GenerationRequest",
    "RetryPolicy",
    "Unreachable",
    "VideoTask",
]
