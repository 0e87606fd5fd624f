"""When an issue is published: the one rule of unattended runs.

Owns: `decide`, the pure decision that `digest run` (cron) and `digest daemon`
both make, through this same function, about one week's issue, and the facts
it needs (`WeekFacts`, read from the store by the caller). Takes data and a
`now`; touches no database, clock or network. Doesn't own: acting on the
decision (`digest.run.pipeline.run_once`), scheduling (`digest.run.daemon`), or the
lock that makes the decision and its action atomic (`digest.state.lock`).

The rule, for week W, due at `publish_time(W)` (`[digest] publish` in
`[digest] timezone`), first in order wins:

1. sent: W was sent → nothing to do ("already sent"). Never twice.
2. skipped: W was skipped before, for the reason recorded → nothing to do.
3. resume: W's send started (its posts were frozen, or ledger rows are still
   open) → continue it, however late: nobody is skipped half-way.
4. wait: W is not due yet.
5. before install: digest first ran after W's publish time → W is not
   published (a new install does not send an issue at once); recorded.
6. missed: a newer issue is already due → W is not published (only the newest
   due issue is ever published); recorded, logged as a warning.
7. too late: more than `[schedule] lateness` has passed since W's publish time
   (digest was down) → not published; recorded, logged as a warning.
8. publish.

APScheduler's misfire grace time plays no part: a daemon that starts late, or a
cron run that comes late, makes this same decision.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from digest.config import Settings
from digest.editorial.selection import latest_due_week, publish_time


class Action(enum.StrEnum):
    PUBLISH = "publish"
    RESUME = "resume"
    WAIT = "wait"
    ALREADY_SENT = "already sent"
    SKIPPED = "skipped"  # skipped by an earlier run: nothing more to say
    SKIP_LATE = "skip: too late"
    SKIP_MISSED = "skip: missed"
    SKIP_BEFORE_INSTALL = "skip: before install"

    @property
    def records_skip(self) -> bool:
        """The caller records the week in `skipped_weeks` (once) and reports it."""
        return self in (Action.SKIP_LATE, Action.SKIP_MISSED, Action.SKIP_BEFORE_INSTALL)

    @property
    def sends(self) -> bool:
        return self in (Action.PUBLISH, Action.RESUME)


@dataclass(frozen=True, slots=True)
class WeekFacts:
    """What the store knows about one week's issue."""

    week: str
    installed_at: datetime  # the first run's time
    sent_at: datetime | None = None  # delivery finished
    frozen_at: datetime | None = None  # its posts were recorded: the send started
    ledger_open: bool = False  # some message is pending, in flight or deferred
    skipped: str | None = None  # the reason recorded when it was skipped


@dataclass(frozen=True, slots=True)
class Decision:
    week: str
    action: Action
    reason: str  # one line for the log and the run report
    due_at: datetime  # the week's publish time (UTC)


def decide(now: datetime, settings: Settings, facts: WeekFacts) -> Decision:
    """What to do about `facts.week` at `now` (see the module docstring for the rule)."""
    week = facts.week
    due = publish_time(week, settings)
    lateness = settings.schedule.lateness
    local_due = due.astimezone(settings.digest.tz).strftime("%Y-%m-%d %H:%M %Z")

    def made(action: Action, reason: str) -> Decision:
        return Decision(week=week, action=action, reason=reason, due_at=due)

    if facts.sent_at is not None:
        return made(Action.ALREADY_SENT, f"sent at {facts.sent_at:%Y-%m-%d %H:%M} UTC")
    if facts.skipped is not None:
        return made(Action.SKIPPED, f"skipped earlier: {facts.skipped}")
    if facts.frozen_at is not None or facts.ledger_open:
        return made(Action.RESUME, "its send started and some messages are not sent yet")
    if now < due:
        return made(Action.WAIT, f"due at {local_due}")
    if facts.installed_at > due:
        return made(
            Action.SKIP_BEFORE_INSTALL,
            f"due at {local_due}, before digest first ran "
            f"({facts.installed_at:%Y-%m-%d %H:%M} UTC); the first issue is the next one",
        )
    newest = latest_due_week(now, settings)
    if newest != week:
        return made(
            Action.SKIP_MISSED,
            f"due at {local_due} while digest was not running; {newest} is due now",
        )
    if now - due > lateness:
        late_by = now - due
        hours = late_by.total_seconds() / 3600
        return made(
            Action.SKIP_LATE,
            f"due at {local_due}; {hours:.1f} h late is beyond [schedule] lateness "
            f"({lateness.total_seconds() / 3600:g} h)",
        )
    return made(Action.PUBLISH, f"due at {local_due}")
