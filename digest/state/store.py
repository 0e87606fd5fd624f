"""SQLite storage: the one place that holds SQL.

Owns: the `Store` class, every query but the delivery ledger's, the readers' and
the editor's (mixed in from `digest.state.ledger`, `digest.state.readers` and
`digest.state.editorial_decisions`), and applying the schema and its migrations (the SQL text itself
is `digest.state.schema`). Keeps machine state only: feed validators and failures,
posts, subscribers, issues and their frozen posts, skipped weeks, the ledger.
Doesn't own: configuration (hand-edited TOML, `digest.config`) or any decision
about what goes into an issue (`digest.editorial.selection`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest.errors import DatabaseBusy, DigestError, DiskFull, StoreError, WriteError
from digest.models import FeedState, Post
from digest.state.editorial_decisions import EditorialQueries, IssueFrozen
from digest.state.files import write_error
from digest.state.ledger import DeliveryRow, LedgerOpened, LedgerQueries
from digest.state.lock import lock_holder
from digest.state.readers import SUBSCRIBER_STATUSES, Added, ReaderQueries, Signup
from digest.state.schema import (
    MIGRATIONS,
    SCHEMA,
    SCHEMA_VERSION,
    from_db_time,
    opt_time,
    post_from_row,
    post_values,
    to_db_time,
)

__all__ = [
    "SCHEMA_VERSION",
    "SUBSCRIBER_STATUSES",
    "Added",
    "DeliveryRow",
    "FeedOk",
    "IssueFrozen",
    "LedgerOpened",
    "Signup",
    "Store",
    "from_db_time",
    "to_db_time",
]


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): that commits first, and a migration must be all or nothing.
    # Statements end where SQLite says they do (a ";" in a comment or a string
    # does not end one).
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in statement.splitlines()
    ):
        raise sqlite3.OperationalError(f"incomplete SQL statement: {statement.strip()[:80]!r}")


# Seconds a write waits for another process's write transaction before
# `DatabaseBusy`. Read at each connection, so a test may shorten it.
BUSY_TIMEOUT = 30.0

# Primary SQLite result codes (sqlite3.Error.sqlite_errorcode & 0xFF).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14
# WAL mode: the writer holds a POSIX lock on this byte of the -shm file; in
# rollback mode, on the RESERVED byte of the database file (SQLite's os_unix.c).
_WAL_WRITE_LOCK_BYTE = 120
_RESERVED_BYTE = 0x40000001


def _write_lock_holder(path: Path) -> str | None:
    """The pid holding SQLite's write lock on `path`, where the system tells.

    SQLite itself never says who holds a lock. Linux lists every POSIX lock in
    /proc/locks; else the publishing lock file names the digest process that
    publishes (the usual long writer). None when neither knows."""
    targets = []
    for file, byte in ((Path(f"{path}-shm"), _WAL_WRITE_LOCK_BYTE), (path, _RESERVED_BYTE)):
        with contextlib.suppress(OSError):
            st = file.stat()
            targets.append((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino, byte))
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text("ascii", "replace").splitlines():
            fields = line.split()
            # "1: POSIX  ADVISORY  WRITE 4711 fd:01:123456 120 120"
            if len(fields) < 8 or fields[1] != "POSIX" or fields[3] != "WRITE":
                continue
            try:
                major, minor, inode = fields[5].split(":")
                start = int(fields[6])
                end = int(fields[7]) if fields[7] != "EOF" else 2**63
                key = (int(major, 16), int(minor, 16), int(inode))
            except ValueError:
                continue
            for *file_key, byte in targets:
                if tuple(file_key) == key and start <= byte <= end and fields[4] != "-1":
                    return fields[4]
    return lock_holder(path)


def _sqlite_error(path: Path, error: sqlite3.Error, waited: float) -> DigestError | None:
    """The one-line `DigestError` for an SQLite failure that is not a bug of ours:
    busy, disk full, read-only, cannot open. None for anything else."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseBusy(str(path), _write_lock_holder(path), waited)
    if code == _SQLITE_FULL:
        return DiskFull(
            str(path),
            "cannot write the database: the disk is full",
            hint="free some space, then run again; the last change was rolled back",
        )
    if code in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN):
        return WriteError(
            str(path),
            f"cannot write the database: {error}",
            hint="the file and its folder must be writable by the user running digest "
            "([storage] path)",
        )
    if code == _SQLITE_IOERR:
        return StoreError(
            f"{path}: disk I/O error while writing the database ({error})",
            hint="check free space (ulimit -f, quota) and the disk; "
            "the last change was rolled back",
        )
    return None


def _translated(path: Path, error: sqlite3.Error, started: float) -> BaseException:
    return _sqlite_error(path, error, round(time.monotonic() - started, 1)) or error


_WRITERS: dict[Path, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writer_lock(path: Path) -> threading.RLock:
    key = path.resolve()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, threading.RLock())


