"""The static archive: one page per issue, country pages, an index, trends and an Atom feed.

Owns: the archive folder (`settings.archive.dir`) and its layout:

    <week>.html       the web version of the issue, with links to the issues before
                      and after it, social tags and the subscribe form
    <week>.json       the issue model (`issue_to_json`), the archive's source of truth
    <week>.meta.jsonl the issue's record (`digest.web.archive_records`): what the
                      listings need of it, a few KB, made when the issue is written
    index.html        every issue, newest first, with its top headlines
    country/<cc>.html one section's newest stories across all issues (`country/kr.html`,
                      `country/global.html`); older ones on `country/<cc>-<n>.html`
    trends.html       a chart per section: its stories per issue
    feed.xml          Atom 1.0, the newest issues (their whole HTML), newest first

It is a plain static site: relative links, no JavaScript, servable by any web
server from any path. Every file is written atomically, and only when its bytes
changed (`write_if_changed`), so that a weekly build writes the new issue and
the listings that changed, not the whole site. An issue's .html is written
before its .json, so the listings (made from records of issues whose .json and
.html both exist) never link to a page that isn't there.

Building stays light as the archive grows: the listings are made from the
records (`digest.web.archive_pages`, `digest.web.archive_feed`), never by
reading every issue's JSON again. A record that is missing or older than its
JSON (archives written by an older digest) is made from the JSON once, and saved.

Previous/next. Each page links the issue before and after it, and its record
remembers which (`IssueRecord.nav`). Archiving issue N+1 changes issue N's
"next": N's page gets its new links in place, once (they sit between
archive-nav comments, `_issue_nav.html.j2`: the page is read, the two places
replaced, the page written; a page without them, from an older digest or a
template of [templates] dir, is rendered again whole from its JSON). Any page
whose neighbours changed is updated likewise: a past week built late, a
removed issue. Chosen over a link that needs no rewrite (to the index, say)
because readers get a real "next issue" link, for one small page write per build.

Doesn't own: rendering an issue (`digest.render.issue`), deciding what goes into it
(`digest.editorial.selection`), or publishing the folder (copy it, or serve it in place).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.errors import WeekError
from digest.models import AlsoReported, Issue, Section, Story
from digest.render.issue import (
    COUNTRY_FOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    WEB_TEMPLATE,
    IssueView,
    RenderedIssue,
    build_view,
    get_environment,
    issue_stylesheet,
    render_template,
)
from digest.render.messages import message
from digest.state.files import remove_stale_temp_files, write_error, write_if_changed
from digest.web.archive_feed import feed_entry_html, feed_xml
from digest.web.archive_pages import (
    FEED_FILE,
    INDEX_FILE,
    TRENDS_FILE,
    NavLink,
    PageMeta,
    Site,
    index_html,
    page_meta,
    site_of,
    translator,
    trends_html,
    write_country_pages,
)
from digest.web.archive_records import IssueRecord, record_bytes, record_from_bytes, record_of

__all__ = [
    "ISSUE_FORMAT",
    "issue_from_json",
    "issue_to_json",
    "rebuild_index",
    "write_issue",
]

log = logging.getLogger(__name__)

ISSUE_FORMAT = "digest-issue/1"  # the "format" key of <week>.json; bump on incompatible change
RECORD_SUFFIX = ".meta.jsonl"  # <week>.meta.jsonl: the issue's record
NAV_TEMPLATE = "_issue_nav.html.j2"  # the previous/next links of an issue page
# Where those links are in the page (both places), so that they can be replaced alone.
_NAV = re.compile(r"<!--archive-nav-->.*?<!--/archive-nav-->", re.DOTALL)

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
    archived issue can be rendered again with new templates. `note` is the
    editor's note (Markdown) and `top` the anchors of the lead stories, each a
    story of `sections`; files written before they existed read as none.
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
        "note": issue.note,
        "top": [story.anchor for story in issue.top],
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
    by_anchor = {story.anchor: story for section in sections for story in section.stories}
    top = []
    for i, anchor in enumerate(_get(data, "top", list, "issue") if "top" in data else []):
        if not isinstance(anchor, str) or anchor not in by_anchor:
            raise ValueError(f"issue.top[{i}]: {anchor!r} is no story of this issue")
        top.append(by_anchor[anchor])
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
        note=_optional_text(data, "note"),
        top=tuple(top),
    )


def _check_json_week(week: str) -> str:
    if not _WEEK.fullmatch(week):
        raise ValueError(f"issue.week: {week!r} is not an ISO week such as 2026-W47")
    return week


# --- writing -----------------------------------------------------------------------------


def write_issue(issue: Issue, rendered: RenderedIssue | None, settings: Settings) -> Path:
    """Archive `issue`: its page, <week>.json and record, then the listings.

    Writing the same week again replaces it (a rebuilt issue). Returns the page
    path. The page is rendered here, not taken from `rendered` (accepted for the
    callers' sake): the archive's page also links the issues before and after
    it, carries the social tags and the subscribe form. The issues next to it
    get their page rendered again when their neighbour changed (see the module's
    docstring). A run killed while writing left temporary files: they are
    removed first.
    """
    del rendered  # its html_web is the page without the archive's links
    folder = settings.archive.dir
    week = _check_week(issue.week)
    for where in (folder, folder / COUNTRY_FOLDER):
        remove_stale_temp_files(where)
    view = build_view(issue, settings)
    records = _load_records(folder, settings, skip=week)
    record = record_of(issue, view)
    records[week] = record
    navs = _navs(records)
    site = site_of(settings)
    page = folder / record.href
    write_if_changed(page, _issue_page(view, _extras(record, navs[week], records, site), settings))
    data = json.dumps(issue_to_json(issue), ensure_ascii=False, indent=2) + "\n"
    source = folder / f"{week}.json"
    write_if_changed(source, data)
    records[week] = _save_record(replace(record, nav=navs[week]), source)
    _update_listings(records, navs, site, settings, fresh=(week, view))
    return page


def rebuild_index(settings: Settings) -> None:
    """Rewrite index.html, the country pages, trends.html and feed.xml from the
    records of the issues in the archive folder (making the missing ones from
    their <week>.json), and the page of any issue whose neighbours changed.

    JSON files that aren't issues are ignored with a warning.
    """
    folder = settings.archive.dir
    for where in (folder, folder / COUNTRY_FOLDER):
        remove_stale_temp_files(where)
    records = _load_records(folder, settings)
    _update_listings(records, _navs(records), site_of(settings), settings, fresh=None)


def _update_listings(
    records: dict[str, IssueRecord],
    navs: dict[str, tuple[str, str]],
    site: Site,
    settings: Settings,
    *,
    fresh: tuple[str, IssueView] | None,
) -> None:
    folder = settings.archive.dir
    for week, record in list(records.items()):
        if record.nav != navs[week]:
            records[week] = _rerender_page(record, navs[week], records, site, settings)
    ordered = sorted(records.values(), key=lambda r: r.order, reverse=True)  # newest first
    write_if_changed(folder / INDEX_FILE, index_html(ordered, site, settings), durable=False)
    kept = write_country_pages(ordered, site, settings, folder / COUNTRY_FOLDER)
    # A rebuilt week may have lost a section, or a story: pages that no longer
    # belong would list stale stories.
    for path in (folder / COUNTRY_FOLDER).glob("*.html"):
        if path not in kept:
            log.info("archive: removing %s: no archived issue needs it", path)
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                raise write_error(path, e, "cannot remove a stale country page") from e
    write_if_changed(folder / TRENDS_FILE, trends_html(ordered, site, settings), durable=False)

    def entry_html(record: IssueRecord) -> str:
        if fresh is not None and fresh[0] == record.week:
            view = fresh[1]
        else:
            view = build_view(_read_issue(folder / f"{record.week}.json"), settings)
        return feed_entry_html(view, settings.archive.base_url + record.href, settings)

    feed = folder / FEED_FILE
    write_if_changed(feed, feed_xml(ordered, settings, feed, entry_html), durable=False)


# --- records -----------------------------------------------------------------------------


def _read_issue(path: Path) -> Issue:
    return issue_from_json(json.loads(path.read_text(encoding="utf-8")))


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns)


def _save_record(record: IssueRecord, source: Path) -> IssueRecord:
    """Write `record` beside `source` (its <week>.json), stamped with that file's
    size and time; returns the stamped record."""
    stamped = replace(record, source=_stat(source))
    # Not fsynced: a record lost to a power cut is made again from the JSON.
    path = source.with_name(f"{record.week}{RECORD_SUFFIX}")
    write_if_changed(path, record_bytes(stamped), durable=False)
    return stamped


def _stored_record(path: Path, stamp: tuple[int, int]) -> IssueRecord | None:
    try:
        record = record_from_bytes(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        log.info("archive: making %s again: %s", path, e)
        return None
    if record.source != stamp or f"{record.week}{RECORD_SUFFIX}" != path.name:
        return None  # its <week>.json was written since: the record may tell another issue
    return record


def _load_records(folder: Path, settings: Settings, *, skip: str = "") -> dict[str, IssueRecord]:
    """Week → record of every issue in `folder` with both its <week>.json and
    <week>.html; a record missing or older than its JSON is made again (and
    saved). `skip`: a week being written, whose files are about to change."""
    records: dict[str, IssueRecord] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(RECORD_SUFFIX) or path.stem == skip:
            continue
        if _WEEK.fullmatch(path.stem) and (folder / f"{path.stem}.html").is_file():
            try:
                stamp = _stat(path)
            except OSError:
                continue  # removed meanwhile
            record = _stored_record(folder / f"{path.stem}{RECORD_SUFFIX}", stamp)
            if record is not None:
                records[record.week] = record
                continue
        try:
            issue = _read_issue(path)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("archive: ignoring %s: not a digest issue (%s)", path, e)
            continue
        if path.stem != issue.week:
            log.warning("archive: ignoring %s: it holds week %s", path, issue.week)
            continue
        if not (folder / f"{issue.week}.html").is_file():
            log.warning("archive: ignoring %s: %s.html is missing", path, issue.week)
            continue
        records[issue.week] = _save_record(record_of(issue, build_view(issue, settings)), path)
    return records


def _navs(records: dict[str, IssueRecord]) -> dict[str, tuple[str, str]]:
    """Week → (previous, next) week, "" at either end: what each page links to."""
    ordered = sorted(records.values(), key=lambda r: r.order)  # oldest first
    weeks = ["", *(r.week for r in ordered), ""]
    return {week: (weeks[i], weeks[i + 2]) for i, week in enumerate(weeks[1:-1])}


# --- issue pages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuePage:
    """What the archive adds to an issue's web page (`archive` in issue_web.html.j2)."""

    site: Site
    meta: PageMeta
    previous: NavLink | None  # the issue before, relative to the page
    next: NavLink | None
    trends_href: str


def _extras(
    record: IssueRecord, nav: tuple[str, str], records: dict[str, IssueRecord], site: Site
) -> IssuePage:
    lang = record.language

    def link(week: str, key: str) -> NavLink | None:
        other = records.get(week)
        return NavLink(message(lang, key, issue=other.issue_label), other.href) if other else None

    return IssuePage(
        site=site,
        meta=page_meta(
            site,
            record.subject,
            record.description,
            record.href,
            kind="article",
            published=_iso(record.end),
        ),
        previous=link(nav[0], "previous_issue"),
        next=link(nav[1], "next_issue"),
        trends_href=TRENDS_FILE,
    )


def _issue_page(view: IssueView, extras: IssuePage, settings: Settings) -> str:
    return render_template(
        get_environment(settings.templates_dir),
        WEB_TEMPLATE,
        v=view,
        t=translator(view.lang),
        css=issue_stylesheet(view, settings.templates_dir),
        placeholder=UNSUBSCRIBE_PLACEHOLDER,
        archive=extras,
    )


def _new_links(page: str, extras: IssuePage, lang: str, settings: Settings) -> str | None:
    """`page` with the links of `extras` between its archive-nav comments, or None
    when it hasn't the two places `_issue_nav.html.j2` makes (a page written by an
    older digest, or by a template of [templates] dir without them)."""
    if len(_NAV.findall(page)) != 2:
        return None
    env = get_environment(settings.templates_dir)
    macros = vars(env.get_template(NAV_TEMPLATE).make_module({"t": translator(lang)}))
    fresh = iter((str(macros["pager_row"](extras)), str(macros["pager_line"](extras))))
    return _NAV.sub(lambda _: next(fresh), page)


def _rerender_page(
    record: IssueRecord,
    nav: tuple[str, str],
    records: dict[str, IssueRecord],
    site: Site,
    settings: Settings,
) -> IssueRecord:
    """Give an archived issue's page the links to its new neighbours: the links
    alone when the page has their places, else the whole page from its JSON."""
    folder = settings.archive.dir
    path = folder / record.href
    source = folder / f"{record.week}.json"
    extras = _extras(record, nav, records, site)
    try:
        page = _new_links(path.read_text(encoding="utf-8"), extras, record.language, settings)
    except (OSError, UnicodeDecodeError):
        page = None
    if page is None:
        try:
            issue = _read_issue(source)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            log.warning("archive: cannot update the links of %s: %s", record.href, e)
            return record
        page = _issue_page(build_view(issue, settings), extras, settings)
    write_if_changed(path, page)
    return _save_record(replace(record, nav=nav), source)
