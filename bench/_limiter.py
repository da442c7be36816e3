"""Rate limiters for the child bots of bench.throughput: as shipped, or none at all."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter, BaseRateLimiter


class PassThrough(BaseRateLimiter[int]):
    """A rate limiter that limits nothing: every request goes out at once."""

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Make the request now."""
        return await callback(*args, **kwargs)


def make_limiter(mode: str) -> BaseRateLimiter[Any]:
    """`shipped`: what bot.app.build_application uses; `off`: PassThrough."""
    if mode == "shipped":
        return AIORateLimiter(max_retries=3)
    if mode == "off":
        return PassThrough()
    raise ValueError(f"unknown rate limiter mode {mode!r}")
