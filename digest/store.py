"""SQLite storage: the one place that holds SQL.

Owns: every query, and applying the schema and its migrations (the SQL text
itself is `digest.schema`). Keeps machine state only: feed validators and
failures, posts, subscribers, issue numbers, the delivery ledger.
Doesn't own: configuration (hand-edited TOML, `digest.config`) or any decision
about what goes into an issue (`digest.selection`).

Times are stored as ISO 8601 strings in UTC with a fixed format, so that string
order is time order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from digest.errors import StoreError
from digest.models import FeedState, Post, Subscriber
from digest.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bouncing")


@dataclass(frozen=True, slots=True)
class LedgerOpened:
    added: int  # pending rows created for subscribers new to this issue
    in_flight: int  # rows an earlier run left in `sending`


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    subscriber_id: int
    email: str
    status: str
    attempts: int
    unknowns: int
    next_attempt: datetime | None
    message_id: str
    detail: str


def to_db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: digest stores aware UTC times only")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def from_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): that commits first, and a migration must be all or nothing.
    for statement in script.split(";"):
        if statement.strip() and not all(
            line.strip().startswith("--") or not line.strip() for line in statement.splitlines()
        ):
            db.execute(statement)


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
                _run_script(db, SCHEMA)
            else:
                for step in range(version, SCHEMA_VERSION):
                    _run_script(db, MIGRATIONS[step])
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

    # The ledger. Every method below is one short transaction, so several sender
    # threads (each with its own Store) can share the file.

    def open_ledger(self, week: str, now: datetime) -> LedgerOpened:
        """Prepare `week`'s ledger before a send: call under the publishing lock.

        Rows left in `sending` by a run that died were in flight: the message may
        or may not have arrived. Each becomes `unknown`; the first time, it goes
        back to `pending` and is sent once more (a reader may get two copies rather
        than none); the second time it stays `unknown` and is not sent again.
        Then every active subscriber without a row gets a `pending` one.
        """
        stamp = to_db_time(now)
        with self._tx() as db:
            in_flight = db.execute(
                "UPDATE deliveries SET unknowns = unknowns + 1, at = ?, "
                "status = CASE WHEN unknowns = 0 THEN 'pending' ELSE 'unknown' END, "
                "detail = 'in flight when an earlier run stopped' "
                "WHERE week = ? AND status = 'sending'",
                (stamp, week),
            ).rowcount
            added = db.execute(
                """
                INSERT INTO deliveries (week, subscriber_id, status, at)
                SELECT ?, s.id, 'pending', ? FROM subscribers s
                WHERE s.status = 'active'
                  AND NOT EXISTS (SELECT 1 FROM deliveries d
                                  WHERE d.week = ? AND d.subscriber_id = s.id)
                """,
                (week, stamp, week),
            ).rowcount
        return LedgerOpened(added=added, in_flight=in_flight)

    def due_deliveries(self, week: str, now: datetime, after: int, limit: int) -> list[int]:
        """Subscriber ids whose message is due (pending, or deferred and its time has
        come), in id order, starting after id `after`: callers page through."""
        rows = self._db.execute(
            """
            SELECT subscriber_id FROM deliveries
            WHERE week = ? AND subscriber_id > ?
              AND (status = 'pending' OR (status = 'deferred' AND next_attempt <= ?))
            ORDER BY subscriber_id LIMIT ?
            """,
            (week, after, to_db_time(now), limit),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def claim_delivery(
        self, week: str, subscriber_id: int, now: datetime
    ) -> tuple[Subscriber, int] | None:
        """Mark one due message `sending`; return its subscriber, checked just now,
        and the number of attempts including this one.

        Returns None when there is nothing to send: the row is not due any more, or
        the subscriber unsubscribed or started bouncing since the send began (then
        the row is removed: that subscriber is no longer a recipient).
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT s.*, d.status AS ledger FROM deliveries d "
                "JOIN subscribers s ON s.id = d.subscriber_id "
                "WHERE d.week = ? AND d.subscriber_id = ?",
                (week, subscriber_id),
            ).fetchone()
            if row is None or row["ledger"] not in ("pending", "deferred"):
                return None
            if row["status"] != "active":
                db.execute(
                    "DELETE FROM deliveries WHERE week = ? AND subscriber_id = ?",
                    (week, subscriber_id),
                )
                return None
            db.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, at = ? "
                "WHERE week = ? AND subscriber_id = ?",
                (to_db_time(now), week, subscriber_id),
            )
            attempts = db.execute(
                "SELECT attempts FROM deliveries WHERE week = ? AND subscriber_id = ?",
                (week, subscriber_id),
            ).fetchone()[0]
        return self._subscriber(row), int(attempts)

    def delivery_status(self, week: str, subscriber_id: int) -> str | None:
        row = self._db.execute(
            "SELECT status FROM deliveries WHERE week = ? AND subscriber_id = ?",
            (week, subscriber_id),
        ).fetchone()
        return str(row[0]) if row else None

    def due_emails(self, week: str, now: datetime, limit: int) -> list[str]:
        """The first `limit` addresses `due_count` counts, in id order."""
        rows = self._db.execute(
            """
            SELECT s.email FROM subscribers s
            LEFT JOIN deliveries d ON d.week = :week AND d.subscriber_id = s.id
            WHERE s.status = 'active'
              AND (d.status IS NULL OR d.status IN ('pending', 'sending')
                   OR (d.status = 'deferred' AND d.next_attempt <= :now))
            ORDER BY s.id LIMIT :limit
            """,
            {"week": week, "now": to_db_time(now), "limit": limit},
        ).fetchall()
        return [str(r[0]) for r in rows]

    def due_count(self, week: str, now: datetime) -> int:
        """Messages a send of `week` would try now: due rows, plus active
        subscribers who have no row yet (they get one when the send opens)."""
        row = self._db.execute(
            """
            SELECT
              (SELECT count(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
               WHERE d.week = :week AND s.status = 'active'
                 AND (d.status IN ('pending', 'sending')
                      OR (d.status = 'deferred' AND d.next_attempt <= :now)))
            + (SELECT count(*) FROM subscribers s WHERE s.status = 'active'
               AND NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.week = :week AND d.subscriber_id = s.id))
            """,
            {"week": week, "now": to_db_time(now)},
        ).fetchone()
        return int(row[0])

    def release_delivery(self, week: str, subscriber_id: int, detail: str) -> None:
        """The message was never handed over (the connection failed before DATA):
        back to `pending`, and that attempt does not count."""
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET status = 'pending', attempts = max(attempts - 1, 0), "
                "detail = ? WHERE week = ? AND subscriber_id = ? AND status = 'sending'",
                (detail, week, subscriber_id),
            )

    def delivery_sent(
        self, week: str, subscriber_id: int, now: datetime, message_id: str, detail: str = ""
    ) -> None:
        """The server accepted the message (250). The subscriber's bounce count resets."""
        stamp = to_db_time(now)
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET status = 'sent', message_id = ?, at = ?, detail = ?, "
                "next_attempt = NULL WHERE week = ? AND subscriber_id = ?",
                (message_id, stamp, detail, week, subscriber_id),
            )
            db.execute(
                "UPDATE subscribers SET bounces = 0 WHERE id = ? AND bounces > 0",
                (subscriber_id,),
            )

    def delivery_deferred(
        self, week: str, subscriber_id: int, now: datetime, retry_at: datetime, detail: str
    ) -> None:
        """A temporary refusal (4xx): try again at `retry_at`. Never counts as a bounce."""
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET status = 'deferred', next_attempt = ?, at = ?, "
                "detail = ? WHERE week = ? AND subscriber_id = ?",
                (to_db_time(retry_at), to_db_time(now), detail, week, subscriber_id),
            )

    def delivery_failed(
        self,
        week: str,
        subscriber_id: int,
        now: datetime,
        detail: str,
        *,
        bounce_after: int | None,
    ) -> bool:
        """Failed for good. With `bounce_after` (a permanent 5xx refusal), count a
        bounce and mark the subscriber `bouncing` when the count reaches it; without
        it (temporary refusals that ran out of attempts), no bounce is counted.
        Returns True when the subscriber was marked bouncing now."""
        stamp = to_db_time(now)
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET status = 'failed', at = ?, detail = ?, "
                "next_attempt = NULL WHERE week = ? AND subscriber_id = ?",
                (stamp, detail, week, subscriber_id),
            )
            if bounce_after is None:
                return False
            db.execute(
                "UPDATE subscribers SET bounces = bounces + 1 WHERE id = ?", (subscriber_id,)
            )
            marked = db.execute(
                "UPDATE subscribers SET status = 'bouncing', updated = ? "
                "WHERE id = ? AND status = 'active' AND bounces >= ?",
                (stamp, subscriber_id, bounce_after),
            ).rowcount
        return marked > 0

    def delivery_unknown(self, week: str, subscriber_id: int, now: datetime, detail: str) -> bool:
        """Handed over, but the connection broke before the reply. The first time,
        the row goes back to `pending` to be sent once more; after that it stays
        `unknown`. Returns True when it will be sent again."""
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET unknowns = unknowns + 1, at = ?, detail = ?, "
                "status = CASE WHEN unknowns = 0 THEN 'pending' ELSE 'unknown' END "
                "WHERE week = ? AND subscriber_id = ?",
                (to_db_time(now), detail, week, subscriber_id),
            )
            row = db.execute(
                "SELECT status FROM deliveries WHERE week = ? AND subscriber_id = ?",
                (week, subscriber_id),
            ).fetchone()
        return row is not None and row[0] == "pending"

    def ledger_counts(self, week: str) -> dict[str, int]:
        """status → rows, for one week; plus "resent" (rows sent again after an unknown)."""
        counts = {
            str(r[0]): int(r[1])
            for r in self._db.execute(
                "SELECT status, count(*) FROM deliveries WHERE week = ? GROUP BY status", (week,)
            )
        }
        counts["resent"] = int(
            self._db.execute(
                "SELECT count(*) FROM deliveries WHERE week = ? AND unknowns > 0 "
                "AND status != 'unknown'",
                (week,),
            ).fetchone()[0]
        )
        return counts

    def ledger_open(self, week: str) -> bool:
        """Whether some message of `week` is still to be tried (pending, in flight or
        deferred)."""
        row = self._db.execute(
            "SELECT 1 FROM deliveries WHERE week = ? "
            "AND status IN ('pending', 'sending', 'deferred') LIMIT 1",
            (week,),
        ).fetchone()
        return row is not None

    def next_retry(self, week: str) -> datetime | None:
        """When the earliest deferred message of `week` may be tried again."""
        row = self._db.execute(
            "SELECT min(next_attempt) FROM deliveries WHERE week = ? AND status = 'deferred'",
            (week,),
        ).fetchone()
        return _opt_time(row[0]) if row else None

    def delivery_rows(self, week: str) -> list[DeliveryRow]:
        """Every ledger row of `week`, in subscriber order (for reports and tests)."""
        rows = self._db.execute(
            "SELECT d.*, s.email FROM deliveries d JOIN subscribers s "
            "ON s.id = d.subscriber_id WHERE d.week = ? ORDER BY d.subscriber_id",
            (week,),
        ).fetchall()
        return [
            DeliveryRow(
                subscriber_id=int(r["subscriber_id"]),
                email=str(r["email"]),
                status=str(r["status"]),
                attempts=int(r["attempts"]),
                unknowns=int(r["unknowns"]),
                next_attempt=_opt_time(r["next_attempt"]),
                message_id=str(r["message_id"]),
                detail=str(r["detail"]),
            )
            for r in rows
        ]

    def deliveries(self, week: str) -> dict[int, str]:
        """subscriber id → ledger status, for one week."""
        rows = self._db.execute(
            "SELECT subscriber_id, status FROM deliveries WHERE week = ?", (week,)
        ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    # -- unattended runs -------------------------------------------------------

    def installed_at(self) -> datetime | None:
        """When digest first ran on this database (None before the first run)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'installed_at'").fetchone()
        return from_db_time(row[0]) if row else None

    def ensure_installed_at(self, now: datetime) -> datetime:
        """Record `now` as the first run's time unless one is recorded; return the record."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('installed_at', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (to_db_time(now),),
            )
            row = db.execute("SELECT value FROM meta WHERE key = 'installed_at'").fetchone()
        return from_db_time(row[0])

    def has_issue(self, week: str) -> bool:
        """Whether `week` has an issue row (it was built, numbered or sent)."""
        return (
            self._db.execute("SELECT 1 FROM issues WHERE week = ?", (week,)).fetchone() is not None
        )

    def issue_frozen_at(self, week: str) -> datetime | None:
        row = self._db.execute("SELECT frozen_at FROM issues WHERE week = ?", (week,)).fetchone()
        return _opt_time(row[0]) if row else None

    def frozen_weeks(self) -> dict[str, datetime]:
        """week → when its posts were recorded, for every frozen issue."""
        rows = self._db.execute(
            "SELECT week, frozen_at FROM issues WHERE frozen_at IS NOT NULL"
        ).fetchall()
        return {str(r[0]): from_db_time(r[1]) for r in rows}

    def unfinished_weeks(self) -> list[str]:
        """Frozen issues (their send started) neither marked sent nor skipped, oldest
        first."""
        rows = self._db.execute(
            "SELECT week FROM issues WHERE frozen_at IS NOT NULL AND sent_at IS NULL "
            "AND week NOT IN (SELECT week FROM skipped_weeks) ORDER BY week"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def freeze_issue(self, week: str, posts: Iterable[Post], now: datetime) -> bool:
        """Record the posts of `week`'s issue and fix it; False when it was fixed already.

        The issue row must exist (`issue_number`). All or nothing, in one transaction.
        """
        with self._tx() as db:
            row = db.execute("SELECT frozen_at FROM issues WHERE week = ?", (week,)).fetchone()
            if row is None:
                raise StoreError(f"{week}: no issue row to freeze (call issue_number first)")
            if row[0] is not None:
                return False
            db.executemany(
                """
                INSERT INTO issue_posts (week, feed_url, post_id, url, title, summary,
                                         published, first_seen, language, date_from_feed)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    (
                        week,
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
                    for p in posts
                ],
            )
            db.execute("UPDATE issues SET frozen_at = ? WHERE week = ?", (to_db_time(now), week))
        return True

    def issue_snapshot(self, week: str) -> list[Post]:
        """The posts recorded when `week` was frozen, newest first."""
        rows = self._db.execute(
            "SELECT * FROM issue_posts WHERE week = ? ORDER BY published DESC, feed_url, post_id",
            (week,),
        ).fetchall()
        return [self._post(r) for r in rows]

    def posts_first_seen_between(
        self, since: datetime, until: datetime, *, published_before: datetime
    ) -> list[Post]:
        """Posts first seen in [since, until) and published before `published_before`:
        the candidates for arriving late."""
        rows = self._db.execute(
            "SELECT * FROM posts WHERE first_seen >= ? AND first_seen < ? AND published < ? "
            "ORDER BY published DESC, feed_url, post_id",
            (to_db_time(since), to_db_time(until), to_db_time(published_before)),
        ).fetchall()
        return [self._post(r) for r in rows]

    @staticmethod
    def _post(r: sqlite3.Row) -> Post:
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

    def skip_week(self, week: str, now: datetime, reason: str) -> bool:
        """Record that `week` is not published, and why; False when it was recorded already."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO skipped_weeks (week, at, reason) VALUES (?, ?, ?) "
                "ON CONFLICT (week) DO NOTHING",
                (week, to_db_time(now), reason),
            )
        return cur.rowcount > 0

    def skipped_reason(self, week: str) -> str | None:
        row = self._db.execute(
            "SELECT reason FROM skipped_weeks WHERE week = ?", (week,)
        ).fetchone()
        return str(row[0]) if row else None

    def newest_post_seen(self) -> dict[str, datetime]:
        """feed URL → when its newest post was first seen."""
        rows = self._db.execute(
            "SELECT feed_url, max(first_seen) FROM posts GROUP BY feed_url"
        ).fetchall()
        return {str(r[0]): from_db_time(r[1]) for r in rows}
