"""Fetching every configured feed concurrently and storing the new posts.

Owns: HTTP for feeds (one `httpx.AsyncClient` per run, bounded concurrency,
timeouts, a size cap, manual redirects restricted to http/https, conditional GET
with the validators kept in the store), handing the bytes to feedparser, deciding
whether a feed failed, and the per-run `GatherReport`.
Doesn't own: turning entries into `Post`s (`digest.normalize`), SQL
(`digest.store`), or what goes into an issue.

Policy, per feed (a feed's failure never stops the run):
- 200 with entries → "ok"; if feedparser flagged the document as ill-formed but
  still recovered entries, the entries are kept and `warning` says why.
- 200 with a valid feed and no entries → "ok" with 0 entries.
- 304 → "not_modified"; the stored validators stay as they are.
- Everything else → "failed" with a human-readable `error`: timeouts, refused
  connections, HTTP errors, empty bodies, HTML pages, documents from which no
  entries can be recovered, too many redirects, non-http(s) redirects, responses
  over `max_bytes`, and any unexpected exception (logged with its traceback).
  Each failure is logged at WARNING with the feed URL and counted in the store.

Charsets: a feed whose bytes are not in the encoding it declares must never put
mojibake into an issue. After feedparser has parsed a body, `_charset_trouble`
looks for signs of a wrong decoding (feedparser's own encoding complaints, a CJK
feed read as a single-byte charset, mojibake in the text); only then is the body
decoded again by `digest.charset.redecode` and, if that chose another encoding,
parsed again as UTF-8. Entries whose text is still garbled are left out and the
feed gets a warning (or fails, when nothing is left). Feeds without any sign of
trouble pay one `bytes.isascii` or a few regex scans, nothing more.

feedparser only ever receives bytes wrapped in a file object, never a URL or a
string: given a bare string or bytes it would try them as a local file path, so a
hostile server answering "/etc/passwd" could make us read local files.

Concurrency: all network I/O and all store writes happen on the event-loop thread
(the sqlite connection is not thread-safe); at most `concurrency` requests are
in flight. Each body is parsed as soon as it arrives. feedparser is pure Python
(~5-10 ms for a 20-item feed, plus ~2 ms to normalise) and would serialise the
whole run behind the GIL, so runs with `POOL_MIN_FEEDS` feeds or more parse in
worker processes (started on the first 200, through a fork server) while the loop
keeps the network busy; smaller runs parse inline. Numbers: benchmarks/gather.py.

Redirects: httpx's own following is off; `_fetch` follows at most
`max_redirects` hops, and `_vet_redirect` refuses any Location that is not
http(s) before httpx even parses it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXParseException

import feedparser
import httpx

from digest import charset
from digest.config import FeedSettings, GatherSettings, Settings
from digest.errors import FeedError
from digest.models import FeedState, Post
from digest.normalize import html_to_text, normalize_entries
from digest.store import Store

log = logging.getLogger(__name__)

OK = "ok"
NOT_MODIFIED = "not_modified"
FAILED = "failed"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
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


@dataclass(frozen=True)
class FeedResult:
    """What happened to one feed in one run."""

    url: str
    status: str  # "ok" (200, parsed) | "not_modified" (304) | "failed"
    entries: int  # entries parsed (0 for 304/failed)
    new_posts: int  # rows newly added to the store
    error: str | None  # why it failed (human readable, no traceback)
    warning: str | None  # e.g. feed was ill-formed but entries were recovered
    title: str  # feed's own <title> when parsed, else ""
    seconds: float


@dataclass(frozen=True)
class GatherReport:
    """All feeds of one run, in config order."""

    results: tuple[FeedResult, ...]

    @property
    def ok(self) -> list[FeedResult]:
        """Feeds that did not fail: "ok" and "not_modified"."""
        return [r for r in self.results if r.status != FAILED]

    @property
    def failed(self) -> list[FeedResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def new_posts(self) -> int:
        return sum(r.new_posts for r in self.results)

    @property
    def all_failed(self) -> bool:
        """True only when there were feeds and every one of them failed."""
        return bool(self.results) and all(r.status == FAILED for r in self.results)

    def summary_lines(self) -> list[str]:
        """One line per failed feed (URL and reason), one per warning, then totals."""
        lines = [f"FAILED  {r.url}: {r.error}" for r in self.failed]
        lines += [f"warning {r.url}: {r.warning}" for r in self.results if r.warning]
        fetched = sum(1 for r in self.results if r.status == OK)
        unchanged = sum(1 for r in self.results if r.status == NOT_MODIFIED)
        entries = sum(r.entries for r in self.results)
        lines.append(
            f"{len(self.results)} feeds: {fetched} fetched, {unchanged} not modified, "
            f"{len(self.failed)} failed; {entries} entries, {self.new_posts} new posts"
        )
        return lines


def gather(
    settings: Settings, store: Store, now: datetime, *, parse_workers: int | None = None
) -> GatherReport:
    """Fetch every feed in `settings`, store new posts, report per feed.

    `parse_workers`: processes used to parse feeds; None picks automatically (see
    `_auto_workers`), 0 parses on the event-loop thread.
    """
    return asyncio.run(gather_async(settings, store, now, parse_workers=parse_workers))


async def gather_async(
    settings: Settings, store: Store, now: datetime, *, parse_workers: int | None = None
) -> GatherReport:
    """The implementation of `gather`, for callers already inside an event loop."""
    if now.tzinfo is None:
        raise ValueError("gather needs an aware `now`")
    g = settings.gather
    states = {feed.url: store.feed_state(feed.url) for feed in settings.feeds}
    semaphore = asyncio.Semaphore(g.concurrency)
    workers = _auto_workers(len(settings.feeds)) if parse_workers is None else parse_workers
    with _Parser(workers) as parser:
        async with httpx.AsyncClient(
            headers={"User-Agent": g.user_agent},
            timeout=httpx.Timeout(g.timeout),
            # Redirects are followed by hand (see `_fetch`), and every Location is
            # vetted before httpx even parses it (`_vet_redirect`).
            follow_redirects=False,
            event_hooks={"response": [_vet_redirect]},
            limits=httpx.Limits(
                max_connections=g.concurrency, max_keepalive_connections=g.concurrency
            ),
        ) as client:
            tasks = [
                asyncio.create_task(
                    _one_feed(client, semaphore, parser, g, store, feed, states[feed.url], now)
                )
                for feed in settings.feeds
            ]
            try:
                results = await asyncio.gather(*tasks)
            except BaseException:
                # Only the store itself failing gets here (every per-feed error is a
                # result): stop the other feeds before the client closes under them.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
    return GatherReport(tuple(results))


@dataclass(frozen=True)
class _Response:
    status: int  # 200 or 304
    url: str  # final URL after redirects
    headers: dict[str, str]  # lower-case names
    body: bytes
    moved_to: str | None  # set when a permanent redirect was followed


async def _one_feed(
    client: httpx.AsyncClient,
    semaphore: asyncio.Semaphore,
    parser: _Parser,
    g: GatherSettings,
    store: Store,
    feed: FeedSettings,
    state: FeedState,
    now: datetime,
) -> FeedResult:
    started = time.perf_counter()

    def result(
        status: str,
        *,
        entries: int = 0,
        new_posts: int = 0,
        error: str | None = None,
        warning: str | None = None,
        title: str = "",
    ) -> FeedResult:
        seconds = time.perf_counter() - started
        return FeedResult(feed.url, status, entries, new_posts, error, warning, title, seconds)

    try:
        async with semaphore:
            response = await _fetch(client, g, feed.url, state)
        if response.status == 304:
            store.record_feed_ok(feed.url, now)
            return result(NOT_MODIFIED)
        parsed = await parser.parse(feed, response, now)
        if parsed.error is not None:
            raise FeedError(feed.url, parsed.error)
        warning = parsed.warning
        if response.moved_to:
            moved = f"moved permanently to {response.moved_to}; update the config"
            warning = f"{warning}; {moved}" if warning else moved
        new = store.add_posts(parsed.posts)
        store.record_feed_ok(
            feed.url,
            now,
            title=parsed.title or None,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            warning=warning,
        )
        if warning:
            log.warning("%s: %s", feed.url, warning)
        return result(
            OK, entries=parsed.entries, new_posts=new, warning=warning, title=parsed.title
        )
    except FeedError as e:
        reason = e.reason
        log.warning("%s: %s", feed.url, reason)
    except Exception as e:
        reason = f"unexpected error: {type(e).__name__}: {e}"
        log.warning("%s: %s", feed.url, reason, exc_info=True)
    failures = store.record_feed_error(feed.url, reason, now)
    if failures > 1:
        log.warning("%s: has failed %d times in a row", feed.url, failures)
    return result(FAILED, error=reason)


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


class _RedirectRefused(Exception):
    """A redirect we will not follow; the message says why (for FeedError)."""


async def _vet_redirect(response: httpx.Response) -> None:
    """Refuse a redirect to anything but http(s), before httpx builds the next request.

    Runs for every response, as an httpx event hook: even with follow_redirects
    off, httpx parses Location to offer `next_request`, and would fail on
    `javascript:...` with an obscure InvalidURL.
    """
    location = response.headers.get("location")
    if location is None or response.status_code not in _REDIRECTS:
        return
    target = urljoin(str(response.request.url), location.strip())
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise _RedirectRefused(f"redirected to a non-http(s) URL: {target[:200]}")
    try:
        httpx.URL(target)
    except httpx.InvalidURL:
        raise _RedirectRefused(f"redirected to an invalid URL: {target[:200]!r}") from None


@dataclass(frozen=True)
class _Hop:
    """One request's outcome: either a redirect target or a final answer."""

    location: str | None = None  # absolute URL to follow next
    permanent: bool = False
    status: int = 0  # 200 or 304 when final
    headers: dict[str, str] | None = None
    body: bytes = b""


