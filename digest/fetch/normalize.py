"""The one boundary where feedparser output becomes frozen `Post` dataclasses.

Owns: turning a feedparser result (already parsed, already decoded) into plain
text, canonical URLs and UTC times: `html_to_text`, `canonical_url`,
`entry_texts`, `normalize_entries`, and `quick_urljoin` (urllib's join, sooner
for the plain absolute links most entries have; feedparser's joins use it too).
Everything here is pure: no I/O, no clock (`now` is a parameter), only log
lines about entries that were skipped or corrected.
Doesn't own: fetching or parsing bytes (`digest.fetch.gather`), reading date strings
(`digest.fetch.dates`), storage (`digest.state.store`), or any judgement about what a post is
about (classification, dedup across feeds).

Dates: an entry's time is its first readable date among `published` (RSS
pubDate, Atom published/issued, dcterms:issued), `updated` (Atom
updated/modified, dc:date, dcterms:modified) and `created`. Each raw string is
read by `digest.fetch.dates.parse_date` in the feed's zone context (configured
country, configured language, the feed's declared language); that reading wins
over feedparser's `*_parsed`, which drops zones it does not know. A string we
cannot read falls back to feedparser's reading only when `digest.fetch.dates.plausible`
says it is believable. No readable date → the first-seen time, logged when a date
was there but unreadable. More than `FUTURE_TOLERANCE` ahead → the first-seen
time, logged.

Nothing that comes out of here contains markup: titles are single-line plain
text, summaries are plain text with whitespace collapsed and a bounded length,
cleaned by `digest.fetch.summaries.clean_summary` (label prefixes, boilerplate,
dangling cuts, a repeated title) against the entry's title; `entry_texts` gives
both before that, for the benchmark that counts what each rule changed.
Templates escape on output anyway; stripping here is so that a stray `<script>`
or a CSS block never becomes *visible text* in the digest.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlparse, urlsplit, urlunsplit

from digest.config import FeedSettings
from digest.fetch.dates import DateContext, context_for, parse_date, plausible
from digest.fetch.summaries import clean_summary
from digest.models import Post

log = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 2000  # a digest shows a few lines; full articles are a click away
MAX_TITLE_CHARS = 300  # some feeds put the whole article text in <title>
MAX_HTML_INPUT_CHARS = 200_000  # bound parse time for pathological content:encoded blobs
FUTURE_TOLERANCE = timedelta(days=1)  # time zones and clock skew; beyond this a date is a lie
ELLIPSIS = "…"

# Query parameters that only identify a campaign, click or share, never the page.
# Matched case-insensitively on the decoded parameter name; any name starting with
# `utm_` is removed too (see TRACKING_PREFIXES). Deliberately not host-specific and
# not greedy: `ref`, `source`, `from` are left alone because some sites route on them.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "dclid",  # Google Display
        "gbraid",  # Google Ads (iOS)
        "wbraid",  # Google Ads (web-to-app)
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "twclid",  # X / Twitter
        "ttclid",  # TikTok
        "li_fat_id",  # LinkedIn
        "igshid",  # Instagram share
        "mc_cid",  # Mailchimp campaign
        "mc_eid",  # Mailchimp subscriber
        "_hsenc",  # HubSpot
        "_hsmi",  # HubSpot
        "__hstc",  # HubSpot
        "__hssc",  # HubSpot
        "__hsfp",  # HubSpot
        "mkt_tok",  # Marketo
        "vero_id",  # Vero
        "oly_anon_id",  # Omeda
        "oly_enc_id",  # Omeda
        "_ga",  # Google Analytics cross-domain
        "_gl",  # Google Analytics cross-domain
        "ref_src",  # Twitter embeds
        "ref_url",  # Twitter embeds
        "spm",  # Alibaba / Taobao / Youku page-position tracking
        "scm",  # Alibaba recommendation tracking
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Elements whose text content is never prose.
_SKIP_CONTENT = frozenset({"script", "style", "template", "noscript"})
# Ruby annotations: the reading printed above a word (<rt>), and the fallback
# parentheses around it (<rp>): "<ruby>東京<rt>とうきょう</rt></ruby>" is 東京 in
# plain text (NHK's easy-Japanese news, textbooks, pinyin on Chinese). Their end
# tags may be left out: the next <rt>/<rp>/<rb> or the </ruby> ends them.
_RUBY_NOTES = frozenset({"rt", "rp"})
_RUBY_BASE = frozenset({"rb", "rtc", "ruby"})
# Elements that separate words visually; without a space here "<p>a</p><p>b</p>"
# would read "ab".
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "img", "li", "main", "nav",
        "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
# Control and invisible characters that are never wanted in plain text: C0/C1
# controls (white space ones are collapsed first, `_collapse`), zero-width space,
# BOM, and the bidi overrides that can disguise text.
_PARTIAL_TAG = re.compile(r"<[a-zA-Z/!?]")
_LOOKS_LIKE_MARKUP = re.compile(r"<[a-zA-Z/!]|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b\ufeff\u202a-\u202e\u2066-\u2069]")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._in_ruby_note = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT:
            self._skip_depth += 1
        elif tag in _RUBY_NOTES:
            self._in_ruby_note = True
        elif tag in _RUBY_BASE:
            self._in_ruby_note = False
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<br/>`, `<script/>`: self-closing never opens a skipped region.
        if tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _RUBY_NOTES or tag in _RUBY_BASE:
            self._in_ruby_note = False
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth and not self._in_ruby_note:
            self.parts.append(data)

    # Comments, CDATA sections, declarations and processing instructions are not
    # text a reader sees (browsers treat HTML CDATA as a bogus comment): the base
    # class methods already ignore them; `unknown_decl` is defined to make it explicit.
    def unknown_decl(self, data: str) -> None:
        pass


def _collapse(text: str) -> str:
    # White space is what `str.split()` splits at: `str.isspace`, which covers NBSP,
    # U+3000 (ideographic space), U+2028/2029, and is what `re`'s `\s` matches too,
    # code point for code point (this was `re.sub(r"\s+", " ", text)`, ~2.5× slower).
    return _INVISIBLE.sub("", " ".join(text.split())).strip()


# A fragment of text and plain tags only (a feed summary's usual `<p>`, `<a href>`,
# `<br/>`, `<strong>`): read by `_plain_tags_text` without html.parser, ~5× faster.
# A token is a text run (no "<"), a start tag whose attributes are separated by
# white space and whose values are quoted or simple, or a bare end tag; anything
# else (comments, CDATA, "<3", odd attributes) leaves the fragment to html.parser.
# White space is html.parser's own around tag names (" \t\n\r\f", not Python's
# wider `\s`). Possessive quantifiers: a long run that fails must not backtrack.
_PLAIN_TOKEN = re.compile(
    r"([^<]++)"
    r"|<([a-zA-Z][a-zA-Z0-9]*+)"
    r"(?:[ \t\n\r\f]++[^\s\"'>/=<]++"
    r"(?:[ \t\n\r\f]*+=[ \t\n\r\f]*+(?:\"[^\"]*+\"|'[^']*+'|[^\s\"'=<>`]++))?+)*+"
    r"[ \t\n\r\f]*+/?>"
    r"|</([a-zA-Z][a-zA-Z0-9]*+)[ \t\n\r\f]*+>"
)
# Elements html.parser reads (or, in other Python versions, may read) as raw text,
# or whose content `_TextExtractor` skips: such fragments always go to the parser.
_RAW_TEXT = (
    _SKIP_CONTENT
    | {"textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext"}
    | _RUBY_NOTES  # text left out, by `_TextExtractor` only
)


def _plain_tags_text(html: str) -> str | None:
    """What `_TextExtractor` gives for `html` when it is text and plain tags only
    (each text run unescaped, a space for each block tag), else None."""
    parts: list[str] = []
    end = 0
    for m in _PLAIN_TOKEN.finditer(html):
        if m.start() != end:
            return None  # something between tokens that is not one
        end = m.end()
        text, opened, closed = m.groups()
        if text is not None:
            parts.append(unescape(text) if "&" in text else text)
            continue
        name = (opened or closed).lower()
        if name in _RAW_TEXT:
            return None
        if name in _BLOCK:
            parts.append(" ")
    if end != len(html):
        return None
    return "".join(parts)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, on one line, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        return _collapse(html)  # the common plain-text case, without a parser
    plain = _plain_tags_text(html)
    if plain is not None:
        return _collapse(plain)
    parser = _TextExtractor()
    try:
        parser.feed(html)
        # What the parser holds back at the end is an incomplete construct; a
        # summary cut mid-tag (`... <a href="http://ex`) is common and is not text.
        if _PARTIAL_TAG.match(parser.rawdata):
            parser.rawdata = ""
        parser.close()
    except Exception:  # hostile input must not break a whole feed
        # html.parser is lenient but not total (e.g. odd marked sections): keep
        # what was extracted so far rather than nothing.
        log.debug("html.parser gave up on a fragment; keeping the text before it")
    return _collapse("".join(parser.parts))


# An absolute http(s) URL that `urljoin` gives back as it is, whatever it is
# joined to: a lower-case scheme (urllib lower-cases it), an ASCII host, a path
# without ";" (urllib splits parameters off at one), a query that is not empty
# (an empty "?" is dropped), no fragment, no white space or control characters
# (urllib removes some), no brackets or backslashes.
_PLAIN_ABSOLUTE = re.compile(
    r"https?://[A-Za-z0-9][A-Za-z0-9.-]*+(?::[0-9]++)?+"
    r"(?:/[A-Za-z0-9\-._~!$&'()*+,=:@%/]*+)?+(?:\?[A-Za-z0-9\-._~!$&'()*+,=:@%/?;]++)?+"
)


@functools.lru_cache(maxsize=256)
def _parses(base: str) -> bool:
    try:
        urlparse(base, "")
    except ValueError:
        return False
    return True


def joins_as_itself(base: str, url: str) -> bool:
    """Whether `urllib.parse.urljoin(base, url)` is `url`, known without parsing
    both: `url` is a plain absolute URL (`_PLAIN_ABSOLUTE`), which urljoin gives
    back unchanged (another scheme than the base's: as it is; the same: put
    together again from its parts, the same text), and the base parses (else
    urljoin raises). False: no answer, ask urljoin."""
    return _PLAIN_ABSOLUTE.fullmatch(url) is not None and _parses(base)


def quick_urljoin(base: str, url: str) -> str:
    """`urllib.parse.urljoin(base, url)`, the same answer or error; entry links are
    mostly plain absolute URLs (`joins_as_itself`): ~0.5 µs instead of ~5."""
    return url if joins_as_itself(base, url) else urljoin(base, url)


def canonical_url(url: str) -> str:
    """A comparable form of an http(s) URL; "" for anything else.

    Lower-cases scheme and host, drops the default port, the fragment, and the
    tracking parameters (`TRACKING_PARAMS`, `utm_*`). The remaining query is kept
    byte for byte and in order (re-encoding could change what the server sees).
    """
    # Browsers drop tabs and newlines anywhere in a URL; feeds pretty-print links.
    url = re.sub(r"[\t\n\r]", "", url).strip().replace(" ", "%20")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return ""
    if ":" in host:  # IPv6 literal: hostname strips the brackets
        host = f"[{host}]"
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    kept = [p for p in parts.query.split("&") if p and not _is_tracking(p)]
    return urlunsplit((scheme, netloc, parts.path or "/", "&".join(kept), ""))


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.partition("=")[0]).lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Prefer a word boundary, unless that throws away a lot (CJK has no spaces).
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _detail_text(value: Any, detail: Any) -> str:
    """Plain text of a feedparser text construct (title, summary, content item)."""
    if not isinstance(value, str) or not value:
        return ""
    if isinstance(detail, Mapping):
        is_html = "html" in str(_own(detail, "type") or "")
    else:
        # No type given (feedparser copies Atom <content> into `summary` without
        # one): treat it as HTML if it contains anything that looks like markup.
        is_html = _LOOKS_LIKE_MARKUP.search(value) is not None
    if is_html:
        return html_to_text(value[:MAX_HTML_INPUT_CHARS])
    return _collapse(value)


def _struct_to_utc(value: Any) -> datetime | None:
    """feedparser's `*_parsed` fields are UTC `time.struct_time`s (or None)."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


