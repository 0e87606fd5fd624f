"""The view: what the templates are given, derived from one `Issue`, the settings
and, for a reader's variant, their `Choice`.

Owns: the view dataclasses the templates receive (never storage rows or the
model itself): safe links, local dates, truncated summaries, the numbered
references of the text part, the "at a glance" bar widths, the lead stories
the email shows and the count and link of the rest, and the archive-relative
addresses of country pages (`country_page_href`; `digest.web.archive` writes the
pages there). Localisation of dates with Babel and of labels through
`digest.render.messages`. A variant (`digest.render.choice`) shows only the
reader's sections, in the configured order, in the reader's language: its
subject, preheader, contents line and glance chart count those, and it names
the reader's countries with a link to the full issue on the web. Pure: no I/O
at all.

The lead: an issue with an editor's note or lead stories (`Issue.note`,
`Issue.top`; `IssueView.lead`) opens with them, then "at a glance" as a full
chart on wide screens and one compact bar on narrow ones; a lead story is
shown in full at the top and as a one-line pointer in its section (so a
section still holds as many entries as its count says). A reader's variant
gets the note, and the lead stories of their sections only: they asked not to
get the others, and every reader sees the editor's choice rather than a
ranking of their own. The editor's note is rendered by `digest.render.note`. An
issue with neither renders exactly as before the lead existed.

Doesn't own: templates, the Jinja environment, CSS inlining or the rendered
parts (`digest.render.issue`), nor choosing or ordering stories
(`digest.editorial.selection`).

Dates. Everything shown to readers is in `Issue.timezone`. The issue covers the
half-open interval [start, end); the range shown is the seven local days from
the day `start` falls on: an issue published Monday 08:00 is named for the week
it reports on ("Nov 16 – 22"), not "Nov 16 – 23". Babel formats the range (it handles ranges across
months and years); we then use plain spaces instead of CLDR's thin spaces and
the wave dash 〜 that Japanese readers expect instead of the fullwidth tilde.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from babel.dates import format_interval, format_skeleton
from markupsafe import Markup

from digest.config import Settings
from digest.models import GLOBAL_SECTION, Issue, Section, Story
from digest.render.choice import Choice
from digest.render.messages import country_name, message, plural
from digest.render.note import NoteBlock, note_blocks, note_html
from digest.render.typography import (
    CONTROL_CHARS,
    display_width,
    has_rtl,
    one_line,
    prefix_within,
    truncate_summary,
)

# Letters, digits and '-' only: autoescaping, premailer/lxml and quoted-printable
# leave it byte-for-byte alone, and it can't occur in feed text by accident.
UNSUBSCRIBE_PLACEHOLDER = "DIGEST-UNSUBSCRIBE-URL-7f3a9c2e"

PREHEADER_WIDTH = 140  # clients show at most ~100-140 columns of preview

# A story's summary is cut the same way in every variant that shows it (readers'
# choices of countries and language): cut once per process, not once per variant.
_cut_summary = functools.lru_cache(maxsize=4096)(truncate_summary)
COUNTRY_FOLDER = "country"  # country pages, inside the archive folder


# --- view model ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlsoView:
    source: str
    href: str | None  # None: not an http(s) URL, shown without a link
    ref: int | None  # number of the link in the text part
    text_label: str  # "Source [3]" in the text part


@dataclass(frozen=True, slots=True)
class StoryView:
    anchor: str
    title: str
    href: str | None
    ref: int | None
    source: str
    date: str  # short local date, e.g. "Nov 18" / "11月18日"
    date_iso: str  # UTC, for <time datetime=...>
    summary: str  # truncated to SUMMARY_WIDTH
    also: tuple[AlsoView, ...]
    text_title: str  # "Title [2]" in the text part
    also_about: str  # "Also about Japan": the story's second country, or ""
    top_ref: bool = False  # a lead story, in its section: one line pointing at the top
    # Some of its text is right to left (Arabic...): the templates mark its feed
    # text dir="auto". Text without RTL characters lays out the same without it,
    # and the email saves the bytes (Gmail clips at 102 KB).
    rtl: bool = False


@dataclass(frozen=True, slots=True)
class LinkRef:
    ref: int
    href: str


@dataclass(frozen=True, slots=True)
class SectionView:
    code: str
    name: str
    anchor: str
    count: int
    count_label: str  # "4 stories" / "4件"
    toc_label: str  # "Japan (4)" / "日本（4）"
    stories: tuple[StoryView, ...]  # every story: the web page lists them all
    lead: tuple[StoryView, ...]  # the first `max_per_section`: what the email shows
    more_count: int  # stories of the section the email leaves to the web page
    more_label: str  # "4 more stories in this section on the web page"
    more_href: str | None  # the section on the web page; None without a base_url
    links: tuple[LinkRef, ...]  # the text part's numbered references of this section
    bar_percent: int  # "at a glance" bar: count relative to the largest section, 1-100
    country_href: str  # the country page, relative to the archive folder (web only)
    # The compact "at a glance" bar (narrow screens, with a lead): this section's
    # share of the stories, the segments adding up to 100, and its label there
    # ("" when the segment is too narrow to hold it).
    glance_share: int = 0
    glance_label: str = ""


@dataclass(frozen=True, slots=True)
class IssueView:
    lang: str
    title: str
    subject: str
    preheader: str
    issue_label: str  # "Issue #3" / "第3号"
    week: str
    week_range: str
    story_count: int
    story_count_label: str
    empty_note: str  # shown instead of the sections when there are none
    sections: tuple[SectionView, ...]
    # A reader's variant: "Your countries: Japan, South Korea" ("" = the full issue),
    # and the label of the link to the full issue on the web.
    choice_note: str
    full_issue_label: str
    web_url: str | None  # "view in browser"; None when archive.base_url is empty
    unsubscribe_url: str
    contact: str
    index_href: str  # the archive index, relative to the web page
    feed_href: str
    # The lead (see the module docstring): the editor's note as HTML and as
    # blocks of the text part, the lead stories this reader gets, and the
    # numbered links of those in the text part.
    note_html: Markup
    note_blocks: tuple[NoteBlock, ...]
    top: tuple[StoryView, ...]
    top_links: tuple[LinkRef, ...]

    @property
    def lead(self) -> bool:
        """The issue opens with a note or lead stories (and the glance follows them)."""
        return bool(self.note_html or self.top)


# --- links and dates ------------------------------------------------------------

_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?[]"


def safe_href(url: str) -> str | None:
    """An ASCII http(s) URL fit for an href, or None if `url` isn't http(s).

    Hosts are IDNA-encoded and paths percent-encoded here rather than left to
    lxml, which would percent-encode a non-ASCII host into a broken one.
    """
    url = url.strip()
    if not url or CONTROL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    netloc = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None:
        userinfo = quote(parts.username, safe="%")
        if parts.password is not None:
            userinfo += ":" + quote(parts.password, safe="%")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )


def issue_date_range(start: datetime, end: datetime, timezone: str) -> tuple[date, date]:
    """The seven local days an issue is named for: from the day its window starts.

    An issue published Monday 08:00 covers Mon 08:00 → Mon 08:00; readers know it
    as "Nov 16 – 22", the week it reports on, not "Nov 16 – 23".
    """
    zone = ZoneInfo(timezone)
    first = start.astimezone(zone).date()
    last = (end - timedelta(days=1)).astimezone(zone).date()
    return first, max(first, last)


def _normalise_cldr(text: str) -> str:
    return text.replace("\u2009", " ").replace("\u202f", " ").replace("～", "〜")


def format_date_range(first: date, last: date, language: str) -> str:
    """ja `2026年11月16日〜22日`, en `Nov 16 – 22, 2026`; across months and years too."""
    if first == last:
        text = format_skeleton("yMMMd", first, locale=language)
    else:
        text = format_interval(first, last, "yMMMd", locale=language)
    return _normalise_cldr(str(text))


def format_long_date(moment: datetime, timezone: str, language: str) -> str:
    """ja `2026年11月18日`, en `Nov 18, 2026`, in `timezone`: for lists spanning years."""
    local = moment.astimezone(ZoneInfo(timezone)).date()
    return _normalise_cldr(str(format_skeleton("yMMMd", local, locale=language)))


def format_short_date(moment: datetime, timezone: str, language: str) -> str:
    """ja `11月18日`, en `Nov 18`, in the issue's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return _normalise_cldr(str(format_skeleton("MMMd", local, locale=language)))


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


