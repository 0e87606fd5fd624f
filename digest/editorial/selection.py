"""Which week an issue is, and which stories go in it.

Owns: the pure decisions of an issue. Week arithmetic (an issue covers the
7 days that end at its publish time, and is named by the ISO week in which most
of those days fall), merging reports of one event into one story (the decision
itself is `digest.editorial.cluster`'s), classification into country sections,
ranking the stories of a section (every story is kept; the email's cut is
rendering's), the lead stories an issue opens with (`ranked_top`), and applying
an editor's decisions (`apply_decisions`: stories dropped, moved to another
section, put in order, chosen as lead stories; the editor's note). Takes data
and a `now`; touches no network, no database and no clock. Doesn't own:
storage (`digest.state.store`), the `digest edit` file (`digest.cli.edit`) or
presentation (`digest.render.view`).

Which posts an issue may hold: those of its window, minus any published before
the first run's lookback (`lookback_start`), plus those that arrived after their
own issue was sent (`late_posts`); a sent issue is rebuilt from the posts
recorded when it was sent (the caller passes them). Whether an empty issue is
mailed at all: `is_mailable`.

Lead stories. Without an editor's choice, an issue opens with the events
reported by the most outlets, then the newest, at most `TOP_STORIES`, and only
events that at least two outlets reported: one outlet's story is not a lead by
any measure the data gives, so a week without such an event has no lead
stories rather than three arbitrary ones.

Naming, with `publish = "mon 08:00"`: the issue published Monday 2026-11-23
08:00 covers Mon 16th 08:00 → Mon 23rd 08:00, mostly ISO week 2026-W47, so it
is "2026-W47". With `publish = "fri 17:00"`, Friday 2026-11-20 17:00 covers
Fri 13th 17:00 → Fri 20th 17:00, mostly the current week: also "2026-W47".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from digest.config import FeedSettings, Settings
from digest.editorial.classify import Classifier
from digest.editorial.cluster import LEAD_CHARS, Doc, cluster
from digest.editorial.relevance import Relevance
from digest.errors import WeekError
from digest.models import (
    DROP,
    GLOBAL_SECTION,
    TOP,
    TOP_STORIES,
    AlsoReported,
    EditorialDecisions,
    Issue,
    Post,
    Section,
    Story,
    StoryDecision,
)
from digest.render.messages import country_name as messages_country_name
from digest.render.messages import message

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


def previous_week(week: str) -> str:
    year, num = parse_week(week)
    preceding = date.fromisocalendar(year, num, 1) - timedelta(days=7)
    y, n, _ = preceding.isocalendar()
    return format_week(y, n)


def week_containing(moment: datetime, settings: Settings) -> str:
    """The issue whose window [start, end) contains `moment`: the one due next."""
    return next_week(latest_due_week(moment, settings))


# -- which posts an issue may hold -------------------------------------------------

# How long after its own week a late post is still looked for.
LATE_HORIZON = timedelta(days=28)


def lookback_start(installed_at: datetime | None, settings: Settings) -> datetime | None:
    """Posts published before this never go into an issue (`[schedule] lookback`):
    a new install does not flood its readers with the feeds' back catalogue."""
    return None if installed_at is None else installed_at - settings.schedule.lookback


def late_posts(
    week: str,
    candidates: Iterable[Post],
    frozen: Mapping[str, datetime],
    settings: Settings,
) -> list[Post]:
    """The posts that arrived too late for their own issue and belong to `week`'s.

    A post published in week W's window but first seen after W was frozen (its
    issue was sent) cannot change W. It goes into the issue being collected when
    it was first seen, and never before W + 1; when that issue was frozen before
    the post arrived too, into the next one. `frozen` is week → frozen time.
    """
    chosen = []
    for post in candidates:
        own = week_containing(post.published, settings)
        fixed = frozen.get(own)
        if fixed is None or post.first_seen <= fixed:
            continue  # its own issue is still open, or already holds it
        target = max(week_containing(post.first_seen, settings), next_week(own))
        while target in frozen and frozen[target] < post.first_seen:
            target = next_week(target)
        if target == week:
            chosen.append(post)
    return chosen


