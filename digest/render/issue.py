"""Rendering: one `Issue` in, the email HTML, the web HTML and the text part out.

Owns: the Jinja environment (one per templates folder, cached), the view
dataclasses the templates receive (derived from the `Issue` model: safe links,
local dates, truncated summaries, numbered text references, the bar widths of
the "at a glance" chart), the archive-relative addresses of country pages
(`country_page_href`; `digest.web.archive` writes the pages there), localisation of
dates with Babel and of labels through `digest.render.messages`, CSS inlining with
premailer (email only), and the unsubscribe placeholder. Plain-text
typography (display width, truncation, wrapping) is `digest.render.typography`.

Doesn't own: choosing or ordering stories (`digest.editorial.selection`), writing files
(`digest.web.archive`), building or sending MIME messages (delivery). It is pure:
no network, no database, no clock, no file writes; it only reads templates.

Dates. Everything shown to readers is in `Issue.timezone`. The issue covers the
half-open interval [start, end); the range shown is the seven local days from
the day `start` falls on: an issue published Monday 08:00 is named for the week
it reports on ("Nov 16 – 22"), not "Nov 16 – 23". Babel formats the range (it handles ranges across
months and years); we then use plain spaces instead of CLDR's thin spaces and
the wave dash 〜 that Japanese readers expect instead of the fullwidth tilde.
"""

from __future__ import annotations

import functools
import html as html_lib
import logging
import re
import traceback
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import jinja2
import premailer
from babel import Locale
from babel.dates import format_interval, format_skeleton
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from digest import bundled
from digest.config import Settings
from digest.errors import TemplateError
from digest.models import GLOBAL_SECTION, Issue, Section, Story
from digest.render.messages import country_name, message, plural
from digest.render.typography import (
    CONTROL_CHARS,
    display_width,
    one_line,
    prefix_within,
    truncate_summary,
    wrap_text,
)

__all__ = [
    "PREMAILER_CALLS",
    "UNSUBSCRIBE_PLACEHOLDER",
    "IssueView",
    "RenderedIssue",
    "SectionView",
    "StoryView",
    "build_view",
    "country_page_href",
    "format_date_range",
    "format_long_date",
    "format_short_date",
    "get_environment",
    "issue_date_range",
    "load_stylesheet",
    "personalize",
    "render_issue",
    "render_template",
    "safe_href",
]

# Letters, digits and '-' only: autoescaping, premailer/lxml and quoted-printable
# leave it byte-for-byte alone, and it can't occur in feed text by accident.
UNSUBSCRIBE_PLACEHOLDER = "DIGEST-UNSUBSCRIBE-URL-7f3a9c2e"

# How many times premailer ran in this process; tests check it is once per render.
PREMAILER_CALLS = 0

STYLESHEET = "base.css"
EMAIL_TEMPLATE = "issue_email.html.j2"
WEB_TEMPLATE = "issue_web.html.j2"
TEXT_TEMPLATE = "issue.txt.j2"

PREHEADER_WIDTH = 140  # clients show at most ~100-140 columns of preview
COUNTRY_FOLDER = "country"  # country pages, inside the archive folder

# cssutils reports every CSS hack it doesn't know at WARNING; our CSS is ours.
logging.getLogger("CSSUTILS").setLevel(logging.ERROR)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedIssue:
    subject: str  # one line, never CR/LF
    html_email: str  # CSS inlined; contains UNSUBSCRIBE_PLACEHOLDER once
    html_web: str  # archive page: <style> kept, generic unsubscribe note
    text: str  # plain-text part; contains UNSUBSCRIBE_PLACEHOLDER once
    preheader: str


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
    web_url: str | None  # "view in browser"; None when archive.base_url is empty
    unsubscribe_url: str
    contact: str
    index_href: str  # the archive index, relative to the web page
    feed_href: str


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


# --- environment -----------------------------------------------------------------