@dataclass(frozen=True)
class FeedOk:
    """One feed's successful fetch (200 or 304), for `Store.record_fetched`: its new
    posts (none for a 304) and what `Store.record_feed_ok` records."""

    url: str
    now: datetime
    posts: Sequence[Post] = ()
    title: str | None = None
    etag: str | None = None  # validators are replaced only when given
    last_modified: str | None = None
    warning: str | None = None


def _insert_posts(db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> int:
    """`Store.add_posts` inside a transaction; returns how many rows were new."""
    if not rows:
        return 0
    # One statement each for the batch (a feed's entries): executemany
    # keeps the loop in C, which counts at 1,000 feeds × 25 entries.
    before = db.total_changes
    db.executemany(
        """
        INSERT INTO posts (feed_url, post_id, url, title, summary, published,
                           first_seen, language, date_from_feed)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (feed_url, post_id) DO NOTHING
        """,
        rows,
    )
    new = db.total_changes - before
    if new < len(rows):  # some were seen before: follow the feed's fixes
        db.executemany(
            "UPDATE posts SET url = ?3, title = ?4, summary = ?5 "
            "WHERE feed_url = ?1 AND post_id = ?2 "
            "AND (url IS NOT ?3 OR title IS NOT ?4 OR summary IS NOT ?5)",
            [r[:5] for r in rows],
        )
    return new


def _feed_ok(db: sqlite3.Connection, feed: FeedOk) -> None:
    """`Store.record_feed_ok` inside a transaction."""
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
            "url": feed.url,
            "title": feed.title,
            "etag": feed.etag,
            "lm": feed.last_modified,
            "now": to_db_time(feed.now),
            "warning": feed.warning,
        },
    )


