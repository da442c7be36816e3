"""The Evolink API: client, models, errors, what a submit proves, the callback URL's
rules and the key's state.

Imports bot.runtime (start-up helpers) only.
"""

from bot.evolink.client import EvolinkClient, Http, RetryPolicy
from bot.evolink.errors import EvolinkError, Unreachable
from bot.evolink.models import GenerationRequest, VideoTask
from bot.evolink.outcome import Accepted, Refused, SubmitOutcome, Unknown

__all__ = [
    "Accepted",
    "EvolinkClient",
    "EvolinkError",
    "GenerationRequest",
    "Http",
    "Refused",
    "RetryPolicy",
    "SubmitOutcome",
    "Unknown",
    "Unreachable",
    "VideoTask",
]
