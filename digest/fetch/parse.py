"""Turning one fetched feed body into posts, or into the reason it failed.

Owns: calling feedparser safely, the policy on ill-formed documents, telling an
HTML page from a feed, and charset repair. Pure CPU on bytes already fetched: no
network, no store. Doesn't own: HTTP (`digest.fetch.gather`), the entry-to-`Post`
boundary (`digest.fetch.normalize`), or the processes this runs in
(`digest.fetch.workers`, which imports this module only once a body arrives).

feedparser only ever receives bytes wrapped in a file object, never a URL or a
string: given a bare string or bytes it would try them as a local file path, so a
hostile server answering "/etc/passwd" could make us read local files.

Charsets: a feed whose bytes are not in the encoding it declares must never put
mojibake into an issue. After feedparser has parsed a body, `_charset_trouble`
looks for signs of a wrong decoding (feedparser's own encoding complaints, a CJK
feed read as a single-byte charset, mojibake in the text); only then is the body
decoded again by `digest.fetch.charset.redecode` and, if that chose another encoding,
parsed again as UTF-8. Entries whose text is still garbled are left out and the
feed gets a warning (or fails, when nothing is left). Feeds without any sign of
trouble pay one `bytes.isascii` or a few regex scans, nothing more.

Speed: feedparser's joins of URIs with the document's base are memoized
(`_memoize_base_joins`: the same strings in, the same URI out; a plain absolute
link is known to join as itself), which takes a quarter off its time on a
typical feed, and its copies of content parameters skip `copy.deepcopy` when
they are flat (`_quick_detail_copies`: the same dicts), ~7% more. Both only
ever give what feedparser gives (tests/test_fetch_text.py).

Hostile bodies: at most `max_entries_read` entries of a body are parsed
(`cut_entries`), a body of valid UTF-8 but for a few bytes keeps its entries
(each bad byte a U+FFFD, logged: `digest.fetch.charset` rule 4b), and workers
die with the gather process that started them (`digest.fetch.lifeline`).
"""

from __future__ import annotations

import copy
import functools
import importlib
import io
import logging
import re
import types
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from xml.sax import SAXParseException

import feedparser

from digest.config import FeedSettings
from digest.fetch import charset
from digest.fetch.discovery import feed_links
from digest.fetch.fetched import MIN_ENTRIES_READ, Fetched, Parsed
from digest.fetch.normalize import html_to_text, joins_as_itself, normalize_entries
from digest.models import Post

log = logging.getLogger(__name__)

# bozo reasons that say nothing about the document's structure: it was parsed.
_SOFT_BOZO: tuple[type[Exception], ...] = (
    feedparser.CharacterEncodingOverride,
    feedparser.NonXMLContentType,
)
# bozo reasons that say the declared charset was not (or could not be) used.
_ENCODING_BOZO: tuple[type[Exception], ...] = (
    feedparser.CharacterEncodingOverride,
    feedparser.CharacterEncodingUnknown,
    feedparser.NonXMLContentType,
)
_HTML_STARTS = (b"<!doctype html", b"<html")

_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")


def cut_entries(body: bytes, limit: int) -> tuple[bytes, int]:
    """`body` keeping only its first `limit` entries (feeds list their newest first),
    and how many entries it had. Cut at an entry's end tag, the document's own
    closing tags kept; a body that does not look like that is left alone."""
    total = sum(1 for _ in _ENTRY_START.finditer(body))
    if total <= limit:
        return body, total
    ends = list(_ENTRY_END.finditer(body))
    if len(ends) < limit:
        return body, total
    return body[: ends[limit - 1].end()] + body[ends[-1].end() :], total