async def _fetch(
    client: httpx.AsyncClient, g: GatherSettings, feed_url: str, state: FeedState
) -> _Response:
    """GET a feed, following up to `max_redirects` http(s) redirects. Raises FeedError."""
    url = feed_url
    headers = _conditional_headers(state)
    all_permanent = True
    for _ in range(g.max_redirects + 1):
        try:
            # httpx's timeout applies per socket operation; this bounds the whole
            # request, so a server dripping bytes cannot hold a slot forever.
            async with asyncio.timeout(g.timeout):
                hop = await _request(client, g, feed_url, url, headers)
        except (TimeoutError, httpx.TimeoutException):
            raise FeedError(feed_url, f"timed out after {g.timeout:g} s") from None
        except httpx.ConnectError as e:
            raise FeedError(feed_url, f"cannot connect: {e or type(e).__name__}") from None
        except httpx.HTTPError as e:
            raise FeedError(feed_url, f"HTTP transfer failed: {e or type(e).__name__}") from None
        except httpx.InvalidURL as e:
            raise FeedError(feed_url, f"invalid URL {url[:200]!r}: {e}") from None
        except _RedirectRefused as e:
            raise FeedError(feed_url, str(e)) from None
        if hop.location is not None:
            url = hop.location
            all_permanent = all_permanent and hop.permanent
            continue
        moved_to = url if all_permanent and url != feed_url else None
        return _Response(hop.status, url, hop.headers or {}, hop.body, moved_to)
    raise FeedError(feed_url, f"too many redirects (more than {g.max_redirects})")