def is_mailable(issue: Issue, settings: Settings) -> bool:
    """Whether `issue` goes out as an email: it has stories, or `[schedule] empty_week`
    is "quiet" (a short quiet-week note). Never a blank email."""
    return issue.story_count > 0 or settings.schedule.empty_week == "quiet"


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
    """Group posts that report the same event (`digest.editorial.cluster` decides which).

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
            lead_names=classifier.keys(p.summary[:LEAD_CHARS]) if classifier else frozenset(),
        )
        for p in ordered
    ]
    groups = [
        _Group(main=ordered[members[0]], others=tuple(ordered[i] for i in members[1:]))
        for members in cluster(docs)
    ]
    groups.sort(key=lambda g: (g.main.published, g.main.feed_url, g.main.post_id), reverse=True)
    return groups


def rank(stories: Iterable[Story]) -> tuple[Story, ...]:
    """A section's stories, most important first: events reported by more outlets,
    then the newest. Stable, so equal stories keep the order they came in."""
    return tuple(sorted(stories, key=lambda s: (-s.outlets, -s.published.timestamp())))


# An event needs this many outlets to lead an issue on its own (without an editor).
LEAD_MIN_OUTLETS = 2


def ranked_top(sections: Iterable[Section]) -> tuple[Story, ...]:
    """The lead stories digest picks on its own: the events reported by the most
    outlets (at least `LEAD_MIN_OUTLETS`), then the newest; at most `TOP_STORIES`."""
    pool = (s for section in sections for s in section.stories if s.outlets >= LEAD_MIN_OUTLETS)
    return rank(pool)[:TOP_STORIES]


def decision_for(story: Story, decisions: Mapping[str, StoryDecision]) -> StoryDecision | None:
    """The decision that names `story` by one of its ids (`Story.keys`), its own first."""
    return next((decisions[k] for k in story.keys if k in decisions), None)


def apply_decisions(
    issue: Issue, decisions: EditorialDecisions | None, sections: Sequence[str]
) -> Issue:
    """`issue` as the editor decided (`digest edit`): the note; dropped stories left
    out; stories moved to another section (one of `sections`, the digest's, in
    their order; a decision naming a section no longer configured is ignored);
    each section's placed stories first, in the editor's order, then the rest
    ranked as usual (stories that arrived after the editor saw the issue); the
    lead stories the editor chose, else the ranking's (`ranked_top`) among what
    is left. No decisions, or empty ones: `issue` itself, unchanged.
    """
    if decisions is None or decisions.empty:
        return issue
    by_key = {d.story: d for d in decisions.stories}
    order = list(dict.fromkeys([*sections, *(s.code for s in issue.sections)]))
    placed: dict[str, list[tuple[Story, StoryDecision | None]]] = {c: [] for c in order}
    for section in issue.sections:
        for story in section.stories:
            decision = decision_for(story, by_key)
            if decision is not None and decision.action == DROP:
                continue
            code = section.code
            if decision is not None and decision.section in sections:
                code = decision.section
            if code != section.code:
                story = replace(story, country="" if code == GLOBAL_SECTION else code)
            placed[code].append((story, decision))
    names = {s.code: s.name for s in issue.sections}
    arranged: list[Section] = []
    leads: list[tuple[int, Story]] = []
    for code in order:
        fixed: list[tuple[int, Story]] = []
        free: list[Story] = []
        for story, decision in placed[code]:
            if decision is not None and decision.position is not None:
                fixed.append((decision.position, story))
            else:
                free.append(story)
            if decision is not None and decision.action == TOP:
                leads.append((decision.lead or 0, story))
        if not fixed and not free:
            continue
        fixed.sort(key=lambda e: e[0])
        name = names.get(code) or country_name(code, issue.language)
        stories = tuple(story for _, story in fixed) + rank(free)
        arranged.append(Section(code=code, name=name, stories=stories))
    if decisions.tops_chosen:
        top = tuple(story for _, story in sorted(leads, key=lambda e: e[0]))[:TOP_STORIES]
    else:
        top = ranked_top(arranged)
    return replace(issue, sections=tuple(arranged), top=top, note=decisions.note.strip())


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
    late: Iterable[Post] = (),
    not_before: datetime | None = None,
    decisions: EditorialDecisions | None = None,
) -> Issue:
    """The whole model of one issue, from the posts stored for its window.

    `feeds` gives each post's feed settings by URL: its country hint, whether it
    is local news, and its topic filter (a filtered feed's off-topic posts are
    left out before anything else is decided). `late` are posts of earlier
    windows that arrived after their issue was sent (see `late_posts`); posts
    published before `not_before` (see `lookback_start`) are left out. The issue
    opens with the ranking's lead stories (`ranked_top`); an editor's `decisions`
    are applied last (`apply_decisions`).
    """
    start, end = issue_window(week, settings)
    unknown = FeedSettings(url="")

    def relevant(post: Post) -> bool:
        topic = feeds.get(post.feed_url, unknown).filter
        return not topic or relevance.is_about(topic, post.title, post.summary)

    chosen = [p for p in posts if start <= p.published < end] + list(late)
    in_window = [
        p for p in chosen if (not_before is None or p.published >= not_before) and relevant(p)
    ]
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
                outlets=len({main.feed_url, *(o.feed_url for o in group.others)}),
            )
        )
    language = settings.digest.language
    # Every story is kept: the email shows the first `max_per_section` of a section
    # and links to the web page, which lists them all (`digest.render`).
    sections = tuple(
        Section(code=code, name=country_name(code, language), stories=rank(stories))
        for code, stories in by_section.items()
        if stories
    )
    issue = Issue(
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
        top=ranked_top(sections),
    )
    return apply_decisions(issue, decisions, (*configured, GLOBAL_SECTION))