def _bozo_reason(exc: object) -> str:
    if isinstance(exc, SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return str(exc) or type(exc).__name__


def _looks_like_html(response: Fetched) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type and "xhtml" not in content_type:
        return True
    head = response.body[:512].lstrip().lower()
    return head.startswith(_HTML_STARTS)


def _memoize_base_joins() -> None:
    """Let feedparser join each URI with its base once per worker, not once per element.

    Given a base URI (we pass the final URL as Content-Location, so relative
    links resolve), feedparser joins the base with itself at *every* start tag
    (`make_safe_absolute_uri(base, base)`, to keep `xml:base` safe) and each link
    with the base (`_urljoin`): urllib's parsing, ~1.3 ms of a 20-item feed's
    ~5 ms. Both are pure functions of their strings (and of feedparser's constant
    list of safe schemes), so answering a repeated question from a cache gives
    the same URIs."""
    mixin: Any = importlib.import_module("feedparser.mixin")
    for name in ("make_safe_absolute_uri", "_urljoin"):
        original = getattr(mixin, name, None)
        # Another feedparser may name these differently: then no cache, same URIs.
        if not callable(original) or getattr(original, "digest_memoized", False):
            continue
        cached = functools.lru_cache(maxsize=4096)(original)
        # Each entry's link is joined once: no use caching it. A plain absolute one
        # joins as itself (`joins_as_itself`; feedparser's slash fix leaves it alone).
        quick = name == "_urljoin"

        # Both take (base, relative); feedparser passes strings (None: no relative).
        def join(
            base: Any,
            rel: Any = None,
            _cached: Any = cached,
            _original: Any = original,
            _quick: bool = quick,
        ) -> Any:
            if type(base) is str and (rel is None or type(rel) is str):
                if _quick and rel is not None and joins_as_itself(base, rel):
                    return rel
                return _cached(base, rel)
            return _original(base, rel)  # anything else: no cache, the same answer

        join.digest_memoized = True  # type: ignore[attr-defined]
        setattr(mixin, name, join)


_memoize_base_joins()


def _quick_detail_copies() -> None:
    """Let feedparser copy an element's content parameters without `copy.deepcopy`.

    At the end of every text element (title, summary, content) feedparser keeps
    a `copy.deepcopy` of its content parameters (type, language, base: a few
    strings) as the `*_detail` dict: ~0.3 ms of a 20-item feed's ~4 ms, most of
    it deepcopy asking the dict, through `FeedParserDict.__getattr__`, for
    `__deepcopy__` and `__reduce_ex__`. For such a dict (no attributes, keys
    and values strings, numbers or None, which deepcopy returns as they are),
    deepcopy makes an empty `FeedParserDict` and sets each item on it in
    order: done here directly, the same dict. Anything else goes to deepcopy."""
    mixin: Any = importlib.import_module("feedparser.mixin")
    util: Any = importlib.import_module("feedparser.util")
    original = getattr(mixin, "copy", None)
    kind: Any = getattr(util, "FeedParserDict", None)
    # Another feedparser may copy otherwise: then deepcopy, the same dicts.
    if original is not copy or kind is None:
        return
    atomic = (str, int, float, bool, type(None))
    make: Any = kind.__new__  # what deepcopy makes the copy with (no __init__)

    def deepcopy(x: Any, memo: Any = None) -> Any:
        if memo is None and type(x) is kind and not getattr(x, "__dict__", True):
            items = dict.items(x)
            if all(type(k) is str and type(v) in atomic for k, v in items):
                y = make(kind)
                for k, v in items:
                    y[k] = v  # through FeedParserDict.__setitem__, as deepcopy does
                return y
        return copy.deepcopy(x, memo)

    # A stand-in for the `copy` module as feedparser.mixin sees it: all of it,
    # deepcopy aside, so any other use of `copy.` there works as before.
    stand_in = types.ModuleType("copy")
    stand_in.__dict__.update(vars(copy))
    stand_in.deepcopy = deepcopy  # type: ignore[attr-defined]
    mixin.copy = stand_in


_quick_detail_copies()


def _feedparser(response: Fetched) -> Any:
    headers = dict(response.headers)
    # feedparser resolves relative links against this, i.e. the final URL.
    headers["content-location"] = response.url
    # Posts carry plain text only (`html_to_text` drops markup, scripts and styles),
    # so feedparser's own HTML sanitizing and URI rewriting *inside* content would
    # be thrown away: skipping them halves the parse time. Entry links are still
    # resolved against the base.
    return feedparser.parse(
        io.BytesIO(response.body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def parse_feed(
    feed: FeedSettings, response: Fetched, now: datetime, max_entries: int = MIN_ENTRIES_READ
) -> Parsed:
    """Body bytes → posts, or why the feed failed. Pure CPU; inline or in a worker.

    At most `max_entries` entries are read (`cut_entries`); the warning says so.
    """
    if not response.body.strip():
        return Parsed(error="empty body")
    notes: list[str] = []
    body, total = cut_entries(response.body, max_entries)
    if body is not response.body:
        log.info("%s: %d entries; only the first %d are read", feed.url, total, max_entries)
        notes.append(f"{total} entries in the feed, only the first {max_entries} read")
        response = replace(response, body=body)
    parsed = _feedparser(response)
    entries = parsed.get("entries") or []
    posts = normalize_entries(parsed, feed, now) if entries else []
    title = html_to_text(str(parsed.get("feed", {}).get("title", "")))
    hints = (feed.language, feed.country, str(parsed.get("feed", {}).get("language") or ""))
    cjk_expected = charset.expects_cjk(hints)
    trouble = _charset_trouble(parsed, response, cjk_expected, posts, title)
    if trouble is not None:
        fixed = _fix_charset(feed, response, parsed, trouble, hints)
        if fixed.parsed is not None:
            parsed = fixed.parsed
            entries = parsed.get("entries") or []
            posts = normalize_entries(parsed, feed, now) if entries else []
            title = html_to_text(str(parsed.get("feed", {}).get("title", "")))
        clean = [p for p in posts if fixed.readable(f"{p.title}\n{p.summary}", cjk_expected)]
        if not fixed.readable(title, cjk_expected):
            title = ""
        if fixed.note:
            notes.append(fixed.note)
        if fixed.stray:
            # One bad byte costs its entry a U+FFFD, not the entry nor the feed.
            for post in clean:
                if "\ufffd" in f"{post.title}\n{post.summary}":
                    log.info(
                        "%s: entry %r (%s): invalid UTF-8 replaced by U+FFFD",
                        feed.url, post.title, post.post_id,
                    )  # fmt: skip
        if len(clean) < len(posts):
            left_out = len(posts) - len(clean)
            if not clean:
                return Parsed(
                    error=f"garbled text in all {left_out} entries ({fixed.note or trouble})",
                    entries=len(entries),
                )
            notes.append(f"{left_out} of {len(posts)} entries left out: garbled text")
        posts = clean

    exc = parsed.get("bozo_exception")
    reason = _bozo_reason(exc) if parsed.get("bozo") else None
    # A "soft" bozo (wrong declared encoding, odd media type) says nothing about
    # the document's structure; anything else means the XML itself is broken.
    broken = reason is not None and not isinstance(exc, _SOFT_BOZO)
    version = parsed.get("version") or ""
    # Broken XML whose only "entries" are fragments with no title and no link
    # (a truncated `<item><title>x</ti`) has not really given anything back.
    if entries and (posts or not broken):
        if reason:
            notes.insert(0, f"ill-formed feed, entries recovered: {reason}")
        warning = "; ".join(notes) or None
        return Parsed(posts=posts, entries=len(entries), title=title, warning=warning)
    if not version and _looks_like_html(response):
        links = feed_links(response.body, response.url)
        if links:
            # Said, never followed on our own: the config names what is fetched.
            return Parsed(
                error=f"served an HTML page that links its feed: {' or '.join(links)} "
                "(put that URL in the config)"
            )
        return Parsed(error="served an HTML page, with no feed link in it")
    if broken:
        return Parsed(error=f"malformed feed, no entries recovered: {reason}")
    if not version:
        return Parsed(error="not an RSS or Atom feed" + (f": {reason}" if reason else ""))
    if reason:
        notes.insert(0, reason)
    # A valid feed, just no entries yet.
    return Parsed(title=title, warning="; ".join(notes) or None)


def _charset_trouble(
    parsed: Any, response: Fetched, cjk_expected: bool, posts: list[Post], title: str
) -> str | None:
    """Why feedparser may have decoded the body wrongly (`digest.fetch.charset` rule 1), or None."""
    body = response.body
    if body.isascii():
        return None  # every ASCII-compatible decoding gives the same text
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(exc, _ENCODING_BOZO):
        return _bozo_reason(exc)
    used = str(parsed.get("encoding") or "")
    if exc is not None:
        # A later XML error replaces feedparser's encoding complaint: compare ourselves.
        declared = charset.declared_encodings(body, response.headers.get("content-type", ""))
        if declared and charset.codec_name(used) not in declared:
            return f"declared as {declared[0]}, parsed as {used or 'nothing'}"
    if used and charset.is_single_byte(used):
        # Any bytes decode as Latin-1: "no error" proves nothing here.
        if cjk_expected:
            return f"a CJK feed decoded as {used}"
        declared = charset.declared_encodings(body, response.headers.get("content-type", ""))
        if any(d != charset.codec_name(used) for d in declared):
            return f"declared as {'/'.join(declared)}, decoded as {used}"
    texts = [title, *(f"{p.title}\n{p.summary}" for p in posts)]
    # One pass over everything first; entry by entry only if something is there.
    if charset.suspicious("\n".join(texts), cjk_expected=False) is None:
        return None
    for text in texts:
        if reason := charset.suspicious(text, cjk_expected=cjk_expected):
            return reason
    return None


@dataclass(frozen=True)
class _CharsetFix:
    """What `_fix_charset` decided: a new parse (or None to keep the first), and a note."""

    parsed: Any  # feedparser result of the re-decoded body; None: keep feedparser's
    note: str | None  # for the feed's warning
    trusted: bool  # False: no decoding is trustworthy, only ASCII text is kept
    stray: bool = False  # UTF-8 but for a few invalid bytes, each now a U+FFFD

    def readable(self, text: str, cjk_expected: bool) -> bool:
        if not self.trusted:
            return text.isascii()  # text that no charset can have changed
        if self.stray:
            # A U+FFFD here marks one bad byte in otherwise right text, not mojibake.
            text = text.replace("\ufffd", "")
        return charset.garbled(text, cjk_expected=cjk_expected) is None


def _fix_charset(
    feed: FeedSettings, response: Fetched, parsed: Any, trouble: str, hints: tuple[str, ...]
) -> _CharsetFix:
    """Decode the body again (`digest.fetch.charset.redecode`); parse again if that changed it."""
    content_type = response.headers.get("content-type", "")
    declared = charset.declared_encodings(response.body, content_type)
    said = "/".join(declared) or "no charset"
    decoded = charset.redecode(response.body, declared, charset.cjk_encodings(hints))
    if decoded is None:
        # The feed's warning (logged by `_one_feed`) says so; this is the detail.
        log.info("%s: %s; no decoding of the body is trustworthy", feed.url, trouble)
        return _CharsetFix(None, f"charset unknown ({trouble}; declared {said})", False)
    used = charset.codec_name(str(parsed.get("encoding") or ""))
    if decoded.encoding == used:
        return _CharsetFix(None, None, True)  # feedparser chose the same; nothing to redo
    headers = dict(response.headers)
    headers["content-type"] = "application/xml; charset=utf-8"
    again = replace(response, body=charset.utf8_document(decoded.text), headers=headers)
    note = f"charset: declared {said}, decoded as {decoded.encoding} ({decoded.how})"
    log.info("%s: %s; %s", feed.url, trouble, note)
    stray = decoded.encoding == "utf-8" and decoded.replaced > 0
    return _CharsetFix(_feedparser(again), note, True, stray)
