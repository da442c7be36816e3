"""The services one bot process runs, and python-telegram-bot's context types that carry them
to the handlers (a module of its own, so handlers never import the wiring in bot.app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from telegram.ext import Application, CallbackContext, ExtBot
from telegram.ext import ContextTypes as _ContextTypes

from bot.account.access import AccessPolicy
from bot.account.balance import Balance
from bot.account.defaults_menu import SettingsMenu
from bot.account.history import HistoryService
from bot.drafts.service import DraftService
from bot.evolink import EvolinkClient
from bot.evolink.aiohttp_http import AiohttpHttp
from bot.evolink.upstream import Upstream
from bot.hosting import LocalHost, MediaHost
from bot.media.jobs import MediaJobs
from bot.runtime.background import Background
from bot.runtime.http_session import LazySession
from bot.runtime.janitor import Janitor
from bot.runtime.metrics import Metrics
from bot.runtime.replicas import Replica
from bot.settings import Settings
from bot.tasks.generate import Generator
from bot.tasks.rerun import Rerun
from bot.tasks.submit import Submitter
from bot.tasks.tracking import TaskTracker
from bot.telegram.messenger import Messenger
from storage import Store


@dataclass
class Services:
    """Everything the handlers and the web server need, built once per process."""

    settings: Settings
    store: Store
    http: httpx.AsyncClient
    upstream_http: list[AiohttpHttp]  # the task queries' lanes, the Files API's uploads
    downloads: LazySession
    evolink: EvolinkClient
    local_host: LocalHost | None
    messenger: Messenger
    background: Background
    drafts: DraftService
    generator: Generator
    rerun: Rerun
    submitter: Submitter
    access: AccessPolicy
    metrics: Metrics
    janitor: Janitor
    history: HistoryService
    settings_menu: SettingsMenu
    tracker: TaskTracker
    balance: Balance
    upstream: Upstream
    media: MediaJobs
    replica: Replica
    host: MediaHost | None = None

    async def start(self) -> None:
        """Open the database and take over whatever a previous run (or a stopped replica) left
        unfinished."""
        for directory in (self.settings.media_dir, self.settings.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.media.start()  # the workers warm up while the rest starts
        await self.store.open()
        prepare = getattr(self.host, "prepare", None)  # e.g. S3: the expiry rule of the bucket
        if prepare is not None:
            await prepare()
        await self.replica.join()
        await self.replica.recover()
        self.tracker.start()
        self.replica.start()

    async def close(self) -> None:
        """Stop background work and release connections; in-flight tasks resume on restart (or
        on another replica, at once: this one signs off last)."""
        await self.tracker.stop()
        await self.background.close()
        await self.media.close()  # after the work that uses it: its jobs end with it
        await self.replica.stop()
        await self.http.aclose()
        for connections in self.upstream_http:
            await connections.aclose()
        await self.downloads.aclose()
        await self.store.close()


class BotData:
    """python-telegram-bot's `bot_data`, typed: it carries the services."""

    services: Services


BotContext = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = _ContextTypes(bot_data=BotData)

BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
