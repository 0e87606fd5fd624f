-- A database written by digest with schema version 4 (the code of commit f209b61, which
-- upgraded v3.sql). Made with sqlite3's iterdump; tests/test_store.py upgrades it.
PRAGMA user_version = 4;
BEGIN TRANSACTION;
CREATE TABLE "deliveries" (
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
INSERT INTO "deliveries" VALUES('2026-W46',1,'sent',1,0,NULL,'<2026-W46.1@example.com>','2026-11-16T00:30:00+00:00','');
INSERT INTO "deliveries" VALUES('2026-W46',2,'failed',1,0,NULL,'','2026-11-16T00:30:00+00:00','550 5.1.1 no such user');
CREATE TABLE feeds (
    url           TEXT PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    etag          TEXT,
    last_modified TEXT,
    last_fetched  TEXT,
    last_ok       TEXT,
    last_error    TEXT,
    failures      INTEGER NOT NULL DEFAULT 0   -- consecutive failed fetches
, gone_at TEXT, retry_at TEXT, moved_to TEXT);
INSERT INTO "feeds" VALUES('http://127.0.0.1/feeds/a.xml','Feed A','"e1"','Mon, 16 Nov 2026 00:00:00 GMT','2026-11-16T00:30:00+00:00','2026-11-16T00:30:00+00:00',NULL,0,NULL,NULL,NULL);
INSERT INTO "feeds" VALUES('http://127.0.0.1/feeds/b.xml','',NULL,NULL,'2026-11-16T00:30:00+00:00',NULL,'HTTP 500',1,NULL,NULL,NULL);
CREATE TABLE forgotten (
    fingerprint TEXT PRIMARY KEY,
    at          TEXT NOT NULL
);
CREATE TABLE inbox_seen (
    key     TEXT PRIMARY KEY,
    at      TEXT NOT NULL,
    outcome TEXT NOT NULL
);
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
CREATE TABLE issues (
    week     TEXT PRIMARY KEY,           -- ISO week, e.g. 2026-W47
    number   INTEGER NOT NULL UNIQUE,
    built_at TEXT NOT NULL,
    sent_at  TEXT                        -- set when a send finished with nothing deferred
, frozen_at TEXT);
INSERT INTO "issues" VALUES('2026-W46',1,'2026-11-16T00:30:00+00:00','2026-11-16T00:30:00+00:00',NULL);
INSERT INTO "issues" VALUES('2026-W47',2,'2026-11-23T00:30:00+00:00',NULL,NULL);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,                -- e.g. installed_at: the first run's time
    value TEXT NOT NULL
);
INSERT INTO "meta" VALUES('installed_at','2026-11-16T00:30:00+00:00');
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
INSERT INTO "posts" VALUES('http://127.0.0.1/feeds/a.xml','p0','http://127.0.0.1/a/0','Samsung opens an AI lab in Seoul','summary Samsung opens an AI lab in Seoul','2026-11-15T00:30:00+00:00','2026-11-16T00:30:00+00:00','en',1);
INSERT INTO "posts" VALUES('http://127.0.0.1/feeds/a.xml','p1','http://127.0.0.1/a/1','ソフトバンク、生成AI新会社','summary ソフトバンク、生成AI新会社','2026-11-14T00:30:00+00:00','2026-11-16T00:30:00+00:00','ja',1);
INSERT INTO "posts" VALUES('http://127.0.0.1/feeds/a.xml','p2','http://127.0.0.1/a/2','百度发布文心大模型新版本','summary 百度发布文心大模型新版本','2026-11-13T00:30:00+00:00','2026-11-16T00:30:00+00:00','zh',1);
CREATE TABLE skipped_weeks (
    week   TEXT PRIMARY KEY,
    at     TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE "subscribers" (
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
INSERT INTO "subscribers" VALUES(1,'alice@example.com','Alice','active','2026-11-16T00:30:00+00:00','2026-11-16T00:30:00+00:00',0,'','',NULL,NULL,'operator');
INSERT INTO "subscribers" VALUES(2,'bob@example.org','','active','2026-11-16T00:30:00+00:00','2026-11-16T00:30:00+00:00',0,'','',NULL,NULL,'operator');
INSERT INTO "subscribers" VALUES(3,'carol@example.net','Carol','unsubscribed','2026-11-16T00:30:00+00:00','2026-11-16T00:30:00+00:00',0,'','',NULL,NULL,'operator');
CREATE INDEX posts_by_published ON posts (published);
CREATE INDEX deliveries_by_status ON deliveries (week, status);
COMMIT;
