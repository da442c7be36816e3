"""The schema, as numbered migrations per engine, applied in order and recorded in
`schema_migrations`.

SQLite's list is the history of every SQLite database out there and only ever grows. PostgreSQL's
starts from the schema as it stands at SQLite's migration 4. A schema change appends one
migration to each list; the column types differ (PostgreSQL: BIGINT for Telegram ids and sizes,
DOUBLE PRECISION for unix times), the names and meaning do not.
"""

from __future__ import annotations

from typing import Final

from storage.db import Connection, DatabaseUnavailable

SQLITE_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: drafts, their references, and tasks
    """
    CREATE TABLE drafts (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        topic_id INTEGER NOT NULL DEFAULT 0,
        user_id INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        prompt TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        idempotency_key TEXT NOT NULL UNIQUE,
        summary_message_id INTEGER,
        language TEXT NOT NULL DEFAULT 'en',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    -- one open draft per user per chat per topic
    CREATE UNIQUE INDEX drafts_open ON drafts (chat_id, topic_id, user_id) WHERE state = 'open';

    CREATE TABLE refs (
        id INTEGER PRIMARY KEY,
        draft_id INTEGER NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        telegram_file_id TEXT NOT NULL,
        telegram_file_unique_id TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        media_group_id TEXT,
        file_name TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        local_path TEXT,
        mime_type TEXT,
        width INTEGER,
        height INTEGER,
        duration REAL,
        size INTEGER,
        hosted_url TEXT,
        hosted_id TEXT,
        hosted_expires_at REAL,
        changes TEXT NOT NULL DEFAULT '[]',
        error_code TEXT,
        error_params TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        UNIQUE (draft_id, position)
    );
    CREATE INDEX refs_draft ON refs (draft_id);

    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        -- a refused draft is reopened with a new idempotency key and may get a second task
        draft_id INTEGER NOT NULL REFERENCES drafts (id),
        chat_id INTEGER NOT NULL,
        topic_id INTEGER NOT NULL DEFAULT 0,
        user_id INTEGER NOT NULL,
        language TEXT NOT NULL DEFAULT 'en',
        request_message_id INTEGER,
        status_message_id INTEGER,
        idempotency_key TEXT NOT NULL UNIQUE,
        callback_secret TEXT NOT NULL UNIQUE,
        upstream_id TEXT UNIQUE,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        prompt TEXT NOT NULL,
        options TEXT NOT NULL,
        credits_reserved REAL,
        estimated_time INTEGER,
        result_url TEXT,
        error_code TEXT,
        error_message TEXT,
        next_poll_at REAL,
        progress_shown INTEGER NOT NULL DEFAULT -1,
        progress_edited_at REAL,
        delivery TEXT NOT NULL DEFAULT 'none',
        delivered_message_id INTEGER,
        delivered_file_id TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        submitted_at REAL,
        finished_at REAL
    );
    CREATE INDEX tasks_draft ON tasks (draft_id);
    CREATE INDEX tasks_user ON tasks (chat_id, user_id, created_at);
    CREATE INDEX tasks_open ON tasks (status, delivery);
    """,
    # 2: defaults per user and per group, one-time notices, media seen in groups
    """
    CREATE TABLE user_settings (
        user_id INTEGER PRIMARY KEY,
        options TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE chat_settings (
        chat_id INTEGER PRIMARY KEY,
        options TEXT NOT NULL,
        updated_by INTEGER NOT NULL,
        updated_at REAL NOT NULL
    );
    -- a refused user is told why once per chat and reason, not on every message
    CREATE TABLE notices (
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat_id, user_id, reason)
    );
    -- media the bot saw in groups, so a reply to one album item can use the whole album
    CREATE TABLE group_media (
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        media_group_id TEXT,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        telegram_file_id TEXT NOT NULL,
        telegram_file_unique_id TEXT NOT NULL,
        file_name TEXT,
        size INTEGER,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX group_media_album ON group_media (chat_id, media_group_id);
    CREATE INDEX tasks_user_day ON tasks (user_id, created_at);
    """,
    # 3: updates received but not yet handled survive a crash; a message joins a draft once
    """
    CREATE TABLE inbox (
        update_id INTEGER PRIMARY KEY,
        body TEXT NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX refs_message ON refs (draft_id, message_id);
    """,
    # 4: the options that queries select on, as columns (the same in every engine, no JSON SQL)
    """
    ALTER TABLE tasks ADD COLUMN duration INTEGER;
    ALTER TABLE tasks ADD COLUMN quality TEXT;
    ALTER TABLE tasks ADD COLUMN content_filter INTEGER;
    UPDATE tasks SET duration = json_extract(options, '$.duration'),
        quality = json_extract(options, '$.quality'),
        content_filter = json_extract(options, '$.content_filter');
    """,
    # 5: an upstream task id named by a callback before it is verified; one task row per upstream
    # task, so a task adopted after a lost submit answer can never be delivered twice
    """
    ALTER TABLE tasks ADD COLUMN callback_claim TEXT;
    CREATE UNIQUE INDEX tasks_upstream ON tasks (upstream_id) WHERE upstream_id IS NOT NULL;
    CREATE INDEX tasks_due ON tasks (status, next_poll_at);
    """,
    # 6: a draft that asked for its missing prompt: the answer (the next text, or in a group a
    # reply to the draft) makes the video; "make it again" used once per video
    """
    ALTER TABLE drafts ADD COLUMN prompt_asked INTEGER NOT NULL DEFAULT 0;
    -- the task its "make it again" button started (one per video: a double tap pays once)
    ALTER TABLE tasks ADD COLUMN rerun_task_id BIGINT;
    """,
    # 7: how often processing a reference was started, and when last: a file that took the bot
    # down with it is not tried again after the restart
    """
    ALTER TABLE refs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE refs ADD COLUMN started_at REAL;
    """,
    # 8: several replicas on one database. Each process beats in `replicas`; work in hand (an
    # update, a file being checked, a submit, a send) names its owner, and a live replica takes
    # over what a silent one left. Updates are kept once handled, so a copy Telegram sends again
    # to another replica is known. The tracker's pace baseline; the draft summary's debounce and
    # lock; one-shot requests (made once their album is in); jobs run by one replica at a time.
    """
    CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        seen_at REAL NOT NULL
    );
    ALTER TABLE inbox ADD COLUMN chat_id INTEGER;
    ALTER TABLE inbox ADD COLUMN user_id INTEGER;
    ALTER TABLE inbox ADD COLUMN owner TEXT;
    ALTER TABLE inbox ADD COLUMN handled_at REAL;
    CREATE INDEX inbox_line ON inbox (chat_id, user_id, update_id) WHERE handled_at IS NULL;
    CREATE INDEX inbox_unhandled ON inbox (update_id) WHERE handled_at IS NULL;
    CREATE INDEX inbox_handled ON inbox (handled_at) WHERE handled_at IS NOT NULL;
    ALTER TABLE tasks ADD COLUMN owner TEXT;
    ALTER TABLE tasks ADD COLUMN rate_progress INTEGER;
    ALTER TABLE tasks ADD COLUMN rate_at REAL;
    -- the tasks the tracker watches, by when they are due (storage.tasks.WATCHED)
    CREATE INDEX tasks_poll ON tasks (next_poll_at)
        WHERE ((status IN ('pending', 'processing') AND upstream_id IS NOT NULL)
        OR (status = 'unknown' AND (delivery = 'none' OR callback_claim IS NOT NULL))
        OR (status = 'failed' AND error_code = 'deadline' AND upstream_id IS NOT NULL));
    ALTER TABLE refs ADD COLUMN owner TEXT;
    CREATE INDEX refs_pending ON refs (status) WHERE status = 'pending';
    ALTER TABLE drafts ADD COLUMN summary_due_at REAL;
    ALTER TABLE drafts ADD COLUMN summary_lock TEXT;
    ALTER TABLE drafts ADD COLUMN summary_lock_until REAL;
    -- a caption starting with /generate: the request made once its album is in
    CREATE TABLE oneshots (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL,
        topic_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        media_group_id TEXT,
        draft_id INTEGER NOT NULL,
        request_message_id INTEGER NOT NULL,
        owner TEXT,
        done INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX oneshots_album ON oneshots (chat_id, media_group_id);
    CREATE INDEX oneshots_open ON oneshots (done) WHERE done = 0;
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until REAL NOT NULL
    );
    """,
)