# --- building the view ---------------------------------------------------------------


def section_name(code: str, language: str) -> str:
    """A section's reader-facing name in `language`: CLDR's, shortened where readers
    know a shorter one (`messages.country_name`), or the Global label."""
    if code == GLOBAL_SECTION:
        return message(language, "global")
    return country_name(code, language)


def _section_name(section: Section, issue_language: str, language: str) -> str:
    # The model names sections in the issue's language; a reader who reads another
    # gets the names in theirs.
    name = one_line(section.name) if language == issue_language else ""
    return name or section_name(section.code, language)


def _code_slug(code: str) -> str:
    # Letters, digits and '-' only: safe as an id and as a file name.
    return re.sub(r"[^a-z0-9]+", "-", code.lower()).strip("-") or "x"


def _section_anchor(code: str) -> str:
    return "section-" + _code_slug(code)


def country_page_href(code: str) -> str:
    """The page listing a section's stories across issues, relative to the archive
    folder: `country/kr.html`, `country/global.html`."""
    return f"{COUNTRY_FOLDER}/{_code_slug(code)}.html"


def _bar_percent(count: int, largest: int) -> int:
    # Proportional to the count, the largest section filling the track; never
    # below 1 %, or a one-story section would draw no bar at all.
    return max(1, round(100 * count / largest)) if largest else 0


