"""Wiring: the settings become services, the services become a python-telegram-bot Application."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aiohttp
import httpx
from pydantic import SecretStr
from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder

from bot import limits
from bot.account.access import AccessPolicy
from bot.account.balance import Balance
from bot.account.defaults_menu import SettingsMenu
from bot.account.history import HistoryService
from bot.drafts.references import ReferenceProcessor
from bot.drafts.service import DraftService
from bot.evolink import EvolinkClient, Http
from bot.evolink.aiohttp_http import AiohttpHttp
from bot.evolink.lanes import QueryLanes
from bot.evolink.upstream import Upstream
from bot.hosting import EvolinkFilesHost, LocalHost, MediaHost
from bot.hosting.signing import UrlSigner, load_or_create_key
from bot.media.jobs import MediaJobs
from bot.media.pool import MediaPool
from bot.runtime.background import Background
from bot.runtime.heap import give_back_free_memory
from bot.runtime.http_session import LazySession, environment_proxy
from bot.runtime.janitor import Janitor
from bot.runtime.metrics import CountingRateLimiter, Metrics
from bot.runtime.replicas import Replica
from bot.services import CONTEXT_TYPES, BotApplication, BotContext, Services
from bot.settings import MediaHosting, Settings
from bot.tasks.delivery import Deliverer
from bot.tasks.generate import Generator
from bot.tasks.notices import Notices
from bot.tasks.reconcile import Reconciler
from bot.tasks.rerun import Rerun
from bot.tasks.submit import Submitter
from bot.tasks.tracking import QUERY_CONCURRENCY, TaskTracker
from bot.telegram.edit_budget import EditBudget
from bot.telegram.files import TelegramFiles
from bot.telegram.inbox import DurableUpdateQueue, PersonTurns
from bot.telegram.messenger import Messenger
from bot.telegram.requests import BoundedRequest, GatedGetUpdates
from bot.telegram.texts import LANGUAGES, t
from bot.telegram.update_order import PerChatUpdateProcessor
from storage import Store, database_at
from storage.db import Clock
from storage.models import Options

log = logging.getLogger(__name__)


# Files API uploads on the wire at once (httpx.AsyncClient's default pool size).
UPLOADS_AT_ONCE = 100

COMMAND_NAMES = ("generate", "settings", "status", "history", "balance", "cancel", "help")


def build_services(
    settings: Settings, application: BotApplication, *, clock: Clock, metrics: Metrics
) -> Services:
    """Create every service (nothing is opened or started here)."""
    timeout = httpx.Timeout(settings.http_timeout_seconds, connect=10.0)
    tls = httpx.create_ssl_context()  # the certificate store, loaded once for every client
    http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, verify=tls)

    def upstream_client(through: Http) -> EvolinkClient:
        return EvolinkClient(
            through,
            api_key=settings.evolink_api_key.get_secret_value(),
            base_url=str(settings.evolink_base_url),
            files_base_url=str(settings.evolink_files_base_url),
            on_error=metrics.count_upstream_error,
        )

    evolink = upstream_client(http)
    upstream = Upstream(evolink, base_url=str(settings.evolink_base_url))
    # Task queries go through lanes of one connection each (see bot.evolink.lanes).
    query_http = [
        AiohttpHttp.to(str(settings.evolink_base_url), timeout=timeout, tls=tls)
        for _ in range(QUERY_CONCURRENCY)
    ]
    queries = QueryLanes([upstream_client(lane) for lane in query_http])
    upstream_http = list(query_http)
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    store = Store(database_at(database_url, sqlite_path=settings.database_path, clock=clock))
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
        # Every user's file is uploaded: through aiohttp (see bot.evolink.aiohttp_http).
        files_http = AiohttpHttp.to(
            str(settings.evolink_files_base_url), timeout=timeout, tls=tls, limit=UPLOADS_AT_ONCE
        )
        upstream_http.append(files_http)
        host = EvolinkFilesHost(upstream_client(files_http), clock=clock)
    bot = application.bot
    messenger = Messenger(bot)
    notices = Notices(
        messenger,
        progress_budget=EditBudget(per_minute=settings.group_progress_edits_per_minute),
    )
    background = Background()
    # Users' files come through aiohttp (see bot.runtime.http_session): a quarter of httpx's CPU.
    downloads = LazySession(
        tls=tls,
        timeout=aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read),
        proxy=environment_proxy(settings.telegram_file_base_url),
    )
    files = TelegramFiles(
        bot,
        downloads,
        local_mode=settings.telegram_local_mode,
        max_bytes=settings.telegram_local_max_file_mb * 2**20
        if settings.telegram_local_mode
        else limits.TELEGRAM_DOWNLOAD_MAX_BYTES,
    )
    media = MediaJobs(
        MediaPool(
            size=settings.media_workers,
            memory_mb=settings.media_worker_memory_mb,
            cpu_seconds=settings.media_worker_cpu_seconds,
            timeout_seconds=settings.media_timeout_seconds,
            max_jobs=settings.media_worker_max_jobs,
        ),
        on_unprocessable=lambda reason: metrics.media_unprocessable.labels(reason=reason).inc(),
    )
    metrics.media_waiting.set_function(lambda: media.waiting)
    metrics.media_busy.set_function(lambda: media.busy)
    processor = ReferenceProcessor(
        drafts=store.drafts,
        files=files,
        host=host,
        jobs=media,
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
        shared=settings.replicas > 1,
    )
    deliverer = Deliverer(
        bot=bot,
        store=store,
        messenger=messenger,
        notices=notices,
        media=media,
        http=http,
        tmp_dir=settings.tmp_dir,
        metrics=metrics,
        clock=clock,
    )
    reconciler = Reconciler(
        store=store,
        client=queries,
        notices=notices,
        callbacks=settings.callbacks_enabled,
        window_seconds=settings.task_deadline_seconds,
        clock=clock,
    )
    tracker = TaskTracker(
        store=store,
        client=queries,
        notices=notices,
        reconciler=reconciler,
        deliverer=deliverer,
        background=background,
        metrics=metrics,
        poll_interval=settings.poll_interval_seconds,
        progress_edit_seconds=settings.progress_edit_seconds,
        deadline_seconds=settings.task_deadline_seconds,
        callbacks=settings.callbacks_enabled,
        claim_seconds=settings.replica_timeout_seconds,
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
        notices=notices,
        reconciler=reconciler,
        background=background,
        metrics=metrics,
        callback_url=callback_url,
        first_query_at=tracker.first_query_at,
        on_submitted=tracker.wake,
        clock=clock,
    )
    generator = Generator(
        store=store,
        drafts=drafts,
        messenger=messenger,
        access=access,
        submitter=submitter,
        metrics=metrics,
        background=background,
        upstream=upstream,
    )
    replica = Replica(
        store=store,
        sole=settings.replicas == 1,
        timeout=settings.replica_timeout_seconds,
        clock=clock,
    )
    replica.on_recovery("files", drafts.recover)
    replica.on_recovery("submits", submitter.recover)
    replica.on_recovery("deliveries", tracker.recover)
    replica.on_recovery("one-shot requests", generator.recover)
    return Services(
        settings=settings,
        store=store,
        http=http,
        upstream_http=upstream_http,
        downloads=downloads,
        evolink=evolink,
        local_host=local_host,
        messenger=messenger,
        background=background,
        drafts=drafts,
        generator=generator,
        rerun=Rerun(store=store, drafts=drafts, generator=generator, access=access),
        submitter=submitter,
        access=access,
        metrics=metrics,
        janitor=Janitor(
            store=store,
            media_dir=settings.media_dir,
            tmp_dir=settings.tmp_dir,
            # Files API copies count against the account's quota: taken down when unneeded.
            host=host if isinstance(host, EvolinkFilesHost) else None,
            every=settings.cleanup_interval_seconds,
            clock=clock,
        ),
        history=HistoryService(store=store, bot=bot),
        settings_menu=SettingsMenu(store=store, defaults=Options()),
        tracker=tracker,
        balance=Balance(
            store=store,
            client=evolink,
            access=access,
            daily_limit=settings.daily_generations_per_user,
            clock=clock,
        ),
        upstream=upstream,
        media=media,
        replica=replica,
        host=host,
    )


def _s3_host(settings: Settings, *, clock: Clock) -> MediaHost:
    from bot.hosting.s3 import S3Host  # boto3 is loaded only when it is used

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
    # Updates a previous run (or a stopped replica) received but never finished are taken over
    # here, before new ones come (see wire_updates).
    await services.start()
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        sweep, interval=services.settings.cleanup_interval_seconds, first=1.0, name="clean-up"
    )


async def set_commands(application: BotApplication) -> None:
    """The command menu, in each language the bot speaks (called by the runner after post_init,
    so that a Telegram blip is retried without opening the services twice)."""
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
    updates = DurableUpdateQueue()

    application: BotApplication = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .local_mode(settings.telegram_local_mode)
        .context_types(CONTEXT_TYPES)
        .update_queue(updates)
        .get_updates_request(GatedGetUpdates(updates.durable, updates.received))
        # Through the proxy the environment names for Telegram, as the long poll's httpx goes.
        .request(BoundedRequest(proxy=environment_proxy(settings.telegram_api_base_url)))
        .concurrent_updates(PerChatUpdateProcessor())
        .rate_limiter(CountingRateLimiter(metrics, max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    services = build_services(settings, application, clock=clock, metrics=metrics)
    application.bot_data.services = services
    wire_updates(application, services)
    register(application)
    return application


def wire_updates(application: BotApplication, services: Services) -> None:
    """Updates through the inbox: written before Telegram may forget them, handled once, in
    each person's order across replicas; those a stopped replica left are taken over."""
    queue, processor = application.update_queue, application.update_processor
    assert isinstance(queue, DurableUpdateQueue)
    assert isinstance(processor, PerChatUpdateProcessor)
    inbox, replica = services.store.inbox, services.replica
    queue.inbox = inbox
    queue.shared = services.settings.replicas > 1
    processor.on_handled = queue.handled
    processor.turn = PersonTurns(
        queue=queue, inbox=inbox, processor=processor, alive_since=replica.alive_since
    )

    def parse(body: str) -> Update:
        update = Update.de_json(json.loads(body), application.bot)
        assert update is not None
        return update

    async def handle_body(body: str) -> None:
        await application.process_update(parse(body))

    async def take_over_updates(alive_since: float) -> None:
        # In their order; they are in the inbox already, so they skip its write.
        for _, body in await inbox.take_orphans(alive_since=alive_since):
            queue.requeue(parse(body))

    processor.handle_body = handle_body
    replica.on_recovery("updates", take_over_updates)
