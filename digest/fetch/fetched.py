"""What a fetch hands to parsing (the response, and how much of it is read) and
what parsing hands back.

Owns: `Fetched`, `max_entries_read` and `Parsed`. A module of its own so that the
HTTP side (`digest.fetch.fetcher`, `digest.fetch.workers`, `digest.fetch.gather`)
can name them without importing the parser (`digest.fetch.parse`, and with it
feedparser), which a run where every feed answers 304 never needs, and which
the gather process never needs when workers parse: a `Parsed` coming back from
a worker is unpickled from its class's module, this one (when `Parsed` lived in
`digest.fetch.parse`, the first result made the gather process import feedparser
and the whole parsing stack, ~0.15 s of CPU). Doesn't own: fetching or parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from digest.models import Post

# Entries read per feed per run: feedparser needs ~0.15 ms an entry and
# normalising ~0.06 ms more, so 100,000 tiny items would cost ~20 s of CPU for a
# per-run cap (`[gather] max_new_items`) that keeps 200 of them anyway.
MIN_ENTRIES_READ = 1000


def max_entries_read(max_new_items: int) -> int:
    """How many entries of one body are parsed: several times the per-run cap."""
    return max(MIN_ENTRIES_READ, 5 * max_new_items)


@dataclass(frozen=True)
class Fetched:
    status: int  # 200 or 304
    url: str  # final URL after redirects
    headers: dict[str, str]  # lower-case names
    body: bytes
    moved_to: str | None  # set when a permanent redirect was followed
    # Reached through a redirect that ended at an allowlisted non-public address:
    # what went wrong there is not told (see `digest.fetch.fetcher`).
    private_redirect: bool = False


@dataclass(frozen=True)
class Parsed:
    """What parsing one body produced; crosses the process boundary (picklable)."""

    posts: list[Post] = field(default_factory=list)
    entries: int = 0
    title: str = ""
    warning: str | None = None
    error: str | None = None  # the feed failed: why
    logs: list[tuple[str, int, str]] = field(default_factory=list)  # (logger, level, message)