async def _request(
    client: httpx.AsyncClient,
    g: GatherSettings,
    feed_url: str,
    url: str,
    headers: dict[str, str],
) -> _Hop:
    async with client.stream("GET", url, headers=headers) as r:
        status = r.status_code
        if status in _REDIRECTS and "location" in r.headers:
            # Location may be relative (RFC 9110); resolve it against this hop.
            # Its scheme was checked by `_vet_redirect`.
            target = urljoin(url, r.headers["location"].strip())
            return _Hop(location=target, permanent=status in _PERMANENT)
        if status == 304:
            return _Hop(status=304)
        if status >= 400:
            phrase = f" {r.reason_phrase}" if r.reason_phrase else ""
            raise FeedError(feed_url, f"HTTP {status}{phrase}")
        if status != 200:
            raise FeedError(feed_url, f"unexpected HTTP {status} {r.reason_phrase}".rstrip())
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > g.max_bytes:
            raise FeedError(feed_url, f"response larger than {g.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        # Decoded bytes are counted, so a gzip bomb is stopped too.
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size > g.max_bytes:
                raise FeedError(feed_url, f"response larger than {g.max_bytes} bytes")
            chunks.append(chunk)
        response_headers = {k.lower(): v for k, v in r.headers.items()}
        return _Hop(status=200, headers=response_headers, body=b"".join(chunks))


def _bozo_reason(exc: object) -> str:
    if isinstance(exc, SAXParseException):
        return f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}: {exc.getMessage()}"
    return str(exc) or type(exc).__name__


