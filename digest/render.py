"""Rendering: one `Issue` in, the email HTML, the web HTML and the text part out.

Owns: the Jinja environment (one per templates folder, cached), the view
dataclasses the templates receive (derived from the `Issue` model: safe links,
local dates, truncated summaries, numbered text references), localisation of
dates with Babel and of labels through `digest.messages`, CSS inlining with
premailer (email only), plain-text wrapping, and the unsubscribe placeholder.

Doesn't own: choosing or ordering stories (`digest.selection`), writing files
(`digest.archive`), building or sending MIME messages (delivery). It is pure:
no network, no database, no clock, no file writes; it only reads templates.

Dates. Everything shown to readers is in `Issue.timezone`. The issue covers the
half-open interval [start, end); the range shown runs from the local date of
`start` to the local date of `end` minus one microsecond. So an issue ending at
local midnight shows the day before as its last day ("Nov 16 – 22"), and one
ending at a publish time such as Monday 08:00 shows that Monday, because stories
from that morning are in it. Babel formats the range (it handles ranges across
months and years); we then use plain spaces instead of CLDR's thin spaces and
the wave dash 〜 that Japanese readers expect instead of the fullwidth tilde.
"""

from __future__ import annotations

import functools
import html as html_lib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import premailer
from babel import Locale
from babel.dates import format_interval, format_skeleton
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from digest.config import Settings
from digest.messages import message, plural
from digest.models import GLOBAL_SECTION, Issue, Section, Story

__all__ = [
    "PREMAILER_CALLS",
    "UNSUBSCRIBE_PLACEHOLDER",
    "IssueView",
    "RenderedIssue",
    "SectionView",
    "StoryView",
    "build_view",
    "display_width",
    "format_date_range",
    "format_short_date",
    "get_environment",
    "issue_date_range",
    "load_stylesheet",
    "one_line",
    "personalize",
    "render_issue",
    "safe_href",
    "truncate_summary",
    "wrap_text",
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

SUMMARY_WIDTH = 200  # display columns (a CJK character counts 2)
TEXT_WIDTH = 72  # display columns of the text part
PREHEADER_WIDTH = 140  # clients show at most ~100-140 columns of preview

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
    stories: tuple[StoryView, ...]
    links: tuple[LinkRef, ...]  # the text part's numbered references of this section


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
    sections: tuple[SectionView, ...]
    web_url: str | None  # "view in browser"; None when archive.base_url is empty
    unsubscribe_url: str
    contact: str
    index_href: str  # the archive index, relative to the web page
    feed_href: str


# --- text helpers -------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, Unicode line separators...) to single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or ch in "\u200b\u200c\u200d\ufeff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def display_width(text: str) -> int:
    """Columns `text` takes in a monospace terminal: CJK (wide) characters count 2."""
    return sum(_char_width(ch) for ch in text)


def _prefix_within(text: str, width: int) -> int:
    """Length of the longest prefix of `text` that is at most `width` columns wide."""
    used = 0
    for i, ch in enumerate(text):
        used += _char_width(ch)
        if used > width:
            return i
    return len(text)


# A sentence ends at CJK terminal punctuation, or at ./!/? followed by a space,
# possibly after closing quotes/brackets.
_SENTENCE_END = re.compile(r"[。！？．!?][」』）)\"'”’]*|\.[)\"'”’]*(?=\s|$)")
# Words whose final "." doesn't end a sentence ("Acme Inc. said...").
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "inc", "co", "corp", "ltd", "vs", "etc", "no"}
    | {"e.g", "i.e", "approx", "u.s", "u.k", "jan", "feb", "aug", "sept", "oct", "nov", "dec"}
)


def _is_abbreviation(text: str, dot: int) -> bool:
    word = text[:dot].rsplit(None, 1)[-1] if text[:dot].strip() else ""
    word = word.lstrip("(\"'“‘").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def truncate_summary(text: str, width: int = SUMMARY_WIDTH) -> str:
    """`text` on one line, cut to about `width` columns, at a sentence end if possible.

    Cut at the last sentence end that keeps at least 40 % of `width` (no ellipsis:
    it reads as complete); otherwise at the last space past 60 % (Latin text),
    otherwise hard at `width` (CJK has no spaces), with "…".
    """
    text = one_line(text)
    if display_width(text) <= width:
        return text
    cut = _prefix_within(text, width - 1)  # room for the ellipsis
    best = 0
    for m in _SENTENCE_END.finditer(text, 0, len(text)):
        if m.end() > cut:
            break
        if m.group().startswith(".") and _is_abbreviation(text, m.start()):
            continue
        best = m.end()
    if best and display_width(text[:best]) >= width * 0.4:
        return text[:best]
    head = text[:cut]
    space = head.rfind(" ")
    if space > 0 and display_width(head[:space]) >= width * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:、，・-–—") + "…"


# Characters that must not start a line (closing punctuation, small kana, ...)
# and that must not end one (opening brackets): simple Japanese line-breaking rules.
_NO_START = set(
    "、。，．・：；？！ー…‥〜～」』）］｝〕〉》】〙〗’”,.;:!?)]}ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々"
)
_NO_END = set("「『（［｛〔〈《【〘〖‘“([{")


