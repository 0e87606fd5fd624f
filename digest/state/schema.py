"""The SQLite schema: the one SQL string of a new database and the migrations.

Owns: the tables' definitions, `SCHEMA_VERSION` (kept in `PRAGMA user_version`),
one migration script per earlier version, and how values are stored in columns:
times as ISO 8601 strings in UTC with a fixed format, so that string order is
time order. Doesn't own: running them or any
query (`digest.state.store`).

To change the schema: bump SCHEMA_VERSION, edit SCHEMA, add MIGRATIONS[old], and
add a dump of a database of the old version to tests/data/schema/ (the tests
upgrade every dump there and compare the result with a new database).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from digest.models import Post, Subscriber

SCHEMA_VERSION = 5

# The whole schema of a new database, at SCHEMA_VERSION. An existing database is
# brought up to it by MIGRATIONS, one step per version; a test checks that both
# paths give the same tables.
# Schema 5's tables (`digest edit`): the same text creates them in a new
# database and in the migration from 4, so the two cannot drift apart.
_EDITORIAL_TABLES = """-- An editor's decisions about a week's issue (`digest edit`), kept until the
-- week is sent and applied at every build of it. One row per week the editor
-- saved: the note, and whether the lead stories are the editor's choice.
CREATE TABLE editorial_weeks (
    week        TEXT PRIMARY KEY,
    note        TEXT NOT NULL DEFAULT '',  -- Markdown; '' = none
    tops_chosen INTEGER NOT NULL DEFAULT 0,  -- 1: the lead stories are the 'top' rows
    saved_at    TEXT NOT NULL
);
-- One row per story the editor decided something about, named by its stable
-- id (`digest.models.story_key`: its main post's canonical URL, hashed), so a
-- decision survives rebuilds and new reports of the story.
CREATE TABLE editorial_stories (
    week     TEXT NOT NULL REFERENCES editorial_weeks (week) ON DELETE CASCADE,
    story    TEXT NOT NULL,
    action   TEXT NOT NULL CHECK (action IN ('pick', 'drop', 'top')),
    section  TEXT NOT NULL DEFAULT '',  -- '' = as classified
    position INTEGER,                  -- its place in the section; NULL = ranked
    lead     INTEGER,                  -- 'top': its place among the lead stories
    PRIMARY KEY (week, story)
);
"""

SCHEMA = (
    """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,                -- e.g. installed_at: the first run's time
    value TEXT NOT NULL
);

CREATE TABLE feeds (
    url           TEXT PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    etag          TEXT,
    last_modified TEXT,
    last_fetched  TEXT,
    last_ok       TEXT,
    last_error    TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,  -- consecutive failed fetches
    gone_at       TEXT,                        -- answered 410 Gone: no longer polled
    retry_at      TEXT,                        -- 429/503 Retry-After: not polled before
    moved_to      TEXT                         -- 301/308 target, fetched instead of url
);

CREATE TABLE posts (
    feed_url       TEXT NOT NULL,
    post_id        TEXT NOT NULL,
    url            TEXT NOT NULL,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    published      TEXT NOT NULL,
    first_seen     TEXT NOT NULL,
    language       TEXT NOT NULL DEFAULT '',
    date_from_feed INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (feed_url, post_id)
);
CREATE INDEX posts_by_published ON posts (published);

CREATE TABLE subscribers (
    id        INTEGER PRIMARY KEY,
    email     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name      TEXT NOT NULL DEFAULT '',
    -- pending: signed up on the web, not confirmed yet (gets nothing);
    -- unsubscribed, bouncing, complained: suppressed, never made active again
    -- but by a new confirmed opt-in or an explicit `subscribers add --resubscribe`.
    status    TEXT NOT NULL DEFAULT 'active'
              CHECK (status IN ('pending', 'active', 'unsubscribed', 'bouncing',
                                'complained')),
    created   TEXT NOT NULL,
    updated   TEXT NOT NULL,
    bounces   INTEGER NOT NULL DEFAULT 0,  -- permanent failures in a row
    language  TEXT NOT NULL DEFAULT '',    -- '' = the digest's [digest] language
    countries TEXT NOT NULL DEFAULT '',    -- section codes chosen, e.g. 'JP KR GLOBAL'; '' = all
    confirmed TEXT,                        -- when the reader confirmed (double opt-in)
    nonce     TEXT,                        -- the open confirmation request, if any
    origin    TEXT NOT NULL DEFAULT 'operator'  -- operator | import | web
);

-- Addresses deleted with `subscribers forget`: only a keyed fingerprint is kept,
-- so that an old list imported again cannot bring them back.
CREATE TABLE forgotten (
    fingerprint TEXT PRIMARY KEY,
    at          TEXT NOT NULL
);

