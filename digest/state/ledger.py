"""The delivery ledger's SQL: one row per (issue, subscriber).

Owns: the queries of the ledger, mixed into `digest.state.store.Store` (so there is
still one Store class, and all SQL lives in the store modules). Every method is
one short transaction, so several sender threads, each with its own Store, can
share the file. Doesn't own: what to do with a reply (`digest.mail.deliver`), or the
states' meaning (documented with the table in `digest.state.schema`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from digest.models import Subscriber
from digest.state.schema import opt_time, subscriber_from_row, to_db_time


@dataclass(frozen=True, slots=True)
class LedgerOpened:
    added: int  # pending rows created for subscribers new to this issue
    interrupted: int  # rows a dead run left in `sending`: pending again, no harm done
    in_flight: int  # rows a dead run left in `handed`: each counts an unknown
    unknown: list[str]  # of those, the addresses that stay `unknown` (a second time)


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
    week: str = ""


UNSETTLED = ("unknown", "failed")  # a reader may not have the issue: a person decides


class LedgerQueries:
    """Mixed into `Store`, which provides the connection and transactions."""

    # Provided by Store: its connection, and one write transaction at a time.
    _db: sqlite3.Connection
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def open_ledger(self, week: str, now: datetime) -> LedgerOpened:
        """Prepare `week`'s ledger before a send: call under the publishing lock.

        A run that died may have left rows in flight. One in `sending` never had
        its final "." sent, so no server accepted it: it is `pending` again, and
        that try does not count. One in `handed` may have arrived: it counts an
        unknown; the first time it goes back to `pending` and is sent once more (a
        reader may get two copies rather than none), after that it stays `unknown`
        and is never sent again. Then every active subscriber without a row gets a
        `pending` one.
        """
        stamp = to_db_time(now)
        with self._tx() as db:
            interrupted = db.execute(
                "UPDATE deliveries SET status = 'pending', attempts = max(attempts - 1, 0), "
                "at = ?, detail = 'interrupted before the handover' "
                "WHERE week = ? AND status = 'sending'",
                (stamp, week),
            ).rowcount
            now_unknown = [
                str(r[0])
                for r in db.execute(
                    "SELECT s.email FROM deliveries d JOIN subscribers s "
                    "ON s.id = d.subscriber_id "
                    "WHERE d.week = ? AND d.status = 'handed' AND d.unknowns > 0",
                    (week,),
                )
            ]
            in_flight = db.execute(
                "UPDATE deliveries SET unknowns = unknowns + 1, at = ?, "
                "status = CASE WHEN unknowns = 0 THEN 'pending' ELSE 'unknown' END, "
                "detail = 'handed over when an earlier run stopped, before the reply' "
                "WHERE week = ? AND status = 'handed'",
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
        return LedgerOpened(
            added=added, interrupted=interrupted, in_flight=in_flight, unknown=now_unknown
        )

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
        return subscriber_from_row(row), int(attempts)

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
              AND (d.status IS NULL OR d.status IN ('pending', 'sending', 'handed')
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
                 AND (d.status IN ('pending', 'sending', 'handed')
                      OR (d.status = 'deferred' AND d.next_attempt <= :now)))
            + (SELECT count(*) FROM subscribers s WHERE s.status = 'active'
               AND NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.week = :week AND d.subscriber_id = s.id))
            """,
            {"week": week, "now": to_db_time(now)},
        ).fetchone()
        return int(row[0])

    def delivery_handed(self, week: str, subscriber_id: int) -> None:
        """Committed just before the final "." of DATA: from here on, a lost
        connection (or a killed process) leaves the message's fate unknown."""
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET status = 'handed' "
                "WHERE week = ? AND subscriber_id = ? AND status = 'sending'",
                (week, subscriber_id),
            )

    def delivery_retry_now(self, week: str, subscriber_id: int, now: datetime, detail: str) -> None:
        """The server answered the final "." with 421 (refused, closing): the message
        was not taken, so the row is `pending` again at once, to go out on a new
        connection. Unlike a release, the attempt counts (it was a 4xx reply)."""
        with self._tx() as db:
            db.execute(
                "UPDATE deliveries SET status = 'pending', at = ?, detail = ? "
                "WHERE week = ? AND subscriber_id = ? AND status IN ('sending', 'handed')",
                (to_db_time(now), detail, week, subscriber_id),
            )

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
                "AND status NOT IN ('unknown', 'settled')",
                (week,),
            ).fetchone()[0]
        )
        return counts

    def ledger_open(self, week: str) -> bool:
        """Whether some message of `week` is still to be tried (pending, in flight or
        deferred)."""
        row = self._db.execute(
            "SELECT 1 FROM deliveries WHERE week = ? "
            "AND status IN ('pending', 'sending', 'handed', 'deferred') LIMIT 1",
            (week,),
        ).fetchone()
        return row is not None

    def next_retry(self, week: str) -> datetime | None:
        """When the earliest deferred message of `week` may be tried again."""
        row = self._db.execute(
            "SELECT min(next_attempt) FROM deliveries WHERE week = ? AND status = 'deferred'",
            (week,),
        ).fetchone()
        return opt_time(row[0]) if row else None

    def delivery_rows(
        self, week: str | None, *, statuses: tuple[str, ...] | None = None
    ) -> list[DeliveryRow]:
        """The ledger rows of `week` (None: every week), by week and subscriber;
        only those in `statuses` when given (for reports, `deliveries list`, tests)."""
        where, args = ["1"], []
        if week is not None:
            where.append("d.week = ?")
            args.append(week)
        if statuses is not None:
            where.append(f"d.status IN ({', '.join('?' * len(statuses))})")
            args.extend(statuses)
        rows = self._db.execute(
            "SELECT d.*, s.email FROM deliveries d JOIN subscribers s "
            f"ON s.id = d.subscriber_id WHERE {' AND '.join(where)} "
            "ORDER BY d.week, d.subscriber_id",
            args,
        ).fetchall()
        return [
            DeliveryRow(
                week=str(r["week"]),
                subscriber_id=int(r["subscriber_id"]),
                email=str(r["email"]),
                status=str(r["status"]),
                attempts=int(r["attempts"]),
                unknowns=int(r["unknowns"]),
                next_attempt=opt_time(r["next_attempt"]),
                message_id=str(r["message_id"]),
                detail=str(r["detail"]),
            )
            for r in rows
        ]

    def unsettled_deliveries(self, week: str | None = None) -> list[DeliveryRow]:
        """Rows whose reader may not have the issue (`unknown` or `failed`) and that no
        operator settled, of `week` or (None) of every week, by week and subscriber."""
        return self.delivery_rows(week, statuses=UNSETTLED)

    def retry_deliveries(
        self, week: str, emails: list[str] | None, now: datetime
    ) -> tuple[list[str], list[str]]:
        """An operator sends `week` again to these readers (None: every unknown or
        failed one): their rows go back to `pending` with their attempts reset, and
        the issue is no longer marked sent, so the next `send` or `run` resumes it.
        Rows whose subscriber is not active any more are left as they are.
        Returns (addresses put back, addresses left: not active)."""
        rows = self._operator_rows(week, emails)
        stamp = to_db_time(now)
        retried: list[str] = []
        inactive: list[str] = []
        with self._tx() as db:
            for row in rows:
                active = db.execute(
                    "SELECT status FROM subscribers WHERE id = ?", (row.subscriber_id,)
                ).fetchone()
                if active is None or active[0] != "active":
                    inactive.append(row.email)
                    continue
                # `unknowns` is kept: after an operator's retry, a message handed over
                # with no reply again stays unknown at once (never a third copy).
                db.execute(
                    "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = NULL, "
                    "at = ?, detail = ? WHERE week = ? AND subscriber_id = ? AND status = ?",
                    (
                        stamp,
                        f"retry asked (was {row.status}: {row.detail})"[:500],
                        week,
                        row.subscriber_id,
                        row.status,
                    ),
                )
                retried.append(row.email)
            if retried:
                db.execute("UPDATE issues SET sent_at = NULL WHERE week = ?", (week,))
        return retried, inactive

    def settle_deliveries(
        self, week: str, emails: list[str] | None, reason: str, now: datetime
    ) -> list[str]:
        """An operator closes these unknown or failed rows (None: all of `week`'s):
        status `settled`, `reason` in the detail (the earlier state and reason kept
        after it). They are no longer listed, and no longer make a command exit 1.
        Returns the addresses settled."""
        rows = self._operator_rows(week, emails)
        stamp = to_db_time(now)
        with self._tx() as db:
            for row in rows:
                db.execute(
                    "UPDATE deliveries SET status = 'settled', at = ?, detail = ? "
                    "WHERE week = ? AND subscriber_id = ? AND status = ?",
                    (
                        stamp,
                        f"{reason} (was {row.status}: {row.detail})"[:500],
                        week,
                        row.subscriber_id,
                        row.status,
                    ),
                )
        return [row.email for row in rows]

    def _operator_rows(self, week: str, emails: list[str] | None) -> list[DeliveryRow]:
        rows = self.unsettled_deliveries(week)
        if emails is None:
            return rows
        wanted = {e.lower() for e in emails}
        return [r for r in rows if r.email.lower() in wanted]

    def has_recipients(self, week: str) -> bool:
        """Whether a send of `week` has anyone to consider: an active subscriber, or
        a ledger row already (a send that started)."""
        row = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM subscribers WHERE status = 'active') "
            "OR EXISTS (SELECT 1 FROM deliveries WHERE week = ?)",
            (week,),
        ).fetchone()
        return bool(row[0])

    def deliveries(self, week: str) -> dict[int, str]:
        """subscriber id → ledger status, for one week."""
        rows = self._db.execute(
            "SELECT subscriber_id, status FROM deliveries WHERE week = ?", (week,)
        ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}