def _shares(counts: list[int]) -> list[int]:
    """Whole percentages of `counts` that add up to exactly 100 (largest
    remainders), each at least 1: the compact bar's segments fill its row."""
    total = sum(counts)
    if not total:
        return [0] * len(counts)
    exact = [100 * c / total for c in counts]
    shares = [max(1, int(e)) for e in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for i in by_remainder[: max(0, 100 - sum(shares))]:
        shares[i] += 1
    while sum(shares) > 100:  # the minimum of 1 pushed it over: take from the largest
        shares[shares.index(max(shares))] -= 1
    return shares


def _glance_label(code: str, name: str, share: int) -> str:
    """What the compact bar writes in a segment: the section's name when short
    (日本, 韓国) or Global (which has no code readers know), else its code (JP,
    KR); nothing when the segment is too narrow.

    The narrowest phones (320 px) give the bar 288 px, 2.9 px per percent; a
    column of text (half a CJK character) takes about 6 px at the bar's 11 px,
    plus 4 px to spare: 2.1 % per column and 1.5 % more.
    """
    label = name if display_width(name) <= 4 or code == GLOBAL_SECTION else code
    return label if share >= 1.5 + 2.1 * display_width(label) else ""


class _Refs:
    """Numbers the links of the text part, in reading order."""

    def __init__(self) -> None:
        self.count = 0
        self.pending: list[LinkRef] = []

    def take(self, href: str | None) -> int | None:
        if href is None:
            return None
        self.count += 1
        self.pending.append(LinkRef(self.count, href))
        return self.count

    def flush(self) -> tuple[LinkRef, ...]:
        out, self.pending = tuple(self.pending), []
        return out


def _story_view(story: Story, issue: Issue, lang: str, refs: _Refs | None) -> StoryView:
    """A story as shown in `lang`; `refs` numbers its links for the text part (None:
    web only)."""
    if refs is None:
        refs = _Refs()  # numbers nobody sees: the text part shows only the lead
    href = safe_href(story.url)
    ref = refs.take(href)
    also: list[AlsoView] = []
    for other in story.also:
        other_href = safe_href(other.url)
        source = one_line(other.source)
        other_ref = refs.take(other_href)
        also.append(AlsoView(source, other_href, other_ref, _with_ref(source, other_ref)))
    return StoryView(
        anchor=story.anchor,
        title=one_line(story.title),
        href=href,
        ref=ref,
        source=one_line(story.source),
        date=format_short_date(story.published, issue.timezone, lang),
        date_iso=_iso_utc(story.published),
        summary=_cut_summary(story.summary),
        also=tuple(also),
        text_title=_with_ref(one_line(story.title), ref),
        also_about=(
            message(lang, "also_about", country=country_name(story.second_country, lang))
            if story.second_country and story.second_country != story.country
            else ""
        ),
        rtl=has_rtl(story.title, story.source, story.summary, *(a.source for a in also)),
    )


def _with_ref(label: str, ref: int | None) -> str:
    return f"{label} [{ref}]" if ref is not None else label


def _truncate_line(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    return text[: prefix_within(text, width - 1)].rstrip() + "…"


def build_view(issue: Issue, settings: Settings, choice: Choice | None = None) -> IssueView:
    """Everything the templates show, derived from `issue` and `settings`; with a
    `choice`, the variant a reader of that choice gets (`digest.render.choice`):
    its sections only, in its language. Without one, the full issue."""
    lang = choice.language if choice else issue.language
    chosen = choice.countries if choice else ()
    shown = [s for s in issue.sections if s.stories and (not chosen or s.code in chosen)]
    refs = _Refs()
    # Lead stories come first in reading order: the text part numbers their links first.
    shown_anchors = {story.anchor for section in shown for story in section.stories}
    top = tuple(_story_view(s, issue, lang, refs) for s in issue.top if s.anchor in shown_anchors)
    top_links = refs.flush()
    top_anchors = {s.anchor for s in top}

    def view_of(story: Story, refs: _Refs | None) -> StoryView:
        # A lead story is a pointer in its section: its links are numbered at the top.
        if story.anchor in top_anchors:
            return replace(_story_view(story, issue, lang, None), top_ref=True)
        return _story_view(story, issue, lang, refs)

    sections: list[SectionView] = []
    # The glance chart's bars compare the sections the reader gets.
    largest = max((len(s.stories) for s in shown), default=0)
    base_url = settings.archive.base_url
    for section in shown:
        name = _section_name(section, issue.language, lang)
        cap = settings.digest.max_per_section
        lead = tuple(view_of(s, refs) for s in section.stories[:cap])
        links = refs.flush()
        stories = lead + tuple(view_of(s, None) for s in section.stories[cap:])
        count = len(stories)
        more = count - len(lead)
        anchor = _section_anchor(section.code)
        sections.append(
            SectionView(
                code=section.code,
                name=name,
                anchor=anchor,
                count=count,
                count_label=plural(lang, "story_count", count),
                toc_label=message(lang, "section_count", name=name, n=count),
                stories=stories,
                lead=lead,
                more_count=more,
                more_label=plural(lang, "more_stories", more) if more else "",
                # The web page is the full issue: every section's anchor is there.
                more_href=(
                    safe_href(f"{base_url}{issue.week}.html#{anchor}")
                    if base_url and more
                    else None
                ),
                links=links,
                bar_percent=_bar_percent(count, largest),
                country_href=country_page_href(section.code),
            )
        )
    if top or issue.note.strip():
        shares = _shares([s.count for s in sections])
        sections = [
            replace(s, glance_share=share, glance_label=_glance_label(s.code, s.name, share))
            for s, share in zip(sections, shares, strict=True)
        ]
    title = one_line(issue.title)
    first, last = issue_date_range(issue.start, issue.end, issue.timezone)
    week_range = format_date_range(first, last, lang)
    total = sum(s.count for s in sections)
    total_label = plural(lang, "story_count", total)
    separator = message(lang, "list_separator")
    subject_fields = {"title": title, "number": issue.number, "range": week_range}
    if chosen and sections:
        # The subject names what this reader's copy holds (not chosen sections
        # that had no story this week).
        names = separator.join(s.name for s in sections)
        subject = message(lang, "subject_sections", sections=names, **subject_fields)
    else:
        subject = message(lang, "subject", **subject_fields)
    chosen_names = separator.join(section_name(code, lang) for code in chosen)
    # An empty issue is mailed only as a quiet-week note (`[schedule] empty_week`);
    # a reader whose countries had nothing this week gets a note saying so, with
    # the link to the full issue, rather than silence (they would wonder whether
    # the digest stopped) or stories they asked not to get.
    if chosen and issue.story_count:
        empty_note = message(lang, "nothing_chosen", sections=chosen_names)
    elif settings.schedule.empty_week == "quiet":
        empty_note = message(lang, "quiet_week")
    else:
        empty_note = message(lang, "no_stories")
    if sections:
        preheader = message(
            lang,
            "preheader",
            count=total_label,
            sections=separator.join(s.toc_label for s in sections),
        )
    else:
        preheader = empty_note
    return IssueView(
        lang=lang,
        title=title,
        subject=one_line(subject),
        preheader=_truncate_line(one_line(preheader), PREHEADER_WIDTH),
        issue_label=message(lang, "issue_number", number=issue.number),
        week=issue.week,
        week_range=week_range,
        story_count=total,
        story_count_label=total_label,
        empty_note=empty_note,
        sections=tuple(sections),
        choice_note=message(lang, "your_countries", sections=chosen_names) if chosen else "",
        full_issue_label=message(
            lang, "full_issue", count=plural(lang, "story_count", issue.story_count)
        ),
        web_url=safe_href(f"{base_url}{issue.week}.html") if base_url else None,
        unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER,
        contact=one_line(settings.digest.contact),
        index_href="index.html",
        feed_href="feed.xml",
        note_html=note_html(issue.note, safe_href),
        note_blocks=note_blocks(issue.note, safe_href),
        top=top,
        top_links=top_links,
    )