def _search_path(templates_dir: Path) -> list[str]:
    """The user's folder first, then digest's own: a user may replace one file."""
    folders = [templates_dir, bundled.TEMPLATES_DIR.resolve()]
    return [str(f) for f in dict.fromkeys(folders)]


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(_search_path(templates_dir)),
        autoescape=select_autoescape(
            enabled_extensions=("html", "xml", "html.j2", "xml.j2"),
            default_for_string=True,
            default=False,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap_text
    env.filters["width"] = display_width
    return env


def get_environment(templates_dir: Path) -> Environment:
    """The Jinja environment for `templates_dir` (then digest's own), built once per folder."""
    return _environment(templates_dir.resolve())


@functools.lru_cache(maxsize=8)
def _stylesheet(templates_dir: Path) -> str:
    for folder in _search_path(templates_dir):
        path = Path(folder) / STYLESHEET
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise TemplateError(
        STYLESHEET,
        f"in none of {', '.join(_search_path(templates_dir))}",
        hint="put a base.css into [templates] dir, or reinstall digest",
    )


def load_stylesheet(templates_dir: Path) -> Markup:
    """`base.css` of `templates_dir`, marked safe: it is ours, and entity-escaping
    inside <style> would break it (the HTML parser doesn't decode entities there)."""
    css = _stylesheet(templates_dir.resolve())
    if "</" in css:
        raise TemplateError(
            str(templates_dir / STYLESHEET),
            "must not contain '</' (it would end the <style> element)",
            hint="remove the '</' from the stylesheet",
        )
    return Markup(css)


def _template_line(error: BaseException, fallback: str) -> tuple[str, int | None]:
    # Jinja rewrites tracebacks so that template frames carry the template's own
    # file name and line: the innermost one is where the error is.
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(".j2") or frame.filename.endswith(".html"):
            return frame.filename, frame.lineno
    return fallback, None


def _is_ours(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(bundled.TEMPLATES_DIR.resolve())


def render_template(env: Environment, name: str, /, **context: object) -> str:
    """Render template `name` of `env`. A syntax error, an undefined name or any
    failure inside a template of `[templates] dir` raises `TemplateError` naming
    the file and line; a failure inside digest's own templates stays a bug."""
    hint = (
        "fix that template (a file of [templates] dir replaces digest's own of the same "
        "name; delete it to use digest's again)"
    )
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or name
        raise TemplateError(f"{where}:{e.lineno}", f"syntax error: {e.message}", hint=hint) from e
    except jinja2.TemplateNotFound as e:
        raise TemplateError(name, f"template not found ({e.message})", hint=hint) from e
    except jinja2.UndefinedError as e:
        where, line = _template_line(e, name)
        at = f"{where}:{line}" if line else where
        raise TemplateError(at, f"undefined: {e.message}", hint=hint) from e
    except jinja2.TemplateError as e:
        where, line = _template_line(e, name)
        at = f"{where}:{line}" if line else where
        raise TemplateError(at, f"{type(e).__name__}: {e.message or e}", hint=hint) from e
    except Exception as e:
        where, line = _template_line(e, name)
        if line is None or _is_ours(where):
            raise
        raise TemplateError(f"{where}:{line}", f"{type(e).__name__}: {e}", hint=hint) from e


# --- building the view ---------------------------------------------------------------


def _section_name(section: Section, language: str) -> str:
    name = one_line(section.name)
    if name:
        return name
    if section.code == GLOBAL_SECTION:
        return message(language, "global")
    territory = Locale.parse(language).territories.get(section.code)
    return str(territory) if territory else section.code


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


def _story_view(story: Story, issue: Issue, refs: _Refs | None) -> StoryView:
    """A story as shown; `refs` numbers its links for the text part (None: web only)."""
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
        date=format_short_date(story.published, issue.timezone, issue.language),
        date_iso=_iso_utc(story.published),
        summary=truncate_summary(story.summary),
        also=tuple(also),
        text_title=_with_ref(one_line(story.title), ref),
        also_about=(
            message(
                issue.language,
                "also_about",
                country=country_name(story.second_country, issue.language),
            )
            if story.second_country and story.second_country != story.country
            else ""
        ),
    )


def _with_ref(label: str, ref: int | None) -> str:
    return f"{label} [{ref}]" if ref is not None else label


def _truncate_line(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    return text[: prefix_within(text, width - 1)].rstrip() + "…"


def build_view(issue: Issue, settings: Settings) -> IssueView:
    """Everything the templates show, derived from `issue` and `settings`."""
    lang = issue.language
    refs = _Refs()
    sections: list[SectionView] = []
    largest = max((len(s.stories) for s in issue.sections), default=0)
    for section in issue.sections:
        if not section.stories:
            continue
        name = _section_name(section, lang)
        cap = settings.digest.max_per_section
        lead = tuple(_story_view(s, issue, refs) for s in section.stories[:cap])
        links = refs.flush()
        stories = lead + tuple(_story_view(s, issue, None) for s in section.stories[cap:])
        count = len(stories)
        more = count - len(lead)
        anchor = _section_anchor(section.code)
        base_url = settings.archive.base_url
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
    title = one_line(issue.title)
    first, last = issue_date_range(issue.start, issue.end, issue.timezone)
    week_range = format_date_range(first, last, lang)
    total = sum(s.count for s in sections)
    total_label = plural(lang, "story_count", total)
    subject = one_line(message(lang, "subject", title=title, number=issue.number, range=week_range))
    separator = message(lang, "list_separator")
    # An empty issue is mailed only as a quiet-week note (`[schedule] empty_week`).
    empty_note = "quiet_week" if settings.schedule.empty_week == "quiet" else "no_stories"
    if sections:
        preheader = message(
            lang,
            "preheader",
            count=total_label,
            sections=separator.join(s.toc_label for s in sections),
        )
    else:
        preheader = message(lang, empty_note)
    base_url = settings.archive.base_url
    return IssueView(
        lang=lang,
        title=title,
        subject=subject,
        preheader=_truncate_line(one_line(preheader), PREHEADER_WIDTH),
        issue_label=message(lang, "issue_number", number=issue.number),
        week=issue.week,
        week_range=week_range,
        story_count=total,
        story_count_label=total_label,
        empty_note=message(lang, empty_note),
        sections=tuple(sections),
        web_url=safe_href(f"{base_url}{issue.week}.html") if base_url else None,
        unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER,
        contact=one_line(settings.digest.contact),
        index_href="index.html",
        feed_href="feed.xml",
    )


# --- CSS inlining ------------------------------------------------------------------------


def _inline_css(document: str) -> str:
    """Inline the <style> rules into style= attributes; leave @media rules in <style>."""
    global PREMAILER_CALLS
    PREMAILER_CALLS += 1
    inliner = premailer.Premailer(
        document,
        base_url=None,  # no href rewriting
        disable_link_rewrites=True,
        allow_network=False,  # never fetch <link rel=stylesheet> or external CSS
        allow_loading_external_files=False,
        keep_style_tags=False,  # the <style> keeps only what can't be inlined: @media
        strip_important=False,  # @media rules need !important to beat inline styles
        remove_classes=False,  # @media rules select by class
        exclude_pseudoclasses=True,
        disable_validation=True,  # our own CSS; cssutils validation only adds noise
        # width/height attributes are set in the template (width="600" for Outlook);
        # premailer would overwrite them with the CSS width:100%.
        disable_basic_attributes=["width", "height"],
        cssutils_logging_level=logging.ERROR,
        align_floating_images=False,
    )
    return str(inliner.transform(pretty_print=False))


# --- public API ---------------------------------------------------------------------------


def render_issue(issue: Issue, settings: Settings) -> RenderedIssue:
    """Render the email HTML (inlined CSS), the web page, the text part and the subject."""
    env = get_environment(settings.templates_dir)
    view = build_view(issue, settings)
    lang = issue.language

    def t(key: str, /, **fields: object) -> str:
        return message(lang, key, **fields)

    context: dict[str, object] = {
        "v": view,
        "t": t,
        "css": load_stylesheet(settings.templates_dir),
        "placeholder": UNSUBSCRIBE_PLACEHOLDER,
    }
    email_source = render_template(env, EMAIL_TEMPLATE, **context)
    html_email = _inline_css(email_source)
    html_web = render_template(env, WEB_TEMPLATE, **context)
    text = render_template(env, TEXT_TEMPLATE, **context)
    for name, body in ((EMAIL_TEMPLATE, html_email), (TEXT_TEMPLATE, text)):
        if body.count(UNSUBSCRIBE_PLACEHOLDER) != 1:
            source = env.get_template(name).filename or name
            raise TemplateError(
                source,
                "must contain the unsubscribe link ({{ placeholder }}) exactly once",
                hint="every message needs its unsubscribe link (RFC 8058)",
            )
    return RenderedIssue(
        subject=view.subject,
        html_email=html_email,
        html_web=html_web,
        text=text,
        preheader=view.preheader,
    )


def personalize(rendered: str, unsubscribe_url: str, *, html: bool) -> str:
    """Put one subscriber's unsubscribe URL in place of the placeholder.

    The URL must be http(s) and one line; in HTML it is attribute-escaped.
    """
    if UNSUBSCRIBE_PLACEHOLDER not in rendered:
        raise ValueError("the unsubscribe placeholder is not in this document")
    if safe_href(unsubscribe_url) is None or one_line(unsubscribe_url) != unsubscribe_url:
        raise ValueError(f"not a one-line http(s) unsubscribe URL: {unsubscribe_url!r}")
    value = html_lib.escape(unsubscribe_url, quote=True) if html else unsubscribe_url
    return rendered.replace(UNSUBSCRIBE_PLACEHOLDER, value)