class Store(LedgerQueries, ReaderQueries, EditorialQueries):
    """All SQL of digest. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(path.parent, e, "cannot create the database's folder") from e
        try:
            # isolation_level=None: we open transactions ourselves (see `_tx`).
            self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
        except sqlite3.Error as e:
            raise _sqlite_error(path, e, 0) or StoreError(
                f"{path}: cannot open the database: {e}"
            ) from e
        self._db.row_factory = sqlite3.Row
        self._writer = _writer_lock(path)
        started = time.monotonic()
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise _sqlite_error(path, e, round(time.monotonic() - started, 1)) or StoreError(
                f"{path}: not a usable digest database: {e}"
            ) from e
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # Threads of one process (the sender's workers, each with its own Store)
        # queue on a lock here rather than on SQLite's busy handler, which sleeps
        # in steps of milliseconds; other processes still meet the busy timeout,
        # after which the wait becomes `DatabaseBusy` (a full disk `DiskFull`):
        # one line for the user, never a traceback, and nothing half-written.
        with self._writer:
            started = time.monotonic()
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise _translated(self.path, e, started) from e
            try:
                yield self._db
            except BaseException as e:
                with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back
                    self._db.execute("ROLLBACK")
                if isinstance(e, sqlite3.OperationalError):
                    raise _translated(self.path, e, started) from e
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise _translated(self.path, e, started) from e

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
        # Rebuilding a table that others reference (to change a CHECK) needs
        # foreign keys off, and that cannot change inside a transaction
        # (https://sqlite.org/lang_altertable.html#otheralter); they are checked
        # before the commit and on again afterwards.
        self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            with self._tx() as db:
                if version == 0:
                    _run_script(db, SCHEMA)
                else:
                    for step in range(version, SCHEMA_VERSION):
                        _run_script(db, MIGRATIONS[step])
                broken = db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise StoreError(
                        f"{self.path}: upgrading the schema from version {version} left "
                        f"{len(broken)} row(s) pointing at nothing (e.g. in {broken[0][0]})",
                        hint="nothing was changed; keep this file and report it",
                    )
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            self._db.execute("PRAGMA foreign_keys = ON")

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
            last_fetched=opt_time(row["last_fetched"]),
            last_ok=opt_time(row["last_ok"]),
            last_error=row["last_error"],
            failures=row["failures"],
            gone_at=opt_time(row["gone_at"]),
            retry_at=opt_time(row["retry_at"]),
            moved_to=row["moved_to"],
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
            _feed_ok(db, FeedOk(url, now, (), title, etag, last_modified, warning))

    def record_fetched(self, feeds: Sequence[FeedOk]) -> list[int]:
        """Several feeds' successful fetches, in one transaction: each one's new posts
        (`add_posts`) and its feed record (`record_feed_ok`), in order. Returns how
        many posts were new, per feed.

        All or nothing: a feed's posts and its validators are committed together,
        never its validators alone. One transaction for several feeds (gather's
        answers that arrive together) because at 1,000 feeds a commit per feed
        cost the gather process more than the rows themselves."""
        if not feeds:
            return []
        with self._tx() as db:
            counts = []
            for feed in feeds:
                counts.append(_insert_posts(db, [post_values(p) for p in feed.posts]))
                _feed_ok(db, feed)
        return counts

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

    def mark_feed_gone(self, url: str, error: str, now: datetime) -> None:
        """The feed answered 410 Gone: it is reported, and no longer polled."""
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO feeds (url, last_fetched, last_error, failures, gone_at)
                VALUES (:url, :now, :error, 1, :now)
                ON CONFLICT (url) DO UPDATE SET
                    last_fetched = :now, last_error = :error, failures = failures + 1,
                    gone_at = coalesce(gone_at, :now)
                """,
                {"url": url, "error": error, "now": to_db_time(now)},
            )

    def set_feed_retry_at(self, url: str, retry_at: datetime | None) -> None:
        """Not before `retry_at` (a server's Retry-After); None clears it."""
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO feeds (url, retry_at) VALUES (:url, :at)
                ON CONFLICT (url) DO UPDATE SET retry_at = :at
                """,
                {"url": url, "at": to_db_time(retry_at) if retry_at else None},
            )

    def set_feed_moved_to(self, url: str, target: str | None) -> None:
        """Fetch `target` instead of `url` from now on (a 301/308); None clears it.
        Validators belong to the old address, so they are dropped."""
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO feeds (url, moved_to) VALUES (:url, :target)
                ON CONFLICT (url) DO UPDATE SET
                    moved_to = :target, etag = NULL, last_modified = NULL
                """,
                {"url": url, "target": target},
            )

    def revive_feed(self, url: str) -> bool:
        """Poll a gone feed again (an operator's decision). True when it was gone."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE feeds SET gone_at = NULL, retry_at = NULL WHERE url = ? "
                "AND gone_at IS NOT NULL",
                (url,),
            )
        return cur.rowcount > 0

    def record_feed_waiting(self, url: str, retry_at: datetime, note: str, now: datetime) -> None:
        """The feed asked us to come back later (429/503 with Retry-After): not a
        failure, so `failures` is left as it is; `note` becomes `last_error`."""
        with self._tx() as db:
            db.execute(
                """
                INSERT INTO feeds (url, last_fetched, last_error, retry_at)
                VALUES (:url, :now, :note, :at)
                ON CONFLICT (url) DO UPDATE SET
                    last_fetched = :now, last_error = :note, retry_at = :at
                """,
                {"url": url, "now": to_db_time(now), "note": note, "at": to_db_time(retry_at)},
            )

    def known_post_ids(self, feed_url: str, post_ids: Iterable[str]) -> set[str]:
        """Which of `post_ids` this feed already has in the store (for the per-run cap)."""
        wanted = list(dict.fromkeys(post_ids))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):  # SQLite's host-parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT post_id FROM posts WHERE feed_url = ? AND post_id IN ({marks})",
                (feed_url, *chunk),
            ).fetchall()
            known.update(str(r[0]) for r in rows)
        return known

    # -- posts ---------------------------------------------------------------

    def add_posts(self, posts: Iterable[Post]) -> int:
        """Store posts idempotently; returns how many were new.

        A post seen again keeps its first-seen time and published time; its title,
        summary and link follow the feed (feeds fix typos).
        """
        rows = [post_values(p) for p in posts]
        if not rows:
            return 0
        with self._tx() as db:
            return _insert_posts(db, rows)

    def posts_between(self, start: datetime, end: datetime) -> list[Post]:
        """Posts published in [start, end), newest first."""
        rows = self._db.execute(
            "SELECT * FROM posts WHERE published >= ? AND published < ? "
            "ORDER BY published DESC, feed_url, post_id",
            (to_db_time(start), to_db_time(end)),
        ).fetchall()
        return [post_from_row(r) for r in rows]

    def count_posts(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM posts").fetchone()[0])

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
        return opt_time(row[0]) if row else None

    # -- unattended runs -------------------------------------------------------

    def latest_sent_week(self) -> str | None:
        """The newest week whose issue went out (its archive page is public)."""
        row = self._db.execute(
            "SELECT max(week) FROM issues WHERE sent_at IS NOT NULL OR frozen_at IS NOT NULL"
        ).fetchone()
        return str(row[0]) if row and row[0] else None

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
        return opt_time(row[0]) if row else None

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
                [(week, *post_values(p)) for p in posts],
            )
            db.execute("UPDATE issues SET frozen_at = ? WHERE week = ?", (to_db_time(now), week))
        return True

    def issue_snapshot(self, week: str) -> list[Post]:
        """The posts recorded when `week` was frozen, newest first."""
        rows = self._db.execute(
            "SELECT * FROM issue_posts WHERE week = ? ORDER BY published DESC, feed_url, post_id",
            (week,),
        ).fetchall()
        return [post_from_row(r) for r in rows]

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
        return [post_from_row(r) for r in rows]

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
