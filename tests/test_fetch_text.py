"""The shortcuts of parsing that must never change a result: `html_to_text`'s
reading of plain tags without html.parser, and feedparser's memoized URI joins
(`digest.fetch.parse`)."""

from __future__ import annotations

import io
import random

import feedparser
import feedparser.mixin
import feedparser.urls
import pytest

import digest.fetch.parse  # noqa: F401  # installs the memoized joins
from digest.fetch import normalize
from digest.fetch.normalize import html_to_text


def _by_the_parser(html: str) -> str:
    """`html_to_text` as it reads every fragment it does not take the short way."""
    parser = normalize._TextExtractor()
    parser.feed(html)
    if normalize._PARTIAL_TAG.match(parser.rawdata):
        parser.rawdata = ""
    parser.close()
    return normalize._collapse("".join(parser.parts))


PLAIN = [
    "<p>a</p><p>b</p>",
    "<P CLASS=x>Hi</P>",
    "<p >x</p >",
    "<br/>x<br />y<br>z",
    "<a href='x>y'>t</a>",
    '<a href="x>y">t</a>',
    "<a href=x/>t",
    "<a b c>d</a>",
    '<a title="a&quot;b">t</a> &amp; &lt;b&gt; &#39;q&#x27; &nbsp;',
    '<div\nclass="a"\n>t</div><h1>T</h1>x',
    "<p>x &amp</p>",
    "x &",
    "<img src=a.png alt='cap'>caption",
    "<p/>x<p/>",
    "<a href = 'x'\n>t</a><p\x0c>x</p\t>",
]
# Not plain: comments, CDATA, script, a "<" that opens nothing, odd attributes.
NOT_PLAIN = [
    "<p>a<!-- b --></p>",
    "<![CDATA[x]]>y",
    "<script>x</script>y",
    "<style>p{}</style>y",
    "<TITLE>t</TITLE>x",
    "<textarea>t</textarea>x",
    "a <3 b",
    "<a b='c'd>t</a>",
    "<p a==b>t</p>",
    '<p>cut <a href="http://ex',
    "<x-y>t</x-y>",
    # White space html.parser does not count as such around a tag name.
    "x<p\x0b>y",  # the tag's name is "p\x0b", no block: "xy"
    "<p\x0b>a</p>b",
    "<p\u3000class=x>a</p>b",
    "<p class=x\u3000>b</p>c",
    "</p\x0b>c<p>d",
    # A ruby reading is left out, which only the parser's extractor does.
    "<ruby>漢<rt>kan</rt></ruby>字",
]


@pytest.mark.parametrize("html", PLAIN)
def test_plain_tags_are_read_without_the_parser_and_as_it_reads_them(html: str) -> None:
    assert normalize._plain_tags_text(html) is not None
    assert html_to_text(html) == _by_the_parser(html)


@pytest.mark.parametrize("html", NOT_PLAIN)
def test_anything_else_goes_to_the_parser(html: str) -> None:
    assert normalize._plain_tags_text(html) is None
    assert html_to_text(html) == _by_the_parser(html)


def test_random_fragments_read_as_the_parser_reads_them() -> None:
    pieces = [
        "<p>", "</p>", "<br/>", "<a href='h>'>", "</a>", "&amp;", "&", "x", " ", "漢", "<",
        ">", "'", '"', "=", "/", "<b", "\n", "&#", ";", "<img src=x>", "<div class=c>",
        "</div>", "<P>", "</ P>", "<!--", "-->", "<td>", "<script>", "</script>",
        "\x0b", "\u3000", "\x0c", "\t", "<p\x0b", "\xa0",
    ]  # fmt: skip
    rng = random.Random(15)
    for _ in range(3000):
        html = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert html_to_text(html) == _by_the_parser(html), html


JOINS = [
    ("http://example.com/feed/", "http://example.com/feed/"),
    ("http://example.com/feed/", "../a?b=c#d"),
    ("http://example.com/feed/", "javascript:alert(1)"),
    ("http://example.com/feed/", ""),
    ("http://example.com/feed/", None),
    ("", "relative"),
    ("https://例え.jp/x", "//other.example/y"),
    ("http://[::1]:8080/", "z"),
    ("http://example.com/", "http://[bad"),
]


@pytest.mark.parametrize(("base", "rel"), JOINS)
def test_memoized_joins_answer_as_feedparser_does(base: str, rel: str | None) -> None:
    for _ in range(2):  # the first answer computed, the second from the cache
        assert feedparser.mixin.make_safe_absolute_uri(
            base, rel
        ) == feedparser.urls.make_safe_absolute_uri(base, rel)
        if rel is not None:
            assert feedparser.mixin._urljoin(base, rel) == feedparser.urls._urljoin(base, rel)


def test_memoized_joins_resolve_xml_base_as_before() -> None:
    body = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.com/a/">
  <title>t</title>
  <entry xml:base="b/"><id>1</id><title>one</title><link href="c.html"/></entry>
  <entry><id>2</id><title>two</title><link href="../d.html"/></entry>
</feed>"""
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": "http://example.com/feed.xml"},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    assert [e.link for e in parsed.entries] == [
        "http://example.com/a/b/c.html",
        "http://example.com/d.html",
    ]
