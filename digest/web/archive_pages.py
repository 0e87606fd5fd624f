"""The archive's listings, made from the issues' records: index, countries, trends.

Owns: what `index.html`, `country/<cc>.html` (and its older pages) and
`trends.html` show, built from `IssueRecord`s (`digest.web.archive_records`),
never from the issues' full JSON; the social tags (`PageMeta`) and subscribe
form (`Site`) every archive page shares.

Country pages. A section's stories are listed newest first, by issue, then by
time. The newest `PAGE_SIZE` are `country/<cc>.html`; the older ones go on
pages numbered from the *oldest*: `<cc>-1.html` holds the first 50 stories the
archive ever had for that section, `<cc>-2.html` the next 50, and so on, the
highest number holding the rest (1 to 50). Numbered so, a full page never
changes again (new stories only ever push the front page's oldest onto the
highest page), so a weekly build renders the front page and one older page per
section, not the whole history. An older page carries a key of everything it
is made from (`page_key`) before its `</html>`; a build skips a page whose key is
unchanged without rendering it. Every other file is rendered each build and
written only when its bytes changed (`write_if_changed`).

Doesn't own: where the records come from, the issue pages, or removing files
(`digest.web.archive`); feed.xml (`digest.web.archive_feed`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from digest import __version__
from digest.config import Settings
from digest.render.charts import Bar, bar_chart
from digest.render.issue import (
    country_page_href,
    get_environment,
    load_stylesheet,
    render_template,
)
from digest.render.messages import catalogue, message, plural
from digest.state.files import write_if_changed
from digest.web.archive_records import IssueRecord, StoryLine

INDEX_TEMPLATE = "index.html.j2"
COUNTRY_TEMPLATE = "country.html.j2"
TRENDS_TEMPLATE = "trends.html.j2"
MACROS_TEMPLATE = "_archive_macros.html.j2"
ARCHIVE_CSS = "archive.css"
INDEX_FILE = "index.html"
FEED_FILE = "feed.xml"
TRENDS_FILE = "trends.html"
TOP_SECTIONS = 3  # sections named per issue on the index page
PAGE_SIZE = 50  # stories per country page
_LOCALES = {"ja": "ja_JP", "en": "en_US"}  # og:locale
# An older country page's key, last thing before </html> (see `_with_key`).
_KEY = re.compile(rb"<!-- digest-archive-page ([0-9a-f]{64}) -->\s*(</html>\s*)?\Z")


# --- what every page shares ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    lang: str
    title: str
    contact: str
    base_url: str  # "" or the archive's public URL, ending in "/"
    subscribe_url: str  # "" without [web] url: no form
    css: Markup  # base.css, the issue's
    archive_css: Markup  # archive.css, the listings' own pieces


@dataclass(frozen=True, slots=True)
class PageMeta:
    """<meta name="description">, Open Graph and Twitter card tags of one page."""

    title: str
    description: str
    url: str  # absolute, from base_url; "" without one (no canonical, no og:url)
    kind: str  # og:type: "website" or "article"
    site_name: str
    locale: str
    published: str = ""  # article:published_time


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    href: str  # relative to the page that shows it


def site_of(settings: Settings) -> Site:
    lang = settings.digest.language
    return Site(
        lang=lang,
        title=settings.digest.title,
        contact=settings.digest.contact,
        base_url=settings.archive.base_url,
        subscribe_url=settings.web.url + "subscribe" if settings.web.url else "",
        css=load_stylesheet(settings.templates_dir),
        archive_css=load_stylesheet(settings.templates_dir, ARCHIVE_CSS),
    )


def page_meta(site: Site, title: str, description: str, href: str, **more: str) -> PageMeta:
    return PageMeta(
        title=title,
        description=description,
        url=site.base_url + href if site.base_url else "",
        kind=more.get("kind", "website"),
        site_name=site.title,
        locale=_LOCALES.get(site.lang, site.lang),
        published=more.get("published", ""),
    )


def translator(lang: str) -> Callable[..., str]:
    """The templates' `t`: labels in `lang`."""

    def t(key: str, /, **fields: object) -> str:
        return message(lang, key, **fields)

    return t


def _render(settings: Settings, name: str, site: Site, **context: object) -> str:
    env = get_environment(settings.templates_dir)
    return render_template(env, name, site=site, t=translator(site.lang), **context)


# --- index ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Headline:
    title: str
    href: str  # the story on its issue's page, relative to the archive folder
    source: str


