"""The parser processes: where bodies are parsed, and when those processes start.

Owns: `ParserPool`, which parses bodies inline or in worker processes started
through a fork server, and how many workers a run gets (`auto_workers`).
Doesn't own: parsing itself (`digest.fetch.parse`) or HTTP (`digest.fetch.fetcher`).

Nothing is paid before the first body: this module imports neither feedparser
nor `digest.fetch.parse`, and the workers start when the first body is handed
over. The fork server starts then too, or at once when some feed has no
validators (it cannot answer 304, so a body will come). A run where every feed
answers 304 therefore starts no process and never imports feedparser (~0.1 s of
imports, ~0.3 s of a CPU for the fork server). Nor does reading the workers'
results: a `digest.fetch.fetched.Parsed` is unpickled from that light module.

Measured with benchmarks/gather.py (100 feeds × 20 items, 100 ms server latency,
2 CPUs): parsing on the loop thread left the first run CPU-bound at ~8×
sequential; two parser processes make it 11-15×.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import datetime

from digest.config import FeedSettings
from digest.fetch import lifeline
from digest.fetch.fetched import Fetched, Parsed

log = logging.getLogger(__name__)

POOL_MIN_FEEDS = 8  # below this, starting processes costs more than it saves
MAX_PARSE_WORKERS = 4


_worker_logs: list[tuple[str, int, str]] = []


class _CollectLogs(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _worker_logs.append((record.name, record.levelno, record.getMessage()))


def _worker_init(gather_pid: int, gather_identity: str | None) -> None:
    # A killed gather must not leave its workers behind (`digest.fetch.lifeline`).
    lifeline.bind_to(gather_pid, gather_identity)
    # A worker's log lines are carried back with its result and re-emitted in the
    # parent, where logging is configured (and where tests capture it).
    root = logging.getLogger("digest")
    root.handlers[:] = [_CollectLogs()]
    root.setLevel(logging.DEBUG)
    root.propagate = False


def _parse_in_worker(
    feed: FeedSettings, response: Fetched, now: datetime, max_entries: int
) -> Parsed:
    # Preloaded by the fork server, so this import costs nothing in a worker.
    from digest.fetch.parse import parse_feed

    _worker_logs.clear()
    try:
        parsed = parse_feed(feed, response, now, max_entries)
    except Exception as e:
        # Anything raised here would have to survive pickling; a string always does.
        detail = traceback.format_exc()
        _worker_logs.append((__name__, logging.WARNING, f"{feed.url}: parser crashed\n{detail}"))
        parsed = Parsed(error=f"unexpected error: {type(e).__name__}: {e}")
    return replace(parsed, logs=list(_worker_logs))


def auto_workers(feeds: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if feeds < POOL_MIN_FEEDS or not cpus or cpus < 2:
        return 0
    return min(cpus, MAX_PARSE_WORKERS)


def _mp_context() -> multiprocessing.context.BaseContext:
    # Not "fork": the parent has threads (the loop's resolver, servers in tests),
    # and forking a threaded process can deadlock the child. A fork server starts
    # once per process with the parser preloaded, then forks workers cheaply.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["digest.fetch.parse", __name__])
        return ctx
    return multiprocessing.get_context("spawn")


class ParserPool:
    """Parses bodies inline or in a process pool started on the first body."""

    def __init__(self, workers: int, *, bodies_expected: bool = False) -> None:
        self.workers = workers
        self.bodies_expected = bodies_expected
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParserPool:
        if self.workers > 0 and self.bodies_expected:
            # A feed without validators cannot answer 304: bodies will come. Start
            # the fork server (its imports take ~0.25 s) now, while the requests
            # are on their way; otherwise it starts with the first body.
            ctx = _mp_context()
            if ctx.get_start_method() == "forkserver":
                multiprocessing.forkserver.ensure_running()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def parse(
        self, feed: FeedSettings, response: Fetched, now: datetime, max_entries: int
    ) -> Parsed:
        if self.workers <= 0:
            from digest.fetch.parse import parse_feed

            return parse_feed(feed, response, now, max_entries)
        if self._pool is None:
            me = os.getpid()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=_mp_context(),
                initializer=_worker_init,
                initargs=(me, lifeline.process_identity(me)),
            )
        loop = asyncio.get_running_loop()
        try:
            parsed = await loop.run_in_executor(
                self._pool, _parse_in_worker, feed, response, now, max_entries
            )
        except BrokenProcessPool:
            # A worker died (killed, out of memory): finish the run inline.
            log.warning("%s: parser process died; parsing on the main thread", feed.url)
            self.workers = 0
            from digest.fetch.parse import parse_feed

            return parse_feed(feed, response, now, max_entries)
        for name, level, message in parsed.logs:
            logging.getLogger(name).log(level, "%s", message)
        return parsed
