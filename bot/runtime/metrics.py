"""Prometheus metrics: what the bot is doing, for `GET /metrics`. Never labelled with user data."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot.evolink.errors import EvolinkError
from storage import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One registry per process (and per test), so nothing leaks between bots."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tasks = Gauge(
            "seedance_tasks",
            "Tasks by status and delivery state",
            ["status", "delivery"],
            registry=r,
        )
        self.submit_seconds = Histogram(
            "seedance_submit_seconds",
            "Time of the paid submit call to Evolink",
            buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.requests = Counter(
            "seedance_requests",
            "Requests made into a task (each may pay for at most one upstream task)",
            registry=r,
        )
        self.upstream_tasks = Counter(
            "seedance_upstream_tasks",
            "Upstream tasks the bot knows it paid for: accepted, or adopted after a lost answer",
            ["how"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "seedance_time_to_delivery_seconds",
            "From /generate to the video (or link) in the chat",
            buckets=(30, 60, 120, 180, 300, 600, 900, 1800, 3600),
            registry=r,
        )
        self.upstream_errors = Counter(
            "seedance_upstream_errors",
            "Error answers from Evolink, by HTTP status",
            ["status"],
            registry=r,
        )
        self.telegram_retries = Counter(
            "seedance_telegram_retries",
            "Telegram flood-control waits (429 retry_after)",
            registry=r,
        )
        self.media_bytes_hosted = Counter(
            "seedance_media_bytes_hosted", "Bytes of reference media made available", registry=r
        )
        self.media_waiting = Gauge(
            "seedance_media_files_waiting", "Files queued for a free media worker", registry=r
        )
        self.media_busy = Gauge(
            "seedance_media_workers_busy", "Media workers working on a file", registry=r
        )
        self.media_unprocessable = Counter(
            "seedance_media_unprocessable",
            "Files refused because they stopped their media worker, by how",
            ["reason"],
            registry=r,
        )

    def count_upstream_error(self, error: EvolinkError) -> None:
        """One error answer from Evolink (the status keeps the label set small)."""
        self.upstream_errors.labels(status=str(error.status or "none")).inc()

    async def render(self, store: Store) -> bytes:
        """The exposition text, with the task gauge read fresh from the database."""
        counts = await store.tasks.count_by_state()
        self.tasks.clear()
        for status, delivery, count in counts:
            self.tasks.labels(status=status, delivery=delivery).set(count)
        return generate_latest(self.registry)


class CountingRateLimiter(AIORateLimiter):
    """python-telegram-bot's rate limiter, counting each flood-control wait it sits out."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics

    async def _run_request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._run_request(*args, **kwargs)
        except RetryAfter:
            self._metrics.telegram_retries.inc()
            raise
