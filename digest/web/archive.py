"""The static archive: one page per issue, country pages, an index and an Atom feed.

Owns: the archive folder (`settings.archive.dir`) and its layout:

    <week>.html       the web version of the issue (`RenderedIssue.html_web`)
    <week>.json       the issue model (`issue_to_json`), the archive's source of truth
    index.html        every issue, newest first, rebuilt from the .json files
    country/<cc>.html one section's stories across all issues, newest first
                      (`country/kr.html`, `country/global.html`), rebuilt likewise
    feed.xml          Atom 1.0, one entry per issue (its whole HTML), newest first

It is a plain static site: relative links, no JavaScript, servable by any web
server from any path. Every file is written with `write_atomic`, and an issue's
.html before its .json, so the index and the country pages (built from .json
files) never link to a page that isn't there. The issue pages link to
`country/<cc>.html` (`digest.render.view.country_page_href`); `rebuild_index` writes
a page for every section of every archived issue, and removes the pages of
sections no issue has any more.

Doesn't own: rendering an issue (`digest.render.issue`), deciding what goes into it
(`digest.editorial.selection`), or publishing the folder (copy it, or serve it in place).
"""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.errors import WeekError
from digest.models import AlsoReported, Issue, Section, Story
from digest.render.issue import (
    COUNTRY_FOLDER,
    IssueView,
    RenderedIssue,
    StoryView,
    build_view,
    format_long_date,
    get_environment,
    load_stylesheet,
    render_template,
)
from digest.render.messages import message, plural
from digest.state.files import remove_stale_temp_files, write_atomic, write_error

__all__ = [
    "ISSUE_FORMAT",
    "issue_from_json",
    "issue_to_json",
    "rebuild_index",
    "write_issue",
]

log = logging.getLogger(__name__)

ISSUE_FORMAT = "digest-issue/1"  # the "format" key of <week>.json; bump on incompatible change
INDEX_TEMPLATE = "index.html.j2"
COUNTRY_TEMPLATE = "country.html.j2"
FEED_ENTRY_TEMPLATE = "feed_entry.html.j2"
INDEX_FILE = "index.html"
FEED_FILE = "feed.xml"
TOP_SECTIONS = 3  # sections named per issue on the index page
# Entries in feed.xml. Each carries a whole issue (~60 KB for 60 stories) and
# readers poll the feed: a year of issues would make it megabytes.
FEED_ISSUES = 20

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"

_WEEK = re.compile(r"\d{4}-W(0[1-9]|[1-4][0-9]|5[0-3])")


def _check_week(week: str) -> str:
    # The week becomes a file name: refuse anything that isn't exactly "YYYY-Www".
    if not _WEEK.fullmatch(week):
        raise WeekError(f"{week!r} is not an ISO week such as 2026-W47")
    return week


# --- JSON --------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the model keeps aware UTC datetimes")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def issue_to_json(issue: Issue) -> dict[str, Any]:
    """The issue model as JSON-ready data; `issue_from_json` reads it back exactly.

    Besides the documented keys it keeps `timezone`, `duplicates_merged` and each
    story's `feed_url` and `post_id` (the inputs of its anchor), so that an
    archived issue can be rendered again with new templates.
    """
    return {
        "format": ISSUE_FORMAT,
        "week": issue.week,
        "number": issue.number,
        "title": issue.title,
        "language": issue.language,
        "timezone": issue.timezone,
        "start": _iso(issue.start),
        "end": _iso(issue.end),
        "generated_at": _iso(issue.generated_at),
        "duplicates_merged": issue.duplicates_merged,
        "story_count": issue.story_count,
        "sections": [
            {
                "code": section.code,
                "name": section.name,
                "stories": [
                    {
                        "title": story.title,
                        "link": story.url,
                        "source": story.source,
                        "date": _iso(story.published),
                        "summary": story.summary,
                        "country": story.country,
                        "second_country": story.second_country,
                        "also": [{"source": a.source, "link": a.url} for a in story.also],
                        "anchor": story.anchor,
                        "feed_url": story.feed_url,
                        "post_id": story.post_id,
                    }
                    for story in section.stories
                ],
            }
            for section in issue.sections
        ],
    }


