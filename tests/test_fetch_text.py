"""The shortcuts of parsing that must never change a result: `html_to_text`'s
reading of plain tags without html.parser, and feedparser's memoized URI joins
and copies of content parameters (`digest.fetch.parse`)."""

from __future__ import annotations

import copy
import io
import random
import re
from pathlib import Path
from typing import Any

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


DETAILS = [
    b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>a &amp; b</title><description>&lt;p&gt;x&lt;/p&gt;</description>
<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">&lt;b&gt;y</content:encoded>
</item></channel></rss>""",
    b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ja">
<title type="html">&lt;b&gt;t</title><subtitle>s</subtitle>
<entry><id>1</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></title>
<summary type="html">y</summary><content type="text/plain" mode="escaped">z</content>
<content src="http://example.com/z" type="base64">eg==</content></entry></feed>""",
]
ROOT = Path(__file__).resolve().parent.parent


def _parse_all(bodies: list[bytes]) -> list[Any]:
    return [
        feedparser.parse(
            io.BytesIO(body),
            response_headers={"content-location": "http://example.com/feed.xml"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        for body in bodies
    ]


def _many_details() -> list[bytes]:
    """RSS and Atom feeds whose entries carry every kind of `*_detail`."""
    bodies = []
    for lang in ("en", "ja", "zh-Hant", ""):
        lang_attr = f' xml:lang="{lang}"' if lang else ""
        entries = "".join(
            f'<entry xml:base="http://example.com/{n}/"><id>urn:{n}</id>'
            f'<title type="{kind}">{text}</title>'
            f'<summary type="{kind}">{text} {n}</summary>'
            f'<content type="{kind}">{text} more</content>'
            f"<author><name>A{n}</name></author><rights>(c) {n}</rights></entry>"
            for n, (kind, text) in enumerate(
                [("text", "plain"), ("html", "&lt;b&gt;bold&lt;/b&gt;"), ("text", "東京 AI")] * 4
            )
        )
        bodies.append(
            f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"{lang_attr}>'
            f'<title>t</title><subtitle type="html">s</subtitle>{entries}</feed>'.encode()
        )
        items = "".join(
            f"<item><title>t{n} &amp; co</title><description>&lt;p&gt;d{n}&lt;/p&gt;"
            f"</description><link>http://example.com/{n}</link></item>"
            for n in range(12)
        )
        bodies.append(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>'
            f"<language>{lang or 'en'}</language><description>d</description>{items}"
            "</channel></rss>".encode()
        )
    return bodies


def test_quick_detail_copies_give_what_deepcopy_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """feedparser's `*_detail` dicts are the same (equal, and the same types all
    the way down) with `digest.fetch.parse._quick_detail_copies` as with deepcopy."""
    assert feedparser.mixin.copy is not copy  # installed
    # The project's own copies of feedparser's test feeds, and generated feeds of
    # every text construct, type, language and base (the eval feeds are not in git).
    files = sorted((ROOT / "tests/data/feedparser").glob("*.xml"))
    bodies = DETAILS + _many_details() + [f.read_bytes() for f in files]
    quick = _parse_all(bodies)
    monkeypatch.setattr(feedparser.mixin, "copy", copy)
    slow = _parse_all(bodies)

    def shape(x: Any) -> Any:
        if isinstance(x, dict):
            return (type(x), {k: shape(v) for k, v in x.items()})
        if isinstance(x, list):
            return [shape(v) for v in x]
        return (type(x), x)

    details = 0
    for a, b in zip(quick, slow, strict=True):
        assert shape(a.entries) == shape(b.entries)
        assert shape(a.feed) == shape(b.feed)
        details += sum(1 for e in a.entries for k in e if k.endswith("_detail"))
    assert details > 100


def test_plain_absolute_links_join_as_urljoin_joins_them() -> None:
    """`normalize.quick_urljoin` (and feedparser's `_urljoin` through the memoized
    joins) answer what urllib and feedparser do, for links it takes the short
    way and links that look almost like them; a base that does not parse still
    fails the join."""
    import urllib.parse

    rng = random.Random(15)
    pieces = [
        "http://", "https://", "HTTP://", "ftp://", "//", "h.example", "例え.jp", "[::1]", ":8080",
        ":", "/", "/a", "/b;p", ";", "?", "?q=1", "&x", "#", "#f", "%20", " ", "\t", "\\", "..",
        "@", "~", "é", "'", "(", "=", "",
    ]  # fmt: skip
    bases = ["", "http://example.com/feed/", "https://example.com/a/b", "http://[bad", "ftp://x/"]
    links = [
        "https://news.example/en/2026/0001?utm_medium=feed",
        "http://example.com",
        "http://example.com?x",
        "http://example.com/a;b",
        "http://example.com/?",
        "http://example.com/#",
        "http://example.com:/",
        "https://ex.example/a b",
    ]
    links += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 7))) for _ in range(2000)]
    links += [
        rng.choice(["http://h.example", "https://h.example"])
        + "".join(rng.choice(pieces[6:]) for _ in range(rng.randint(0, 5)))
        for _ in range(2000)
    ]
    quick = 0
    for base in bases:
        for link in links:
            try:
                want: str | None = urllib.parse.urljoin(base, link)
            except ValueError:
                want = None
            try:
                got: str | None = normalize.quick_urljoin(base, link)
            except ValueError:
                got = None
            assert got == want, (base, link)
            quick += normalize.joins_as_itself(base, link)
            assert feedparser.mixin._urljoin(base, link) == feedparser.urls._urljoin(base, link)
    assert quick > 500


def test_white_space_is_collapsed_as_the_regex_collapsed_it() -> None:
    # `_collapse` splits with `str.split()`; it replaced `re.sub(r"\s+", " ", …)`.
    spaces = [chr(c) for c in range(0x110000) if re.fullmatch(r"\s", chr(c))]
    assert spaces == [chr(c) for c in range(0x110000) if chr(c).isspace()]
    rng = random.Random(7)
    alphabet = [*spaces, "\u200b", "\ufeff", "\x00", "\x7f", "a", "東", "."]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        old = normalize._INVISIBLE.sub("", re.sub(r"\s+", " ", text)).strip()
        assert normalize._collapse(text) == old, repr(text)