POSTGRES_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the schema of SQLite's migrations 1-4
    """
    CREATE TABLE drafts (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        chat_id BIGINT NOT NULL,
        topic_id BIGINT NOT NULL DEFAULT 0,
        user_id BIGINT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open',
        prompt TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        idempotency_key TEXT NOT NULL UNIQUE,
        summary_message_id BIGINT,
        language TEXT NOT NULL DEFAULT 'en',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE UNIQUE INDEX drafts_open ON drafts (chat_id, topic_id, user_id) WHERE state = 'open';

    CREATE TABLE refs (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        draft_id BIGINT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        telegram_file_id TEXT NOT NULL,
        telegram_file_unique_id TEXT NOT NULL,
        message_id BIGINT NOT NULL,
        media_group_id TEXT,
        file_name TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        local_path TEXT,
        mime_type TEXT,
        width INTEGER,
        height INTEGER,
        duration DOUBLE PRECISION,
        size BIGINT,
        hosted_url TEXT,
        hosted_id TEXT,
        hosted_expires_at DOUBLE PRECISION,
        changes TEXT NOT NULL DEFAULT '[]',
        error_code TEXT,
        error_params TEXT NOT NULL DEFAULT '{}',
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (draft_id, position)
    );
    CREATE INDEX refs_draft ON refs (draft_id);
    CREATE UNIQUE INDEX refs_message ON refs (draft_id, message_id);

    CREATE TABLE tasks (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        draft_id BIGINT NOT NULL REFERENCES drafts (id),
        chat_id BIGINT NOT NULL,
        topic_id BIGINT NOT NULL DEFAULT 0,
        user_id BIGINT NOT NULL,
        language TEXT NOT NULL DEFAULT 'en',
        request_message_id BIGINT,
        status_message_id BIGINT,
        idempotency_key TEXT NOT NULL UNIQUE,
        callback_secret TEXT NOT NULL UNIQUE,
        upstream_id TEXT UNIQUE,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        prompt TEXT NOT NULL,
        options TEXT NOT NULL,
        credits_reserved DOUBLE PRECISION,
        estimated_time INTEGER,
        result_url TEXT,
        error_code TEXT,
        error_message TEXT,
        next_poll_at DOUBLE PRECISION,
        progress_shown INTEGER NOT NULL DEFAULT -1,
        progress_edited_at DOUBLE PRECISION,
        delivery TEXT NOT NULL DEFAULT 'none',
        delivered_message_id BIGINT,
        delivered_file_id TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        submitted_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        duration INTEGER,
        quality TEXT,
        content_filter INTEGER
    );
    CREATE INDEX tasks_draft ON tasks (draft_id);
    CREATE INDEX tasks_user ON tasks (chat_id, user_id, created_at);
    CREATE INDEX tasks_open ON tasks (status, delivery);
    CREATE INDEX tasks_user_day ON tasks (user_id, created_at);

    CREATE TABLE user_settings (
        user_id BIGINT PRIMARY KEY,
        options TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE chat_settings (
        chat_id BIGINT PRIMARY KEY,
        options TEXT NOT NULL,
        updated_by BIGINT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE notices (
        chat_id BIGINT NOT NULL,
        user_id BIGINT NOT NULL,
        reason TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chat_id, user_id, reason)
    );
    CREATE TABLE group_media (
        chat_id BIGINT NOT NULL,
        message_id BIGINT NOT NULL,
        media_group_id TEXT,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        telegram_file_id TEXT NOT NULL,
        telegram_file_unique_id TEXT NOT NULL,
        file_name TEXT,
        size BIGINT,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE INDEX group_media_album ON group_media (chat_id, media_group_id);

    CREATE TABLE inbox (
        update_id BIGINT PRIMARY KEY,
        body TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL
    );
    """,
    # 2: as SQLite's 5 to 7 (upstream_id is UNIQUE from the start here)
    """
    ALTER TABLE tasks ADD COLUMN callback_claim TEXT;
    CREATE INDEX tasks_due ON tasks (status, next_poll_at);
    ALTER TABLE drafts ADD COLUMN prompt_asked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN rerun_task_id BIGINT;
    ALTER TABLE refs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE refs ADD COLUMN started_at DOUBLE PRECISION;
    """,
    # 3: as SQLite's 8. The two refs columns are also in 2 since they were added to it there;
    # a database that ran 2 before that gains them here.
    """
    ALTER TABLE refs ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE refs ADD COLUMN IF NOT EXISTS started_at DOUBLE PRECISION;
    CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        started_at DOUBLE PRECISION NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL
    );
    ALTER TABLE inbox ADD COLUMN chat_id BIGINT;
    ALTER TABLE inbox ADD COLUMN user_id BIGINT;
    ALTER TABLE inbox ADD COLUMN owner TEXT;
    ALTER TABLE inbox ADD COLUMN handled_at DOUBLE PRECISION;
    CREATE INDEX inbox_line ON inbox (chat_id, user_id, update_id) WHERE handled_at IS NULL;
    CREATE INDEX inbox_unhandled ON inbox (update_id) WHERE handled_at IS NULL;
    CREATE INDEX inbox_handled ON inbox (handled_at) WHERE handled_at IS NOT NULL;
    ALTER TABLE tasks ADD COLUMN owner TEXT;
    ALTER TABLE tasks ADD COLUMN rate_progress INTEGER;
    ALTER TABLE tasks ADD COLUMN rate_at DOUBLE PRECISION;
    CREATE INDEX tasks_poll ON tasks (next_poll_at NULLS FIRST)
        WHERE ((status IN ('pending', 'processing') AND upstream_id IS NOT NULL)
        OR (status = 'unknown' AND (delivery = 'none' OR callback_claim IS NOT NULL))
        OR (status = 'failed' AND error_code = 'deadline' AND upstream_id IS NOT NULL));
    ALTER TABLE refs ADD COLUMN owner TEXT;
    CREATE INDEX refs_pending ON refs (status) WHERE status = 'pending';
    ALTER TABLE drafts ADD COLUMN summary_due_at DOUBLE PRECISION;
    ALTER TABLE drafts ADD COLUMN summary_lock TEXT;
    ALTER TABLE drafts ADD COLUMN summary_lock_until DOUBLE PRECISION;
    CREATE TABLE oneshots (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        chat_id BIGINT NOT NULL,
        topic_id BIGINT NOT NULL,
        user_id BIGINT NOT NULL,
        language TEXT NOT NULL,
        media_group_id TEXT,
        draft_id BIGINT NOT NULL,
        request_message_id BIGINT NOT NULL,
        owner TEXT,
        done INTEGER NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX oneshots_album ON oneshots (chat_id, media_group_id);
    CREATE INDEX oneshots_open ON oneshots (done) WHERE done = 0;
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until DOUBLE PRECISION NOT NULL
    );
    """,
)


async def apply_migrations(conn: Connection, migrations: tuple[str, ...], now: float) -> None:
    """Apply what `conn`'s database lacks, inside the caller's transaction (so all or nothing).

    The caller makes it exclusive: SQLite by the write lock, PostgreSQL by an advisory lock.
    """
    await conn.write(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
    )
    current = await schema_version(conn)
    if current > len(migrations):
        raise DatabaseUnavailable(
            f"the database's schema is version {current}, newer than this release knows"
            f" ({len(migrations)}): run the release that upgraded it"
        )
    for version, script in enumerate(migrations, start=1):
        if version <= current:
            continue
        for statement in _statements(script):
            await conn.write(statement)
        await conn.write(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, now)
        )


async def schema_version(conn: Connection) -> int:
    """The number of migrations applied."""
    row = await conn.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return int(row[0]) if row else 0


def _statements(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no semicolons inside strings)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