@dataclass(frozen=True, slots=True)
class IndexEntry:
    record: IssueRecord
    href: str
    count_label: str  # "30 stories"
    top_sections: str  # "Japan (4) · South Korea (3) · China (2)"
    headlines: tuple[Headline, ...]


@dataclass(frozen=True, slots=True)
class CountryLink:
    code: str
    name: str  # as the newest issue that has the section names it
    href: str  # the front page, relative to the archive folder
    count: int
    toc_label: str  # "South Korea (12)"


def _entry(record: IssueRecord) -> IndexEntry:
    lang = record.language
    ranked = sorted(record.sections, key=lambda s: -s.count)[:TOP_SECTIONS]  # stable sort
    return IndexEntry(
        record=record,
        href=record.href,
        count_label=plural(lang, "story_count", record.story_count),
        top_sections=" · ".join(
            message(lang, "section_count", name=s.name, n=s.count) for s in ranked
        ),
        headlines=tuple(
            Headline(line.title, f"{record.href}#{line.anchor}", line.source) for line in record.top
        ),
    )


def country_links(records: Sequence[IssueRecord], lang: str) -> list[CountryLink]:
    """Every section of every issue, in the order the newest issues list them."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for record in records:  # newest first
        for s in record.sections:
            names.setdefault(s.code, s.name)
            counts[s.code] = counts.get(s.code, 0) + s.count
    return [
        CountryLink(
            code=code,
            name=name,
            href=country_page_href(code),
            count=counts[code],
            toc_label=message(lang, "section_count", name=name, n=counts[code]),
        )
        for code, name in names.items()
    ]


def index_html(records: Sequence[IssueRecord], site: Site, settings: Settings) -> str:
    countries = country_links(records, site.lang)
    return _render(
        settings,
        INDEX_TEMPLATE,
        site,
        lang=site.lang,
        title=site.title,
        entries=[_entry(r) for r in records],
        countries=countries,
        feed_href=FEED_FILE,
        trends_href=TRENDS_FILE,
        contact=site.contact,
        css=site.css,
        meta=page_meta(
            site,
            message(site.lang, "archive_title", title=site.title),
            message(site.lang, "archive_intro"),
            INDEX_FILE,
        ),
    )


# --- country pages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountryStory:
    """One story as listed on a country page."""

    story: StoryLine
    in_issue: str  # "In Issue #3"
    issue_href: str  # the story in its issue page, relative to the country page


@dataclass(frozen=True, slots=True)
class CountryPage:
    code: str
    name: str
    file: str  # in the country folder: "kr.html", "kr-3.html"
    number: int  # 0: the front page (newest stories); else 1 = the oldest 50
    intro: str  # "832 stories across all issues, newest first."
    doc_title: str  # <title>
    span: str  # an older page's dates, oldest to newest; "" on the front page
    stories: tuple[CountryStory, ...]  # newest first
    newer: NavLink | None
    older: NavLink | None
    pages: tuple[NavLink, ...]  # the front page lists every older page, newest first
    trend_href: str


def _slug(link: CountryLink) -> str:
    return link.href.rpartition("/")[2].removesuffix(".html")


def _span(lang: str, first: str, last: str) -> str:
    """What an older page covers: "Issue #3 – Issue #7"."""
    return first if first == last else message(lang, "issue_span", first=first, last=last)


def page_key(parts: object) -> str:
    """A key of what a file is made from (SHA-256 of `parts`' repr): equal keys,
    equal file, so the file needs no rendering."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def _stored_key(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 120))
            tail = f.read()
    except OSError:
        return ""
    found = _KEY.search(tail)
    return found.group(1).decode() if found else ""


# A section's stories in one issue: (record, first index in its lines, count).
Segment = tuple[IssueRecord, int, int]


def _pieces(segments: Sequence[Segment], lo: int, hi: int) -> list[Segment]:
    """The parts of `segments` holding the section's stories lo..hi-1 (counted
    from its oldest), as (record, first index in its lines, count)."""
    found: list[Segment] = []
    pos = 0
    for record, offset, count in segments:
        a, b = max(lo, pos), min(hi, pos + count)
        if a < b:
            found.append((record, offset + a - pos, b - a))
        pos += count
        if pos >= hi:
            break
    return found


def _blocks(segments: Sequence[Segment], stories: int) -> list[list[Segment]]:
    """`_pieces` of each older page (PAGE_SIZE stories, counted from the oldest)
    of the first `stories`, in one pass."""
    blocks: list[list[Segment]] = []
    room = 0
    for record, offset, count in segments:
        while count and stories:
            if not room:
                blocks.append([])
                room = PAGE_SIZE
            take = min(count, room, stories)
            blocks[-1].append((record, offset, take))
            offset, count, room, stories = offset + take, count - take, room - take, stories - take
        if not stories:
            break
    return blocks


def write_country_pages(
    records: Sequence[IssueRecord], site: Site, settings: Settings, folder: Path
) -> set[Path]:
    """Write every section's pages into `folder` (the country folder); returns the
    paths that belong there now."""
    links = country_links(records, site.lang)
    # Everything an older page is made from besides its stories' records.
    fixed = page_key(
        (
            __version__,
            site,
            repr(sorted(catalogue(site.lang).items(), key=lambda kv: kv[0])),
            [template_source(settings, n) for n in (COUNTRY_TEMPLATE, MACROS_TEMPLATE)],
        )
    )
    # Where each section's stories are, oldest issue first: from the records'
    # counts, without reading their lines.
    segments: dict[str, list[Segment]] = {link.code: [] for link in links}
    for record in reversed(records):
        offset = 0
        for s in record.sections:
            segments[s.code].append((record, offset, s.count))
            offset += s.count
    kept: set[Path] = set()
    for link in links:
        kept |= _section_pages(link, segments[link.code], links, fixed, site, settings, folder)
    return kept


def _section_pages(
    link: CountryLink,
    segments: Sequence[Segment],
    links: Sequence[CountryLink],
    fixed: str,
    site: Site,
    settings: Settings,
    folder: Path,
) -> set[Path]:
    """The front page of one section, and those of its older pages that changed."""
    lang = site.lang
    slug = _slug(link)
    total = sum(count for _, _, count in segments)
    older = max(0, total - PAGE_SIZE)  # stories on older pages
    count = -(-older // PAGE_SIZE)  # older pages, the last one maybe not full
    front_file = f"{slug}.html"
    trend_href = f"../{TRENDS_FILE}#trend-{slug}"
    pages: list[NavLink] = []
    kept: set[Path] = set()
    newer_label, older_label = message(lang, "newer_stories"), message(lang, "older_stories")
    blocks = _blocks(segments, older)
    assert len(blocks) == count
    for n in range(count, 0, -1):
        pieces = blocks[n - 1]
        span = _span(lang, pieces[0][0].issue_label, pieces[-1][0].issue_label)
        path = folder / f"{slug}-{n}.html"
        pages.append(NavLink(span, path.name))
        kept.add(path)
        newer = NavLink(newer_label, f"{slug}-{n + 1}.html" if n < count else front_file)
        back = NavLink(older_label, f"{slug}-{n - 1}.html") if n > 1 else None
        # The labels are in `fixed` (the catalogue): the addresses say the rest.
        made_of = ";".join(f"{r.week},{r.source},{first},{many}" for r, first, many in pieces)
        key = page_key(
            f"{fixed}|{link.code}|{link.name}|{n}|{newer.href}|{back and back.href}|{made_of}"
        )
        if _stored_key(path) == key:
            continue  # made from the same records, templates and settings
        stories = _country_stories(pieces, lang)
        page = CountryPage(
            code=link.code,
            name=link.name,
            file=path.name,
            number=n,
            intro=message(
                lang, "country_page_intro", count=plural(lang, "story_count", len(stories))
            ),
            doc_title=message(
                lang, "country_page_title", country=link.name, span=span, title=site.title
            ),
            span=span,
            stories=stories,
            newer=newer,
            older=back,
            pages=(),
            trend_href=trend_href,
        )
        html = _with_key(_country_html(page, links, site, settings), key)
        write_if_changed(path, html, durable=False)
    front = CountryPage(
        code=link.code,
        name=link.name,
        file=front_file,
        number=0,
        intro=message(lang, "country_intro", count=plural(lang, "story_count", total)),
        doc_title=message(lang, "country_title", country=link.name, title=site.title),
        span="",
        stories=_country_stories(_pieces(segments, older, total), lang),
        newer=None,
        older=NavLink(older_label, f"{slug}-{count}.html") if count else None,
        pages=tuple(pages),
        trend_href=trend_href,
    )
    path = folder / front_file
    kept.add(path)
    write_if_changed(path, _country_html(front, links, site, settings), durable=False)
    return kept


def _with_key(html: str, key: str) -> str:
    """`html` with `key` in a comment at its end, before </html> (or after
    everything, for a template of [templates] dir that has none)."""
    mark = f"<!-- digest-archive-page {key} -->\n"
    page = html.rstrip()
    if page.endswith("</html>"):
        return f"{page[: -len('</html>')]}{mark}</html>\n"
    return f"{page}\n{mark}"


def template_source(settings: Settings, name: str) -> str:
    """The text of template `name` as these settings find it ([templates] dir first)."""
    env = get_environment(settings.templates_dir)
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


def _country_stories(pieces: Sequence[Segment], lang: str) -> tuple[CountryStory, ...]:
    """The stories of `pieces` (oldest first), newest first; "In Issue #3" worded
    once per issue, not once per story."""
    found: list[CountryStory] = []
    for record, first, count in reversed(pieces):
        in_issue = message(lang, "in_issue", issue=record.issue_label)
        lines = record.stories[first : first + count]
        found.extend(
            CountryStory(line, in_issue, f"../{record.href}#{line.anchor}")
            for line in reversed(lines)
        )
    return tuple(found)


def _country_html(
    page: CountryPage, links: Sequence[CountryLink], site: Site, settings: Settings
) -> str:
    description = (
        f"{page.name} · {page.intro}"
        if page.number
        else f"{site.title} · {page.name} · {page.intro}"
    )
    return _render(
        settings,
        COUNTRY_TEMPLATE,
        site,
        lang=site.lang,
        title=site.title,
        page=page,
        # Links between country pages: they are siblings in the country folder.
        countries=[(c, c.href.rpartition("/")[2]) for c in links] if not page.number else [],
        index_href="../" + INDEX_FILE,
        feed_href="../" + FEED_FILE,
        trends_href="../" + TRENDS_FILE,
        contact=site.contact,
        css=site.css,
        meta=page_meta(site, page.doc_title, description, f"country/{page.file}"),
    )


# --- trends ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trend:
    code: str
    name: str
    anchor: str  # "trend-kr"
    href: str  # the country's page, relative to the archive folder
    chart: Markup
    summary: str  # "832 stories in all · latest issue 18 · most 30"
    first: tuple[str, str]  # the oldest issue's label and dates, under the chart's left end
    last: tuple[str, str] | None  # the newest's, under its right end (None: only one issue)


def trends_html(records: Sequence[IssueRecord], site: Site, settings: Settings) -> str:
    lang = site.lang
    oldest_first = list(reversed(records))
    per_issue = [{s.code: s.count for s in r.sections} for r in oldest_first]
    labels: dict[int, str] = {}  # "8 stories", worded once per number

    def label(n: int) -> str:
        if n not in labels:
            labels[n] = plural(lang, "story_count", n)
        return labels[n]

    trends = []
    for link in country_links(records, lang):
        slug = _slug(link)
        counts = [found.get(link.code, 0) for found in per_issue]
        bars = [
            Bar(
                message(lang, "trend_bar", issue=r.issue_label, range=r.week_range, count=label(n)),
                n,
            )
            for r, n in zip(oldest_first, counts, strict=True)
        ]
        first, last = oldest_first[0], oldest_first[-1]
        fields = {
            "total": plural(lang, "story_count", link.count),
            "latest": counts[-1],
            "most": max(counts),
        }
        title = message(lang, "trend_chart", name=link.name)
        span = message(lang, "issue_span", first=first.issue_label, last=last.issue_label)
        trends.append(
            Trend(
                code=link.code,
                name=link.name,
                anchor=f"trend-{slug}",
                href=link.href,
                chart=bar_chart(
                    bars,
                    chart_id=f"chart-{slug}",
                    title=title,
                    description=f"{span} · {message(lang, 'trend_summary', **fields)}",
                ),
                summary=message(lang, "trend_summary", **fields),
                first=(first.issue_label, first.week_range),
                last=(last.issue_label, last.week_range) if last is not first else None,
            )
        )
    return _render(
        settings,
        TRENDS_TEMPLATE,
        site,
        lang=lang,
        title=site.title,
        trends=trends,
        index_href=INDEX_FILE,
        feed_href=FEED_FILE,
        contact=site.contact,
        css=site.css,
        meta=page_meta(
            site,
            message(lang, "trends_title", title=site.title),
            message(lang, "trends_intro"),
            TRENDS_FILE,
        ),
    )
