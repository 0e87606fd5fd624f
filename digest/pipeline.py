"""Orchestration: the stages in order, and nothing else.

Owns: calling the stages (gather, select, render, archive, deliver) in the
right order with the right inputs, the publishing lock around building and
sending, and the reports each step returns. Every decision is made by the pure
stage it belongs to; this module only moves data between them and the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from digest.archive import write_issue
from digest.classify import Classifier, load_places
from digest.compose import prepare
from digest.config import Secrets, Settings
from digest.deliver import (
    DeliveryReport,
    OutboxTransport,
    SmtpTransport,
    Transport,
    deliver,
    send_test_copy,
)
from digest.errors import ConfigError
from digest.files import write_atomic
from digest.gather import GatherReport, gather
from digest.lock import publishing_lock
from digest.models import Issue
from digest.relevance import Relevance, load_topics
from digest.render import RenderedIssue, personalize, render_issue
from digest.selection import build_issue, issue_window, latest_due_week
from digest.signing import Signer
from digest.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class BuiltIssue:
    issue: Issue
    rendered: RenderedIssue
    path: Path  # the archive's web page of the issue
    seconds: float  # select + render + archive


@dataclass
class RunReport:
    """What one `run_once` did, for the log and the exit code."""

    week: str
    gather: GatherReport
    action: str = ""  # "sent" | "already sent" | "deferred remain" | ...
    built: BuiltIssue | None = None
    delivery: DeliveryReport | None = None
    notes: list[str] = field(default_factory=list)


def feed_names(settings: Settings, store: Store) -> dict[str, str]:
    """Display name per feed: the config's `name`, else the feed's own title, else its host."""
    names = {}
    for feed in settings.feeds:
        title = store.feed_state(feed.url).title
        names[feed.url] = feed.name or title or (urlsplit(feed.url).hostname or feed.url)
    return names


def issue_model(
    settings: Settings, store: Store, week: str, now: datetime, *, number: int
) -> Issue:
    """The issue model for `week` from the stored posts (reads the store only)."""
    start, end = issue_window(week, settings)
    return build_issue(
        store.posts_between(start, end),
        settings=settings,
        week=week,
        number=number,
        now=now,
        feed_names=feed_names(settings, store),
        feeds={f.url: f for f in settings.feeds},
        classifier=Classifier(
            settings.digest.countries, settings.aliases, load_places(settings.places_file)
        ),
        relevance=Relevance(load_topics(settings.topics_file)),
    )


def build(settings: Settings, store: Store, week: str, now: datetime) -> BuiltIssue:
    """Select, render and archive the issue for `week` (any week, past ones too)."""
    started = time.perf_counter()
    issue = issue_model(settings, store, week, now, number=store.issue_number(week, now))
    rendered = render_issue(issue, settings)
    path = write_issue(issue, rendered, settings)
    seconds = time.perf_counter() - started
    log.info(
        "built %s: %d stories, %d duplicates merged, HTML %d bytes, %.2f s -> %s",
        week,
        issue.story_count,
        issue.duplicates_merged,
        len(rendered.html_email.encode()),
        seconds,
        path,
    )
    return BuiltIssue(issue=issue, rendered=rendered, path=path, seconds=seconds)


PREVIEW_UNSUBSCRIBE_URL = "https://example.invalid/unsubscribe?token=preview"


def preview(settings: Settings, store: Store, week: str, now: datetime, folder: Path) -> Path:
    """Render `week` as its email into `folder` and return the page; change no state.

    Nothing is archived, no issue number is assigned (the one it would get is
    shown), nothing is sent. The unsubscribe link points nowhere real.
    """
    issue = issue_model(settings, store, week, now, number=store.next_issue_number(week))
    rendered = render_issue(issue, settings)
    page = folder / f"{week}.html"
    write_atomic(page, personalize(rendered.html_email, PREVIEW_UNSUBSCRIBE_URL, html=True))
    write_atomic(
        folder / f"{week}.txt", personalize(rendered.text, PREVIEW_UNSUBSCRIBE_URL, html=False)
    )
    return page


def make_signer(settings: Settings, secrets: Secrets) -> Signer | None:
    """A DKIM signer when `[dkim]` is configured (its key checked now, before sending)."""
    if settings.dkim is None:
        return None
    return Signer(settings.dkim, secrets.require_dkim_key())


def make_transport(settings: Settings, secrets: Secrets) -> Transport:
    if settings.smtp is None:
        return OutboxTransport(settings.outbox_dir)
    return SmtpTransport(settings.smtp, secrets.smtp_password)


def _require_unsubscribe_url(settings: Settings) -> None:
    if not settings.unsubscribe_url:
        raise ConfigError(
            "no unsubscribe URL: every message needs a one-click unsubscribe link",
            file=str(settings.source),
            key="archive.base_url",
            hint="set [archive] base_url (or [unsubscribe] url) to your public https address",
        )


def send(
    settings: Settings,
    secrets: Secrets,
    store: Store,
    week: str,
    clock: Clock,
    *,
    dry_run: bool = False,
) -> tuple[BuiltIssue, DeliveryReport]:
    """Build `week` and mail it to every active subscriber not yet served."""
    key = secrets.require_signing_key()
    _require_unsubscribe_url(settings)
    signer = make_signer(settings, secrets)
    with publishing_lock(settings.storage_path):
        built = build(settings, store, week, clock())
        transport = make_transport(settings, secrets)
        if built.issue.story_count == 0:
            log.warning("%s has no stories: nothing sent", week)
            return built, DeliveryReport(week=week, transport=transport.description, empty=True)
        prepared = prepare(week, built.rendered, settings)
        report = deliver(store, prepared, transport, key, clock, dry_run=dry_run, signer=signer)
        if not dry_run and not report.deferred:
            store.mark_issue_sent(week, clock())
    return built, report


def send_test(
    settings: Settings, secrets: Secrets, store: Store, week: str, address: str, clock: Clock
) -> tuple[BuiltIssue, str]:
    """Mail one copy of `week` to `address`; no ledger row is touched."""
    key = secrets.require_signing_key()
    _require_unsubscribe_url(settings)
    signer = make_signer(settings, secrets)
    built = build(settings, store, week, clock())
    prepared = prepare(week, built.rendered, settings)
    message_id = send_test_copy(
        prepared, make_transport(settings, secrets), key, address, clock(), signer
    )
    return built, message_id


def run_once(settings: Settings, secrets: Secrets, store: Store, clock: Clock) -> RunReport:
    """One unattended run, safe to call as often as cron likes:

    1. gather: fetch every feed (conditional GET), store new posts;
    2. week = the newest issue whose publish time has passed (`latest_due_week`);
    3. if that issue is not marked sent: under the publishing lock, build it
       (select → classify → merge → render → inline CSS → archive) and deliver it
       to every active subscriber without a ledger row; mark it sent when nothing
       was deferred.
    """
    gathered = gather(settings, store, clock())
    week = latest_due_week(clock(), settings)
    report = RunReport(week=week, gather=gathered)
    if store.issue_sent_at(week) is not None:
        report.action = "already sent"
        return report
    built, delivery = send(settings, secrets, store, week, clock)
    report.built, report.delivery = built, delivery
    if delivery.empty:
        report.action = "no stories, nothing sent"
    else:
        report.action = "deferred remain" if delivery.deferred else "sent"
    return report
