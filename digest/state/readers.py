"""The subscribers' SQL: who reads the digest, what they chose, who must never get it.

Owns: the queries on `subscribers`, `forgotten` and `inbox_seen`, mixed into
`digest.state.store.Store` (one Store class; all SQL in the store modules), and
the suppression rule: an address that unsubscribed, complained or bounced for
good (or was forgotten) is never made active again by an operator's `add` or
`import`, only by the reader's own confirmed opt-in or an explicit
`resubscribe=True`. Doesn't own: checking addresses (`digest.state.subscribers`),
tokens (`digest.tokens`), or what a web page or an inbound mail means
(`digest.web`, `digest.mail`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from digest.models import Subscriber
from digest.state.schema import subscriber_from_row, to_db_time

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bouncing", "complained")
# Statuses that mean "the reader said no, or the address is dead": suppressed.
SUPPRESSED = frozenset({"unsubscribed", "bouncing", "complained"})


class Added(StrEnum):
    """What `add_subscriber` did."""

    ADDED = "added"  # a new active subscriber
    ACTIVATED = "activated"  # was pending (never confirmed); the operator vouches
    RESUBSCRIBED = "resubscribed"  # was suppressed; `resubscribe=True` made it active
    UNCHANGED = "unchanged"  # already active
    SUPPRESSED = "suppressed"  # unsubscribed / bouncing / complained / forgotten: left so


@dataclass(frozen=True, slots=True)
class Signup:
    """What a web signup request found, for the caller to mail the right message."""

    subscriber: Subscriber
    # "confirm": a confirmation request was opened (nonce set), mail the link;
    # "already": the address is active, mail a reminder with a preferences link.
    action: str


def fingerprint(key: bytes, email: str) -> str:
    """A keyed one-way fingerprint of an address: what `forget` keeps of it."""
    mac = hmac.new(key, b"digest-forgotten\n" + email.casefold().encode(), hashlib.sha256)
    return mac.hexdigest()


def _forget_key(db: sqlite3.Connection) -> bytes:
    """This database's own random key for fingerprints of forgotten addresses
    (made on first use): a fingerprint alone cannot be checked against a list of
    addresses without the database it came from."""
    row = db.execute("SELECT value FROM meta WHERE key = 'forget_key'").fetchone()
    if row is None:
        value = secrets.token_hex(32)
        db.execute("INSERT INTO meta (key, value) VALUES ('forget_key', ?)", (value,))
        return bytes.fromhex(value)
    return bytes.fromhex(str(row[0]))


def countries_text(countries: Sequence[str]) -> str:
    """The column form of a country choice: sorted unique codes, space-separated."""
    return " ".join(sorted({c.strip().upper() for c in countries if c.strip()}))


class ReaderQueries:
    """Mixed into `Store`, which provides the connection and transactions."""

    # Provided by Store: its connection, and one write transaction at a time.
    _db: sqlite3.Connection
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def add_subscriber(
        self,
        email: str,
        name: str,
        now: datetime,
        *,
        resubscribe: bool = False,
        origin: str = "operator",
    ) -> tuple[Subscriber, Added]:
        """Add an address as the operator (`subscribers add` / `import`).

        `email` must already be validated and normalised (`digest.state.subscribers`).
        A suppressed address stays as it is unless `resubscribe`; so does a
        forgotten one, recognised by its fingerprint.
        """
        stamp = to_db_time(now)
        with self._tx() as db:
            mark = fingerprint(_forget_key(db), email)
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                was_forgotten = db.execute(
                    "SELECT 1 FROM forgotten WHERE fingerprint = ?", (mark,)
                ).fetchone()
                if was_forgotten and not resubscribe:
                    return Subscriber(id=0, email=email, name=name, status="forgotten"), (
                        Added.SUPPRESSED
                    )
                if was_forgotten:
                    db.execute("DELETE FROM forgotten WHERE fingerprint = ?", (mark,))
                db.execute(
                    "INSERT INTO subscribers (email, name, status, created, updated, origin) "
                    "VALUES (?, ?, 'active', ?, ?, ?)",
                    (email, name, stamp, stamp, origin),
                )
                outcome = Added.RESUBSCRIBED if was_forgotten else Added.ADDED
            elif row["status"] == "active":
                outcome = Added.UNCHANGED
            elif row["status"] in SUPPRESSED and not resubscribe:
                outcome = Added.SUPPRESSED
            else:
                outcome = Added.ACTIVATED if row["status"] == "pending" else Added.RESUBSCRIBED
                db.execute(
                    "UPDATE subscribers SET status = 'active', bounces = 0, nonce = NULL, "
                    "name = coalesce(nullif(?, ''), name), updated = ? WHERE id = ?",
                    (name, stamp, row["id"]),
                )
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return subscriber_from_row(row), outcome

    def set_subscriber_status(self, email_or_id: str | int, status: str, now: datetime) -> bool:
        """Change a subscriber's status; False when no such subscriber exists."""
        if status not in SUBSCRIBER_STATUSES:
            raise ValueError(f"unknown subscriber status {status!r}")
        column = "id" if isinstance(email_or_id, int) else "email"
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE subscribers SET status = ?, nonce = NULL, updated = ? WHERE {column} = ?",
                (status, to_db_time(now), email_or_id),
            )
        return cur.rowcount > 0

    def unsubscribe(self, subscriber_id: int, now: datetime) -> bool:
        """The reader asked to leave. Idempotent; a `complained` or `bouncing` status
        (already suppressed, and more telling) is kept. True when it changed."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE subscribers SET status = 'unsubscribed', nonce = NULL, updated = ? "
                "WHERE id = ? AND status IN ('active', 'pending')",
                (to_db_time(now), subscriber_id),
            )
        return cur.rowcount > 0

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self._db.execute(
            "SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return subscriber_from_row(row) if row else None

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        row = self._db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return subscriber_from_row(row) if row else None

    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        if status is None:
            rows = self._db.execute("SELECT * FROM subscribers ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM subscribers WHERE status = ? ORDER BY id", (status,)
            ).fetchall()
        return [subscriber_from_row(r) for r in rows]

    def country_choices(self) -> dict[tuple[str, ...], int]:
        """Each distinct country choice of the active subscribers, with its count
        (() = every section): what an issue is rendered for, once per choice."""
        rows = self._db.execute(
            "SELECT countries, count(*) FROM subscribers WHERE status = 'active' GROUP BY countries"
        ).fetchall()
        return {tuple(str(r[0]).split()): int(r[1]) for r in rows}

    def reader_choices(self) -> dict[tuple[str, tuple[str, ...]], int]:
        """Each distinct (language, countries) of the active subscribers, with its
        count ("" = the digest's language, () = every section): the variants a send
        renders, once each (`digest.render.choice` normalises them)."""
        rows = self._db.execute(
            "SELECT language, countries, count(*) FROM subscribers WHERE status = 'active' "
            "GROUP BY language, countries"
        ).fetchall()
        return {(str(r[0]), tuple(str(r[1]).split())): int(r[2]) for r in rows}

    # -- the web: double opt-in and preferences --------------------------------

    def request_signup(
        self,
        email: str,
        language: str,
        countries: Sequence[str],
        nonce: str,
        now: datetime,
    ) -> Signup:
        """A signup form was sent for `email` (validated, normalised).

        New address: a `pending` row that gets nothing until confirmed. Active
        address: nothing changes (its owner gets a reminder, not a second
        subscription). Pending or suppressed address: a new confirmation request
        (`nonce`) with the new choices; the status stays until the reader confirms,
        so a form filled in by somebody else never re-subscribes anyone.
        """
        stamp = to_db_time(now)
        chosen = countries_text(countries)
        with self._tx() as db:
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO subscribers (email, status, created, updated, language, "
                    "countries, nonce, origin) VALUES (?, 'pending', ?, ?, ?, ?, ?, 'web')",
                    (email, stamp, stamp, language, chosen, nonce),
                )
                action = "confirm"
            elif row["status"] == "active":
                action = "already"
            else:
                # The choices wait with the request: they apply only once confirmed
                # (for a suppressed reader, the old ones stay until then).
                if row["status"] == "pending":
                    db.execute(
                        "UPDATE subscribers SET language = ?, countries = ?, nonce = ?, "
                        "updated = ? WHERE id = ?",
                        (language, chosen, nonce, stamp, row["id"]),
                    )
                else:
                    db.execute(
                        "UPDATE subscribers SET nonce = ?, updated = ? WHERE id = ?",
                        (nonce, stamp, row["id"]),
                    )
                action = "confirm"
            row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
        return Signup(subscriber_from_row(row), action)

    def confirm_signup(
        self,
        subscriber_id: int,
        nonce: str,
        now: datetime,
        *,
        language: str | None = None,
        countries: Sequence[str] | None = None,
    ) -> bool:
        """The reader confirmed the request `nonce`: active from now on. The nonce is
        used up (a replayed link does nothing). False when no such request is open."""
        stamp = to_db_time(now)
        with self._tx() as db:
            row = db.execute(
                "SELECT email, nonce FROM subscribers WHERE id = ?", (subscriber_id,)
            ).fetchone()
            if row is None or not row["nonce"] or not hmac.compare_digest(row["nonce"], nonce):
                return False
            db.execute(
                "UPDATE subscribers SET status = 'active', bounces = 0, nonce = NULL, "
                "confirmed = ?, updated = ?, language = coalesce(?, language), "
                "countries = coalesce(?, countries) WHERE id = ?",
                (
                    stamp,
                    stamp,
                    language,
                    None if countries is None else countries_text(countries),
                    subscriber_id,
                ),
            )
            db.execute(
                "DELETE FROM forgotten WHERE fingerprint = ?",
                (fingerprint(_forget_key(db), row["email"]),),
            )
        return True

    def set_preferences(
        self, subscriber_id: int, language: str, countries: Sequence[str], now: datetime
    ) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE subscribers SET language = ?, countries = ?, updated = ? WHERE id = ?",
                (language, countries_text(countries), to_db_time(now), subscriber_id),
            )
        return cur.rowcount > 0

    # -- suppression after the session: bounces and complaints ---------------------

    def record_bounce(
        self, email: str, now: datetime, *, permanent: bool, bounce_after: int
    ) -> str | None:
        """A bounce reported after the SMTP session (a DSN). A permanent one counts
        like a 5xx refusal during the session: `bouncing` once the count reaches
        `bounce_after`. A temporary one changes nothing. Returns the subscriber's
        status afterwards, or None when the address is not a subscriber."""
        stamp = to_db_time(now)
        with self._tx() as db:
            row = db.execute("SELECT id FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                return None
            if permanent:
                db.execute(
                    "UPDATE subscribers SET bounces = bounces + 1 WHERE id = ?", (row["id"],)
                )
                db.execute(
                    "UPDATE subscribers SET status = 'bouncing', updated = ? "
                    "WHERE id = ? AND status = 'active' AND bounces >= ?",
                    (stamp, row["id"], bounce_after),
                )
            status = db.execute(
                "SELECT status FROM subscribers WHERE id = ?", (row["id"],)
            ).fetchone()[0]
        return str(status)

    def record_complaint(self, email: str, now: datetime) -> bool:
        """The reader marked an issue as spam (an ARF report): suppressed for good."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE subscribers SET status = 'complained', nonce = NULL, updated = ? "
                "WHERE email = ?",
                (to_db_time(now), email),
            )
        return cur.rowcount > 0

    def inbox_seen(self, key: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM inbox_seen WHERE key = ?", (key,)).fetchone()
            is not None
        )

    def mark_inbox_seen(self, key: str, outcome: str, now: datetime) -> bool:
        """Record an inbound message as handled; False when it already was."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO inbox_seen (key, at, outcome) VALUES (?, ?, ?)",
                (key, to_db_time(now), outcome),
            )
        return cur.rowcount > 0

    # -- erasure -----------------------------------------------------------------

    def forget_subscriber(self, email: str, now: datetime) -> bool:
        """Delete every row about `email` (GDPR erasure): the subscriber and its
        delivery ledger rows (handled-mail records hold no address). Only a keyed
        fingerprint is kept, so that importing an old list cannot bring it back.
        False when the address was not a subscriber (the fingerprint is kept anyway)."""
        # Deleted rows' bytes are overwritten, not merely unlinked, and the
        # write-ahead log that still holds the old pages is emptied afterwards.
        self._db.execute("PRAGMA secure_delete = ON")
        with self._tx() as db:
            row = db.execute("SELECT id FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is not None:
                db.execute("DELETE FROM deliveries WHERE subscriber_id = ?", (row["id"],))
                db.execute("DELETE FROM subscribers WHERE id = ?", (row["id"],))
            db.execute(
                "INSERT OR REPLACE INTO forgotten (fingerprint, at) VALUES (?, ?)",
                (fingerprint(_forget_key(db), email), to_db_time(now)),
            )
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return row is not None
