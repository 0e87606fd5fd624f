"""Which feeds a web page links as its own (`digest.fetch.discovery`)."""

from __future__ import annotations

import pytest

from digest.fetch.discovery import MAX_FOUND, feed_links

PAGE = "https://news.example.jp/tech/index.html"


def page(*links: str) -> bytes:
    head = "".join(links)
    return f"<!doctype html><html><head>{head}</head><body>x</body></html>".encode()


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (page('<link rel="alternate" type="application/rss+xml" href="rss.xml">'),
         ["https://news.example.jp/tech/rss.xml"]),
        # Attribute case and order, a charset parameter, a self-closing tag.
        (page('<LINK HREF="//cdn.example.jp/atom" TYPE="application/atom+xml; charset=utf-8" '
              'REL="Alternate"/>'), ["https://cdn.example.jp/atom"]),
        # The same feed twice is one; a JSON link counts only when it looks like a feed.
        (page('<link rel="alternate" type="application/rss+xml" href="/f.xml">',
              '<link rel="alternate" type="application/rss+xml" href="https://news.example.jp/f.xml">',
              '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/1">',
              '<link rel="alternate" type="application/feed+json" href="/feed.json">'),
         ["https://news.example.jp/f.xml", "https://news.example.jp/feed.json"]),
        # Not feeds: a stylesheet, an alternate language, a script URL, no href.
        (page('<link rel="stylesheet" type="text/css" href="a.css">',
              '<link rel="alternate" hreflang="en" href="/en/">',
              '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">',
              '<link rel="alternate" type="application/rss+xml">'), []),
        (b"\xff\xfe<html>not utf-8 <link rel=alternate", []),
    ],
)  # fmt: skip
def test_feed_links(body: bytes, found: list[str]) -> None:
    assert feed_links(body, PAGE) == found


def test_at_most_a_few_are_named() -> None:
    many = [f'<link rel="alternate" type="application/rss+xml" href="/c{i}.xml">' for i in range(9)]
    assert len(feed_links(page(*many), PAGE)) == MAX_FOUND