# feedparser's keys for an entry's dates, most wanted first: RSS pubDate, Atom
# published/issued and dcterms:issued land in `published`; Atom updated/modified,
# dc:date and dcterms:modified in `updated`; Atom 0.3 and dcterms created in `created`.
_DATE_KEYS = ("published", "updated", "created")


def _own(entry: Mapping[str, Any], key: str) -> Any:
    # FeedParserDict answers `updated` with `published` when there is no
    # `updated` (with a DeprecationWarning): each key is read for itself here.
    # For the other keys read here (none of its aliases) its `get` gives what
    # `dict.get` does, through several Python calls.
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _entry_date(
    entry: Mapping[str, Any], dates: DateContext, feed: FeedSettings, title: str, post_id: str
) -> datetime | None:
    """The entry's publication time in UTC, or None when it has no readable date."""
    unreadable: list[str] = []
    for key in _DATE_KEYS:
        raw = _own(entry, key)
        theirs = _struct_to_utc(_own(entry, f"{key}_parsed"))
        if not isinstance(raw, str) or not raw.strip():
            if theirs is not None:
                return theirs
            continue
        ours = parse_date(raw, dates)
        if ours is not None:
            if theirs is not None and theirs != ours:
                log.debug(
                    "%s: entry %s: %r read as %s (feedparser: %s)",
                    feed.url, post_id, raw, ours.isoformat(), theirs.isoformat(),
                )  # fmt: skip
            return ours
        if theirs is not None and plausible(raw, theirs):
            return theirs
        unreadable.append(raw.strip()[:80])
    if unreadable:
        log.info(
            "%s: entry %r (%s): cannot read the date %s; using the first-seen time",
            feed.url, title, post_id, " / ".join(repr(u) for u in unreadable),
        )  # fmt: skip
    return None


