"""Hostile feeds, each served from a real FeedServer next to a good canary feed.

Every case asserts what the user sees (the feed's exact line in `digest gather`'s
summary, or that it has none), what ends up in the store, and that the canary's
posts were stored in the same run: a hostile feed costs at most itself. The
table at the end of the issue-11 note is `CASES` read top to bottom.

Address forms and https → http are in tests/test_ssrf.py.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from digest.config import parse_settings
from digest.fetch.gather import FAILED, GONE, NOT_MODIFIED, OK, WAITING, FeedResult, gather
from digest.loopback.feedserver import FeedServer, Route
from digest.models import Post
from digest.state.store import Store

pytestmark = pytest.mark.network

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MAX_BYTES = 200_000


def item(n: int, title: str | None = None, extra: str = "", *, link: str | None = None,
         guid: str | None = None, date: str | None = None) -> str:  # fmt: skip
    parts = []
    if title != "":
        parts.append(f"<title>{f'Hostile {n}' if title is None else title}</title>")
    if link != "":
        parts.append(f"<link>{link or f'https://example.org/h/{n}'}</link>")
    if guid != "":
        parts.append(f"<guid>{guid or f'urn:h:{n}'}</guid>")
    parts.append(f"<pubDate>{date or f'Sun, 01 Mar 2026 {n % 24:02d}:00:00 +0000'}</pubDate>")
    return "<item>" + "".join(parts) + extra + "</item>"


def rss(items: str, *, head: str = "", title: str = "Hostile") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{head}<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link>{items}</channel></rss>\n"
    ).encode()


CANARY = rss(item(1, "Canary one") + item(2, "Canary two"), title="Canary")
TWO = item(1) + item(2)
HTML = b"<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Sign in</p></body></html>"

Check = Callable[["Run"], None]


@dataclass(frozen=True)
class Case:
    routes: dict[str, Route]  # "/h" is the feed; other paths are what it points at
    status: str
    line: str | None  # the feed's summary line ({url}, {base} filled in); None: no line
    posts: int = 0  # the feed's posts in the store after the run
    options: dict[str, Any] = field(default_factory=dict)
    check: Check | None = None


@dataclass
class Run:
    server: FeedServer
    store: Store
    result: FeedResult
    url: str
    seconds: float

    def posts(self) -> list[Post]:
        everything = self.store.posts_between(
            datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        )
        return [p for p in everything if p.feed_url == self.url]

    options: dict[str, Any]

    def again(self) -> FeedResult:
        later = NOW + timedelta(minutes=1)
        return gather(settings([self.url], self.options), self.store, later).results[0]


def settings(urls: list[str], options: dict[str, Any]) -> Any:
    gather_options: dict[str, Any] = {
        "timeout": 2.0,
        "max_bytes": MAX_BYTES,
        "max_redirects": 3,
        "allow_private": ["127.0.0.1"],  # the FeedServer's address, nothing else
    }
    gather_options.update(options)
    return parse_settings(
        {"feeds": [{"url": u} for u in urls], "gather": gather_options}, Path("test.toml")
    )


# -- checks used by several cases ------------------------------------------------


def no_request_to(path: str) -> Check:
    def check(run: Run) -> None:
        assert run.server.hits(path) == [], f"{path} was requested"

    return check


def titles(*expected: str) -> Check:
    def check(run: Run) -> None:
        assert sorted(p.title for p in run.posts()) == sorted(expected)

    return check


def _not_polled_again(run: Run) -> None:
    before = len(run.server.hits("/h"))
    again = run.again()
    assert again.status == run.result.status and len(run.server.hits("/h")) == before


def _gone(run: Run) -> None:
    state = run.store.feed_state(run.url)
    assert state.gone_at == NOW and state.failures == 1
    _not_polled_again(run)


def _waiting(seconds: int) -> Check:
    def check(run: Run) -> None:
        state = run.store.feed_state(run.url)
        assert state.retry_at == NOW + timedelta(seconds=seconds)
        assert state.failures == 0  # waiting is not failing
        _not_polled_again(run)

    return check


def _moved(target: str) -> Check:
    def check(run: Run) -> None:
        assert run.store.feed_state(run.url).moved_to == run.server.url(target)
        run.server.reset_log()
        again = run.again()
        # The new address is asked directly, conditionally, and nothing is said.
        assert again.status == NOT_MODIFIED and again.warning is None
        assert [p for _, p, _ in run.server.requests] == [target]

    return check


def _capped(run: Run) -> None:
    posts = run.posts()
    assert len(posts) == 200
    # The newest were kept (item n is dated n minutes after the epoch of the feed).
    assert {p.post_id for p in posts} == {f"urn:big:{n}" for n in range(800, 1000)}
    assert run.seconds < 10, run.seconds
    # Nothing validated: the next run reads the feed again and takes the next 200.
    again = run.again()
    assert again.status == OK and again.new_posts == 200


def _one_fffd(run: Run) -> None:
    posts = {p.post_id: p for p in run.posts()}
    assert posts["urn:h:2"].title == "大阪 \ufffd 京都"
    assert posts["urn:h:1"].title == "東京" and posts["urn:h:3"].title == "名古屋"


def _clean_titles(run: Run) -> None:
    for post in run.posts():
        for bad in ("\x00", "\x07", "\x1b", "\u202e", "\u2066", "\u200b", "\ufeff"):
            assert bad not in post.title and bad not in post.summary, (bad, post.title)


def _no_script_links(run: Run) -> None:
    assert sorted(p.url for p in run.posts()) == ["", ""]


def _summary_is_text(run: Run) -> None:
    [post] = run.posts()
    assert post.summary == "Visible text"


def _title_cut(run: Run) -> None:
    [post] = run.posts()
    assert len(post.title) <= 300 and post.title.endswith("word…")
    assert len(post.summary) <= 2000


def _dates(run: Run) -> None:
    by_id = {p.post_id: p for p in run.posts()}
    assert by_id["urn:h:1"].published == NOW and not by_id["urn:h:1"].date_from_feed  # 9999
    assert by_id["urn:h:2"].published == NOW and not by_id["urn:h:2"].date_from_feed  # garbage
    # Year 0001 is no post's date (and never "2001"): the first-seen time, flagged.
    assert by_id["urn:h:3"].published == NOW and not by_id["urn:h:3"].date_from_feed


def _first_guid_wins(run: Run) -> None:
    assert [p.title for p in run.posts()] == ["First copy"]


def _no_link_or_title(run: Run) -> None:
    by_id = {p.post_id: p for p in run.posts()}
    assert by_id["urn:h:1"].url == "" and by_id["urn:h:1"].title == "No link here"
    # No title, no guid: the link is the id and stands in for the title.
    assert by_id["https://example.org/h/2"].title == "https://example.org/h/2"


def _no_secret(run: Run) -> None:
    for post in run.posts():
        assert "root:" not in post.title and "SECRET" not in post.title
    assert run.server.hits("/secret") == []


SYNTAX_ERROR = "warning {url}: ill-formed feed, entries recovered: line 2, column 0: syntax error"


def _no_laughs(run: Run) -> None:
    # Never expanded: the entity reference stays as text, a few bytes long.
    assert sorted(p.title for p in run.posts()) == ["&lol8;", "Plain"]


LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i else "&lol;" * 10}">' for i in range(9))
    + "]>"
)
DEEP = "<div>" * 50_000 + "deep" + "</div>" * 50_000
BIG = rss(
    "".join(
        item(
            n,
            f"Tiny {n}",
            guid=f"urn:big:{n}",
            date=format_datetime(NOW - timedelta(days=1) + timedelta(minutes=n - 1000)),
        )
        for n in range(100_000)
    )
)
RETRY_DATE = format_datetime(NOW + timedelta(hours=2), usegmt=True)


def redirect(to: str, status: int = 302) -> Route:
    return Route(b"", status=status, headers={"Location": to})


# fmt: off
CASES: dict[str, Case] = {
    # -- XML attacks -------------------------------------------------------------
    "XXE: external entity naming a local file": Case(
        {"/h": Route(rss(item(1, "x &xxe; y"), head=(
            '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')))},
        OK, SYNTAX_ERROR, 1, check=_no_secret,
    ),
    "XXE: external entity on our own server": Case(
        {"/h": Route(rss(item(1, "x &xxe; y"), head=(
            '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/secret">]>'))),
         "/secret": Route(b"SECRET")},
        OK, SYNTAX_ERROR, 1, check=_no_secret,
    ),
    "external DTD": Case(
        {"/h": Route(rss(TWO, head='<!DOCTYPE rss SYSTEM "/dtd">')), "/dtd": Route(b"")},
        OK, None, 2, check=no_request_to("/dtd"),
    ),
    "billion laughs": Case(
        {"/h": Route(rss(item(1, "&lol8;") + item(2, "Plain"), head=LAUGHS))},
        OK, SYNTAX_ERROR, 2, check=_no_laughs,
    ),
    "50,000 nested elements in a summary": Case(
        {"/h": Route(rss(item(1, extra=f"<description><![CDATA[{DEEP}]]></description>")))},
        OK, None, 1, options={"max_bytes": 2_000_000},
    ),
    # -- sizes -------------------------------------------------------------------
    "gzip bomb": Case(
        {"/h": Route(gzip.compress(CANARY[:-20] + b" " * 20_000_000 + CANARY[-20:]),
                     headers={"Content-Encoding": "gzip"})},
        FAILED, f"FAILED  {{url}}: response larger than {MAX_BYTES} bytes",
    ),
    "body over max_bytes": Case(
        {"/h": Route(rss(item(1, "x" * (MAX_BYTES + 1))))},
        FAILED, f"FAILED  {{url}}: response larger than {MAX_BYTES} bytes",
    ),
    "100,000 tiny items (the per-run cap)": Case(
        {"/h": Route(BIG)},
        OK, "warning {url}: 100000 entries in the feed, only the first 1000 read; 800 new "
        "entries left for a later run (max_new_items = 200: the newest were kept)",
        200, options={"max_bytes": 20_000_000}, check=_capped,
    ),
    "a title of a megabyte": Case(
        {"/h": Route(rss(item(1, "word " * 200_000)))}, OK, None, 1,
        options={"max_bytes": 2_000_000}, check=_title_cut,
    ),
    # -- redirects ---------------------------------------------------------------
    "endless redirects": Case(
        {"/h": redirect("/r1"), **{f"/r{n}": redirect(f"/r{n + 1}") for n in range(1, 9)}},
        FAILED, "FAILED  {url}: too many redirects (more than 3)",
    ),
    "redirect loop": Case(
        {"/h": redirect("/loop"), "/loop": redirect("/h")},
        FAILED, "FAILED  {url}: too many redirects (more than 3)",
    ),
    "redirect to [::1]": Case(
        {"/h": redirect("http://[::1]:1/feed.xml")},
        FAILED, "FAILED  {url}: refused: redirect target not a public address (::1: loopback)",
    ),
    "redirect to file:///etc/passwd": Case(
        {"/h": redirect("file:///etc/passwd")},
        FAILED, "FAILED  {url}: refused: redirect to a non-http(s) URL: file:///etc/passwd",
    ),
    "redirect to javascript:": Case(
        {"/h": redirect("javascript:alert(1)", 301)},
        FAILED, "FAILED  {url}: refused: redirect to a non-http(s) URL: javascript:alert(1)",
    ),
    "301 chain, then fetched from the new address": Case(
        {"/h": redirect("/h2", 301), "/h2": redirect("/new.xml", 301), "/new.xml": Route(
            rss(TWO))},
        OK, "warning {url}: moved permanently: {url} → {base}/new.xml; fetching the new "
        "address from now on (update the config)", 2, check=_moved("/new.xml"),
    ),
    "308 then 301": Case(
        {"/h": redirect("/p", 308), "/p": redirect("/final.xml", 301),
         "/final.xml": Route(rss(TWO))},
        OK, "warning {url}: moved permanently: {url} → {base}/final.xml; fetching the new "
        "address from now on (update the config)", 2, check=_moved("/final.xml"),
    ),
    "301 then 302: not a move": Case(
        {"/h": redirect("/t", 301), "/t": redirect("/f.xml", 302), "/f.xml": Route(rss(TWO))},
        OK, None, 2,
    ),
    # -- HTTP manners ------------------------------------------------------------
    "410 Gone": Case(
        {"/h": Route(b"", status=410)},
        GONE, "GONE    {url}: HTTP 410 Gone; no longer polled", check=_gone,
    ),
    "429 with Retry-After in seconds": Case(
        {"/h": Route(b"", status=429, headers={"Retry-After": "120"})},
        WAITING, "waiting {url}: until 2026-03-02 09:32 UTC: HTTP 429 Too Many Requests",
        check=_waiting(120),
    ),
    "429 with Retry-After as an HTTP date": Case(
        {"/h": Route(b"", status=429, headers={"Retry-After": RETRY_DATE})},
        WAITING, "waiting {url}: until 2026-03-02 11:30 UTC: HTTP 429 Too Many Requests",
        check=_waiting(7200),
    ),
    "503 with a Retry-After of a year (capped at a day)": Case(
        {"/h": Route(b"", status=503, headers={"Retry-After": str(365 * 86400)})},
        WAITING, "waiting {url}: until 2026-03-03 09:30 UTC: HTTP 503 Service Unavailable",
        check=_waiting(86400),
    ),
    "503 without Retry-After": Case(
        {"/h": Route(b"", status=503)},
        FAILED, "FAILED  {url}: HTTP 503 Service Unavailable",
    ),
    "429 with a garbage Retry-After": Case(
        {"/h": Route(b"", status=429, headers={"Retry-After": "soon"})},
        FAILED, "FAILED  {url}: HTTP 429 Too Many Requests",
    ),
    "204 No Content": Case(
        {"/h": Route(b"", status=204)}, FAILED, "FAILED  {url}: HTTP 204 No Content",
    ),
    "304 to a request without validators": Case(
        {"/h": Route(b"", status=304)},
        FAILED, "FAILED  {url}: HTTP 304 to a request that was not conditional",
    ),
    "500 with a feed as its body": Case(
        {"/h": Route(rss(TWO), status=500)},
        FAILED, "FAILED  {url}: HTTP 500 Internal Server Error",
    ),
    "slow over several hops (total_timeout)": Case(
        {"/h": Route(b"", status=302, headers={"Location": "/s2"}, delay=0.4),
         "/s2": Route(b"", status=302, headers={"Location": "/s3"}, delay=0.4),
         "/s3": Route(rss(TWO), delay=0.4)},
        FAILED, "FAILED  {url}: took longer than 1 s in all (total_timeout)",
        options={"total_timeout": 1.0},
    ),
    "slow to answer (timeout per request)": Case(
        {"/h": Route(rss(TWO), delay=3.0)}, FAILED, "FAILED  {url}: timed out after 0.5 s",
        options={"timeout": 0.5},
    ),
    # -- not feeds ---------------------------------------------------------------
    "an HTML page": Case(
        {"/h": Route(HTML, content_type="text/html; charset=utf-8")},
        FAILED, "FAILED  {url}: not a feed: served an HTML page, with no feed link in it",
    ),
    "an HTML page sent as RSS": Case(
        {"/h": Route(HTML)},
        FAILED,
        "FAILED  {url}: not a feed: served an HTML page, with no feed link in it",
    ),
    "empty 200": Case({"/h": Route(b"")}, FAILED, "FAILED  {url}: not a feed: empty body"),
    "a body naming a local file": Case(
        {"/h": Route(b"/etc/passwd")}, FAILED,
        "FAILED  {url}: not a feed: malformed feed, no entries recovered: line 2, column 0: "
        "not well-formed (invalid token)",
    ),
    "Content-Type image/png over a real feed": Case(
        {"/h": Route(rss(TWO), content_type="image/png")}, OK,
        "warning {url}: ill-formed feed, entries recovered: image/png is not an XML media type",
        2,
    ),
    "Content-Type JSON over a real feed": Case(
        {"/h": Route(rss(TWO), content_type="application/json")}, OK,
        "warning {url}: ill-formed feed, entries recovered: application/json is not an XML "
        "media type", 2,
    ),
    # -- bytes and text inside entries ---------------------------------------------
    "invalid UTF-8 in one entry": Case(
        {"/h": Route(rss(item(1, "東京") + item(2, "大阪 BAD 京都") + item(3, "名古屋"))
                     .replace(b"BAD", b"\xff"))},
        OK, "warning {url}: charset: declared utf-8, decoded as utf-8 (UTF-8, 1 invalid bytes "
        "replaced)", 3, check=_one_fffd,
    ),
    "NUL bytes in a title": Case(
        {"/h": Route(rss(item(1, "nul BAD here") + item(2)).replace(b"BAD", b"\x00"))},
        OK, "warning {url}: ill-formed feed, entries recovered: line 2, column 100: not "
        "well-formed (invalid token)", 2, check=_clean_titles,
    ),
    "control characters and bidi overrides in titles": Case(
        {"/h": Route(rss(item(1, "bell &#7; esc &#27; end") + item(
            2, "\u202eevil\u202c \u2066iso\u2069 zero\u200bwidth \ufeffbom")))},
        OK, "warning {url}: ill-formed feed, entries recovered: line 2, column 101: reference "
        "to invalid character number", 2, check=_clean_titles,
    ),
    "javascript: and data: links": Case(
        {"/h": Route(rss(item(1, link="javascript:alert(1)")
                         + item(2, link="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;")))},
        OK, None, 2, check=_no_script_links,
    ),
    "script and style in a summary": Case(
        {"/h": Route(rss(item(1, extra=(
            "<description>&lt;script&gt;alert(document.cookie)&lt;/script&gt;&lt;style&gt;"
            "body{}&lt;/style&gt;&lt;p onclick=x()&gt;Visible &lt;b&gt;text&lt;/b&gt;&lt;/p&gt;"
            "</description>"))))},
        OK, None, 1, check=_summary_is_text,
    ),
    "dates in year 9999, 0001 and garbage": Case(
        {"/h": Route(rss(item(1, date="Fri, 31 Dec 9999 23:59:59 +0000")
                         + item(2, date="the day after tomorrow, maybe")
                         + item(3, date="Mon, 01 Jan 0001 00:00:00 +0000")))},
        OK, None, 3, check=_dates,
    ),
    "duplicate GUIDs": Case(
        {"/h": Route(rss(item(1, "First copy", guid="urn:dup") + item(2, "Second copy",
                                                                      guid="urn:dup")))},
        OK, None, 1, check=_first_guid_wins,
    ),
    "entries without a link, a title, or both": Case(
        {"/h": Route(rss(item(1, "No link here", link="") + item(2, "", guid="")
                         + "<item><description>nothing to click</description></item>"))},
        OK, None, 2, check=_no_link_or_title,
    ),
    "a truncated document": Case(
        {"/h": Route(rss(TWO)[:-60])}, OK,
        "warning {url}: ill-formed feed, entries recovered: line 2, column ", 2,
    ),
}
# fmt: on


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "db.sqlite3") as s:
        yield s


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_feed_costs_only_itself(
    name: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES[name]
    with FeedServer() as server:
        for path, route in case.routes.items():
            server[path] = route
        server["/canary.xml"] = Route(CANARY)
        url, canary = server.url("/h"), server.url("/canary.xml")
        with caplog.at_level(logging.INFO):
            started = time.monotonic()
            report = gather(settings([url, canary], case.options), store, NOW)
            seconds = time.monotonic() - started
        result, canary_result = report.results
        # The canary is untouched, whatever the hostile feed did.
        assert canary_result.status == OK and canary_result.new_posts == 2
        assert {p.title for p in store.posts_between(NOW - timedelta(days=2), NOW)} >= {
            "Canary one",
            "Canary two",
        }
        assert result.status == case.status, (result.status, result.error, result.warning)
        mine = [line for line in report.summary_lines() if f" {url}:" in line]
        if case.line is None:
            assert mine == []
        else:
            expected = case.line.format(url=url, base=server.base_url)
            assert mine and (mine[0] == expected or mine[0].startswith(expected)), mine
        run = Run(server, store, result, url, seconds, case.options)
        assert len(run.posts()) == case.posts
        assert "Traceback" not in (result.error or "")
        if case.check is not None:
            case.check(run)
