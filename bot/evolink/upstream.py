"""What the bot knows of Evolink: whether it answers, and whether it accepts EVOLINK_API_KEY.

Checked at start-up (and again in the background until it answers), and by `/healthz`; the submit
reads it to answer at once when the key is known to be refused.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum

from bot.evolink import EvolinkClient
from bot.runtime.startup import host_of

log = logging.getLogger(__name__)


class UpstreamState(StrEnum):
    """The last check's outcome, as `/healthz` reports it."""

    UNKNOWN = "unknown"
    OK = "ok"
    UNREACHABLE = "unreachable"
    KEY_REFUSED = "key refused"


class Upstream:
    """The state of Evolink as last checked; every change is one log line for the operator."""

    def __init__(self, client: EvolinkClient, *, base_url: str) -> None:
        self._client = client
        self._where = host_of(base_url)
        self.state = UpstreamState.UNKNOWN

    @property
    def key_refused(self) -> bool:
        """Whether the last check found EVOLINK_API_KEY refused."""
        return self.state is UpstreamState.KEY_REFUSED

    async def check(self) -> UpstreamState:
        """One GET /v1/credits: 401 or 403 means the key is refused; any other answer, that
        Evolink answers and takes the key."""
        status = await self._client.probe()
        if status is None:
            state = UpstreamState.UNREACHABLE
        elif status in {401, 403}:
            state = UpstreamState.KEY_REFUSED
        else:
            state = UpstreamState.OK
        if state is not self.state:
            self._say(state, status)
        self.state = state
        return state

    async def watch(self, *, max_delay: float = 60.0, recheck_refused: float = 300.0) -> None:
        """Check now, then again (1, 2, 4 ... `max_delay` s apart) until Evolink answers, and
        every `recheck_refused` seconds while it refuses the key (it may be enabled again)."""
        delay = 1.0
        while (state := await self.check()) is not UpstreamState.OK:
            if state is UpstreamState.KEY_REFUSED:
                await asyncio.sleep(recheck_refused)
            else:
                await asyncio.sleep(delay)
                delay = min(max_delay, delay * 2)

    def _say(self, state: UpstreamState, status: int | None) -> None:
        if state is UpstreamState.KEY_REFUSED:
            log.error(
                "Evolink refused EVOLINK_API_KEY (HTTP %s): the bot runs, but makes no video until "
                "EVOLINK_API_KEY is a valid key from https://evolink.ai/dashboard/keys",
                status,
            )
        elif state is UpstreamState.UNREACHABLE:
            log.warning(
                "Evolink (%s, EVOLINK_BASE_URL) does not answer; checking again in the background",
                self._where,
            )
        elif status is not None and 200 <= status < 300:
            log.info("Evolink (%s) answers and accepts EVOLINK_API_KEY", self._where)
        else:
            log.info("Evolink (%s) answers (HTTP %s)", self._where, status)
