"""Fetching every configured feed concurrently and storing the new posts.

Owns: HTTP for feeds (one `httpx.AsyncClient` per run, bounded concurrency,
timeouts, a size cap, manual redirects restricted to http/https, conditional GET
with the validators kept in the store), deciding whether a fetch failed, storing
what parsing gives, and the per-run `GatherReport`.
Doesn't own: turning a body into posts (`digest.fetch.parse`: feedparser, charset
repair, the parser processes; `digest.fetch.normalize`), SQL (`digest.state.store`), or what
goes into an issue.

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

Concurrency: all network I/O and all store writes happen on the event-loop thread
(the sqlite connection is not thread-safe); at most `concurrency` requests are
in flight. Each body is parsed as soon as it arrives. feedparser is pure Python
(~5-10 ms for a 20-item feed, plus ~2 ms to normalise) and would serialise the
whole run behind the GIL, so runs with `digest.fetch.parse.POOL_MIN_FEEDS` feeds or more parse in
worker processes (started on the first 200, through a fork server) while the loop
keeps the network busy; smaller runs parse inline. Numbers: benchmarks/gather.py.

Redirects: httpx's own following is off; `_fetch` follows at most
`max_redirects` hops, and `_vet_redirect` refuses any Location that is not
http(s) before httpx even parses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import httpx

from digest.config import FeedSettings, GatherSettings, Settings
from digest.errors import FeedError
from digest.fetch.parse import Fetched, ParserPool, auto_workers
from digest.models import FeedState
from digest.state.store import Store

log = logging.getLogger(__name__)

OK = "ok"
NOT_MODIFIED = "not_modified"
FAILED = "failed"

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})


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
    `auto_workers`), 0 parses on the event-loop thread.
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
    workers = auto_workers(len(settings.feeds)) if parse_workers is None else parse_workers
    with ParserPool(workers) as parser:
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


async def _one_feed(
    client: httpx.AsyncClient,
    semaphore: asyncio.Semaphore,
    parser: ParserPool,
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
) -> Fetched:
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
        return Fetched(hop.status, url, hop.headers or {}, hop.body, moved_to)
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