def _get(data: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object")
    if key not in data:
        raise ValueError(f"{where}: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{where}.{key}: expected {kind.__name__}")
    return value


def _optional_text(data: dict[str, Any], key: str) -> str:
    """A string key added in a later version: older issue files lack it."""
    value = data.get(key, "")
    return value if isinstance(value, str) else ""


def _time(data: Any, key: str, where: str) -> datetime:
    text = _get(data, key, str, where)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{where}.{key}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{where}.{key}: {text!r} has no time zone")
    return moment.astimezone(UTC)


def issue_from_json(data: Any) -> Issue:
    """Read back `issue_to_json` output. Raises ValueError if it isn't an issue."""
    if not isinstance(data, dict) or data.get("format") != ISSUE_FORMAT:
        raise ValueError(f'not a digest issue (no "format": {ISSUE_FORMAT!r})')
    sections: list[Section] = []
    for i, sec in enumerate(_get(data, "sections", list, "issue")):
        where = f"sections[{i}]"
        stories: list[Story] = []
        for j, st in enumerate(_get(sec, "stories", list, where)):
            w = f"{where}.stories[{j}]"
            also = tuple(
                AlsoReported(
                    _get(a, "source", str, f"{w}.also[{k}]"),
                    _get(a, "link", str, f"{w}.also[{k}]"),
                )
                for k, a in enumerate(_get(st, "also", list, w))
            )
            story = Story(
                title=_get(st, "title", str, w),
                url=_get(st, "link", str, w),
                source=_get(st, "source", str, w),
                published=_time(st, "date", w),
                summary=_get(st, "summary", str, w),
                country=_get(st, "country", str, w),
                also=also,
                second_country=_optional_text(st, "second_country"),
                feed_url=_optional_text(st, "feed_url"),
                post_id=_optional_text(st, "post_id"),
            )
            stories.append(story)
        sections.append(
            Section(_get(sec, "code", str, where), _get(sec, "name", str, where), tuple(stories))
        )
    return Issue(
        week=_check_json_week(_get(data, "week", str, "issue")),
        number=_get(data, "number", int, "issue"),
        title=_get(data, "title", str, "issue"),
        language=_get(data, "language", str, "issue"),
        timezone=_get(data, "timezone", str, "issue"),
        start=_time(data, "start", "issue"),
        end=_time(data, "end", "issue"),
        sections=tuple(sections),
        generated_at=_time(data, "generated_at", "issue"),
        duplicates_merged=_get(data, "duplicates_merged", int, "issue"),
    )


def _check_json_week(week: str) -> str:
    if not _WEEK.fullmatch(week):
        raise ValueError(f"issue.week: {week!r} is not an ISO week such as 2026-W47")
    return week


# --- writing -----------------------------------------------------------------------------


def write_issue(issue: Issue, rendered: RenderedIssue, settings: Settings) -> Path:
    """Write <week>.html and <week>.json, then rebuild index.html and feed.xml.

    Writing the same week again replaces it (a rebuilt issue). Returns the page path.
    A run killed while writing left temporary files: they are removed first.
    """
    folder = settings.archive.dir
    week = _check_week(issue.week)
    for where in (folder, folder / COUNTRY_FOLDER):
        remove_stale_temp_files(where)
    page = folder / f"{week}.html"
    write_atomic(page, rendered.html_web)
    data = json.dumps(issue_to_json(issue), ensure_ascii=False, indent=2) + "\n"
    write_atomic(folder / f"{week}.json", data)
    rebuild_index(settings)
    return page


def _load_issues(folder: Path) -> list[Issue]:
    issues: list[Issue] = []
    for path in sorted(folder.glob("*.json")):
        try:
            issue = issue_from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("archive: ignoring %s: not a digest issue (%s)", path, e)
            continue
        if path.stem != issue.week:
            log.warning("archive: ignoring %s: it holds week %s", path, issue.week)
            continue
        if not (folder / f"{issue.week}.html").is_file():
            log.warning("archive: ignoring %s: %s.html is missing", path, issue.week)
            continue
        issues.append(issue)
    # Newest first: by coverage, then by number (a rebuilt week keeps its number).
    issues.sort(key=lambda i: (i.start, i.end, i.number), reverse=True)
    return issues


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One issue as listed on the index page and in the feed."""

    view: IssueView
    href: str  # relative to the archive folder
    url: str  # absolute when base_url is set, else relative
    top_sections: str  # "Japan (4) · South Korea (3) · China (2)"
    issue: Issue


def _entry(issue: Issue, settings: Settings) -> IndexEntry:
    view = build_view(issue, settings)
    href = f"{issue.week}.html"
    ranked = sorted(view.sections, key=lambda s: -s.count)[:TOP_SECTIONS]  # stable sort
    return IndexEntry(
        view=view,
        href=href,
        url=settings.archive.base_url + href,
        top_sections=" · ".join(s.toc_label for s in ranked),
        issue=issue,
    )


@dataclass(frozen=True, slots=True)
class CountryStory:
    """One story as listed on a country page."""

    story: StoryView
    date: str  # with the year: the page spans issues, and years
    issue_label: str  # "Issue #3"
    issue_href: str  # the story in its issue page, relative to the country page
    published: datetime  # UTC, for ordering


@dataclass(frozen=True, slots=True)
class CountryPage:
    """One section's stories across every archived issue, newest first."""

    code: str
    name: str  # as the newest issue that has the section names it
    href: str  # relative to the archive folder: "country/kr.html"
    count_label: str  # "12 stories"
    toc_label: str  # "South Korea (12)"
    stories: tuple[CountryStory, ...]


def _country_pages(entries: list[IndexEntry], settings: Settings) -> list[CountryPage]:
    """Every section of every issue, in the order the newest issues list them."""
    lang = settings.digest.language
    names: dict[str, str] = {}
    hrefs: dict[str, str] = {}
    found: dict[str, list[CountryStory]] = {}
    for e in entries:  # newest issue first
        models = [s for s in e.issue.sections if s.stories]  # build_view skips empty ones
        for view, model in zip(e.view.sections, models, strict=True):
            names.setdefault(view.code, view.name)
            hrefs.setdefault(view.code, view.country_href)
            found.setdefault(view.code, []).extend(
                CountryStory(
                    story=sv,
                    date=format_long_date(story.published, e.issue.timezone, e.view.lang),
                    issue_label=e.view.issue_label,
                    issue_href=f"../{e.href}#{sv.anchor}",
                    published=story.published,
                )
                for sv, story in zip(view.stories, model.stories, strict=True)
            )
    pages: list[CountryPage] = []
    for code, stories in found.items():
        # Stable: stories published at the same moment keep the newer issue first.
        ordered = tuple(sorted(stories, key=lambda c: c.published, reverse=True))
        count = len(ordered)
        pages.append(
            CountryPage(
                code=code,
                name=names[code],
                href=hrefs[code],
                count_label=plural(lang, "story_count", count),
                toc_label=message(lang, "section_count", name=names[code], n=count),
                stories=ordered,
            )
        )
    return pages


def rebuild_index(settings: Settings) -> None:
    """Rewrite index.html, the country pages and feed.xml from every <week>.json
    in the archive folder.

    JSON files that aren't issues are ignored with a warning.
    """
    folder = settings.archive.dir
    entries = [_entry(issue, settings) for issue in _load_issues(folder)]
    countries = _country_pages(entries, settings)
    written: set[Path] = set()
    for page in countries:
        path = folder / page.href
        write_atomic(path, _country_html(page, countries, settings))
        written.add(path)
    # A rebuilt week may have lost a section: its page would list stale stories.
    for path in (folder / COUNTRY_FOLDER).glob("*.html"):
        if path not in written:
            log.info("archive: removing %s: no archived issue has that section", path)
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                raise write_error(path, e, "cannot remove a stale country page") from e
    write_atomic(folder / INDEX_FILE, _index_html(entries, countries, settings))
    write_atomic(folder / FEED_FILE, _feed_xml(entries, settings))


def _translator(lang: str) -> Callable[..., str]:
    """The templates' `t`: labels in `lang`."""

    def t(key: str, /, **fields: object) -> str:
        return message(lang, key, **fields)

    return t


def _index_html(entries: list[IndexEntry], countries: list[CountryPage], settings: Settings) -> str:
    env = get_environment(settings.templates_dir)
    return render_template(
        env,
        INDEX_TEMPLATE,
        lang=settings.digest.language,
        title=settings.digest.title,
        entries=entries,
        countries=countries,
        feed_href=FEED_FILE,
        contact=settings.digest.contact,
        css=load_stylesheet(settings.templates_dir),
        t=_translator(settings.digest.language),
    )


def _country_html(page: CountryPage, countries: list[CountryPage], settings: Settings) -> str:
    env = get_environment(settings.templates_dir)
    return render_template(
        env,
        COUNTRY_TEMPLATE,
        lang=settings.digest.language,
        title=settings.digest.title,
        page=page,
        # Links between country pages: they are siblings in the country folder.
        countries=[(c, c.href.rpartition("/")[2]) for c in countries],
        index_href="../" + INDEX_FILE,
        feed_href="../" + FEED_FILE,
        contact=settings.digest.contact,
        css=load_stylesheet(settings.templates_dir),
        t=_translator(settings.digest.language),
    )


def _tag_authority(settings: Settings) -> str:
    # RFC 4151 tag URIs need a domain or address we own: the sender's domain.
    address = parseaddr(settings.sender)[1]
    domain = address.rpartition("@")[2].strip().lower()
    return re.sub(r"[^a-z0-9.-]", "", domain) or "localhost"


def _feed_xml(entries: list[IndexEntry], settings: Settings) -> bytes:
    """Atom 1.0 built with ElementTree, so every text and attribute is escaped."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    base = settings.archive.base_url
    authority = _tag_authority(settings)
    oldest_year = entries[-1].issue.week[:4] if entries else "2026"
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {f"{{{XML_NS}}}lang": settings.digest.language})
    # Without base_url, ids are tag URIs: stable as long as the sender's domain is.
    sub(feed, "id", base + FEED_FILE if base else f"tag:{authority},{oldest_year}:digest")
    sub(feed, "title", settings.digest.title)
    # An empty archive has no time of its own; keep the file byte-stable anyway.
    updated = max((e.issue.generated_at for e in entries), default=datetime(1970, 1, 1, tzinfo=UTC))
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="alternate", type="text/html", href=base + INDEX_FILE)
    if base:
        sub(feed, "link", rel="self", type="application/atom+xml", href=base + FEED_FILE)
    author = sub(feed, "author")
    sub(author, "name", settings.digest.title)
    sub(feed, "generator", "digest")

    env = get_environment(settings.templates_dir)
    for e in entries[:FEED_ISSUES]:
        entry = sub(feed, "entry")
        issue_id = e.url if base else f"tag:{authority},{e.issue.week[:4]}:digest/{e.issue.week}"
        sub(entry, "id", issue_id)
        sub(entry, "title", e.view.subject)
        sub(entry, "updated", _iso(e.issue.generated_at))
        sub(entry, "published", _iso(e.issue.end))
        sub(entry, "link", rel="alternate", type="text/html", href=e.url)
        sub(entry, "summary", e.view.preheader)
        # The whole issue. Feed readers resolve relative links against the feed's
        # address, the archive folder: `base` is "" or that folder's URL.
        content = render_template(
            env, FEED_ENTRY_TEMPLATE, v=e.view, t=_translator(e.view.lang), page=e.url, base=base
        )
        sub(entry, "content", content.strip(), type="html")

    ET.indent(feed)
    xml: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return xml + b"\n"
