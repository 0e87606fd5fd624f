"""The publishing rule (`schedule.decide`) and the pure selection rules of unattended
runs (lookback, late posts, quiet weeks), with plain data and a given `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.config import Settings, parse_settings
from digest.editorial.selection import (
    is_mailable,
    issue_window,
    late_posts,
    latest_due_week,
    lookback_start,
    publish_time,
    week_containing,
)
from digest.models import Post
from digest.run.schedule import Action, WeekFacts, decide


def settings(schedule: dict[str, Any] | None = None, **digest: object) -> Settings:
    return parse_settings({"digest": digest, "schedule": schedule or {}}, Path("test.toml"))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


TOKYO = settings()  # mon 08:00 Asia/Tokyo
W47 = "2026-W47"  # due Mon 2026-11-23 08:00 JST = 2026-11-22T23:00Z
W47_DUE = utc(2026, 11, 22, 23, 0)
INSTALLED = utc(2026, 1, 1)


def facts(week: str = W47, **kw: Any) -> WeekFacts:
    return WeekFacts(week=week, installed_at=kw.pop("installed_at", INSTALLED), **kw)


def test_a_normal_week_waits_publishes_then_is_done() -> None:
    assert publish_time(W47, TOKYO) == W47_DUE
    before = decide(W47_DUE - timedelta(minutes=1), TOKYO, facts())
    assert before.action is Action.WAIT
    at = decide(W47_DUE, TOKYO, facts())
    assert at.action is Action.PUBLISH
    done = decide(W47_DUE + timedelta(minutes=5), TOKYO, facts(sent_at=W47_DUE))
    assert done.action is Action.ALREADY_SENT


@pytest.mark.parametrize(
    ("late", "action"),
    [
        (timedelta(hours=3), Action.PUBLISH),
        (timedelta(hours=12), Action.PUBLISH),  # exactly the lateness: still on time
        (timedelta(hours=12, seconds=1), Action.SKIP_LATE),
        (timedelta(days=3), Action.SKIP_LATE),
    ],
)
def test_down_at_publish_time_publishes_within_lateness_only(
    late: timedelta, action: Action
) -> None:
    decision = decide(W47_DUE + late, TOKYO, facts())
    assert decision.action is action
    if action is Action.SKIP_LATE:
        assert decision.action.records_skip and "lateness" in decision.reason


def test_lateness_is_configurable() -> None:
    strict = settings({"lateness": "30m"})
    assert decide(W47_DUE + timedelta(minutes=31), strict, facts()).action is Action.SKIP_LATE
    assert decide(W47_DUE + timedelta(minutes=29), strict, facts()).action is Action.PUBLISH


def test_a_started_send_resumes_however_late() -> None:
    later = W47_DUE + timedelta(days=2)
    frozen = facts(frozen_at=W47_DUE + timedelta(minutes=1))
    assert decide(later, TOKYO, frozen).action is Action.RESUME
    deferred = facts(ledger_open=True)
    assert decide(later, TOKYO, deferred).action is Action.RESUME


def test_a_skipped_week_stays_skipped_and_a_sent_one_is_never_sent_again() -> None:
    now = W47_DUE + timedelta(hours=1)
    assert decide(now, TOKYO, facts(skipped="too late")).action is Action.SKIPPED
    both = facts(sent_at=W47_DUE, frozen_at=W47_DUE, ledger_open=True)
    assert decide(now, TOKYO, both).action is Action.ALREADY_SENT


def test_first_run_after_the_due_time_does_not_publish_that_week() -> None:
    installed = W47_DUE + timedelta(hours=1)
    decision = decide(installed, TOKYO, facts(installed_at=installed))
    assert decision.action is Action.SKIP_BEFORE_INSTALL
    assert "first ran" in decision.reason


def test_an_older_week_is_missed_once_a_newer_one_is_due() -> None:
    now = W47_DUE + timedelta(days=7, hours=1)
    assert latest_due_week(now, TOKYO) == "2026-W48"
    assert decide(now, TOKYO, facts()).action is Action.SKIP_MISSED
    assert decide(now, TOKYO, facts("2026-W48")).action is Action.PUBLISH


NEW_YORK = settings(timezone="America/New_York", publish="mon 08:00")


@pytest.mark.parametrize(
    ("week", "due"),
    [
        ("2026-W10", utc(2026, 3, 9, 12, 0)),  # DST began Sun 8 March: 08:00 EDT
        ("2026-W09", utc(2026, 3, 2, 13, 0)),  # the week before: 08:00 EST
        ("2026-W44", utc(2026, 11, 2, 13, 0)),  # DST ended Sun 1 November: 08:00 EST
        ("2026-W43", utc(2026, 10, 26, 12, 0)),  # the week before: 08:00 EDT
    ],
)
def test_dst_changes_move_the_utc_publish_time_not_the_local_one(week: str, due: datetime) -> None:
    assert publish_time(week, NEW_YORK) == due
    assert decide(due - timedelta(seconds=1), NEW_YORK, facts(week)).action is Action.WAIT
    assert latest_due_week(due, NEW_YORK) == week
    assert decide(due, NEW_YORK, facts(week)).action is Action.PUBLISH
    assert decide(due + timedelta(hours=12), NEW_YORK, facts(week)).action is Action.PUBLISH
    late = decide(due + timedelta(hours=12, minutes=1), NEW_YORK, facts(week))
    assert late.action is Action.SKIP_LATE


def test_issue_windows_tile_across_dst_in_new_york() -> None:
    start, end = issue_window("2026-W10", NEW_YORK)
    assert end - start == timedelta(hours=167)  # the spring-forward week is an hour short
    _, previous_end = issue_window("2026-W09", NEW_YORK)
    assert previous_end == start
    autumn_start, autumn_end = issue_window("2026-W44", NEW_YORK)
    assert autumn_end - autumn_start == timedelta(hours=169)


def post(published: datetime, first_seen: datetime, pid: str = "p") -> Post:
    return Post(
        feed_url="https://feed.example/rss",
        post_id=pid,
        url=f"https://feed.example/{pid}",
        title=pid,
        summary="",
        published=published,
        first_seen=first_seen,
    )


def test_lookback_counts_from_the_first_run() -> None:
    assert lookback_start(None, TOKYO) is None
    assert lookback_start(INSTALLED, TOKYO) == INSTALLED - timedelta(days=7)
    assert lookback_start(INSTALLED, settings({"lookback": "2d"})) == INSTALLED - timedelta(days=2)


def test_a_post_arriving_after_its_issue_was_sent_goes_into_the_next_issue() -> None:
    assert week_containing(W47_DUE - timedelta(hours=1), TOKYO) == W47
    assert week_containing(W47_DUE, TOKYO) == "2026-W48"
    frozen = {W47: W47_DUE + timedelta(minutes=2)}
    in_w47 = W47_DUE - timedelta(days=1)
    on_time = post(in_w47, W47_DUE + timedelta(minutes=1), "on-time")  # before the freeze
    late = post(in_w47, W47_DUE + timedelta(hours=5), "late")
    candidates = [on_time, late]
    assert late_posts("2026-W48", candidates, frozen, TOKYO) == [late]
    assert late_posts(W47, candidates, frozen, TOKYO) == []
    assert late_posts("2026-W49", candidates, frozen, TOKYO) == []
    # Its own week not sent yet (or skipped): it is not late, it stays where it is.
    assert late_posts("2026-W48", candidates, {}, TOKYO) == []
    # The next issue went out early, before the post arrived: the one after takes it.
    frozen["2026-W48"] = W47_DUE + timedelta(hours=4)
    assert late_posts("2026-W49", candidates, frozen, TOKYO) == [late]


def test_quiet_weeks_are_mailed_only_when_configured() -> None:
    from digest.models import Issue

    empty = Issue(
        week=W47,
        number=1,
        title="t",
        language="en",
        timezone="Asia/Tokyo",
        start=W47_DUE - timedelta(days=7),
        end=W47_DUE,
        sections=(),
        generated_at=W47_DUE,
    )
    assert not is_mailable(empty, TOKYO)
    assert is_mailable(empty, settings({"empty_week": "quiet"}))