def _looks_like_html(response: _Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type and "xhtml" not in content_type:
        return True
    head = response.body[:512].lstrip().lower()
    return head.startswith(_HTML_STARTS)


def _feedparser(response: _Response) -> Any:
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


@dataclass(frozen=True)
class _Parsed:
    """What parsing one body produced; crosses the process boundary (picklable)."""

    posts: list[Post] = field(default_factory=list)
    entries: int = 0
    title: str = ""
    warning: str | None = None
    error: str | None = None  # the feed failed: why
    logs: list[tuple[str, int, str]] = field(default_factory=list)  # (logger, level, message)


def _parse_feed(feed: FeedSettings, response: _Response, now: datetime) -> _Parsed:
    """Body bytes → posts, or why the feed failed. Pure CPU; inline or in a worker."""
    if not response.body.strip():
        return _Parsed(error="empty body")
    parsed = _feedparser(response)
    entries = parsed.get("entries") or []
    posts = normalize_entries(parsed, feed, now) if entries else []
    title = html_to_text(str(parsed.get("feed", {}).get("title", "")))
    hints = (feed.language, feed.country, str(parsed.get("feed", {}).get("language") or ""))
    cjk_expected = charset.expects_cjk(hints)
    notes: list[str] = []
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
        if len(clean) < len(posts):
            left_out = len(posts) - len(clean)
            if not clean:
                return _Parsed(
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
        return _Parsed(posts=posts, entries=len(entries), title=title, warning=warning)
    if not version and _looks_like_html(response):
        return _Parsed(error="served an HTML page, not a feed")
    if broken:
        return _Parsed(error=f"malformed feed, no entries recovered: {reason}")
    if not version:
        return _Parsed(error="not an RSS or Atom feed" + (f": {reason}" if reason else ""))
    if reason:
        notes.insert(0, reason)
    # A valid feed, just no entries yet.
    return _Parsed(title=title, warning="; ".join(notes) or None)


def _charset_trouble(
    parsed: Any, response: _Response, cjk_expected: bool, posts: list[Post], title: str
) -> str | None:
    """Why feedparser's decoding of the body may be wrong (`digest.charset` rule 1), or None."""
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

    def readable(self, text: str, cjk_expected: bool) -> bool:
        if not self.trusted:
            return text.isascii()  # text that no charset can have changed
        return charset.garbled(text, cjk_expected=cjk_expected) is None


def _fix_charset(
    feed: FeedSettings, response: _Response, parsed: Any, trouble: str, hints: tuple[str, ...]
) -> _CharsetFix:
    """Decode the body again (`digest.charset.redecode`); parse again if that changed it."""
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
    return _CharsetFix(_feedparser(again), note, True)


# -- parsing off the event loop -----------------------------------------------
#
# Measured with benchmarks/gather.py (100 feeds × 20 items, 100 ms server latency,
# 2 CPUs, concurrency 128): parsing on the loop thread left the first run
# CPU-bound at ~1.3-1.5 s (~8× sequential); with two parser processes it takes
# 0.7-0.9 s (11-15×). The second run (all 304) never starts a worker.

POOL_MIN_FEEDS = 8  # below this, starting processes costs more than it saves
MAX_PARSE_WORKERS = 4

_worker_logs: list[tuple[str, int, str]] = []


class _CollectLogs(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _worker_logs.append((record.name, record.levelno, record.getMessage()))


def _worker_init() -> None:
    # A worker's log lines are carried back with its result and re-emitted in the
    # parent, where logging is configured (and where tests capture it).
    root = logging.getLogger("digest")
    root.handlers[:] = [_CollectLogs()]
    root.setLevel(logging.DEBUG)
    root.propagate = False


def _parse_in_worker(feed: FeedSettings, response: _Response, now: datetime) -> _Parsed:
    _worker_logs.clear()
    try:
        parsed = _parse_feed(feed, response, now)
    except Exception as e:
        # Anything raised here would have to survive pickling; a string always does.
        detail = traceback.format_exc()
        _worker_logs.append((__name__, logging.WARNING, f"{feed.url}: parser crashed\n{detail}"))
        parsed = _Parsed(error=f"unexpected error: {type(e).__name__}: {e}")
    return replace(parsed, logs=list(_worker_logs))


def _auto_workers(feeds: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if feeds < POOL_MIN_FEEDS or not cpus or cpus < 2:
        return 0
    return min(cpus, MAX_PARSE_WORKERS)


def _mp_context() -> multiprocessing.context.BaseContext:
    # Not "fork": the parent has threads (the loop's resolver, servers in tests),
    # and forking a threaded process can deadlock the child. A fork server starts
    # once per process with digest.gather preloaded, then forks workers cheaply.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


class _Parser:
    """Parses bodies inline or in a process pool started on first use."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Parser:
        if self.workers > 0:
            # Start the fork server (once per process; its imports take ~0.25 s)
            # now, so that it is ready by the time the first body arrives. The
            # workers themselves start on the first body: a run where every feed
            # answers 304 costs no processes.
            ctx = _mp_context()
            if ctx.get_start_method() == "forkserver":
                multiprocessing.forkserver.ensure_running()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def parse(self, feed: FeedSettings, response: _Response, now: datetime) -> _Parsed:
        if self.workers <= 0:
            return _parse_feed(feed, response, now)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=_mp_context(), initializer=_worker_init
            )
        loop = asyncio.get_running_loop()
        try:
            parsed = await loop.run_in_executor(self._pool, _parse_in_worker, feed, response, now)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): finish the run inline.
            log.warning("%s: parser process died; parsing on the main thread", feed.url)
            self.workers = 0
            return _parse_feed(feed, response, now)
        for name, level, message in parsed.logs:
            logging.getLogger(name).log(level, "%s", message)
        return parsed
