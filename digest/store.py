"""SQLite storage: the one place that holds SQL.

Owns: the schema (one SQL string, versioned with `PRAGMA user_version`),
migrations, and every query. Keeps machine state only: feed validators and
failures, posts, subscribers, issue numbers and the delivery ledger.
Doesn't own: configuration (hand-edited TOML, `digest.config`) or any decision
about what goes into an issue (`digest.selection`).

Times are stored as ISO 8601 strings in UTC with a fixed format, so that string
order is time order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import StoreError
from digest.models import FeedState, Post, Subscriber

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE feeds (
    url           TEXT PRIMARY KEY,
    title         TEXT NOT NULL DEFAULT '',
    etag          TEXT,
    last_modified TEXT,
    last_fetched  TEXT,
    last_ok       TEXT,
    last_error    TEXT,
    failures      INTEGER NOT NULL DEFAULT 0   -- consecutive failed fetches
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
    id      INTEGER PRIMARY KEY,
    email   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name    TEXT NOT NULL DEFAULT '',
    status  TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bouncing')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);

CREATE TABLE issues (
    week     TEXT PRIMARY KEY,           -- ISO week, e.g. 2026-W47
    number   INTEGER NOT NULL UNIQUE,
    built_at TEXT NOT NULL,
    sent_at  TEXT                        -- set when a send finished with nothing deferred
);

-- The delivery ledger: one row per (issue, subscriber), written right after the
-- SMTP server accepted the message, so a rerun never sends it again.
CREATE TABLE deliveries (
    week          TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
    status        TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    message_id    TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (week, subscriber_id)
);
"""

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bouncing")


def to_db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: digest stores aware UTC times only")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _opt_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