-- Inbound mail already handled by `digest inbox` (bounces, complaints,
-- unsubscribe mails), by Message-ID or content hash: each is handled once.
CREATE TABLE inbox_seen (
    key     TEXT PRIMARY KEY,
    at      TEXT NOT NULL,
    outcome TEXT NOT NULL
);

CREATE TABLE issues (
    week      TEXT PRIMARY KEY,            -- ISO week, e.g. 2026-W47
    number    INTEGER NOT NULL UNIQUE,
    built_at  TEXT NOT NULL,
    sent_at   TEXT,                        -- set when no message is left to try
    frozen_at TEXT                         -- its posts were recorded (first send): fixed since
);

-- The posts of an issue as they were when it was first sent, so that the issue
-- can be rebuilt exactly and a post that arrives later cannot alter it.
CREATE TABLE issue_posts (
    week           TEXT NOT NULL REFERENCES issues (week),
    feed_url       TEXT NOT NULL,
    post_id        TEXT NOT NULL,
    url            TEXT NOT NULL,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    published      TEXT NOT NULL,
    first_seen     TEXT NOT NULL,
    language       TEXT NOT NULL DEFAULT '',
    date_from_feed INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (week, feed_url, post_id)
);

-- Weeks that were never published, and why (e.g. the publish time passed
-- while digest was down, beyond [schedule] lateness).
CREATE TABLE skipped_weeks (
    week   TEXT PRIMARY KEY,
    at     TEXT NOT NULL,
    reason TEXT NOT NULL
);

-- The delivery ledger: one row per (issue, subscriber).
--   pending  -> sending (claimed: committed before MAIL FROM)
--   sending  -> handed   (committed just before the final "." of DATA)
--            -> sent | deferred (4xx, retried after next_attempt) | failed (5xx)
--            | unknown (handed over, then no reply: it may or may not have arrived)
-- When a run starts, a row left in `sending` by a run that died was never
-- completed (no server accepts a message without its final "."): it is pending
-- again. A row left in `handed` may have arrived: it counts an unknown.
-- An operator closes an `unknown` or `failed` row with `digest deliveries
-- settle` (status `settled`, the reason in `detail`) or sends it again (`retry`).
CREATE TABLE deliveries (
    week          TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    status        TEXT NOT NULL
                  CHECK (status IN ('pending', 'sending', 'handed', 'sent', 'deferred',
                                    'failed', 'unknown', 'settled')),
    attempts      INTEGER NOT NULL DEFAULT 0,  -- times the message was offered
    unknowns      INTEGER NOT NULL DEFAULT 0,  -- times it was handed over with no reply
    next_attempt  TEXT,                        -- deferred: not before this time
    message_id    TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (week, subscriber_id)
);
CREATE INDEX deliveries_by_status ON deliveries (week, status);