def _language(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip().lower().replace("_", "-")


def normalize_entries(parsed: Mapping[str, Any], feed: FeedSettings, now: datetime) -> list[Post]:
    """Posts for every usable entry of a feedparser result, in feed order.

    `parsed` is what `feedparser.parse` returned for `feed.url`; `now` (aware) is
    the first-seen time and the fallback/ceiling for publication times.
    """
    if now.tzinfo is None:
        raise ValueError("normalize_entries needs an aware `now`")
    now = now.astimezone(UTC)
    meta: Mapping[str, Any] = parsed.get("feed") or {}
    headers: Mapping[str, Any] = parsed.get("headers") or {}
    # Relative links are relative to the feed document (RFC 3986 base URI).
    # feedparser already resolves them against Content-Location when gather passes
    # it; this catches results parsed without headers.
    base = str(headers.get("content-location") or feed.url)
    feed_language = _language(meta.get("language"))
    dates = context_for([feed.language, feed_language], feed.country)

    posts: list[Post] = []
    for index, entry in enumerate(parsed.get("entries") or []):
        post = _normalize_entry(entry, index, feed, base, feed_language, dates, now)
        if post is not None:
            posts.append(post)
    return posts


def entry_texts(entry: Mapping[str, Any]) -> tuple[str, str]:
    """An entry's title and summary as plain text, before cleaning and length caps.

    The summary falls back to the first content item when the entry has none.
    """
    title = _detail_text(_own(entry, "title"), _own(entry, "title_detail"))
    summary = _detail_text(_own(entry, "summary"), _own(entry, "summary_detail"))
    if not summary:
        content = _own(entry, "content") or []
        if content and isinstance(content[0], Mapping):
            summary = _detail_text(_own(content[0], "value"), content[0])
    return title, summary


def _normalize_entry(
    entry: Mapping[str, Any],
    index: int,
    feed: FeedSettings,
    base: str,
    feed_language: str,
    dates: DateContext,
    now: datetime,
) -> Post | None:
    title, raw_summary = entry_texts(entry)
    # Label prefixes, boilerplate, dangling cuts and a repeated title go before
    # the length cap (the boilerplate sits at the end); see digest.fetch.summaries.
    summary = _shorten(clean_summary(raw_summary, title).text, MAX_SUMMARY_CHARS)

    link = _own(entry, "link")
    url = canonical_url(quick_urljoin(base, link.strip())) if isinstance(link, str) and link else ""

    if not title and not url:
        log.warning("%s: skipped entry #%d: it has neither a title nor a link", feed.url, index)
        return None
    if not title:
        # A story needs something to click on in the email.
        title = _shorten(summary, 80) if summary else url
    title = _shorten(title, MAX_TITLE_CHARS)

    raw_id = _own(entry, "id")
    if isinstance(raw_id, str) and raw_id.strip():
        post_id = raw_id.strip()
    elif url:
        post_id = url
    else:
        # Hashed as gathered before summaries were cleaned, so such ids stay stable.
        uncleaned = _shorten(raw_summary, MAX_SUMMARY_CHARS)
        digest = hashlib.sha256(f"{title}\n{uncleaned}".encode()).hexdigest()
        post_id = f"sha256:{digest}"

    published = _entry_date(entry, dates, feed, title, post_id)
    date_from_feed = published is not None
    if published is None:
        published = now
    elif published > now + FUTURE_TOLERANCE:
        log.warning(
            "%s: entry %r (%s) is dated %s, in the future; using the first-seen time",
            feed.url, title, post_id, published.isoformat(),
        )  # fmt: skip
        published, date_from_feed = now, False

    language = ""
    for key in ("title_detail", "summary_detail"):
        detail = _own(entry, key)
        if isinstance(detail, Mapping) and (language := _language(_own(detail, "language"))):
            break

    return Post(
        feed_url=feed.url,
        post_id=post_id,
        url=url,
        title=title,
        summary=summary,
        published=published,
        first_seen=now,
        language=language or feed_language,
        date_from_feed=date_from_feed,
    )