class Store:
    """All SQL of digest. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we open transactions ourselves (see `_tx`).
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{path}: cannot open the database: {e}") from e
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"{path}: not a usable digest database: {e}") from e

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this digest "
                f"understands ({SCHEMA_VERSION})",
                hint="upgrade digest, or point [storage] path at another file",
            )
        with self._tx() as db:
            if version == 0:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- feeds ---------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState:
        row = self._db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            return FeedState(url=url)
        return FeedState(
            url=row["url"],
            title=row["title"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            last_fetched=_opt_time(row["last_fetched"]),
            last_ok=_opt_time(row["last_ok"]),
            last_error=row["last_error"],
            failures=row["failures"],
        )

    def feed_states(self, urls: Iterable[str]) -> dict[str, FeedState]:
        return {url: self.feed_state(url) for url in urls}

    def record_feed_ok(
        self,
        url: str,
        now: datetime,
        *,
        title: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        warning: str | None = None,
    ) -> None:
        """A fetch succeeded (200 or 304). Validators are replaced only when given."""
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO feeds (url, title, etag, last_modified, last_fetched, last_ok,
                                   last_error, failures)
                VALUES (:url, coalesce(:title, ''), :etag, :lm, :now, :now, :warning, 0)
                ON CONFLICT (url) DO UPDATE SET
                    title = coalesce(:title, title),
                    etag = coalesce(:etag, etag),
                    last_modified = coalesce(:lm, last_modified),
                    last_fetched = :now, last_ok = :now,
                    last_error = :warning, failures = 0
                """,
                {
                    "url": url,
                    "title": title,
                    "etag": etag,
                    "lm": last_modified,
                    "now": to_db_time(now),
                    "warning": warning,
                },
            )

    def record_feed_error(self, url: str, error: str, now: datetime) -> int:
        """A fetch failed; returns the number of consecutive failures so far."""
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO feeds (url, last_fetched, last_error, failures)
                VALUES (:url, :now, :error, 1)
                ON CONFLICT (url) DO UPDATE SET
                    last_fetched = :now, last_error = :error, failures = failures + 1
                """,
                {"url": url, "error": error, "now": to_db_time(now)},
            )
            row = db.execute("SELECT failures FROM feeds WHERE url = ?", (url,)).fetchone()
        return int(row[0])

    # -- posts ---------------------------------------------------------------

    def add_posts(self, posts: Iterable[Post]) -> int:
        """Store posts idempotently; returns how many were new.

        A post seen again keeps its first-seen time and published time; its title,
        summary and link follow the feed (feeds fix typos).
        """
        new = 0
        with self._tx() as db:
            for p in posts:
                cur = db.execute(
                    """
                    INSERT INTO posts (feed_url, post_id, url, title, summary, published,
                                       first_seen, language, date_from_feed)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (feed_url, post_id) DO NOTHING
                    """,
                    (
                        p.feed_url,
                        p.post_id,
                        p.url,
                        p.title,
                        p.summary,
                        to_db_time(p.published),
                        to_db_time(p.first_seen),
                        p.language,
                        int(p.date_from_feed),
                    ),
                )
                if cur.rowcount:
                    new += 1
                else:
                    db.execute(
                        "UPDATE posts SET url = ?, title = ?, summary = ? "
                        "WHERE feed_url = ? AND post_id = ?",
                        (p.url, p.title, p.summary, p.feed_url, p.post_id),
                    )
        return new

    def posts_between(self, start: datetime, end: datetime) -> list[Post]:
        """Posts published in [start, end), newest first."""
        rows = self._db.execute(
            "SELECT * FROM posts WHERE published >= ? AND published < ? "
            "ORDER BY published DESC, feed_url, post_id",
            (to_db_time(start), to_db_time(end)),
        ).fetchall()
        return [
            Post(
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
            for r in rows
        ]

    def count_posts(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM posts").fetchone()[0])

    # -- subscribers ---------------------------------------------------------

    @staticmethod
    def _subscriber(row: sqlite3.Row) -> Subscriber:
        return Subscriber(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            status=row["status"],
            created=from_db_time(row["created"]),
        )

    def add_subscriber(self, email: str, name: str, now: datetime) -> tuple[Subscriber, bool]:
        """Add or re-activate a subscriber. Returns (subscriber, changed).

        `email` must already be validated and normalised (`digest.subscribers`).
        """
        stamp = to_db_time(now)
        with self._tx() as db:
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO subscribers (email, name, status, created, updated) "
                    "VALUES (?, ?, 'active', ?, ?)",
                    (email, name, stamp, stamp),
                )
                changed = True
            elif row["status"] != "active":
                db.execute(
                    "UPDATE subscribers SET status = 'active', name = coalesce(nullif(?, ''), "
                    "name), updated = ? WHERE id = ?",
                    (name, stamp, row["id"]),
                )
                changed = True
            else:
                changed = False
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return self._subscriber(row), changed

    def set_subscriber_status(self, email_or_id: str | int, status: str, now: datetime) -> bool:
        """Change a subscriber's status; False when no such subscriber exists."""
        if status not in SUBSCRIBER_STATUSES:
            raise ValueError(f"unknown subscriber status {status!r}")
        column = "id" if isinstance(email_or_id, int) else "email"
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE subscribers SET status = ?, updated = ? WHERE {column} = ?",
                (status, to_db_time(now), email_or_id),
            )
        return cur.rowcount > 0

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self._db.execute(
            "SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return self._subscriber(row) if row else None

    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        if status is None:
            rows = self._db.execute("SELECT * FROM subscribers ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM subscribers WHERE status = ? ORDER BY id", (status,)
            ).fetchall()
        return [self._subscriber(r) for r in rows]

    # -- issues and the delivery ledger ----------------------------------------

    def issue_number(self, week: str, now: datetime) -> int:
        """The number of the issue for `week`, assigned on first use and then fixed."""
        with self._tx() as db:
            row = db.execute("SELECT number FROM issues WHERE week = ?", (week,)).fetchone()
            if row:
                return int(row[0])
            number = db.execute("SELECT coalesce(max(number), 0) + 1 FROM issues").fetchone()[0]
            db.execute(
                "INSERT INTO issues (week, number, built_at) VALUES (?, ?, ?)",
                (week, number, to_db_time(now)),
            )
        return int(number)

    def next_issue_number(self, week: str) -> int:
        """The number `week` has, or would get if built now; assigns nothing."""
        row = self._db.execute("SELECT number FROM issues WHERE week = ?", (week,)).fetchone()
        if row:
            return int(row[0])
        return int(
            self._db.execute("SELECT coalesce(max(number), 0) + 1 FROM issues").fetchone()[0]
        )

    def mark_issue_sent(self, week: str, now: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE issues SET sent_at = coalesce(sent_at, ?) WHERE week = ?",
                (to_db_time(now), week),
            )

    def issue_sent_at(self, week: str) -> datetime | None:
        row = self._db.execute("SELECT sent_at FROM issues WHERE week = ?", (week,)).fetchone()
        return _opt_time(row[0]) if row else None

    def pending_subscribers(self, week: str) -> list[Subscriber]:
        """Active subscribers with no ledger row for `week`, in id order."""
        rows = self._db.execute(
            """
            SELECT s.* FROM subscribers s
            WHERE s.status = 'active'
              AND NOT EXISTS (SELECT 1 FROM deliveries d
                              WHERE d.week = ? AND d.subscriber_id = s.id)
            ORDER BY s.id
            """,
            (week,),
        ).fetchall()
        return [self._subscriber(r) for r in rows]

    def record_delivery(
        self,
        week: str,
        subscriber_id: int,
        status: str,
        now: datetime,
        *,
        message_id: str = "",
        detail: str = "",
    ) -> None:
        """Commit one ledger row. Called right after the server's reply."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO deliveries (week, subscriber_id, status, message_id, at, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (week, subscriber_id, status, message_id, to_db_time(now), detail),
            )

    def deliveries(self, week: str) -> dict[int, str]:
        """subscriber id → ledger status, for one week."""
        rows = self._db.execute(
            "SELECT subscriber_id, status FROM deliveries WHERE week = ?", (week,)
        ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}