def _is_hangul(ch: str) -> bool:
    # Korean separates words with spaces and breaks lines there, like English.
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _tokens(text: str) -> list[str]:
    """Split into unbreakable pieces; " " marks a break that shows as a space."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace():
            if word:
                out.append(word)
                word = ""
            if out and out[-1] != " ":
                out.append(" ")
        elif _char_width(ch) == 2 and not _is_hangul(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    # Glue line-breaking exceptions to their neighbour (when not separated by a space).
    glued: list[str] = []
    for tok in out:
        if (
            glued
            and tok != " "
            and glued[-1] != " "
            and (tok[0] in _NO_START or glued[-1][-1] in _NO_END)
        ):
            glued[-1] += tok
        else:
            glued.append(tok)
    return glued


def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", first_indent: str | None = None
) -> str:
    """Wrap to `width` display columns; CJK text breaks between characters.

    Words longer than a line (URLs) are kept whole on a line of their own.
    """
    first = indent if first_indent is None else first_indent
    lines: list[str] = []
    line = first
    line_w = display_width(first)
    prefix_w = line_w
    pending_space = False
    for tok in _tokens(one_line(text)):
        if tok == " ":
            pending_space = True
            continue
        gap = " " if pending_space and line_w > prefix_w else ""
        tok_w = display_width(tok)
        if line_w + len(gap) + tok_w > width and line_w > prefix_w:
            lines.append(line)
            line = indent + tok
            line_w = display_width(indent) + tok_w
            prefix_w = display_width(indent)
        else:
            line += gap + tok
            line_w += len(gap) + tok_w
        pending_space = False
    lines.append(line)
    return "\n".join(ln.rstrip() for ln in lines)


# --- links and dates ------------------------------------------------------------

_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?[]"


def safe_href(url: str) -> str | None:
    """An ASCII http(s) URL fit for an href, or None if `url` isn't http(s).

    Hosts are IDNA-encoded and paths percent-encoded here rather than left to
    lxml, which would percent-encode a non-ASCII host into a broken one.
    """
    url = url.strip()
    if not url or _CONTROL.search(url):
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


def format_short_date(moment: datetime, timezone: str, language: str) -> str:
    """ja `11月18日`, en `Nov 18`, in the issue's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return _normalise_cldr(str(format_skeleton("MMMd", local, locale=language)))


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


# --- environment -----------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
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
    """The Jinja environment for `templates_dir`, built once per folder."""
    return _environment(templates_dir.resolve())


@functools.lru_cache(maxsize=8)
def _stylesheet(templates_dir: Path) -> str:
    return (templates_dir / STYLESHEET).read_text(encoding="utf-8")


def load_stylesheet(templates_dir: Path) -> Markup:
    """`base.css` of `templates_dir`, marked safe: it is ours, and entity-escaping
    inside <style> would break it (the HTML parser doesn't decode entities there)."""
    css = _stylesheet(templates_dir.resolve())
    if "</" in css:
        raise ValueError(f"{templates_dir / STYLESHEET} must not contain '</'")
    return Markup(css)


# --- building the view ---------------------------------------------------------------


def _section_name(section: Section, language: str) -> str:
    name = one_line(section.name)
    if name:
        return name
    if section.code == GLOBAL_SECTION:
        return message(language, "global")
    territory = Locale.parse(language).territories.get(section.code)
    return str(territory) if territory else section.code


def _section_anchor(code: str) -> str:
    return "section-" + re.sub(r"[^a-z0-9]+", "-", code.lower()).strip("-")


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


def _story_view(story: Story, issue: Issue, refs: _Refs) -> StoryView:
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
    )


def _with_ref(label: str, ref: int | None) -> str:
    return f"{label} [{ref}]" if ref is not None else label


def _truncate_line(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    return text[: _prefix_within(text, width - 1)].rstrip() + "…"


def build_view(issue: Issue, settings: Settings) -> IssueView:
    """Everything the templates show, derived from `issue` and `settings`."""
    lang = issue.language
    refs = _Refs()
    sections: list[SectionView] = []
    for section in issue.sections:
        if not section.stories:
            continue
        name = _section_name(section, lang)
        stories = tuple(_story_view(s, issue, refs) for s in section.stories)
        count = len(stories)
        sections.append(
            SectionView(
                code=section.code,
                name=name,
                anchor=_section_anchor(section.code),
                count=count,
                count_label=plural(lang, "story_count", count),
                toc_label=message(lang, "section_count", name=name, n=count),
                stories=stories,
                links=refs.flush(),
            )
        )
    title = one_line(issue.title)
    first, last = issue_date_range(issue.start, issue.end, issue.timezone)
    week_range = format_date_range(first, last, lang)
    total = sum(s.count for s in sections)
    total_label = plural(lang, "story_count", total)
    subject = one_line(message(lang, "subject", title=title, number=issue.number, range=week_range))
    separator = message(lang, "list_separator")
    if sections:
        preheader = message(
            lang,
            "preheader",
            count=total_label,
            sections=separator.join(s.toc_label for s in sections),
        )
    else:
        preheader = message(lang, "no_stories")
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
    email_source = env.get_template(EMAIL_TEMPLATE).render(context)
    html_email = _inline_css(email_source)
    html_web = env.get_template(WEB_TEMPLATE).render(context)
    text = env.get_template(TEXT_TEMPLATE).render(context)
    for name, body in (("html_email", html_email), ("text", text)):
        if body.count(UNSUBSCRIBE_PLACEHOLDER) != 1:
            raise ValueError(f"{name}: the template must contain the unsubscribe link once")
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
