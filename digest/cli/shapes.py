"""What `--json` prints: one JSON object per subscriber or feed, or per summary.

Owns: the JSON shapes of `subscribers list --json`, `feeds [list] --json` (JSON lines:
one object per line), `gather --json` and `run --json` (one object on stdout),
as the README documents them. Every key is always there (null or [] when there
is nothing); times are ISO 8601 in UTC; text is UTF-8, never \\u-escaped.
Doesn't own: what the reports hold (`digest.fetch.gather`, `digest.mail.report`,
`digest.run.runreport`: `run --json` is the run report file's object, plus a few
keys) or the human lines.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

# Types only: `subscribers list --json` must not import the stages whose reports
# the other shapes print (tests/test_startup.py).
if TYPE_CHECKING:
    from digest.config import FeedSettings
    from digest.fetch.gather import GatherReport
    from digest.fetch.status import FeedStatus
    from digest.mail.report import DeliveryReport
    from digest.models import Subscriber
    from digest.run.runreport import RunReport


def print_json(data: dict[str, Any]) -> None:
    """One object, one line, on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _when(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def subscriber_json(s: Subscriber) -> dict[str, Any]:
    return {
        "email": s.email,
        "name": s.name,
        "status": s.status,
        "created": _when(s.created),
        "confirmed": _when(s.confirmed),
        "language": s.language,  # "": the digest's [digest] language
        "countries": list(s.countries),  # []: every section
    }


def feed_json(feed: FeedSettings, f: FeedStatus) -> dict[str, Any]:
    """A configured feed: its keys as the config file has them, and its standing."""
    return {
        "url": f.url,
        "name": feed.name,
        "country": feed.country,
        "language": feed.language,
        "filter": feed.filter,
        "local": feed.local,
        "status": f.status,
        "detail": f.detail,
        "fetched_from": f.fetched_from,
        "moved_to": f.moved_to,
        "last_ok": _when(f.last_ok),
        "failures": f.failures,
    }


def gather_json(report: GatherReport) -> dict[str, Any]:
    """What `GatherReport.summary_lines` says, and each feed's result."""
    return {
        "feeds": len(report.results),
        "fetched": sum(1 for r in report.results if r.status == "ok"),
        "not_modified": sum(1 for r in report.results if r.status == "not_modified"),
        "failed": [{"url": r.url, "error": r.error} for r in report.failed],
        "gone": [{"url": r.url, "why": r.error} for r in report.gone],
        "waiting": [{"url": r.url, "why": r.error} for r in report.waiting],
        "warnings": [{"url": r.url, "warning": r.warning} for r in report.results if r.warning],
        "entries": sum(r.entries for r in report.results),
        "new_posts": report.new_posts,
        "all_failed": report.all_failed,
        "results": [
            {
                "url": r.url,
                "status": r.status,
                "entries": r.entries,
                "new_posts": r.new_posts,
                "error": r.error,
                "warning": r.warning,
                "title": r.title,
                "seconds": round(r.seconds, 3),
            }
            for r in report.results
        ],
    }


def delivery_json(report: DeliveryReport) -> dict[str, Any]:
    """What `DeliveryReport.summary_lines` says: this send's counts and who went wrong."""
    return {
        "week": report.week,
        "sent": report.sent,
        "failed": [{"address": a, "reason": why} for a, why in report.failed],
        "deferred": [{"address": a, "reason": why} for a, why in report.deferred],
        "unknown": list(report.unknown),
        "resent": list(report.resent),
        "bounced": list(report.bounced),
        "already_sent": report.already,
        "unsubscribed_meanwhile": report.suppressed,
        "variants": report.variants,
        "stopped": report.stopped,
        "empty": report.empty,
        "no_readers": report.no_readers,
        "next_retry": _when(report.next_retry),
        "seconds": round(report.seconds, 3),
        "connections": report.connections,
        "transport": report.transport,
        "unsettled": [
            {"week": r.week, "address": r.email, "status": r.status, "reason": r.detail}
            for r in report.unsettled
        ],
    }


def run_json(report: RunReport, *, stopped: bool) -> dict[str, Any]:
    """The run report's object (`runreport.summarize`, as the file holds it), with
    this run's gather and send in full, whether it stopped on request, and the
    report file's path."""
    from digest.run.runreport import summarize

    return {
        **summarize(report),
        "stopped": stopped,
        "gather": gather_json(report.gather),
        "delivery": delivery_json(report.delivery) if report.delivery else None,
        "report": str(report.report_path) if report.report_path else None,
    }
