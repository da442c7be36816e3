"""The schema, as numbered migrations applied in order and recorded in `schema_migrations`."""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[str, ...]] = (
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
    # 4: how often processing a reference was started, and when last: a file that took the bot
    # down with it is not tried again after the restart
    """
    ALTER TABLE refs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE refs ADD COLUMN started_at REAL;
    """,
)
