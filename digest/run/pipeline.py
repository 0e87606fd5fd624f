"""Orchestration: the stages in order, and nothing else.

Owns: calling the stages (gather, select, render, archive, deliver) in the
right order with the right inputs, the publishing lock around building and
sending, the reports each step returns, and the unattended run (`run_once`:
gather, then act on `schedule.decide` for the due weeks, then write the run
report), shared by `digest run` and `digest daemon`. Every decision is made by the pure
stage it belongs to; this module only moves data between them and the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from digest.config import Settings
from digest.credentials import Secrets
from digest.editorial.classify import Classifier
from digest.editorial.entities import EntityFileError
from digest.editorial.relevance import Relevance, load_topics
from digest.editorial.selection import (
    LATE_HORIZON,
    build_issue,
    is_mailable,
    issue_window,
    late_posts,
    latest_due_week,
    lookback_start,
    previous_week,
    publish_time,
)
from digest.errors import ConfigError, DigestError, LockBusy
from digest.fetch.gather import gather
from digest.logs import IN_SUMMARY
from digest.mail.compose import PreparedIssue, prepare
from digest.mail.deliver import DeliveryReport, SendStopped, deliver, send_test_copy
from digest.mail.signing import make_signer
from digest.mail.transport import make_transport
from digest.mail.variants import Variants
from digest.models import Issue, Post
from digest.render.choice import Choice, full_choice, reader_choice, variant_of
from digest.render.issue import RenderedIssue, personalize, render_issue, render_variant
from digest.run.links import placeholder_link
from digest.run.runreport import RunReport, feed_health, log_report, summarize, write_report
from digest.run.schedule import WeekFacts, decide
from digest.state.files import write_atomic
from digest.state.lock import publishing_lock
from digest.state.store import Store
from digest.web.archive import write_issue

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class BuiltIssue:
    issue: Issue
    rendered: RenderedIssue
    path: Path  # the archive's web page of the issue
    seconds: float  # select + render + archive


def feed_names(settings: Settings, store: Store) -> dict[str, str]:
    """Display name per feed: the config's `name`, else the feed's own title, else its host."""
    names = {}
    for feed in settings.feeds:
        title = store.feed_state(feed.url).title
        names[feed.url] = feed.name or title or (urlsplit(feed.url).hostname or feed.url)
    return names


def issue_posts(settings: Settings, store: Store, week: str) -> tuple[list[Post], list[Post]]:
    """The posts `week`'s issue is made of: (its window's, late ones of earlier weeks).

    A frozen (sent) issue is made of its recorded posts, nothing else. Otherwise:
    the posts of its window, plus those that arrived after their own issue was
    sent (`selection.late_posts`), without any published before the lookback of
    the first run (`selection.lookback_start`).
    """
    start, end = issue_window(week, settings)
    if store.issue_frozen_at(week) is not None:
        snapshot = store.issue_snapshot(week)
        return [p for p in snapshot if p.published >= start], [
            p for p in snapshot if p.published < start
        ]
    candidates = store.posts_first_seen_between(start - LATE_HORIZON, end, published_before=start)
    late = late_posts(week, candidates, store.frozen_weeks(), settings)
    not_before = lookback_start(store.installed_at(), settings)
    window = store.posts_between(start, end)
    if not_before is not None:
        window = [p for p in window if p.published >= not_before]
        late = [p for p in late if p.published >= not_before]
    return window, late


def issue_model(
    settings: Settings,
    store: Store,
    week: str,
    now: datetime,
    *,
    number: int,
    names: Classifier | None = None,
    edited: bool = True,
) -> Issue:
    """The issue model for `week` from the stored posts (reads the store only).

    A frozen issue is rebuilt from its recorded posts and dated when it was
    frozen, so `build --week` gives the issue that was sent. `names`: a
    classifier already built for these settings (else one is built). The
    editor's decisions about the week (`digest edit`) are applied, unless
    `edited` is False (the issue digest builds on its own).
    """
    window, late = issue_posts(settings, store, week)
    frozen_at = store.issue_frozen_at(week)
    return build_issue(
        window,
        late=late,
        settings=settings,
        week=week,
        number=number,
        now=frozen_at or now,
        feed_names=feed_names(settings, store),
        feeds={f.url: f for f in settings.feeds},
        classifier=names or classifier(settings),
        relevance=Relevance(load_topics(settings.topics_file)),
        decisions=store.editorial_decisions(week) if edited else None,
    )


def classifier(settings: Settings) -> Classifier:
    """The country classifier for these settings: CLDR names, places.toml, the
    knowledge base with the user's `entities.tsv`, and [aliases]; its compiled
    names are cached beside the database (`cache/`), rebuilt when a file changes."""
    try:
        return Classifier.from_files(
            settings.digest.countries,
            settings.aliases,
            settings.places_file,
            user_entities=settings.entities_file,
            cache_dir=settings.storage_path.parent / "cache",
        )
    except EntityFileError as e:
        raise ConfigError(
            str(e), file=str(settings.source), key="entities",
            hint="see config/entities/README.md for the columns",
        ) from e  # fmt: skip


def freeze_week(settings: Settings, store: Store, week: str, now: datetime) -> bool:
    """Record the posts of `week`'s issue, once: from then on it never changes.

    Call under the publishing lock, before the first message goes out. Returns
    False when the week was frozen already (a resumed send).
    """
    if store.issue_frozen_at(week) is not None:
        return False
    store.issue_number(week, now)
    window, late = issue_posts(settings, store, week)
    return store.freeze_issue(week, [*window, *late], now)


def build(
    settings: Settings, store: Store, week: str, now: datetime, *, freeze: bool = False
) -> BuiltIssue:
    """Select, render and archive the issue for `week` (any week, past ones too).

    With `freeze`, the issue's posts are recorded first (`freeze_week`): `send`
    asks for it, `build` and `preview` do not. A week with nothing to mail
    (`selection.is_mailable`) raises `EmptyWeek` before anything is numbered,
    frozen or archived: an empty issue never reaches the archive or its feed.
    """
    started = time.perf_counter()
    issue = issue_model(settings, store, week, now, number=store.next_issue_number(week))
    if not is_mailable(issue, settings):
        window, late = issue_posts(settings, store, week)
        raise EmptyWeek(week, len(window) + len(late))
    if freeze and freeze_week(settings, store, week, now):
        # Made again from what was just recorded, so the issue is its record to the post.
        issue = issue_model(settings, store, week, now, number=store.issue_number(week, now))
    elif (number := store.issue_number(week, now)) != issue.number:
        issue = replace(issue, number=number)
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


def preview(
    settings: Settings,
    store: Store,
    week: str,
    now: datetime,
    folder: Path,
    *,
    language: str = "",
    countries: tuple[str, ...] = (),
) -> Path:
    """Render `week` as its email into `folder` and return the page; change no state.

    Nothing is archived, no issue number is assigned (the one it would get is
    shown), nothing is sent. The unsubscribe link points nowhere real. With
    `language` or `countries`: the variant a reader of that choice would get.
    """
    issue = issue_model(settings, store, week, now, number=store.next_issue_number(week))
    choice = variant_of(reader_choice(language, countries, settings), issue)
    if choice == full_choice(settings):
        rendered = render_issue(issue, settings)
    else:
        rendered = render_variant(issue, settings, choice)
    page = folder / f"{week}.html"
    write_atomic(page, personalize(rendered.html_email, PREVIEW_UNSUBSCRIBE_URL, html=True))
    write_atomic(
        folder / f"{week}.txt", personalize(rendered.text, PREVIEW_UNSUBSCRIBE_URL, html=False)
    )
    return page


def reader_variants(
    settings: Settings, store: Store, issue: Issue, full: PreparedIssue
) -> Variants:
    """The variants of `issue` its readers get: the full issue (`full`, prepared)
    and one per other distinct choice of countries and language among the active
    subscribers (`digest.render.choice`), each rendered and prepared once, now,
    before any message goes out. A reader whose choice changes during the send gets
    theirs made when their message is composed."""

    def make(choice: Choice) -> PreparedIssue:
        rendered = render_variant(issue, settings, choice)
        log.info("%s: rendered the variant %s", full.week, choice)
        return prepare(full.week, rendered, settings)

    variants = Variants(full, key=_variant_key(settings, issue), make=make)
    variants.add(store.reader_choices())
    return variants


def count_variants(settings: Settings, store: Store, issue: Issue) -> int:
    """How many messages `reader_variants` would render (a dry run renders none)."""
    key = _variant_key(settings, issue)
    return len({full_choice(settings), *(key(*pair) for pair in store.reader_choices())})


def _variant_key(settings: Settings, issue: Issue) -> Callable[[str, tuple[str, ...]], Choice]:
    def key(language: str, countries: tuple[str, ...]) -> Choice:
        return variant_of(reader_choice(language, countries, settings), issue)

    return key


class EmptyWeek(DigestError):
    """`week`'s issue has no stories (and `[schedule] empty_week` is "skip"):
    nothing is built, numbered, frozen, archived or sent. Never a blank issue."""

    def __init__(self, week: str, posts: int) -> None:
        why = f"none of the {posts} posts of its window kept" if posts else "no posts in its window"
        super().__init__(
            f"{week}: no stories ({why}): nothing built, numbered, archived or sent",
            hint="`digest gather` fetches new posts and `digest feeds` shows what each feed "
            f"answered; `digest preview --week {week}` shows the empty page; "
            '[schedule] empty_week = "quiet" publishes a short quiet-week note instead',
        )
        self.week = week


def _require_mailable_links(settings: Settings) -> None:
    """Refuse to mail readers links that lead nowhere: none at all, or on a
    placeholder domain (`digest.run.links`)."""
    _require_unsubscribe_url(settings)
    refused = placeholder_link(settings)
    if refused is not None:
        raise refused


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
    stop: threading.Event | None = None,
    progress: Callable[[DeliveryReport], None] | None = None,
) -> tuple[BuiltIssue | None, DeliveryReport]:
    """Build `week` and mail it to every active subscriber whose message is due.

    Under the publishing lock. The issue is rendered and inlined once; each
    message is made by substitution (`digest.mail.compose`) and sent over
    `[delivery] connections` connections (`digest.mail.deliver`). The issue is marked
    sent when no message is left to try (none pending, in flight or deferred).
    With `stop` set (SIGTERM), the messages in flight finish and are committed.
    With no active subscriber and no send started, nothing is frozen, sent or
    marked sent (the report says `no_readers`): readers added later still get it.
    A week without stories is neither built nor archived (no `BuiltIssue`; the
    report says `empty`). Links on a placeholder domain are refused
    (`digest.run.links`), except by a dry run.
    """
    key = secrets.require_signing_key()
    if dry_run:
        _require_unsubscribe_url(settings)
    else:
        _require_mailable_links(settings)
    signer = make_signer(settings, secrets)
    if settings.smtp is not None and not dry_run:
        secrets.require_smtp_password(settings.smtp.username)
    with publishing_lock(settings.storage_path):
        # Nobody to send to (no active subscriber, no send started): the issue is
        # neither frozen nor marked sent, so readers added later still get it.
        nobody = not dry_run and not store.has_recipients(week)
        try:
            built = build(settings, store, week, clock(), freeze=not dry_run and not nobody)
        except EmptyWeek:
            log.warning("%s has no stories: nothing sent", week, extra=IN_SUMMARY)
            transport = make_transport(settings, secrets)
            return None, DeliveryReport(week=week, transport=transport.description, empty=True)
        if nobody:
            log.warning(
                "%s: no active subscribers: nothing sent, not marked sent", week, extra=IN_SUMMARY
            )
            transport = make_transport(settings, secrets)
            return built, DeliveryReport(
                week=week, transport=transport.description, no_readers=True
            )
        prepared = prepare(week, built.rendered, settings)
        # Readers' variants: rendered once per distinct choice, before anyone gets a
        # message (a dry run only counts them).
        messages: PreparedIssue | Variants = (
            prepared if dry_run else reader_variants(settings, store, built.issue, prepared)
        )
        report = deliver(
            store,
            messages,
            lambda: make_transport(settings, secrets),
            key,
            clock,
            settings.delivery,
            # Files in a folder gain nothing from parallel writers.
            connections=None if settings.smtp else 1,
            dry_run=dry_run,
            signer=signer,
            stop=stop,
            progress=progress,
        )
        if dry_run:
            report.variants = count_variants(settings, store, built.issue)
        if not dry_run and not store.ledger_open(week):
            store.mark_issue_sent(week, clock())
    return built, report


def send_test(
    settings: Settings, secrets: Secrets, store: Store, week: str, address: str, clock: Clock
) -> tuple[BuiltIssue, str]:
    """Mail one copy of `week` to `address`; no ledger row is touched. The copy is
    the variant that reader gets when `address` is a subscriber's (their countries
    and language), else the full issue."""
    key = secrets.require_signing_key()
    _require_unsubscribe_url(settings)
    signer = make_signer(settings, secrets)
    if settings.smtp is not None:
        secrets.require_smtp_password(settings.smtp.username)
    built = build(settings, store, week, clock())
    prepared = prepare(week, built.rendered, settings)
    reader = store.subscriber_by_email(address)
    if reader is not None:
        key_of = _variant_key(settings, built.issue)
        choice = key_of(reader.language, reader.countries)
        if choice != full_choice(settings):
            prepared = prepare(week, render_variant(built.issue, settings, choice), settings)
    message_id = send_test_copy(
        prepared, make_transport(settings, secrets), key, address, clock(), signer
    )
    return built, message_id


# -- unattended runs ------------------------------------------------------------

MAX_WEEKS_BACK = 53  # a run looks back at most this far for weeks nobody decided about


def week_facts(store: Store, week: str, installed_at: datetime) -> WeekFacts:
    """What `schedule.decide` needs to know about `week`, read from the store."""
    return WeekFacts(
        week=week,
        installed_at=installed_at,
        sent_at=store.issue_sent_at(week),
        frozen_at=store.issue_frozen_at(week),
        ledger_open=store.ledger_open(week),
        skipped=store.skipped_reason(week),
    )


def weeks_to_decide(
    store: Store, settings: Settings, now: datetime, installed_at: datetime
) -> list[str]:
    """The weeks a run decides about, oldest first: sends that started and did not
    finish, the weeks since the last one the store knows of (none due before the
    first run), and the newest due week. So a week missed while digest was down
    is recorded as skipped, never forgotten silently."""
    due = latest_due_week(now, settings)
    missed = []
    week = due
    for _ in range(MAX_WEEKS_BACK):
        week = previous_week(week)
        if (
            store.has_issue(week)
            or store.skipped_reason(week) is not None
            or publish_time(week, settings) < installed_at
        ):
            break
        missed.append(week)
    return list(dict.fromkeys([*store.unfinished_weeks(), *reversed(missed), due]))


def run_once(
    settings: Settings,
    secrets: Secrets,
    store: Store,
    clock: Clock,
    *,
    stop: threading.Event | None = None,
    verb: str = "run",
    progress: Callable[[DeliveryReport], None] | None = None,
) -> RunReport:
    """One unattended run; `digest run` (cron) and every job of `digest daemon`.

    Safe to call as often as anyone likes:

    1. the first run records its time (`installed_at`: the lookback and the
       "before install" rule count from it);
    2. gather: fetch every feed (conditional GET), store new posts;
    3. under the publishing lock, for each week of `weeks_to_decide`: decide
       (`schedule.decide`, the one rule) and act on it: publish or resume (freeze
       the issue's posts, then `send`), record a skip (once, logged as a warning),
       or nothing. An empty issue with `empty_week = "skip"` is recorded as
       skipped too. A due week with no active subscriber is neither sent nor
       recorded: the next run decides again (and says so);
    4. write the run report (`digest.run.runreport`) and log its summary, with
       every reader of any week whose copy is unknown or failed and unsettled.

    Raises `LockBusy` (after writing the report) when another process is
    publishing: it decides for itself. Any other `DigestError` is raised after
    the report is written too (a `SendStopped` with what the send did). With
    `stop` set (SIGTERM), no new send starts and a send in progress finishes its
    messages in flight.
    """
    installed_at = store.ensure_installed_at(clock())
    gathered = gather(settings, store, clock())
    now = clock()
    report = RunReport(
        week=latest_due_week(now, settings), gather=gathered, verb=verb, started_at=now
    )
    report.feeds = feed_health(
        gathered,
        store.feed_states(f.url for f in settings.feeds),
        store.newest_post_seen(),
        now,
    )
    try:
        with publishing_lock(settings.storage_path, nested=True):
            _act(settings, secrets, store, clock, report, installed_at, stop, progress)
    except LockBusy as e:
        report.action = "another process is publishing"
        report.notes.append(e.message)
        _finish_report(settings, store, report, clock())
        raise
    except DigestError as e:
        # The run stopped (the relay, a template, the disk): the report still says
        # what was done before, and which readers are without a copy.
        report.action = report.action or "stopped on an error"
        report.notes.append(f"error: {e.message}")
        if isinstance(e, SendStopped):
            report.delivery = e.report
        _finish_report(settings, store, report, clock())
        raise
    _finish_report(settings, store, report, clock())
    return report


def _act(
    settings: Settings,
    secrets: Secrets,
    store: Store,
    clock: Clock,
    report: RunReport,
    installed_at: datetime,
    stop: threading.Event | None,
    progress: Callable[[DeliveryReport], None] | None = None,
) -> None:
    now = clock()
    acted = False
    for week in weeks_to_decide(store, settings, now, installed_at):
        decision = decide(now, settings, week_facts(store, week, installed_at))
        report.decisions.append(decision)
        if decision.action.records_skip:
            if store.skip_week(week, now, f"{decision.action}: {decision.reason}"):
                log.warning(
                    "%s not published (%s): %s",
                    week,
                    decision.action,
                    decision.reason,
                    extra=IN_SUMMARY,  # `digest run` prints the decision
                )
            report.week, report.action, acted = week, "skipped", True
        elif decision.action.sends:
            if stop is not None and stop.is_set():
                report.notes.append(f"{week}: stopping; its send was not started")
                report.week, report.action = week, "stopped"
                return
            if not store.has_recipients(week):
                # Not frozen, not skipped, not sent: decided again by the next run, so
                # readers added within the lateness still get it; logged each time.
                log.warning(
                    "%s is due but there are no active subscribers: nothing sent",
                    week,
                    extra=IN_SUMMARY,
                )
                report.week, report.action, acted = (
                    week,
                    "no active subscribers, nothing sent",
                    True,
                )
                continue
            log.info("%s: %s (%s)", week, decision.action, decision.reason)
            _require_mailable_links(settings)  # before the week is fixed for good
            # Fixed even when empty, so a post of this week that arrives later goes
            # into the next issue; an empty one is then numbered, never archived.
            freeze_week(settings, store, week, clock())
            built, delivery = send(
                settings, secrets, store, week, clock, stop=stop, progress=progress
            )
            report.week, report.delivery, acted = week, delivery, True
            report.issue = built.issue if built else None
            if delivery.empty:
                store.skip_week(week, clock(), "no stories (empty_week = skip)")
                report.action = "no stories, nothing sent"
            elif delivery.no_readers:
                report.action = "no active subscribers, nothing sent"
            else:
                report.action = "deferred remain" if store.ledger_open(week) else "sent"
        elif not acted:
            report.week, report.action = week, str(decision.action)


def _finish_report(settings: Settings, store: Store, report: RunReport, now: datetime) -> None:
    report.ledger = store.ledger_counts(report.week)
    report.unsettled = store.unsettled_deliveries(None)
    data = summarize(report)
    log_report(data)
    try:
        report.report_path = write_report(settings.schedule.reports_dir, data, now)
    except OSError as e:
        log.error("cannot write the run report into %s: %s", settings.schedule.reports_dir, e)
