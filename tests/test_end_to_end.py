"""The whole path through the CLI: feeds over HTTP → SQLite → issue → SMTP → archive.

Real parts only: FeedServer on 127.0.0.1, an aiosmtpd server on 127.0.0.1, a
SQLite file, the real templates. Messages are checked by parsing what the SMTP
server received.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx
import pytest
import time_machine
from servethread import ServerThread

from digest.cli import main
from digest.config import Settings
from digest.credentials import load_secrets
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import SmtpSink
from digest.state.lock import publishing_lock
from digest.state.store import Store
from digest.web.server import make_server

pytestmark = pytest.mark.network

WEEK = "2026-W47"  # publish mon 08:00 Asia/Tokyo: 2026-11-15T23:00Z → 2026-11-22T23:00Z
Item = tuple[str, str, str, str]  # title, link, pubDate, description


def rss(title: str, items: list[Item], language: str = "en") -> bytes:
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>{date}</pubDate><description>{escape(desc)}</description></item>"
        for t, link, date, desc in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>"
        f"<language>{language}</language>{body}</channel></rss>"
    ).encode()


KOREAN = rss(
    "한국 AI 뉴스",
    [
        (
            "삼성전자, 판교에 AI 반도체 연구소 개소",
            "https://kr.example/1?utm_source=rss",
            "Tue, 17 Nov 2026 09:00:00 +0900",
            "<p>삼성전자가 <b>판교</b>에 연구소를 연다.</p>",
        ),
        (
            "네이버, 기업용 AI 요금 인하",
            "https://kr.example/2",
            "Wed, 18 Nov 2026 10:00:00 +0900",
            "네이버클라우드가 요금을 내렸다.",
        ),
        ("지난주 기사", "https://kr.example/old", "Tue, 10 Nov 2026 10:00:00 +0900", "old"),
    ],
    "ko",
)
JAPANESE = rss(
    "東京AIニュース",
    [
        (
            "ソフトバンク、北海道にAIデータセンター",
            "https://jp.example/1",
            "Thu, 19 Nov 2026 10:00:00 +0900",
            "ソフトバンクは北海道で建設を始めた。",
        ),
        (
            "Evil\r\nBcc: victim@example.org",
            "https://jp.example/2",
            "Thu, 19 Nov 2026 11:00:00 +0900",
            "CR/LF in a title must never become a header.",
        ),
    ],
    "ja",
)
ENGLISH = rss(
    "Asia Tech Wire",
    [
        (
            "Singapore opens AI compute sandbox",
            "https://en.example/sg",
            "Wed, 18 Nov 2026 03:00:00 +0000",
            "IMDA said startups can apply.",
        ),
        (
            "Samsung opens AI chip lab in Pangyo",
            "https://kr.example/1",  # same URL as the Korean one
            "Tue, 17 Nov 2026 06:00:00 +0000",
            "Duplicate of the Korean report.",
        ),
        (
            "<script>alert(1)</script> & friends",
            "https://en.example/xss",
            "Fri, 20 Nov 2026 03:00:00 +0000",
            "<script>alert('x')</script>Plain text survives.",
        ),
    ],
)

BROKEN = {
    "/404.xml": Route(b"not here", status=404, content_type="text/plain"),
    "/500.xml": Route(b"oops", status=500, content_type="text/plain"),
    "/page.xml": Route(
        b"<!doctype html><html><body><h1>Welcome</h1></body></html>",
        content_type="text/html; charset=utf-8",
    ),
    "/malformed.xml": Route(b"<?xml version='1.0'?><rss><channel><item><title>x</ti"),
    "/empty.xml": Route(b""),
    "/slow.xml": Route(KOREAN, delay=3.0),
}

WriteConfig = Callable[..., tuple[Path, Settings]]


def feeds_toml(server: FeedServer, paths: list[str], hints: dict[str, str] | None = None) -> str:
    blocks = []
    for path in paths:
        block = f'[[feeds]]\nurl = "{server.url(path)}"\n'
        if hints and path in hints:
            block += f'country = "{hints[path]}"\n'
        blocks.append(block)
    return "\n".join(blocks)


def smtp_toml(sink: SmtpSink) -> str:
    return (
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
        'from = "アジアAIハブ週報 <digest@example.com>"\n'
    )


@pytest.fixture
def world(
    feed_server: FeedServer, smtp_sink: SmtpSink, write_config: WriteConfig, secret: str
) -> tuple[Path, Settings, FeedServer, SmtpSink]:
    feed_server["/ko.xml"] = Route(KOREAN)
    feed_server["/ja.xml"] = Route(JAPANESE)
    feed_server["/en.xml"] = Route(ENGLISH)
    for path, route in BROKEN.items():
        feed_server[path] = route
    paths = ["/ko.xml", "/ja.xml", "/en.xml", *BROKEN]
    text = (
        '[digest]\ncontact = "editor@example.com"\n[gather]\ntimeout = 1.0\n'
        + feeds_toml(feed_server, paths, {"/ko.xml": "KR", "/ja.xml": "JP"})
        + smtp_toml(smtp_sink)
    )
    path, settings = write_config(text)
    return path, settings, feed_server, smtp_sink


def cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def subscribe(config: Path, *addresses: str) -> None:
    for address in addresses:
        assert cli(config, "subscribers", "add", address) == 0


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.styled = 0
        self.style_blocks: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href") is not None:
            self.hrefs.append(str(attributes["href"]))
        if attributes.get("style"):
            self.styled += 1
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_blocks.append(data)


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    return plain.get_content(), html.get_content()


def test_first_edition_end_to_end(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, server, sink = world
    subscribe(config, "ann@example.com", "bob@example.org")

    assert cli(config, "gather") == 0  # some feeds failed, not all
    out = capsys.readouterr().out
    for path in BROKEN:
        assert server.url(path) in out, f"{path} not named in the gather report"
    assert "HTTP 404" in out and "HTTP 500" in out and "HTML page" in out

    with Store(settings.storage_path) as store:
        states = {path: store.feed_state(server.url(path)) for path in BROKEN}
    assert all(s.failures == 1 and s.last_error for s in states.values())

    assert cli(config, "build", "--week", WEEK) == 0
    captured = capsys.readouterr()
    page = Path(captured.out.strip())
    assert re.search(r"email HTML \d+\.\d KB \(Gmail clips past 102 KB\)", captured.err)
    assert page == settings.archive.dir / f"{WEEK}.html" and page.exists()
    assert not sink.received  # build sends nothing

    assert cli(config, "send", "--week", WEEK) == 0
    assert "sent 2, failed 0" in capsys.readouterr().out
    received = sink.received
    assert sorted(r.rcpt_tos for r in received) == [("ann@example.com",), ("bob@example.org",)]
    # Connections are opened lazily, one per worker at most, and reused.
    assert 1 <= sink.sessions <= min(2, settings.delivery.connections)

    tokens = set()
    for item in received:
        assert b"\n" not in item.data.replace(b"\r\n", b"")  # CRLF only
        msg = item.message()
        assert msg["Subject"].startswith(settings.digest.title)
        assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
        assert msg["Message-ID"].startswith("<") and msg["Date"]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert links[0].startswith("https://digest.example.com/unsubscribe?token=")
        assert links[1].startswith("mailto:digest@example.com?")
        tokens.add(parse_qs(urlsplit(links[0]).query)["token"][0])
        assert "Bcc" not in msg and "victim@example.org" not in item.rcpt_tos
        text, html = parts(msg)
        assert links[0] in text and links[0].replace("&", "&amp;") in html
        parser = _Links()
        parser.feed(html)
        assert parser.hrefs and all(
            h.startswith(("https://", "http://", "#")) for h in parser.hrefs
        ), [h for h in parser.hrefs if not h.startswith(("https://", "http://", "#"))]
        assert parser.styled > 20, "CSS was not inlined"
        assert all("@media" in block for block in parser.style_blocks if block.strip())
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "alert('x')" not in html and "Plain text survives" in html
        for title in (
            "삼성전자, 판교에 AI 반도체 연구소 개소",
            "ソフトバンク、北海道にAIデータセンター",
            "Singapore opens AI compute sandbox",
        ):
            assert title in html and title in text
        assert "지난주 기사" not in html  # last week's post stays out
        assert html.count("Samsung opens AI chip lab in Pangyo") <= 1  # merged as "also"
    assert len(tokens) == 2  # one token per subscriber

    # The archive holds the issue, its model, the index and the Atom feed.
    model = json.loads((settings.archive.dir / f"{WEEK}.json").read_text("utf-8"))
    codes = [s["code"] for s in model["sections"]]
    assert codes[:2] == ["KR", "JP"] and "SG" in codes
    assert (settings.archive.dir / "index.html").exists()
    assert (settings.archive.dir / "feed.xml").exists()

    # A second send of the same week sends nobody anything.
    assert cli(config, "send", "--week", WEEK) == 0
    assert "sent 0" in capsys.readouterr().out
    assert len(sink.received) == 2

    # Gathering again: unchanged feeds answer 304 and nothing is stored twice.
    with Store(settings.storage_path) as store:
        before = store.count_posts()
    server.reset_log()
    assert cli(config, "gather") == 0
    assert set(server.hits("/ko.xml")) == {304}
    with Store(settings.storage_path) as store:
        assert store.count_posts() == before
        assert store.feed_state(server.url("/404.xml")).failures == 2


def test_gather_fails_only_when_every_feed_fails(
    feed_server: FeedServer, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    for path, route in BROKEN.items():
        if path != "/slow.xml":
            feed_server[path] = route
    config, _ = write_config(feeds_toml(feed_server, [p for p in BROKEN if p != "/slow.xml"]))
    assert cli(config, "gather") == 1
    assert "failed" in capsys.readouterr().out


def test_outbox_when_no_smtp_is_configured(
    feed_server: FeedServer, write_config: WriteConfig, secret: str, tmp_path: Path
) -> None:
    feed_server["/ko.xml"] = Route(KOREAN)
    config, _settings = write_config(
        feeds_toml(feed_server, ["/ko.xml"])
        + f'[outbox]\ndir = "{tmp_path.as_posix()}/outbox"\nfrom = "Digest <d@example.com>"\n'
    )
    subscribe(config, "ann@example.com")
    assert cli(config, "gather") == 0
    assert cli(config, "send", "--week", WEEK) == 0
    files = list((tmp_path / "outbox" / WEEK).glob("*.eml"))
    assert [f.name for f in files] == ["ann@example.com.eml"]
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in files[0].read_bytes()
    assert cli(config, "send", "--week", WEEK) == 0  # ledger: not written twice
    assert len(list((tmp_path / "outbox" / WEEK).glob("*.eml"))) == 1


def test_test_copy_and_dry_run_touch_no_ledger(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _, sink = world
    subscribe(config, "ann@example.com")
    assert cli(config, "gather") == 0
    assert cli(config, "send", "--week", WEEK, "--to", "proof@example.com") == 0
    assert [r.rcpt_tos for r in sink.received] == [("proof@example.com",)]
    assert cli(config, "send", "--week", WEEK, "--dry-run") == 0
    assert "would send to ann@example.com" in capsys.readouterr().out
    assert len(sink.received) == 1
    assert cli(config, "send", "--week", WEEK) == 0  # the subscriber still gets it
    assert [r.rcpt_tos for r in sink.received][1:] == [("ann@example.com",)]


def test_permanent_refusal_fails_one_and_sends_the_rest(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _, sink = world
    subscribe(config, "ann@example.com", "gone@example.com", "bob@example.org")
    sink.refuse("gone@example.com", "550 5.1.1 no such user")
    assert cli(config, "gather") == 0
    assert cli(config, "send", "--week", WEEK) == 1
    assert "failed   gone@example.com: 550" in capsys.readouterr().out
    assert sorted(r.rcpt_tos[0] for r in sink.received) == ["ann@example.com", "bob@example.org"]
    with Store(settings.storage_path) as store:
        assert sorted(store.deliveries(WEEK).values()) == ["failed", "sent", "sent"]
    # Nothing left to send, but the failed reader is named until an operator settles it.
    assert cli(config, "send", "--week", WEEK) == 1
    assert "failed   gone@example.com: 550" in capsys.readouterr().out
    assert len(sink.received) == 2


def test_missing_secret_stops_before_sending(
    world: tuple[Path, Settings, FeedServer, SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _, _, sink = world
    monkeypatch.delenv("DIGEST_SECRET")
    subscribe(config, "ann@example.com")
    assert cli(config, "send", "--week", WEEK) == 2
    assert "DIGEST_SECRET is not set" in capsys.readouterr().err
    assert not sink.received


def test_missing_smtp_password_stops_before_anything_is_built(
    world: tuple[Path, Settings, FeedServer, SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, settings, _, sink = world
    monkeypatch.delenv("DIGEST_SMTP_PASSWORD", raising=False)
    text = config.read_text()
    assert "[smtp]\n" in text
    config.write_text(text.replace("[smtp]\n", '[smtp]\nusername = "digest"\n', 1))
    subscribe(config, "ann@example.com")
    for command in (["send", "--week", WEEK], ["send", "--week", WEEK, "--to", "me@example.com"]):
        assert cli(config, *command) == 2  # a missing secret, as README's exit codes say
        err = capsys.readouterr().err
        assert "DIGEST_SMTP_PASSWORD is not set" in err and "username" in err
    assert not sink.received
    with Store(settings.storage_path) as store:
        assert store.deliveries(WEEK) == {}  # nothing frozen, nobody marked


def test_a_second_publisher_is_refused_by_the_lock(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _, sink = world
    subscribe(config, "ann@example.com")
    with publishing_lock(settings.storage_path):
        assert cli(config, "send", "--week", WEEK) == 75
    assert "another digest process" in capsys.readouterr().err
    assert not sink.received


def test_config_typo_stops_before_any_network_io(
    feed_server: FeedServer, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server["/ko.xml"] = Route(KOREAN)
    path, _ = write_config(feeds_toml(feed_server, ["/ko.xml"]))
    path.write_text(path.read_text().replace("[gather]\n", "[gather]\ntimout = 3\n", 1))
    assert cli(path, "gather") == 2
    err = capsys.readouterr().err
    assert "gather.timout" in err and str(path) in err and "timeout" in err
    assert feed_server.requests == []


def test_one_click_unsubscribe_stops_the_next_issue(
    world: tuple[Path, Settings, FeedServer, SmtpSink],
) -> None:
    config, settings, _, sink = world
    subscribe(config, "ann@example.com", "bob@example.org")
    assert cli(config, "gather") == 0
    assert cli(config, "send", "--week", WEEK) == 0
    msg = next(r for r in sink.received if r.rcpt_tos == ("ann@example.com",)).message()
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = urlsplit(re.findall(r"<(https://[^>]+)>", msg["List-Unsubscribe"])[0])
    assert url.path == "/unsubscribe"  # [unsubscribe] url's default: digest serve's page
    # `digest serve` as it runs in production (waitress), on 127.0.0.1; the link's
    # path and query are sent to it as a mail provider sends RFC 8058's POST: no
    # cookie, no CSRF token, only the form field.
    server = ServerThread(make_server(settings, load_secrets(None), host="127.0.0.1", port=0))
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:

            def call(method: str, query: str, body: bytes = b"") -> int:
                return client.request(
                    method,
                    f"{url.path}?{query}",
                    content=body if method == "POST" else None,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                ).status_code

            assert call("POST", "token=1.forged-signature", b"List-Unsubscribe=One-Click") == 400
            assert call("GET", url.query) == 200  # a GET only asks to confirm
            with Store(settings.storage_path) as store:
                assert [s.email for s in store.subscribers("active")] == [
                    "ann@example.com",
                    "bob@example.org",
                ]
            for _ in range(2):  # idempotent: a provider may POST twice
                assert call("POST", url.query, b"List-Unsubscribe=One-Click") == 200
    finally:
        server.stop()
    with Store(settings.storage_path) as store:
        assert [s.email for s in store.subscribers("active")] == ["bob@example.org"]
    with Store(settings.storage_path) as store:
        assert store.due_emails("2026-W48", datetime.now(UTC), 10) == ["bob@example.org"]


def test_subscriber_commands(
    write_config: WriteConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = write_config("")
    assert cli(config, "subscribers", "add", "a@b, c@d") == 2
    assert "comma" in capsys.readouterr().err
    assert cli(config, "subscribers", "add", "x@y\r\nBcc: z@w") == 2
    assert cli(config, "subscribers", "add", "nobody") == 2
    assert "no '@'" in capsys.readouterr().err
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("email,name\nann@example.com,Ann\nbroken,\nbob@example.org,\n")
    assert cli(config, "subscribers", "import", str(csv_file)) == 1  # one row refused
    captured = capsys.readouterr()
    assert "2 added" in captured.out and "line 3" in captured.err
    assert cli(config, "subscribers", "remove", "bob@example.org") == 0
    capsys.readouterr()
    assert cli(config, "subscribers", "list") == 0
    assert capsys.readouterr().out.split() == ["ann@example.com", "Ann"]
    assert cli(config, "subscribers", "export") == 0
    exported = capsys.readouterr().out.splitlines()
    assert exported[0] == "email,name,status,created" and len(exported) == 3


def test_run_publishes_once_when_due(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _, sink = world
    subscribe(config, "ann@example.com")
    # Saturday, the first run: the 2026-W47 issue (Mon 2026-11-23 08:00 JST) is not due
    # yet; the newest due issue, W46, was due before digest first ran: not published.
    with time_machine.travel(datetime(2026, 11, 21, 12, 0, tzinfo=UTC), tick=True):
        assert cli(config, "run") == 0
    assert "2026-W46: skipped" in capsys.readouterr().out
    # Monday 08:00 JST has passed: W47 is due and goes out once.
    with time_machine.travel(datetime(2026, 11, 22, 23, 5, tzinfo=UTC), tick=True):
        assert cli(config, "run") == 0
        assert "2026-W47: sent" in capsys.readouterr().out
        assert cli(config, "run") == 0
        assert "2026-W47: already sent" in capsys.readouterr().out
    weeks = [r.message()["X-Digest-Issue"] for r in sink.received]
    assert weeks == ["2026-W47"]
    with Store(settings.storage_path) as store:
        assert store.issue_sent_at("2026-W47") is not None


def test_an_empty_week_sends_no_blank_email(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _, sink = world
    subscribe(config, "ann@example.com")
    assert cli(config, "gather") == 0
    capsys.readouterr()
    assert cli(config, "send", "--week", "2026-W40") == 0
    assert "2026-W40: no stories this week; nothing sent" in capsys.readouterr().out
    assert not sink.received


def test_preview_renders_without_changing_state(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _, sink = world
    subscribe(config, "ann@example.com")
    assert cli(config, "gather") == 0
    capsys.readouterr()
    with Store(settings.storage_path) as store:
        before = (store.count_posts(), store.next_issue_number(WEEK))
    assert cli(config, "preview", "--week", WEEK) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("file:///") and url.endswith(f"/{WEEK}.html")
    page = Path(urlsplit(url).path)
    html = page.read_text("utf-8")
    assert "삼성전자, 판교에 AI 반도체 연구소 개소" in html and "style=" in html
    assert (page.parent / f"{WEEK}.txt").exists()
    # Nothing archived, numbered, recorded or sent.
    assert not settings.archive.dir.exists() or not any(settings.archive.dir.iterdir())
    with Store(settings.storage_path) as store:
        assert (store.count_posts(), store.next_issue_number(WEEK)) == before
        assert store.issue_sent_at(WEEK) is None and store.deliveries(WEEK) == {}
    assert not sink.received


@pytest.mark.parametrize("offers_smtputf8", [True, False])
def test_internationalised_addresses_need_smtputf8(
    feed_server: FeedServer,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
    offers_smtputf8: bool,
) -> None:
    feed_server["/ko.xml"] = Route(KOREAN)
    with SmtpSink(smtputf8=offers_smtputf8) as sink:
        config, _ = write_config(feeds_toml(feed_server, ["/ko.xml"]) + smtp_toml(sink))
        subscribe(config, "ann@example.com")
        assert cli(config, "subscribers", "add", "山田@example.jp", "--name", "山田 太郎") == 0
        assert cli(config, "gather") == 0
        capsys.readouterr()
        code = cli(config, "send", "--week", WEEK)
        out = capsys.readouterr().out
        rcpts = sorted(r.rcpt_tos[0] for r in sink.received)
        if offers_smtputf8:
            assert code == 0 and rcpts == ["ann@example.com", "山田@example.jp"]
            data = next(r.data for r in sink.received if r.rcpt_tos == ("山田@example.jp",))
            # Headers in raw UTF-8 (RFC 6532): no encoded word inside the address.
            assert 'To: "山田 太郎" <山田@example.jp>\r\n' in data.decode("utf-8")
            msg = message_from_string(data.decode("utf-8"), policy=policy.default)
            assert msg["To"].addresses[0].addr_spec == "山田@example.jp"
        else:
            # That one subscriber fails with the reason; the others still get the issue.
            assert code == 1 and rcpts == ["ann@example.com"]
            assert "failed   山田@example.jp: 553" in out and "SMTPUTF8" in out


def test_failed_authentication_stops_the_run_and_fails_nobody(
    feed_server: FeedServer,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed_server["/ko.xml"] = Route(KOREAN)
    with SmtpSink(login=("digest", "right password")) as sink:
        config, settings = write_config(
            feeds_toml(feed_server, ["/ko.xml"]) + smtp_toml(sink) + 'username = "digest"\n'
        )
        subscribe(config, "ann@example.com", "bob@example.org")
        assert cli(config, "gather") == 0
        capsys.readouterr()
        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong password")
        assert cli(config, "send", "--week", WEEK) == 1
        assert "authentication failed: 535" in capsys.readouterr().err
        assert not sink.received
        with Store(settings.storage_path) as store:
            # The fault is ours: nobody is failed, every message is still to send.
            assert set(store.deliveries(WEEK).values()) == {"pending"}
        monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "right password")
        assert cli(config, "send", "--week", WEEK) == 0
        assert sorted(r.rcpt_tos[0] for r in sink.received) == [
            "ann@example.com",
            "bob@example.org",
        ]


def test_unsubscribing_during_a_send_is_honoured(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _, sink = world
    # One connection, so that Bob's turn comes after Ann's message is accepted.
    config.write_text(config.read_text() + "\n[delivery]\nconnections = 1\n")
    subscribe(config, "ann@example.com", "bob@example.org", "cy@example.net")
    assert cli(config, "gather") == 0

    def bob_leaves(_: object) -> None:
        # Bob clicks "unsubscribe" while the batch is going out (another connection).
        with Store(settings.storage_path) as store:
            store.set_subscriber_status("bob@example.org", "unsubscribed", datetime.now(UTC))

    sink.on_message(bob_leaves)
    capsys.readouterr()
    assert cli(config, "send", "--week", WEEK) == 0
    assert "unsubscribed meanwhile 1" in capsys.readouterr().out
    assert sorted(r.rcpt_tos[0] for r in sink.received) == ["ann@example.com", "cy@example.net"]
