"""Wiring: the settings become services, the services become a python-telegram-bot Application."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, CallbackContext, ExtBot
from telegram.ext import ContextTypes as _ContextTypes

from bot import limits
from bot.access import AccessPolicy
from bot.background import Background
from bot.delivery import Deliverer
from bot.drafts import DraftService
from bot.edit_budget import EditBudget
from bot.evolink import EvolinkClient, EvolinkError
from bot.heap import give_back_free_memory
from bot.history import HistoryService
from bot.hosting import EvolinkFilesHost, LocalHost, MediaHost
from bot.janitor import Janitor
from bot.media.jobs import MediaJobs
from bot.messenger import Messenger
from bot.metrics import CountingRateLimiter, Metrics
from bot.references import ReferenceProcessor
from bot.settings import MediaHosting, Settings
from bot.settings_menu import SettingsMenu
from bot.signing import UrlSigner, load_or_create_key
from bot.submit import Submitter
from bot.telegram_files import TelegramFiles
from bot.texts import LANGUAGES, t
from bot.tracker import TaskTracker
from bot.update_order import PerChatUpdateProcessor
from storage import Database, Store
from storage.db import Clock
from storage.models import Options

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the handlers and the web server need, built once per process."""

    settings: Settings
    store: Store
    http: httpx.AsyncClient
    evolink: EvolinkClient
    local_host: LocalHost | None
    messenger: Messenger
    background: Background
    drafts: DraftService
    submitter: Submitter
    access: AccessPolicy
    metrics: Metrics
    janitor: Janitor
    history: HistoryService
    settings_menu: SettingsMenu
    tracker: TaskTracker
    host: MediaHost | None = None

    async def start(self) -> None:
        """Open the database and pick up whatever a previous run left unfinished."""
        for directory in (self.settings.media_dir, self.settings.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        prepare = getattr(self.host, "prepare", None)  # e.g. S3: the expiry rule of the bucket
        if prepare is not None:
            await prepare()
        await self.drafts.resume()
        await self.submitter.resume()
        await self.tracker.resume()
        self.tracker.start()

    async def balance_text(self, lang: str) -> str:
        """The account's credits, in words."""
        try:
            credits = await self.evolink.credits()
        except EvolinkError as exc:
            log.warning("credits query failed: %s", exc)
            return t(lang, "balance_failed")
        side = (
            credits.data.token
            if credits.data.token.remaining_credits is not None
            else credits.data.user
        )
        if side.remaining_credits is None:
            return t(lang, "balance_unknown")
        used = (
            t(lang, "balance_used", used=f"{side.used_credits:g}")
            if side.used_credits is not None
            else ""
        )
        return t(lang, "balance", remaining=f"{side.remaining_credits:g}", used=used)

    async def close(self) -> None:
        """Stop background work and release connections; in-flight tasks resume on restart."""
        await self.tracker.stop()
        await self.background.close()
        await self.http.aclose()
        await self.store.close()


class BotData:
    """python-telegram-bot's `bot_data`, typed: it carries the services."""

    services: Services


BotContext = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = _ContextTypes(bot_data=BotData)

BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]

COMMAND_NAMES = ("generate", "settings", "status", "history", "balance", "cancel", "help")


