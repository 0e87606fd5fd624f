"""Traps an operator falls into by following the README: an empty week published as
an issue, placeholder links mailed to readers, general feeds without the AI filter.

Through the real CLI, on real SQLite files, with a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import time_machine

from digest import bundled
from digest.cli import main
from digest.config import Settings, load_settings
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import SmtpSink
from digest.run.links import placeholder_host

WriteConfig = Callable[..., tuple[Path, Settings]]
WEEK = "2026-W47"  # publish mon 08:00 Asia/Tokyo: 2026-11-15T23:00Z → 2026-11-22T23:00Z
EMPTY = "2026-W40"


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example/{n}</link>"
        f"<guid>https://news.example/{n}</guid><pubDate>{date}</pubDate></item>"
        for n, (title, date) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Wire</title><link>https://news.example/</link>{body}</channel></rss>"
    ).encode()


STORIES = rss(
    ("Samsung opens an AI chip lab in Pangyo", "Tue, 17 Nov 2026 09:00:00 +0900"),
    ("Naver cuts the price of its HyperCLOVA X model", "Wed, 18 Nov 2026 10:00:00 +0900"),
)
SPORT = rss(("Ulsan wins the K League title", "Thu, 01 Oct 2026 09:00:00 +0900"))


def cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def issue_rows(settings: Settings) -> int:
    if not settings.storage_path.exists():
        return 0
    with sqlite3.connect(settings.storage_path) as db:
        return int(db.execute("SELECT count(*) FROM issues").fetchone()[0])


def archived(settings: Settings) -> list[str]:
    folder = settings.archive.dir
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def world(
    feed_server: FeedServer, smtp_sink: SmtpSink, write_config: WriteConfig, secret: str
) -> tuple[Path, Settings, SmtpSink]:
    """A wire feed with two stories in WEEK and, filtered on AI, one sport story in EMPTY."""
    feed_server["/wire.xml"] = Route(STORIES)
    feed_server["/sport.xml"] = Route(SPORT)
    config, settings = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/wire.xml")}"\ncountry = "KR"\n'
        f'[[feeds]]\nurl = "{feed_server.url("/sport.xml")}"\nfilter = "ai"\n'
        f'[smtp]\nhost = "{smtp_sink.host}"\nport = {smtp_sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n'
    )
    assert cli(config, "subscribers", "add", "ann@example.com") == 0
    assert cli(config, "gather") == 0
    return config, settings, smtp_sink


# -- an empty week is never an issue ------------------------------------------------


@pytest.mark.network
def test_build_refuses_an_empty_week_and_numbers_nothing(
    world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _ = world
    capsys.readouterr()
    assert cli(config, "build", "--week", EMPTY) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == (
        f"digest: error: {EMPTY}: no stories (none of the 1 posts of its window kept): "
        "nothing built, numbered, archived or sent"
    )
    assert lines[1].startswith("  hint: `digest gather`") and 'empty_week = "quiet"' in lines[1]
    assert len(lines) == 2
    assert issue_rows(settings) == 0
    assert archived(settings) == []  # no page, no index, no feed.xml
    # A week with stories is then issue #1, not #2.
    assert cli(config, "build", "--week", WEEK) == 0
    assert json.loads((settings.archive.dir / f"{WEEK}.json").read_text("utf-8"))["number"] == 1
    assert issue_rows(settings) == 1
    assert EMPTY not in (settings.archive.dir / "feed.xml").read_text("utf-8")


@pytest.mark.network
def test_build_of_a_week_without_posts_says_so(
    world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _ = world
    capsys.readouterr()
    assert cli(config, "build", "--week", "2026-W30") == 1
    assert "2026-W30: no stories (no posts in its window)" in capsys.readouterr().err
    assert issue_rows(settings) == 0 and archived(settings) == []


@pytest.mark.network
def test_a_test_copy_of_an_empty_week_is_refused(
    world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, sink = world
    capsys.readouterr()
    assert cli(config, "send", "--week", EMPTY, "--to", "me@example.org") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"digest: error: {EMPTY}: no stories")
    assert not sink.received
    assert issue_rows(settings) == 0 and archived(settings) == []


@pytest.mark.network
def test_send_of_an_empty_week_sends_archives_and_freezes_nothing(
    world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, sink = world
    capsys.readouterr()
    assert cli(config, "send", "--week", EMPTY) == 0
    out = capsys.readouterr().out
    assert f"{EMPTY}: no stories this week; nothing sent" in out
    assert "archive:" not in out
    assert not sink.received
    assert issue_rows(settings) == 0 and archived(settings) == []


@pytest.mark.network
def test_preview_of_an_empty_week_still_shows_the_page(
    world: tuple[Path, Settings, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _ = world
    capsys.readouterr()
    assert cli(config, "preview", "--week", EMPTY) == 0
    page = Path(capsys.readouterr().out.strip().removeprefix("file://"))
    assert page.is_file() and page.name == f"{EMPTY}.html"
    assert issue_rows(settings) == 0 and archived(settings) == []


# -- links on a placeholder domain ----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://digest.example.com/",
        "https://example.net/a",
        "http://EXAMPLE.ORG./",
        "https://news.example/",
        "https://digest.test/",
        "https://x.invalid/",
        "http://localhost:8080/",
        "http://app.localhost/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
    ],
)
def test_placeholder_hosts(url: str) -> None:
    assert placeholder_host(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://digest.example.co.jp/",  # a real (if unlikely) domain
        "https://myexample.com/",
        "https://example.com.evil.org/",
        "https://testing.dev/",
        "https://digest.asia/",
        "http://192.168.1.10/",  # a private address may be an intranet's
    ],
)
def test_real_hosts(url: str) -> None:
    assert placeholder_host(url) is None


def placeholder_world(
    feed_server: FeedServer, sink: SmtpSink, write_config: WriteConfig, extra: str = ""
) -> tuple[Path, Settings]:
    feed_server["/wire.xml"] = Route(STORIES)
    config, settings = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/wire.xml")}"\ncountry = "KR"\n'
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n'
        f'[archive]\ndir = "archive"\nbase_url = "https://digest.example.com/"\n{extra}'
    )
    assert cli(config, "subscribers", "add", "ann@real-reader.org") == 0
    assert cli(config, "gather") == 0
    return config, settings


@pytest.mark.network
def test_send_refuses_placeholder_links_in_one_line(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, settings = placeholder_world(
        feed_server, smtp_sink, write_config, "allow_placeholder_links = false\n"
    )
    capsys.readouterr()
    assert cli(config, "send", "--week", WEEK) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        f"digest: error: {config}: archive.base_url: 'https://digest.example.com/' is a "
        "placeholder: example.com is reserved for examples (RFC 2606); readers' links "
        "would lead nowhere"
    )
    assert lines[1].startswith("  hint: set [archive] base_url to your public https address")
    assert "allow_placeholder_links = true" in lines[1] and len(lines) == 2
    assert not smtp_sink.received
    assert issue_rows(settings) == 0  # refused before the week was numbered or frozen


@pytest.mark.network
def test_an_explicit_web_or_unsubscribe_url_is_named(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server["/wire.xml"] = Route(STORIES)
    config, _ = write_config(
        f'[[feeds]]\nurl = "{feed_server.url("/wire.xml")}"\n'
        '[archive]\nbase_url = "https://digest.real-news.org/"\nallow_placeholder_links = false\n'
        '[unsubscribe]\nurl = "http://localhost:8080/unsubscribe"\n'
    )
    assert cli(config, "subscribers", "add", "ann@real-reader.org") == 0
    capsys.readouterr()
    assert cli(config, "send", "--week", WEEK) == 2
    err = capsys.readouterr().err
    assert f"{config}: unsubscribe.url: 'http://localhost:8080/unsubscribe'" in err
    assert "hint: set [unsubscribe] url" in err


@pytest.mark.network
def test_run_refuses_placeholder_links_when_it_would_publish(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, settings = placeholder_world(
        feed_server, smtp_sink, write_config, "allow_placeholder_links = false\n"
    )
    with time_machine.travel(datetime(2026, 11, 21, 12, 0, tzinfo=UTC), tick=True):
        assert cli(config, "run") == 0  # nothing due yet: nothing to refuse
    capsys.readouterr()
    with time_machine.travel(datetime(2026, 11, 22, 23, 5, tzinfo=UTC), tick=True):
        assert cli(config, "run") == 2
    err = capsys.readouterr().err
    assert "archive.base_url: 'https://digest.example.com/' is a placeholder" in err
    assert not smtp_sink.received
    assert issue_rows(settings) == 0  # not frozen: the next run, once fixed, sends it


@pytest.mark.network
def test_a_test_copy_and_a_dry_run_only_warn(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _ = placeholder_world(
        feed_server, smtp_sink, write_config, "allow_placeholder_links = false\n"
    )
    capsys.readouterr()
    assert cli(config, "send", "--week", WEEK, "--to", "me@real-reader.org") == 0
    out, err = capsys.readouterr()
    assert "test copy sent to me@real-reader.org" in out
    assert err.startswith("digest: warning: ") and "is a placeholder" in err
    assert "send, run and daemon refuse" in err
    assert len(smtp_sink.received) == 1
    assert cli(config, "send", "--week", WEEK, "--dry-run") == 0
    out, err = capsys.readouterr()
    assert "would send 1" in out and "digest: warning: " in err


@pytest.mark.network
def test_the_config_key_lets_a_test_install_send(
    feed_server: FeedServer,
    smtp_sink: SmtpSink,
    write_config: WriteConfig,
    secret: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _ = placeholder_world(
        feed_server, smtp_sink, write_config, "allow_placeholder_links = true\n"
    )
    capsys.readouterr()
    assert cli(config, "send", "--week", WEEK) == 0
    assert "warning" not in capsys.readouterr().err
    assert [list(r.rcpt_tos) for r in smtp_sink.received] == [["ann@real-reader.org"]]


# -- the example config ----------------------------------------------------------------


def test_the_example_marks_general_feeds_with_the_ai_filter() -> None:
    text = bundled.EXAMPLE_CONFIG.read_text("utf-8")
    feeds = {f["name"]: f for f in tomllib.loads(text)["feeds"]}
    for general in ("TechCrunch AI", "Rest of World", "SCMP Tech", "GeekNews"):
        assert feeds[general].get("filter") == "ai", general
    assert 'filter = "ai"` keeps only stories about AI' in text  # and says why
    settings = load_settings(bundled.EXAMPLE_CONFIG)
    assert settings.archive.allow_placeholder_links is False  # the example's domain is refused
