"""Fetching: feeds in, normalised posts out.

Owns: polling every configured feed over HTTP with conditional GET, size, time
and redirect caps and the HTTP manners (410, Retry-After, 301/308) (`gather`,
`fetcher`); connecting only to checked public addresses, or to networks the
operator allowed (`addresses`, `transport`, over asyncio's sockets: `netstream`);
parsing bodies with feedparser in worker processes that die with their parent
(`parse`, `workers`, `lifeline`), and naming the feed a web page links when a
feed URL is a page (`discovery`); repairing
mislabelled CJK charsets (`charset`); reading the dates feeds really write
(`dates`); turning feedparser's output into frozen `Post`s at one boundary
(`normalize`), with the feeds' artefacts cleaned out of summaries there
(`summaries`: label prefixes, boilerplate, a repeated title; `gates`: which of
its rules can match a text); and each feed's
standing for `digest feeds` (`status`). The only stage that touches the network.

Never touches: what goes into an issue (`digest.editorial`), rendering, mail.
Its one write is through `digest.state.store` (new posts, feed state).
"""

import contextlib
import sys
from collections.abc import Iterator

# httpx imports its command-line client whenever click, rich and pygments are
# installed (rich is, for digest's console): ~50 ms of every gather's start, for
# a tool digest never runs. A None entry makes that one import fail, and httpx
# goes on without it (its own `except ImportError`). Here, because every module
# of this stage that imports httpx is imported after its package.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


@contextlib.contextmanager
def trio_hidden() -> Iterator[None]:
    """Import httpcore inside this block and it finds no trio.

    httpcore imports trio, when installed, to run under it (selenium brings it,
    among others): ~80 ms with attrs and its other dependencies, on every
    gather, for an event loop digest never runs (gather is asyncio). A None
    entry makes that one import fail (httpcore's own `except ImportError`); the
    entry goes when the block ends, so trio stays importable for anyone else in
    the process. Nothing changes if trio or httpcore was imported before.
    """
    if "trio" in sys.modules:
        yield
        return
    sys.modules["trio"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("trio", 0) is None:
            del sys.modules["trio"]
