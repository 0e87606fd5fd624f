"""OPML 2.0: `digest feeds import` and `export`, hostile files, and the round trip."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.cli.opml import OpmlError, OpmlFeed, read_opml
from digest.config import DEFAULT_COUNTRIES, Settings, load_settings
from digest.loopback.feedserver import FeedServer

WriteConfig = Callable[..., tuple[Path, Settings]]

READER = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="日本" title="日本">
      <outline type="rss" text="ITmedia
          AI+" xmlUrl="https://rss.itmedia.co.jp/rss/2.0/aiplus.xml"
          htmlUrl="https://www.itmedia.co.jp/aiplus/" language="ja"/>
      <outline text="AI">
        <outline type="rss" title="Nested" text="ignored" xmlUrl="https://deep.example-news.jp/rss"/>
      </outline>
    </outline>
    <outline text="South Korea">
      <outline type="rss" text="GeekNews" xmlUrl="https://news.hada.io/rss/news"/>
      <outline type="rss" text="Tagged" xmlUrl="https://tagged.example-news.kr/rss"
          category="/Tech/AI,/Places/Taiwan"/>
    </outline>
    <outline text="台灣"><outline type="atom" text="數位時代" xmlUrl="https://www.bnext.com.tw/atom"/></outline>
    <outline text="AI"><outline text="Anguilla is not a topic" type="rss" xmlUrl="https://ai.example-news.org/rss"/></outline>
    <outline type="rss" text="No folder" xmlUrl="http://plain.example-news.org/feed"/>
    <outline type="link" text="A web page" url="https://page.example-news.org/"/>
    <outline type="rss" text="Script" xmlUrl="javascript:alert(1)"/>
    <outline type="rss" text="Mail" xmlUrl="mailto:someone@example-news.org"/>
    <outline type="rss" text="No address"/>
  </body>
</opml>
""".encode()


def test_outlines_folders_and_countries() -> None:
    feeds, skipped = read_opml(READER, DEFAULT_COUNTRIES)
    assert feeds == [
        OpmlFeed(
            url="https://rss.itmedia.co.jp/rss/2.0/aiplus.xml",
            name="ITmedia AI+",  # the line break of a pretty-printed attribute folded
            country="JP",
            language="ja",
            site="https://www.itmedia.co.jp/aiplus/",
        ),
        OpmlFeed("https://deep.example-news.jp/rss", name="Nested", country="JP"),  # title wins
        OpmlFeed("https://news.hada.io/rss/news", name="GeekNews", country="KR"),
        OpmlFeed("https://tagged.example-news.kr/rss", name="Tagged", country="TW"),  # category
        OpmlFeed("https://www.bnext.com.tw/atom", name="數位時代", country="TW"),
        OpmlFeed("https://ai.example-news.org/rss", name="Anguilla is not a topic"),
        OpmlFeed("http://plain.example-news.org/feed", name="No folder"),
    ]
    assert [(s.what, s.why) for s in skipped] == [
        ("A web page", 'type="link" is not a feed (rss)'),
        ("javascript:alert(1)", "not an http(s) URL"),
        ("mailto:someone@example-news.org", "not an http(s) URL"),
        ("No address", "no xmlUrl"),
    ]


def test_a_country_outside_the_sections_is_not_guessed() -> None:
    feeds, _ = read_opml(READER, ("KR",))
    assert {f.url: f.country for f in feeds}["https://rss.itmedia.co.jp/rss/2.0/aiplus.xml"] == ""


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY a "lollollollollollollollollollol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
 <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
]>
<opml version="2.0"><head/><body>
<outline type="rss" text="&i;" xmlUrl="https://bomb.example-news.org/rss"/>
</body></opml>
"""


def hostile(server: FeedServer) -> dict[str, bytes]:
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><head/><body>
<outline type="rss" text="&x;" xmlUrl="https://xxe.example-news.org/rss"/></body></opml>""",
        "external DTD": f"""<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "{server.url("/evil.dtd")}">
<opml version="2.0"><head/><body>
<outline type="rss" text="x" xmlUrl="https://dtd.example-news.org/rss"/></body></opml>""".encode(),
        "parameter entity": f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY % p SYSTEM "{server.url("/p.dtd")}"> %p;]>
