"""An editor's decisions about a week's issue, in SQL.

Owns: the queries on `editorial_weeks` and `editorial_stories` (schema 5),
mixed into `digest.state.store.Store` (one Store class; all SQL in the store
modules), and the rule that a week's decisions change only until its issue is
frozen (its send started) or sent: `save_editorial_decisions` checks that in
the transaction that writes, so an editor who saves while a send starts
changes nothing. Doesn't own: what the decisions mean (`digest.editorial.selection`)
or the file an editor writes them in (`digest.cli.edit`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from digest.errors import DigestError
from digest.models import EditorialDecisions, StoryDecision
from digest.state.schema import opt_time, to_db_time


class IssueFrozen(DigestError):
    """The week's issue was frozen (its send started) or sent: it no longer changes."""

    def __init__(self, week: str, when: datetime, sent: bool) -> None:
        what = "was sent" if sent else "started going out"
        super().__init__(
            f"{week}: its issue {what} at {when:%Y-%m-%d %H:%M} UTC and can no longer be edited",
            hint="edit the coming issue: `digest edit` without --week",
        )
        self.week = week


class EditorialQueries:
    """Mixed into `Store`, which provides the connection and transactions."""

    # Provided by Store: its connection, and one write transaction at a time.
    _db: sqlite3.Connection
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def editorial_decisions(self, week: str) -> EditorialDecisions | None:
        """What the editor decided about `week`'s issue; None when nothing was saved."""
        row = self._db.execute(
            "SELECT note, tops_chosen FROM editorial_weeks WHERE week = ?", (week,)
        ).fetchone()
        if row is None:
            return None
        rows = self._db.execute(
            "SELECT story, action, section, position, lead FROM editorial_stories "
            "WHERE week = ? ORDER BY story",
            (week,),
        ).fetchall()
        return EditorialDecisions(
            week=week,
            note=str(row["note"]),
            tops_chosen=bool(row["tops_chosen"]),
            stories=tuple(
                StoryDecision(
                    story=str(r["story"]),
                    action=str(r["action"]),
                    section=str(r["section"]),
                    position=r["position"],
                    lead=r["lead"],
                )
                for r in rows
            ),
        )

    def save_editorial_decisions(self, decisions: EditorialDecisions, now: datetime) -> None:
        """Replace `decisions.week`'s decisions with these (empty ones: remove them, so
        the issue is built as if no editor had looked at it).

        Raises `IssueFrozen` when the week's issue was frozen or sent: checked in
        the same transaction as the write.
        """
        week = decisions.week
        with self._tx() as db:
            row = db.execute(
                "SELECT frozen_at, sent_at FROM issues WHERE week = ?", (week,)
            ).fetchone()
            if row is not None and (row["frozen_at"] or row["sent_at"]):
                sent_at = opt_time(row["sent_at"])
                when = sent_at or opt_time(row["frozen_at"])
                assert when is not None
                raise IssueFrozen(week, when, sent=sent_at is not None)
            db.execute("DELETE FROM editorial_stories WHERE week = ?", (week,))
            db.execute("DELETE FROM editorial_weeks WHERE week = ?", (week,))
            if decisions.empty:
                return
            db.execute(
                "INSERT INTO editorial_weeks (week, note, tops_chosen, saved_at) "
                "VALUES (?, ?, ?, ?)",
                (week, decisions.note, int(decisions.tops_chosen), to_db_time(now)),
            )
            db.executemany(
                "INSERT INTO editorial_stories (week, story, action, section, position, lead) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (week, d.story, d.action, d.section, d.position, d.lead)
                    for d in decisions.stories
                ],
            )