def build_services(
    settings: Settings, application: BotApplication, *, clock: Clock, metrics: Metrics
) -> Services:
    """Create every service (nothing is opened or started here)."""
    timeout = httpx.Timeout(settings.http_timeout_seconds, connect=10.0)
    http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    evolink = EvolinkClient(
        http,
        api_key=settings.evolink_api_key.get_secret_value(),
        base_url=str(settings.evolink_base_url),
        files_base_url=str(settings.evolink_files_base_url),
        on_error=metrics.count_upstream_error,
    )
    store = Store(Database(settings.database_path, clock=clock))
    local_host: LocalHost | None = None
    host: MediaHost
    if settings.media_hosting is MediaHosting.LOCAL:
        key = load_or_create_key(
            settings.data_dir / "signing.key",
            settings.media_signing_key.get_secret_value() if settings.media_signing_key else None,
        )
        local_host = LocalHost(
            media_dir=settings.media_dir,
            public_url=settings.public_url(""),
            signer=UrlSigner(key),
            ttl_seconds=settings.media_url_ttl_seconds,
            clock=clock,
        )
        host = local_host
    elif settings.media_hosting is MediaHosting.S3:
        host = _s3_host(settings, clock=clock)
    else:
        host = EvolinkFilesHost(evolink, clock=clock)
    bot = application.bot
    messenger = Messenger(
        bot, progress_budget=EditBudget(per_minute=settings.group_progress_edits_per_minute)
    )
    background = Background()
    files = TelegramFiles(
        bot,
        http,
        local_mode=settings.telegram_local_mode,
        max_bytes=settings.telegram_local_max_file_mb * 2**20
        if settings.telegram_local_mode
        else limits.TELEGRAM_DOWNLOAD_MAX_BYTES,
    )
    processor = ReferenceProcessor(
        drafts=store.drafts,
        files=files,
        host=host,
        jobs=MediaJobs(timeout_seconds=settings.media_timeout_seconds),
        metrics=metrics,
        media_dir=settings.media_dir,
        tmp_dir=settings.tmp_dir,
        clock=clock,
    )
    drafts = DraftService(
        store=store,
        processor=processor,
        messenger=messenger,
        background=background,
        quiet_seconds=settings.album_quiet_seconds,
    )
    deliverer = Deliverer(
        bot=bot,
        store=store,
        messenger=messenger,
        http=http,
        tmp_dir=settings.tmp_dir,
        metrics=metrics,
        clock=clock,
    )
    tracker = TaskTracker(
        store=store,
        client=evolink,
        messenger=messenger,
        deliverer=deliverer,
        background=background,
        poll_interval=settings.poll_interval_seconds,
        progress_edit_seconds=settings.progress_edit_seconds,
        deadline_seconds=settings.task_deadline_seconds,
        clock=clock,
    )

    def callback_url(secret: str) -> str | None:
        return (
            settings.public_url(f"callbacks/evolink/{secret}")
            if settings.callbacks_enabled
            else None
        )

    access = AccessPolicy(settings, store, clock=clock)
    submitter = Submitter(
        store=store,
        drafts=drafts,
        processor=processor,
        client=evolink,
        messenger=messenger,
        background=background,
        access=access,
        metrics=metrics,
        callback_url=callback_url,
        on_submitted=tracker.wake,
        clock=clock,
    )
    return Services(
        settings=settings,
        store=store,
        http=http,
        evolink=evolink,
        local_host=local_host,
        messenger=messenger,
        background=background,
        drafts=drafts,
        submitter=submitter,
        access=access,
        metrics=metrics,
        janitor=Janitor(
            store=store,
            media_dir=settings.media_dir,
            tmp_dir=settings.tmp_dir,
            # Files API copies count against the account's quota: taken down when unneeded.
            host=host if isinstance(host, EvolinkFilesHost) else None,
            clock=clock,
        ),
        history=HistoryService(store=store, bot=bot),
        settings_menu=SettingsMenu(store=store, defaults=Options()),
        tracker=tracker,
        host=host,
    )


def _s3_host(settings: Settings, *, clock: Clock) -> MediaHost:
    from bot.hosting_s3 import S3Host  # boto3 is loaded only when it is used

    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    return S3Host(
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url or None,
        access_key_id=secret(settings.s3_access_key_id),
        secret_access_key=secret(settings.s3_secret_access_key),
        key_prefix=settings.s3_key_prefix,
        url_ttl_seconds=settings.s3_url_ttl_seconds,
        expire_days=settings.s3_expire_days,
        clock=clock,
    )


async def post_init(application: BotApplication) -> None:
    """Open resources and resume unfinished work before the first update is handled."""
    services = application.bot_data.services
    await services.start()
    # Updates a previous run received but never finished go first, in their order.
    for _, body in await services.store.inbox.pending():
        update = Update.de_json(json.loads(body), application.bot)
        if update is not None:
            await application.update_queue.put(update)
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        sweep, interval=services.settings.cleanup_interval_seconds, first=1.0, name="clean-up"
    )
    for lang in LANGUAGES:
        commands = [BotCommand(name, t(lang, f"command_{name}")) for name in COMMAND_NAMES]
        # English is also the menu for every language the bot does not speak.
        await application.bot.set_my_commands(
            commands, language_code=None if lang == "en" else lang
        )


async def sweep(context: BotContext) -> None:
    """The periodic clean-up job."""
    services = context.bot_data.services
    await services.janitor.sweep()
    services.drafts.prune()
    forget_persistence_marks(context.application)
    give_back_free_memory()


# python-telegram-bot notes the chat and user of every update for a persistence to save later,
# and only a persistence's save ever empties the note. This bot has none: without this, the
# note grows by every chat and user the bot has ever seen.
_PERSISTENCE_MARKS = (
    "_chat_ids_to_be_updated_in_persistence",
    "_user_ids_to_be_updated_in_persistence",
)


def forget_persistence_marks(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Empty python-telegram-bot's per-chat and per-user persistence notes (no persistence)."""
    if application.persistence is not None:
        return
    for name in _PERSISTENCE_MARKS:
        marks = getattr(application, name, None)
        if isinstance(marks, set):
            marks.clear()


async def post_shutdown(application: BotApplication) -> None:
    """Release what `post_init` opened."""
    await application.bot_data.services.close()


def build_application(settings: Settings, *, clock: Clock = time.time) -> BotApplication:
    """The bot: a python-telegram-bot Application with our handlers and services."""
    from handlers import register  # handlers depend on bot.app's types, so import late

    metrics = Metrics()

    application: BotApplication = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .local_mode(settings.telegram_local_mode)
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(PerChatUpdateProcessor())
        .rate_limiter(CountingRateLimiter(metrics, max_retries=3))
        .media_write_timeout(300)
        .read_timeout(30)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    services = build_services(settings, application, clock=clock, metrics=metrics)
    application.bot_data.services = services
    processor = application.update_processor
    assert isinstance(processor, PerChatUpdateProcessor)
    processor.inbox = services.store.inbox
    register(application)
    return application