<opml version="2.0"><head/><body/></opml>""".encode(),
    }


@pytest.mark.network
@pytest.mark.parametrize(
    "case", ["billion laughs", "external entity", "external DTD", "parameter entity"]
)
def test_hostile_xml_fails_cleanly(feed_server: FeedServer, case: str) -> None:
    started = time.perf_counter()
    with pytest.raises(OpmlError, match="refused: the file declares a DTD or entities"):
        read_opml(hostile(feed_server)[case], DEFAULT_COUNTRIES, name="evil.opml")
    assert time.perf_counter() - started < 1.0  # nothing was expanded
    assert feed_server.requests == []  # nothing was fetched


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"<opml version='2.0'><body><outline", "not well-formed XML"),
        (b"<rss version='2.0'><channel/></rss>", "the root element is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"<opml>" + b" " * (10 * 1024 * 1024) + b"</opml>", "an OPML file is at most"),
    ],
)
def test_a_file_that_is_not_opml_is_one_error(data: bytes, said: str) -> None:
    with pytest.raises(OpmlError, match=said):
        read_opml(data, DEFAULT_COUNTRIES, name="x.opml")


def test_import_adds_skips_and_names_each_one(
    write_config: WriteConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = write_config(
        "# my digest\n"
        '[[feeds]]\nurl = "https://news.hada.io/rss/news"  # already here\nname = "긱뉴스"\n'
    )
    opml = tmp_path / "subscriptions.opml"
    opml.write_bytes(
        READER.replace(
            b'text="No folder"', b'text="No folder" language="ja&#10;Bcc: x@example.org"'
        )
    )
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 1
    out, err = capsys.readouterr()
    assert out == (f"imported from {opml}: 5 added, 1 already configured, 5 skipped ({config})\n")
    assert err.splitlines() == [
        "  already configured: https://news.hada.io/rss/news",
        '  skipped A web page: type="link" is not a feed (rss)',
        "  skipped javascript:alert(1): not an http(s) URL",
        "  skipped mailto:someone@example-news.org: not an http(s) URL",
        "  skipped No address: no xmlUrl",
        "  skipped http://plain.example-news.org/feed: language: contains a line break (U+000A)",
    ]
    text = config.read_text("utf-8")
    assert text.startswith('# my digest\n[[feeds]]\nurl = "https://news.hada.io/rss/news"  #')
    feeds = load_settings(config).feeds
    assert [f.name for f in feeds] == [
        "긱뉴스", "ITmedia AI+", "Nested", "Tagged", "數位時代", "Anguilla is not a topic"
    ]  # fmt: skip
    # Importing the same file again adds nothing.
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 1
    assert "0 added, 6 already configured" in capsys.readouterr().out
    assert config.read_text("utf-8") == text


@pytest.mark.network
def test_a_hostile_file_changes_nothing(
    feed_server: FeedServer,
    write_config: WriteConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _ = write_config("")
    before = config.read_bytes()
    for name, data in hostile(feed_server).items():
        path = tmp_path / f"{name.replace(' ', '-')}.opml"
        path.write_bytes(data)
        assert main(["--config", str(config), "feeds", "import", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"digest: error: {path}: refused: the file declares a DTD")
        assert len(err.splitlines()) == 2  # the line and its hint
    assert config.read_bytes() == before
    assert feed_server.requests == []


FEEDS = (
    '[[feeds]]\nurl = "https://www.scmp.com/rss/36/feed"\nname = "SCMP Tech"\n'
    'country = "HK"\nfilter = "ai"\nsite = "https://www.scmp.com/tech"\n'
    '[[feeds]]\nurl = "https://www.qbitai.com/feed"\nname = "量子位 & <QbitAI>"\n'
    'country = "CN"\nlanguage = "zh"\n'
    '[[feeds]]\nurl = "https://www.city-desk.example-news.kr/rss?cat=ai&x=1"\n'
    'country = "KR"\nlocal = true\nlanguage = "ko"\n'
    '[[feeds]]\nurl = "https://no-name.example-news.org/feed"\n'
    '[[feeds]]\nurl = "https://us.example-news.org/feed"\ncountry = "US"\nname = "US wire"\n'
)


def test_export_then_import_into_an_empty_config_gives_the_same_feeds(
    tmp_path: Path, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings = write_config(FEEDS)
    opml = tmp_path / "out" / "feeds.opml"
    assert main(["--config", str(config), "feeds", "export", str(opml)]) == 0
    assert capsys.readouterr().err == f"exported 5 feeds to {opml}\n"
    empty, _ = write_config("", name="empty.toml")
    assert main(["--config", str(empty), "feeds", "import", str(opml)]) == 0
    assert "5 added, 0 already configured, 0 skipped" in capsys.readouterr().out
    assert load_settings(empty).feeds == settings.feeds
    # And to standard output, the same document.
    assert main(["--config", str(config), "feeds", "export"]) == 0
    printed = capsys.readouterr().out.encode()
    strip = [line for line in opml.read_bytes().splitlines() if b"dateCreated" not in line]
    assert [line for line in printed.splitlines() if b"dateCreated" not in line] == strip


def test_export_is_opml_2_a_feed_reader_imports(
    tmp_path: Path, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = write_config(FEEDS)
    assert main(["--config", str(config), "feeds", "export"]) == 0
    data = capsys.readouterr().out.encode()
    root = ET.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    head = root.find("head")
    assert head is not None and head.findtext("title") == "アジアAIハブ週報: feeds"
    assert parsedate_to_datetime(head.findtext("dateCreated") or "").tzinfo is not None
    outlines = root.findall("body/outline")
    assert [o.get("type") for o in outlines] == ["rss"] * 5
    first, second, city, nameless, _ = (dict(o.attrib) for o in outlines)
    assert (first["text"], first["title"], first["xmlUrl"]) == (
        "SCMP Tech", "SCMP Tech", "https://www.scmp.com/rss/36/feed"
    )  # fmt: skip
    assert (first["htmlUrl"], first["category"]) == ("https://www.scmp.com/tech", "HK")
    assert second["text"] == "量子位 & <QbitAI>" and second["language"] == "zh"
    assert "htmlUrl" not in second  # not known: not invented
    assert city["xmlUrl"] == "https://www.city-desk.example-news.kr/rss?cat=ai&x=1"
    assert nameless["text"] == "no-name.example-news.org"  # the host, for a reader to show
    # The file's bytes are UTF-8 with the CJK as is, and escape what XML needs escaped.
    assert "量子位 &amp; &lt;QbitAI&gt;".encode() in data