"""
    + _EDITORIAL_TABLES
)

# MIGRATIONS[n] takes a database from version n to n + 1.
MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,                -- e.g. installed_at: the first run's time
    value TEXT NOT NULL
);
-- A version-1 database has run before: its first run is its oldest record.
INSERT INTO meta (key, value)
    SELECT 'installed_at', min(t) FROM (
        SELECT min(first_seen) AS t FROM posts UNION ALL
        SELECT min(created) FROM subscribers UNION ALL
        SELECT min(built_at) FROM issues)
    WHERE t IS NOT NULL HAVING min(t) IS NOT NULL;
ALTER TABLE subscribers ADD COLUMN bounces INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN frozen_at TEXT;
CREATE TABLE issue_posts (
    week           TEXT NOT NULL REFERENCES issues (week),
    feed_url       TEXT NOT NULL,
    post_id        TEXT NOT NULL,
    url            TEXT NOT NULL,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL,
    published      TEXT NOT NULL,
    first_seen     TEXT NOT NULL,
    language       TEXT NOT NULL DEFAULT '',
    date_from_feed INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (week, feed_url, post_id)
);
CREATE TABLE skipped_weeks (
    week   TEXT PRIMARY KEY,
    at     TEXT NOT NULL,
    reason TEXT NOT NULL
);
-- SQLite cannot change a CHECK constraint in place: copy the ledger over.
CREATE TABLE deliveries_v2 (
    week          TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    status        TEXT NOT NULL
                  CHECK (status IN ('pending', 'sending', 'handed', 'sent', 'deferred',
                                    'failed', 'unknown')),
    attempts      INTEGER NOT NULL DEFAULT 0,  -- times the message was offered
    unknowns      INTEGER NOT NULL DEFAULT 0,  -- times it was handed over with no reply
    next_attempt  TEXT,                        -- deferred: not before this time
    message_id    TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (week, subscriber_id)
);
INSERT INTO deliveries_v2 (week, subscriber_id, status, attempts, message_id, at, detail)
    SELECT week, subscriber_id, status, 1, message_id, at, detail FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX deliveries_by_status ON deliveries (week, status);
""",
    2: """
ALTER TABLE feeds ADD COLUMN gone_at TEXT;
ALTER TABLE feeds ADD COLUMN retry_at TEXT;
ALTER TABLE feeds ADD COLUMN moved_to TEXT;
-- SQLite cannot change a CHECK constraint in place: copy the ledger over.
CREATE TABLE deliveries_v3 (
    week          TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    status        TEXT NOT NULL
                  CHECK (status IN ('pending', 'sending', 'handed', 'sent', 'deferred',
                                    'failed', 'unknown', 'settled')),
    attempts      INTEGER NOT NULL DEFAULT 0,  -- times the message was offered
    unknowns      INTEGER NOT NULL DEFAULT 0,  -- times it was handed over with no reply
    next_attempt  TEXT,                        -- deferred: not before this time
    message_id    TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (week, subscriber_id)
);
INSERT INTO deliveries_v3 SELECT week, subscriber_id, status, attempts, unknowns,
    next_attempt, message_id, at, detail FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v3 RENAME TO deliveries;
CREATE INDEX deliveries_by_status ON deliveries (week, status);
""",
    3: """
-- SQLite cannot change a CHECK constraint in place: copy the subscribers over
-- (the store runs this step with foreign keys off, as SQLite's documentation
-- prescribes for rebuilding a parent table, and checks them afterwards).
CREATE TABLE subscribers_v4 (
    id        INTEGER PRIMARY KEY,
    email     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name      TEXT NOT NULL DEFAULT '',
    -- pending: signed up on the web, not confirmed yet (gets nothing);
    -- unsubscribed, bouncing, complained: suppressed, never made active again
    -- but by a new confirmed opt-in or an explicit `subscribers add --resubscribe`.
    status    TEXT NOT NULL DEFAULT 'active'
              CHECK (status IN ('pending', 'active', 'unsubscribed', 'bouncing',
                                'complained')),
    created   TEXT NOT NULL,
    updated   TEXT NOT NULL,
    bounces   INTEGER NOT NULL DEFAULT 0,  -- permanent failures in a row
    language  TEXT NOT NULL DEFAULT '',    -- '' = the digest's [digest] language
    countries TEXT NOT NULL DEFAULT '',    -- section codes chosen, e.g. 'JP KR GLOBAL'; '' = all
    confirmed TEXT,                        -- when the reader confirmed (double opt-in)
    nonce     TEXT,                        -- the open confirmation request, if any
    origin    TEXT NOT NULL DEFAULT 'operator'  -- operator | import | web
);
INSERT INTO subscribers_v4 (id, email, name, status, created, updated, bounces)
    SELECT id, email, name, status, created, updated, bounces FROM subscribers;
DROP TABLE subscribers;
ALTER TABLE subscribers_v4 RENAME TO subscribers;
CREATE TABLE forgotten (
    fingerprint TEXT PRIMARY KEY,
    at          TEXT NOT NULL
);
CREATE TABLE inbox_seen (
    key     TEXT PRIMARY KEY,
    at      TEXT NOT NULL,
    outcome TEXT NOT NULL
);
""",
    4: _EDITORIAL_TABLES,
}


def to_db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: digest stores aware UTC times only")
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    if utc.year >= 1000:
        # The same text as the strftime below, ~40% sooner (two per stored post):
        # whole seconds, "+00:00". strftime's %Y pads to 4 digits only from 1000.
        return utc.isoformat(timespec="seconds")
    return utc.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def opt_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


def subscriber_from_row(row: sqlite3.Row) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        status=row["status"],
        created=from_db_time(row["created"]),
        language=row["language"],
        countries=tuple(row["countries"].split()),
        confirmed=opt_time(row["confirmed"]),
        nonce=row["nonce"] or "",
    )


def post_values(p: Post) -> tuple[object, ...]:
    """A post's columns in table order: feed_url, post_id, url, title, summary,
    published, first_seen, language, date_from_feed (posts and issue_posts)."""
    return (
        p.feed_url,
        p.post_id,
        p.url,
        p.title,
        p.summary,
        to_db_time(p.published),
        to_db_time(p.first_seen),
        p.language,
        int(p.date_from_feed),
    )


def post_from_row(r: sqlite3.Row) -> Post:
    return Post(
        feed_url=r["feed_url"],
        post_id=r["post_id"],
        url=r["url"],
        title=r["title"],
        summary=r["summary"],
        published=from_db_time(r["published"]),
        first_seen=from_db_time(r["first_seen"]),
        language=r["language"],
        date_from_feed=bool(r["date_from_feed"]),
    )
