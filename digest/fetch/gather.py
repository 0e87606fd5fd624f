"""Fetching every configured feed concurrently and storing the new posts.

Owns: one `digest.fetch.transport.FeedClient` per run (bounded
concurrency, every connection address-checked), deciding what each feed's
outcome is, what happens in the store because of it (posts, validators, gone,
waiting, moved), the per-feed cap on new posts, and the per-run `GatherReport`.
Doesn't own: the hops of one request and their wording (`digest.fetch.fetcher`),
turning a body into posts (`digest.fetch.parse`: feedparser, charset repair;
`digest.fetch.normalize`), the parser processes (`digest.fetch.workers`), SQL
(`digest.state.store`), or what goes into an issue.

Policy, per feed (a feed's failure never stops the run; the store failing does):
- 200 with entries → "ok"; if feedparser flagged the document as ill-formed but
  still recovered entries, the entries are kept and `warning` says why. At most
  `[gather] max_new_items` posts new to the store are kept per run (the newest);
  the rest are logged and left for a later run (the validators are not stored,
  so the next run reads the feed in full again).
- 200 with a valid feed and no entries → "ok" with 0 entries.
- 304 → "not_modified"; the stored validators stay as they are.
- 410 → "gone": recorded, reported, and never requested again (`Store.revive_feed`
  undoes it).
- 429/503 with a Retry-After in the future (at most a day) → "waiting": not a
  failure; the feed is not requested again before then.
- 301/308 all the way to a feed → the target is recorded (`moved_to`) and fetched
  instead of the configured URL from then on; the run that learns it says so once.
- Everything else → "failed" with an `error` that starts with "refused:",
  "failed:" or "not a feed:" (see `digest.fetch.fetcher`), logged at WARNING
  with the feed URL and counted in the store.

A store error (a busy or full database) is not a feed's failure: it stops the run
as one error, and no feed is marked failed because of it.

Concurrency: all network I/O and all store writes happen on the event-loop thread
(the sqlite connection is not thread-safe); at most `concurrency` requests are
in flight, and at most `per_host` of them to one host (the host a feed is asked
at first: its configured URL's, or where it moved; its redirects to other hosts
count against that one). Each body is parsed as soon as it arrives. feedparser
is pure Python (~3.2 ms for a 20-item feed, plus ~1.7 ms to normalise and clean)
and would serialise the whole run behind the GIL, so runs with
`digest.fetch.workers.POOL_MIN_FEEDS` feeds or more parse in worker processes
(started on the first 200, through a fork server) while the loop keeps the
network busy; smaller runs parse inline. The fork server starts before
this process imports its HTTP side (httpx, httpcore), so the two import side by
side. A feed's posts and validators are stored in one transaction, shared by the
feeds that finish within `COMMIT_EVERY` of each other (`_Writes`): a commit per
feed cost more than the rows. Numbers: benchmarks/gather.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from digest.config import FeedSettings, GatherSettings, Settings
from digest.errors import FeedError
from digest.fetch import trio_hidden
from digest.fetch.addresses import AddressPolicy
from digest.fetch.fetched import max_entries_read
from digest.fetch.workers import ParserPool, auto_workers
from digest.logs import IN_SUMMARY
from digest.models import FeedState, Post
from digest.state.store import FeedOk, Store

if TYPE_CHECKING:
    # Imported in `gather_async` once the fork server is on its way (see there).
    from digest.fetch.transport import FeedClient, GuardedTransport

log = logging.getLogger(__name__)

OK = "ok"
NOT_MODIFIED = "not_modified"
FAILED = "failed"
GONE = "gone"
WAITING = "waiting"


@dataclass(frozen=True)
class FeedResult:
    """What happened to one feed in one run."""

    url: str  # as configured (posts and feed state are kept under it)
    status: str  # "ok" | "not_modified" | "failed" | "gone" | "waiting"
    entries: int  # entries parsed (0 unless "ok")
    new_posts: int  # rows newly added to the store
    error: str | None  # failed: "refused: …" / "failed: …" / "not a feed: …"; gone/waiting: why
    warning: str | None  # e.g. feed was ill-formed but entries were recovered
    title: str  # feed's own <title> when parsed, else ""
    seconds: float


def _line(label: str, url: str, text: str) -> str:
    return f"{label:<8}{url}: {text}"


@dataclass(frozen=True)
class GatherReport:
    """All feeds of one run, in config order."""

    results: tuple[FeedResult, ...]

    @property
    def ok(self) -> list[FeedResult]:
        """Feeds that answered: "ok" and "not_modified"."""
        return [r for r in self.results if r.status in (OK, NOT_MODIFIED)]

    @property
    def failed(self) -> list[FeedResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def gone(self) -> list[FeedResult]:
        return [r for r in self.results if r.status == GONE]

    @property
    def waiting(self) -> list[FeedResult]:
        return [r for r in self.results if r.status == WAITING]

    @property
    def new_posts(self) -> int:
        return sum(r.new_posts for r in self.results)

    @property
    def all_failed(self) -> bool:
        """True only when there were feeds and every one failed or is gone (a feed
        waiting on its Retry-After is not failing)."""
        return bool(self.results) and all(r.status in (FAILED, GONE) for r in self.results)

    def summary_lines(self) -> list[str]:
        """One line per failed, gone or waiting feed, one per warning, then totals."""
        lines = [
            _line("FAILED", r.url, (r.error or "").removeprefix("failed: ")) for r in self.failed
        ]
        lines += [_line("GONE", r.url, (r.error or "").removeprefix("gone: ")) for r in self.gone]
        lines += [
            _line("waiting", r.url, (r.error or "").removeprefix("waiting ")) for r in self.waiting
        ]
        lines += [_line("warning", r.url, r.warning) for r in self.results if r.warning]
        fetched = sum(1 for r in self.results if r.status == OK)
        unchanged = sum(1 for r in self.results if r.status == NOT_MODIFIED)
        entries = sum(r.entries for r in self.results)
        more = "".join(
            f", {len(group)} {name}"
            for name, group in (("gone", self.gone), ("waiting", self.waiting))
            if group
        )
        lines.append(
            f"{len(self.results)} feeds: {fetched} fetched, {unchanged} not modified, "
            f"{len(self.failed)} failed{more}; {entries} entries, {self.new_posts} new posts"
        )
        return lines


def gather(
    settings: Settings, store: Store, now: datetime, *, parse_workers: int | None = None
) -> GatherReport:
    """Fetch every feed in `settings`, store new posts, report per feed.

    `parse_workers`: processes used to parse feeds; None picks automatically (see
    `auto_workers`), 0 parses on the event-loop thread. Raises the store's
    `DigestError` when the database cannot be written (no feed is marked failed).
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
    polled = [f for f in settings.feeds if _skip(states[f.url], now) is None]
    semaphore = asyncio.Semaphore(g.concurrency)
    workers = auto_workers(len(polled)) if parse_workers is None else parse_workers
    # Only a feed without validators is sure to send a body this run.
    bodies_expected = any(not (states[f.url].etag or states[f.url].last_modified) for f in polled)
    with ParserPool(workers, bodies_expected=bodies_expected) as parser:
        # The HTTP side (httpx, httpcore: ~0.1 s of imports) only now: the fork
        # server, started just above when bodies will come, imports the parser
        # meanwhile on another CPU, and is ready sooner for the first body.
        with trio_hidden():
            from digest.fetch.transport import FeedClient, GuardedTransport

        transport = GuardedTransport(AddressPolicy(g.allow_private), max_connections=g.concurrency)
        run = _Run(transport, semaphore, g, store, now, _Writes(store))
        # Redirects are followed by hand (`digest.fetch.fetcher`), every Location
        # vetted first (`digest.fetch.fetcher.vet_redirect`).
        async with FeedClient(transport, user_agent=g.user_agent, timeout=g.timeout) as client:
            tasks = [
                asyncio.create_task(run.one_feed(client, parser, feed, states[feed.url]))
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


def _skip(state: FeedState, now: datetime) -> tuple[str, str] | None:
    """(status, why) for a feed not requested this run, or None."""
    if state.gone_at is not None:
        return GONE, f"gone: since {state.gone_at:%Y-%m-%d} (HTTP 410); no longer polled"
    if state.retry_at is not None and now < state.retry_at:
        stamp = state.retry_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return WAITING, f"waiting until {stamp}: the server asked (Retry-After)"
    return None


# Feeds' successful fetches are committed together at most this long after the
# first of them (`_Writes`).
COMMIT_EVERY = 0.01  # seconds


class _Writes:
    """Feeds' successful fetches, stored together: one transaction every `COMMIT_EVERY`.

    A commit costs more than a feed's rows: at 1,000 feeds a transaction per
    feed was most of the gather process's SQLite time, and a transaction per turn
    of the event loop held 1.4 feeds on average. The feeds recorded within
    `COMMIT_EVERY` of the first are committed in one `Store.record_fetched`
    (each feed's posts with its validators, all or nothing: a run stopped before
    the commit loses those feeds' writes, and the next run reads them in full). A
    store error reaches every feed of that transaction and stops the run, as
    before; a feed whose task was cancelled before the commit is not written.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: list[tuple[FeedOk, asyncio.Future[int]]] = []

    async def record(self, feed: FeedOk) -> int:
        """Store `feed`; returns how many of its posts were new."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if not self.pending:
            future.get_loop().call_later(COMMIT_EVERY, self._commit)
        self.pending.append((feed, future))
        return await future

    def _commit(self) -> None:
        batch = [(feed, future) for feed, future in self.pending if not future.cancelled()]
        self.pending = []
        try:
            counts = self.store.record_fetched([feed for feed, _ in batch])
        except Exception as e:
            for _, future in batch:
                future.set_exception(e)
            return
        for (_, future), new in zip(batch, counts, strict=True):
            future.set_result(new)


@dataclass
class _Run:
    transport: GuardedTransport
    semaphore: asyncio.Semaphore
    g: GatherSettings
    store: Store
    now: datetime
    writes: _Writes
    # `[gather] per_host`: slots per host a feed is asked at first, made on first use.
    host_slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def _host_slot(self, url: str) -> contextlib.AbstractAsyncContextManager[object]:
        """A slot of the feed's host: a host serving many feeds gets `per_host`
        of them at once, not a burst of `concurrency`. Taken before a slot of
        `concurrency`, so the feeds waiting for a busy host hold none of those."""
        if not self.g.per_host:
            return contextlib.nullcontext()
        host = urlsplit(url).hostname or ""
        slot = self.host_slots.get(host)
        if slot is None:
            slot = self.host_slots[host] = asyncio.Semaphore(self.g.per_host)
        return slot

    async def one_feed(
        self,
        client: FeedClient,
        parser: ParserPool,
        feed: FeedSettings,
        state: FeedState,
    ) -> FeedResult:
        from digest.fetch.fetcher import Gone, Wait, fetch_feed  # see `gather_async`

        started = time.perf_counter()
        store, now = self.store, self.now

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

        skipped = _skip(state, now)
        if skipped is not None:
            return result(skipped[0], error=skipped[1])
        if state.retry_at is not None:
            store.set_feed_retry_at(feed.url, None)  # its time has come

        # Only fetching and parsing are inside the try: a store error below is not
        # this feed's failure, and must stop the run.
        try:
            # The host asked first: the configured URL's, or the one it moved to.
            async with self._host_slot(state.moved_to or feed.url), self.semaphore:
                fetched = await fetch_feed(
                    client, self.transport.backend, self.g, feed.url, state, now
                )
            parsed = None
            if fetched.status == 200:
                parsed = await parser.parse(
                    feed, fetched, now, max_entries_read(self.g.max_new_items)
                )
                if parsed.error is not None:
                    raise FeedError(feed.url, _not_a_feed(parsed.error, fetched.private_redirect))
        except Gone as e:
            # IN_SUMMARY: `summary_lines` names each failed, gone, waiting feed and warning.
            log.warning("%s: %s", feed.url, e.reason, extra=IN_SUMMARY)
            store.mark_feed_gone(feed.url, e.reason, now)
            return result(GONE, error=e.reason)
        except Wait as e:
            log.warning("%s: %s", feed.url, e.reason, extra=IN_SUMMARY)
            store.record_feed_waiting(feed.url, e.retry_at, e.reason, now)
            return result(WAITING, error=e.reason)
        except FeedError as e:
            return self._failed(feed, e.reason, result)
        except Exception as e:
            reason = f"failed: unexpected error: {type(e).__name__}: {e}"
            log.warning("%s: %s", feed.url, reason, exc_info=True)
            return self._failed(feed, reason, result, logged=True)

        if parsed is None:  # 304
            await self.writes.record(FeedOk(feed.url, now))
            return result(NOT_MODIFIED)
        notes = [parsed.warning] if parsed.warning else []
        if fetched.moved_to and fetched.moved_to != state.moved_to:
            # Said once: from now on the new address is fetched without a word.
            store.set_feed_moved_to(feed.url, fetched.moved_to)
            notes.append(
                f"moved permanently: {feed.url} → {fetched.moved_to}; fetching the new "
                "address from now on (update the config)"
            )
        posts, left = self._capped(feed, parsed.posts)
        if left:
            notes.append(
                f"{left} new entries left for a later run (max_new_items = "
                f"{self.g.max_new_items}: the newest were kept)"
            )
        warning = "; ".join(notes) or None
        new = await self.writes.record(
            FeedOk(
                feed.url,
                now,
                posts,
                title=parsed.title or None,
                # A capped run leaves entries unread: the next one must not get a 304.
                etag=None if left else fetched.headers.get("etag"),
                last_modified=None if left else fetched.headers.get("last-modified"),
                warning=warning,
            )
        )
        if warning:
            log.warning("%s: %s", feed.url, warning, extra=IN_SUMMARY)
        return result(
            OK, entries=parsed.entries, new_posts=new, warning=warning, title=parsed.title
        )

    def _failed(
        self,
        feed: FeedSettings,
        reason: str,
        result: Callable[..., FeedResult],
        *,
        logged: bool = False,
    ) -> FeedResult:
        if not logged:
            log.warning("%s: %s", feed.url, reason, extra=IN_SUMMARY)
        failures = self.store.record_feed_error(feed.url, reason, self.now)
        if failures > 1:
            log.warning("%s: has failed %d times in a row", feed.url, failures)
        return result(FAILED, error=reason)

    def _capped(self, feed: FeedSettings, posts: list[Post]) -> tuple[list[Post], int]:
        """The posts to store, and how many new ones were left for a later run."""
        unique: dict[str, Post] = {}
        for post in posts:
            unique.setdefault(post.post_id, post)  # a repeated guid: the first one wins
        posts = list(unique.values())
        cap = self.g.max_new_items
        if len(posts) <= cap:
            return posts, 0
        known = self.store.known_post_ids(feed.url, unique)
        fresh = [p for p in posts if p.post_id not in known]
        if len(fresh) <= cap:
            return posts, 0
        order = {p.post_id: i for i, p in enumerate(fresh)}
        # Newest first; feed order breaks ties (feeds list their newest first).
        keep = sorted(fresh, key=lambda p: (-p.published.timestamp(), order[p.post_id]))[:cap]
        left = len(fresh) - cap
        log.info("%s: %d new entries, %d kept, %d left for later", feed.url, len(fresh), cap, left)
        return [p for p in posts if p.post_id in known] + keep, left


def _not_a_feed(error: str, private_redirect: bool) -> str:
    from digest.fetch.fetcher import NO_FEED_AT_PRIVATE_REDIRECT  # see `gather_async`

    if private_redirect:
        log.debug("at a non-public redirect target: %s", error)
        return NO_FEED_AT_PRIVATE_REDIRECT
    if error.startswith("unexpected error"):
        return f"failed: {error}"
    return f"not a feed: {error}"
