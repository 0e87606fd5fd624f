"""The report of one unattended run: what happened, for the log and for a file.

Owns: judging feed health (ok / failed / stale), the `RunReport` of a run, turning it into a
JSON-able summary and readable lines, and writing it under `[schedule]
reports_dir` (a folder only the owner can read: reports name feeds and the
counts of a mailing list). Doesn't own: doing any of it (`digest.run.pipeline`).

A feed is *stale* when it did not fail in this run but either no fetch has
succeeded for `STALE_FETCH` (2 days), or none of its posts was first seen in
the last `STALE_POSTS` (14 days): it answers, but nothing new comes out of it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digest.fetch.gather import FAILED, GONE, WAITING, GatherReport
from digest.logs import IN_SUMMARY
from digest.mail.deliver import DeliveryReport
from digest.mail.report import unsettled_lines
from digest.models import FeedState, Issue
from digest.run.schedule import Decision
from digest.state.files import write_atomic
from digest.state.ledger import DeliveryRow

log = logging.getLogger(__name__)

STALE_FETCH = timedelta(days=2)
STALE_POSTS = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    url: str
    status: str  # "ok" | "failed" | "stale" | "gone" | "waiting"
    detail: str = ""


@dataclass
class RunReport:
    """What one `run_once` did, for the log, the report file and the exit code."""

    week: str  # the newest due issue, or the one acted on
    gather: GatherReport
    action: str = ""  # "sent" | "already sent" | "deferred remain" | "skipped" | ...
    issue: Issue | None = None  # the issue acted on, when one was built
    delivery: DeliveryReport | None = None
    notes: list[str] = field(default_factory=list)
    verb: str = "run"  # "run" (cron) | "daemon"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    decisions: list[Decision] = field(default_factory=list)
    feeds: list[FeedHealth] = field(default_factory=list)
    ledger: dict[str, int] = field(default_factory=dict)  # status -> count, of `week`
    # Rows of every week whose reader may not have the issue (unknown or failed),
    # not settled by an operator: a run exits 1 while there are any.
    unsettled: list[DeliveryRow] = field(default_factory=list)
    report_path: Path | None = None


def feed_health(
    gathered: GatherReport,
    states: Mapping[str, FeedState],
    newest_post: Mapping[str, datetime],
    now: datetime,
) -> list[FeedHealth]:
    """Each feed of this run: failed (with the error), gone (410, no longer polled),
    waiting (a server's Retry-After), stale (and why), or ok."""
    health = []
    for result in gathered.results:
        if result.status in (FAILED, GONE, WAITING):
            status = {FAILED: "failed", GONE: "gone", WAITING: "waiting"}[result.status]
            health.append(FeedHealth(result.url, status, result.error or status))
            continue
        state = states.get(result.url)
        last_ok = state.last_ok if state else None
        newest = newest_post.get(result.url)
        if last_ok is None or now - last_ok > STALE_FETCH:
            health.append(FeedHealth(result.url, "stale", "no successful fetch for 2 days"))
        elif newest is None or now - newest > STALE_POSTS:
            seen = f"since {newest:%Y-%m-%d}" if newest else "ever"
            health.append(FeedHealth(result.url, "stale", f"no new post {seen}"))
        else:
            health.append(FeedHealth(result.url, "ok"))
    return health


def summarize(report: RunReport) -> dict[str, Any]:
    """The run as plain data (what the report file holds)."""
    feeds = report.feeds
    issue = report.issue
    return {
        "verb": report.verb,
        "started_at": report.started_at.astimezone(UTC).isoformat(),
        "week": report.week,
        "action": report.action,
        "decisions": [
            {"week": d.week, "action": str(d.action), "reason": d.reason} for d in report.decisions
        ],
        "feeds": {
            "ok": sum(1 for f in feeds if f.status == "ok"),
            "failed": [{"url": f.url, "error": f.detail} for f in feeds if f.status == "failed"],
            "stale": [{"url": f.url, "why": f.detail} for f in feeds if f.status == "stale"],
            "gone": [{"url": f.url, "why": f.detail} for f in feeds if f.status == "gone"],
            "waiting": [{"url": f.url, "why": f.detail} for f in feeds if f.status == "waiting"],
            "new_posts": report.gather.new_posts,
        },
        "stories_per_country": (
            {s.code: len(s.stories) for s in issue.sections} if issue is not None else {}
        ),
        "stories": issue.story_count if issue is not None else 0,
        "duplicates_merged": issue.duplicates_merged if issue is not None else 0,
        "messages": {
            status: report.ledger.get(status, 0)
            for status in ("sent", "deferred", "failed", "unknown", "pending", "resent")
        },
        # Renderings made for this send: the full issue and one per other
        # (language, countries) choice among the readers; 0 when nothing was sent.
        "variants": report.delivery.variants if report.delivery is not None else 0,
        "unsettled": [
            {"week": r.week, "address": r.email, "status": r.status, "reason": r.detail}
            for r in report.unsettled
        ],
        "notes": list(report.notes),
    }


def summary_lines(data: Mapping[str, Any]) -> list[str]:
    """A few readable lines of the same summary, for the log and the terminal."""
    feeds = data["feeds"]
    messages = data["messages"]
    countries = ", ".join(f"{c} {n}" for c, n in data["stories_per_country"].items()) or "none"
    lines = [f"{d['week']}: {d['action']}: {d['reason']}" for d in data["decisions"]]
    lines.append(
        f"feeds: {feeds['ok']} ok, {len(feeds['failed'])} failed, {len(feeds['stale'])} stale; "
        f"{feeds['new_posts']} new posts"
    )
    # Gather's errors start with their kind ("failed: HTTP 404"): not said twice.
    lines += [
        f"  failed {f['url']}: {f['error'].removeprefix('failed: ')}" for f in feeds["failed"]
    ]
    lines += [f"  stale  {f['url']}: {f['why']}" for f in feeds["stale"]]
    lines += [f"  gone   {f['url']}: {f['why']}" for f in feeds["gone"]]
    lines += [f"  wait   {f['url']}: {f['why']}" for f in feeds["waiting"]]
    lines.append(
        f"{data['week']}: {data['stories']} stories ({countries}), "
        f"{data['duplicates_merged']} duplicates merged; messages: {messages['sent']} sent, "
        f"{messages['deferred']} deferred, {messages['failed']} failed, "
        f"{messages['unknown']} unknown"
    )
    lines += [f"note: {n}" for n in data["notes"]]
    lines += unsettled_lines(None, [_row(u) for u in data.get("unsettled", [])])
    return lines


def _row(item: Mapping[str, str]) -> DeliveryRow:
    return DeliveryRow(
        subscriber_id=0,
        email=item["address"],
        status=item["status"],
        attempts=0,
        unknowns=0,
        next_attempt=None,
        message_id="",
        detail=item["reason"],
        week=item["week"],
    )


def write_report(folder: Path, data: Mapping[str, Any], now: datetime) -> Path:
    """Write `data` as `<UTC timestamp>-<verb>.json` into `folder` (created 0700)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask, and not applied if it exists
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{data['verb']}.json"
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return path


def log_report(data: Mapping[str, Any]) -> None:
    """Log the summary at INFO (a skip is logged as a warning when it is recorded),
    and each reader without a confirmed copy at WARNING: a daemon's log says it
    every run until an operator settles them."""
    # IN_SUMMARY: `digest run` prints these itself; the daemon's log is where they live.
    for line in summary_lines(data):
        log.info("%s", line, extra=IN_SUMMARY)
    for item in data.get("unsettled", []):
        log.warning(
            "%s: %s's copy is %s (%s): retry or settle it with `digest deliveries`",
            item["week"],
            item["address"],
            item["status"],
            item["reason"],
            extra=IN_SUMMARY,
        )
