"""Which week an issue is, and which stories go in it.

Owns: the pure decisions of an issue. Week arithmetic (an issue covers the
7 days that end at its publish time, and is named by the ISO week in which most
of those days fall), merging reports of one event into one story (the decision
itself is `digest.cluster`'s), classification into country sections, ordering
and capping. Takes data and a `now`; touches no network, no
database and no clock. Doesn't own: storage (`digest.store`) or presentation
(`digest.render`).

Naming, with `publish = "mon 08:00"`: the issue published Monday 2026-11-23
08:00 covers Mon 16th 08:00 → Mon 23rd 08:00, mostly ISO week 2026-W47, so it
is "2026-W47". With `publish = "fri 17:00"`, Friday 2026-11-20 17:00 covers
Fri 13th 17:00 → Fri 20th 17:00, mostly the current week: also "2026-W47".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from digest.classify import Classifier
from digest.cluster import Doc, cluster
from digest.config import FeedSettings, Settings
from digest.errors import WeekError
from digest.messages import country_name as messages_country_name
from digest.messages import message
from digest.models import GLOBAL_SECTION, AlsoReported, Issue, Post, Section, Story
from digest.relevance import Relevance

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
HALF_WINDOW = timedelta(days=3, hours=12)


# -- weeks ---------------------------------------------------------------------


def parse_week(week: str) -> tuple[int, int]:
    """`"2026-W47"` → (2026, 47). Raises `WeekError`."""
    m = WEEK_RE.match(week.strip())
    if not m:
        raise WeekError(f"{week!r} is not an ISO week", hint="write it like 2026-W47")
    year, num = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, num, 1)
    except ValueError as e:
        raise WeekError(f"{week!r}: {year} has no week {num}") from e
    return year, num


def format_week(year: int, num: int) -> str:
    return f"{year:04d}-W{num:02d}"


def _local_publish(monday: date, settings: Settings) -> datetime:
    publish = settings.digest.publish
    day = monday + timedelta(days=publish.weekday)
    return datetime.combine(day, publish.at, tzinfo=settings.digest.tz)


def week_of_publish(publish_at: datetime, tz: ZoneInfo) -> str:
    """The ISO week in which most of the 7 days before `publish_at` fall."""
    middle = publish_at.astimezone(tz) - HALF_WINDOW
    year, num, _ = middle.isocalendar()
    return format_week(year, num)


def publish_time(week: str, settings: Settings) -> datetime:
    """When the issue named `week` is published (UTC): the end of its window."""
    year, num = parse_week(week)
    monday = date.fromisocalendar(year, num, 1)
    tz = settings.digest.tz
    for candidate in (monday, monday + timedelta(days=7)):
        local = _local_publish(candidate, settings)
        if week_of_publish(local, tz) == week:
            return local.astimezone(UTC)
    raise AssertionError(f"no publish time names {week}")  # the two candidates cover all cases


def issue_window(week: str, settings: Settings) -> tuple[datetime, datetime]:
    """[start, end) in UTC: the 7 local days that end at the publish time.

    Computed on the local wall clock, so consecutive issues tile without gap or
    overlap across daylight-saving changes.
    """
    end = publish_time(week, settings)
    end_local = end.astimezone(settings.digest.tz)
    start_local = (end_local.replace(tzinfo=None) - timedelta(days=7)).replace(
        tzinfo=settings.digest.tz
    )
    return start_local.astimezone(UTC), end


def latest_due_week(now: datetime, settings: Settings) -> str:
    """The newest issue whose publish time is at or before `now`."""
    tz = settings.digest.tz
    local_now = now.astimezone(tz)
    monday = local_now.date() - timedelta(days=local_now.weekday())
    publish = _local_publish(monday, settings)
    if publish > local_now:
        publish = _local_publish(monday - timedelta(days=7), settings)
    return week_of_publish(publish, tz)


def next_week(week: str) -> str:
    year, num = parse_week(week)
    following = date.fromisocalendar(year, num, 1) + timedelta(days=7)
    y, n, _ = following.isocalendar()
    return format_week(y, n)


# -- stories -------------------------------------------------------------------


def country_name(code: str, language: str) -> str:
    """A reader-facing name for a section: CLDR through Babel, short where it helps."""
    if code == GLOBAL_SECTION:
        return message(language, "global")
    return messages_country_name(code, language)


@dataclass(frozen=True, slots=True)
class _Group:
    main: Post
    others: tuple[Post, ...]


def merge_duplicates(posts: Iterable[Post], classifier: Classifier | None = None) -> list[_Group]:
    """Group posts that report the same event (`digest.cluster` decides which).

    Exact duplicates (a canonical URL or a normalised title in common) always
    merge; so do near-duplicates: the same event from several sources, or one
    post under two URLs. The earliest post of a group is its main story (the
    original report); the others become "also reported by". Groups come back
    newest first. With a `classifier`, titles that name different actors and
    places (and none in common) count as different events.
    """
    ordered = sorted(posts, key=lambda p: (p.published, p.feed_url, p.post_id))
    docs = [
        Doc(
            p.title,
            p.summary,
            p.url,
            p.published,
            source=p.feed_url,
            names=classifier.names(p.title) if classifier else frozenset(),
        )
        for p in ordered
    ]
    groups = [
        _Group(main=ordered[members[0]], others=tuple(ordered[i] for i in members[1:]))
        for members in cluster(docs)
    ]
    groups.sort(key=lambda g: (g.main.published, g.main.feed_url, g.main.post_id), reverse=True)
    return groups


def build_issue(
    posts: Iterable[Post],
    *,
    settings: Settings,
    week: str,
    number: int,
    now: datetime,
    feed_names: Mapping[str, str],
    feeds: Mapping[str, FeedSettings],
    classifier: Classifier,
    relevance: Relevance,
) -> Issue:
    """The whole model of one issue, from the posts stored for its window.

    `feeds` gives each post's feed settings by URL: its country hint, whether it
    is local news, and its topic filter (a filtered feed's off-topic posts are
    left out before anything else is decided).
    """
    start, end = issue_window(week, settings)
    unknown = FeedSettings(url="")

    def relevant(post: Post) -> bool:
        topic = feeds.get(post.feed_url, unknown).filter
        return not topic or relevance.is_about(topic, post.title, post.summary)

    in_window = [p for p in posts if start <= p.published < end and relevant(p)]
    groups = merge_duplicates(in_window, classifier)
    configured = settings.digest.countries
    by_section: dict[str, list[Story]] = {code: [] for code in (*configured, GLOBAL_SECTION)}
    for group in groups:
        main = group.main
        feed = feeds.get(main.feed_url, unknown)
        verdict = classifier.classify(main.title, main.summary, feed.country, local=feed.local)
        section = verdict.country if verdict.country in configured else GLOBAL_SECTION
        source = feed_names.get(main.feed_url, main.feed_url)
        also: list[AlsoReported] = []
        seen_urls = {main.url}
        for other in group.others:
            # The same article reached through another feed adds no link worth showing.
            if other.url and other.url not in seen_urls:
                seen_urls.add(other.url)
                other_source = feed_names.get(other.feed_url, other.feed_url)
                also.append(AlsoReported(source=other_source, url=other.url))
        by_section[section].append(
            Story(
                title=main.title,
                url=main.url,
                source=source,
                published=main.published,
                summary=main.summary,
                country=verdict.country if section != GLOBAL_SECTION else "",
                also=tuple(also),
                second_country=verdict.second,
                feed_url=main.feed_url,
                post_id=main.post_id,
            )
        )
    cap = settings.digest.max_per_section
    language = settings.digest.language
    sections = tuple(
        Section(code=code, name=country_name(code, language), stories=tuple(stories[:cap]))
        for code, stories in by_section.items()
        if stories
    )
    return Issue(
        week=week,
        number=number,
        title=settings.digest.title,
        language=language,
        timezone=settings.digest.timezone,
        start=start,
        end=end,
        sections=sections,
        generated_at=now.astimezone(UTC),
        duplicates_merged=sum(len(g.others) for g in groups),
    )
