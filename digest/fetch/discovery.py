"""The feeds an HTML page names, for the message of a feed URL that is a web page.

Owns: reading `<link rel="alternate" type="application/rss+xml" href="…">` (and
Atom, JSON Feed) from the head of an HTML body, as browsers and feed readers
discover a site's feed. Pure CPU on bytes already fetched. Doesn't own: what is
done with the answer: digest never switches to the URL it finds on its own (the
config says what is fetched); `digest.fetch.parse` names it in the feed's error,
so the editor can put it in the config.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# What a page's <head> holds in practice before its feed links; the rest of a
# long page is not read.
HEAD_BYTES = 256 * 1024
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"}
)
MAX_FOUND = 3


class _FeedLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {name: (value or "") for name, value in attrs}
        rel = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        href = values.get("href", "").strip()
        # "application/json" only with rel=alternate and a feed-like path: sites
        # also link oEmbed and API documents as JSON.
        json_feed = kind != "application/json" or "feed" in href.lower()
        if "alternate" in rel and kind in FEED_TYPES and href and json_feed:
            self.hrefs.append(href)

    handle_startendtag = handle_starttag


def feed_links(body: bytes, page_url: str) -> list[str]:
    """The http(s) feed URLs the page at `page_url` links as its alternates, in its
    order, absolute, without repeats (at most `MAX_FOUND`); [] when it names none."""
    text = body[:HEAD_BYTES].decode("utf-8", "replace")
    finder = _FeedLinks()
    try:
        finder.feed(text)
        finder.close()
    except Exception:  # html.parser is lenient but not total: keep what was found
        pass
    found: list[str] = []
    for href in finder.hrefs:
        url = urljoin(page_url, href)
        if urlsplit(url).scheme in ("http", "https") and url not in found:
            found.append(url)
    return found[:MAX_FOUND]
