"""Unattended runs end to end: `digest run` at chosen moments (time-machine), a real
SQLite file, feeds from FeedServer and mail to SmtpSink on 127.0.0.1; `digest
daemon` and concurrent `digest run` processes as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import time_machine

from digest.cli import main
from digest.config import Settings
from digest.loopback.feedserver import FeedServer, Route
from digest.loopback.mailsink import SmtpSink
from digest.state.store import Store

pytestmark = pytest.mark.network

W47 = "2026-W47"  # mon 08:00 Asia/Tokyo: window 2026-11-15T23:00Z → 2026-11-22T23:00Z
W47_DUE = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
W48_DUE = W47_DUE + timedelta(days=7)
TUESDAY = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)  # first run, during W47's window
SUBSCRIBERS = ("ann@example.com", "bob@example.org")

WriteConfig = Callable[..., tuple[Path, Settings]]


def rss(items: list[tuple[str, datetime]]) -> bytes:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://kr.example/{i}</link>"
        f"<guid>https://kr.example/{i}</guid>"
        f"<pubDate>{moment.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>{escape(title)}.</description></item>"
        for i, (title, moment) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Korea AI</title><link>https://kr.example/</link>{body}</channel></rss>"
    ).encode()


STORIES = [
    ("Samsung opens AI chip lab in Pangyo, Korea", datetime(2026, 11, 17, 1, 0, tzinfo=UTC)),
    ("Naver cuts prices of its Korean AI models", datetime(2026, 11, 18, 1, 0, tzinfo=UTC)),
]


def make_config(
    feed_server: FeedServer, sink: SmtpSink, write_config: WriteConfig, schedule: str = ""
) -> tuple[Path, Settings]:
    text = (
        f'[[feeds]]\nurl = "{feed_server.url("/kr.xml")}"\ncountry = "KR"\n'
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n'
        f"[schedule]\n{schedule}\n"
    )
    return write_config(text)


def run_at(config: Path, moment: datetime) -> int:
    with time_machine.travel(moment, tick=True):
        return main(["--config", str(config), "run"])


def subscribe(config: Path) -> None:
    for address in SUBSCRIBERS:
        assert main(["--config", str(config), "subscribers", "add", address]) == 0


def weeks_received(sink: SmtpSink) -> Counter[tuple[str, str]]:
    return Counter((r.message()["X-Digest-Issue"], r.rcpt_tos[0]) for r in sink.received)


@pytest.fixture
def world(
    feed_server: FeedServer, smtp_sink: SmtpSink, write_config: WriteConfig, secret: str
) -> tuple[Path, Settings, FeedServer, SmtpSink]:
    feed_server["/kr.xml"] = Route(rss(STORIES))
    config, settings = make_config(feed_server, smtp_sink, write_config)
    subscribe(config)
    return config, settings, feed_server, smtp_sink


def reports(settings: Settings) -> list[dict[str, object]]:
    folder = settings.schedule.reports_dir
    return [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob("*-run.json"))]


def test_a_normal_week(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings, _, sink = world
    assert run_at(config, TUESDAY) == 0  # first run: W46 was due before it
    assert "2026-W46: skipped" in capsys.readouterr().out
    assert run_at(config, W47_DUE - timedelta(minutes=1)) == 0
    assert not sink.received
    assert run_at(config, W47_DUE + timedelta(minutes=1)) == 0
    assert f"{W47}: sent" in capsys.readouterr().out
    assert run_at(config, W47_DUE + timedelta(minutes=16)) == 0
    assert f"{W47}: already sent" in capsys.readouterr().out
    assert weeks_received(sink) == Counter({(W47, a): 1 for a in SUBSCRIBERS})

    folder = settings.schedule.reports_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    sent = [r for r in reports(settings) if r["action"] == "sent"]
    assert len(sent) == 1
    report = sent[0]
    assert report["week"] == W47 and report["stories_per_country"] == {"KR": 2}
    assert report["variants"] == 1  # every reader takes the full issue
    assert report["messages"] == {
        "sent": 2,
        "deferred": 0,
        "failed": 0,
        "unknown": 0,
        "pending": 0,
        "resent": 0,
    }
    assert report["feeds"] == {
        "ok": 1,
        "failed": [],
        "stale": [],
        "gone": [],
        "waiting": [],
        "new_posts": 0,
    }


@pytest.mark.parametrize(
    ("late", "published"), [(timedelta(hours=11), True), (timedelta(hours=13), False)]
)
def test_down_over_publish_time(
    world: tuple[Path, Settings, FeedServer, SmtpSink],
    caplog: pytest.LogCaptureFixture,
    late: timedelta,
    published: bool,
) -> None:
    config, settings, _, sink = world
    assert run_at(config, TUESDAY) == 0
    assert run_at(config, W47_DUE + late) == 0
    with Store(settings.storage_path) as store:
        skipped = store.skipped_reason(W47)
        sent_at = store.issue_sent_at(W47)
    if published:
        assert weeks_received(sink) == Counter({(W47, a): 1 for a in SUBSCRIBERS})
        assert sent_at is not None and skipped is None
        return
    assert not sink.received and sent_at is None
    assert skipped is not None and "lateness" in skipped
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and W47 in r.message]
    assert len(warnings) == 1 and "not published" in warnings[0].message
    assert reports(settings)[-1]["decisions"][-1]["action"] == "skip: too late"  # type: ignore[index]
    caplog.clear()
    assert run_at(config, W47_DUE + late + timedelta(minutes=15)) == 0  # said once, not again
    assert not [r for r in caplog.records if r.levelname == "WARNING" and W47 in r.message]
    assert not sink.received
    # The next week goes out as usual (a skipped week's posts stay in it).
    fresh = ("LG unveils a Korean AI model", W47_DUE + timedelta(days=2))
    world[2]["/kr.xml"] = Route(rss([*STORIES, fresh]))
    assert run_at(config, W48_DUE + timedelta(minutes=1)) == 0
    assert {w for w, _ in weeks_received(sink)} == {"2026-W48"}


def test_down_for_two_weeks_records_the_missed_week(
    world: tuple[Path, Settings, FeedServer, SmtpSink],
) -> None:
    config, settings, feed_server, sink = world
    assert run_at(config, TUESDAY) == 0
    fresh = ("LG unveils a Korean AI model", W47_DUE + timedelta(days=2))
    feed_server["/kr.xml"] = Route(rss([*STORIES, fresh]))
    assert run_at(config, W48_DUE + timedelta(hours=1)) == 0
    with Store(settings.storage_path) as store:
        assert "missed" in (store.skipped_reason(W47) or "")
    assert {w for w, _ in weeks_received(sink)} == {"2026-W48"}


def test_first_run_does_not_publish_posts_older_than_the_lookback(
    feed_server: FeedServer, smtp_sink: SmtpSink, write_config: WriteConfig, secret: str
) -> None:
    feed_server["/kr.xml"] = Route(rss(STORIES))
    # Installed Wednesday 18th 02:00 with a 1-day lookback: the 17th 01:00 story is too old.
    config, settings = make_config(feed_server, smtp_sink, write_config, 'lookback = "1d"')
    subscribe(config)
    assert run_at(config, datetime(2026, 11, 18, 2, 0, tzinfo=UTC)) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=1)) == 0
    titles = [r.message()["Subject"] for r in smtp_sink.received]
    assert len(titles) == 2
    issue = json.loads((settings.archive.dir / f"{W47}.json").read_text("utf-8"))
    stories = [s["title"] for sec in issue["sections"] for s in sec["stories"]]
    assert stories == [STORIES[1][0]]


def test_a_late_post_goes_into_next_week_and_the_sent_issue_never_changes(
    world: tuple[Path, Settings, FeedServer, SmtpSink],
) -> None:
    config, settings, feed_server, sink = world
    assert run_at(config, TUESDAY) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=1)) == 0
    page = settings.archive.dir / f"{W47}.json"
    sent_issue = page.read_text("utf-8")
    # A post dated in W47's window shows up only after W47 went out.
    late = ("Kakao opens a Korean AI lab in Jeju", datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    feed_server["/kr.xml"] = Route(rss([*STORIES, late]))
    assert run_at(config, W47_DUE + timedelta(hours=5)) == 0
    assert main(["--config", str(config), "build", "--week", W47]) == 0
    assert page.read_text("utf-8") == sent_issue  # rebuilt identically from its record
    assert run_at(config, W48_DUE + timedelta(minutes=1)) == 0
    w48 = json.loads((settings.archive.dir / "2026-W48.json").read_text("utf-8"))
    assert [s["title"] for sec in w48["sections"] for s in sec["stories"]] == [late[0]]
    assert weeks_received(sink) == Counter(
        {(w, a): 1 for w in (W47, "2026-W48") for a in SUBSCRIBERS}
    )


def test_an_empty_week_is_skipped_once(
    feed_server: FeedServer, smtp_sink: SmtpSink, write_config: WriteConfig, secret: str
) -> None:
    feed_server["/kr.xml"] = Route(rss([]))
    config, settings = make_config(feed_server, smtp_sink, write_config)
    subscribe(config)
    assert run_at(config, TUESDAY) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=1)) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=16)) == 0
    assert not smtp_sink.received
    with Store(settings.storage_path) as store:
        assert "no stories" in (store.skipped_reason(W47) or "")
    assert reports(settings)[-1]["action"] == "skipped"


def test_a_quiet_week_sends_a_short_note(
    feed_server: FeedServer, smtp_sink: SmtpSink, write_config: WriteConfig, secret: str
) -> None:
    feed_server["/kr.xml"] = Route(rss([]))
    config, _ = make_config(feed_server, smtp_sink, write_config, 'empty_week = "quiet"')
    subscribe(config)
    assert run_at(config, TUESDAY) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=1)) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=16)) == 0
    assert weeks_received(smtp_sink) == Counter({(W47, a): 1 for a in SUBSCRIBERS})
    text = smtp_sink.received[0].message().get_body(("plain",))
    assert text is not None and "掲載するニュースがありませんでした" in text.get_content()


def _env(tmp_path: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_SECRET"] = secret
    return env


@pytest.mark.slow
def test_sigterm_stops_the_daemon_with_exit_0(
    world: tuple[Path, Settings, FeedServer, SmtpSink], tmp_path: Path, secret: str
) -> None:
    config = world[0]
    daemon = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "--log-level", "info", "daemon"],
        cwd=tmp_path,
        env=_env(tmp_path, secret),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stderr is not None
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = daemon.stderr.readline()
            seen.append(line)
            if "run finished" in line:
                break
        assert any("run finished" in line for line in seen), "".join(seen)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        rest = daemon.stderr.read()
        assert "SIGTERM" in rest and "daemon stopped" in rest
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if daemon.stderr:
            daemon.stderr.close()


ROUNDS = 20
AT_ONCE = 4  # rounds run side by side (each on its own database) to keep the test short


def _round_config(folder: Path, publish: str, feeds: FeedServer, sink: SmtpSink) -> Path:
    config = folder / "digest.toml"
    folder.mkdir()
    config.write_text(
        f'[digest]\ntimezone = "UTC"\npublish = "{publish}"\n'
        f'[[feeds]]\nurl = "{feeds.url("/kr.xml")}"\ncountry = "KR"\n'
        f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n'
        f'[storage]\npath = "{folder.as_posix()}/db.sqlite3"\n'
        f'[archive]\ndir = "{folder.as_posix()}/archive"\n'
        'base_url = "https://digest.example.com/"\n'
        "allow_placeholder_links = true\n"  # the example domain: see digest.run.links
        '[gather]\nallow_private = ["127.0.0.1"]\n',  # the feed is on loopback
        encoding="utf-8",
    )
    return config


@pytest.mark.slow
def test_two_runs_at_the_same_instant_publish_once(
    feed_server: FeedServer, smtp_sink: SmtpSink, tmp_path: Path, secret: str
) -> None:
    """20 times: two `digest run` processes started together, on a fresh database whose
    issue became due an hour ago. Exactly one issue, one message per subscriber."""
    now = datetime.now(UTC)
    due = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    publish = f"{due.strftime('%a').lower()} {due:%H:%M}"
    feed_server["/kr.xml"] = Route(
        rss([("Samsung opens AI chip lab in Pangyo, Korea", due - timedelta(hours=2))])
    )
    env = _env(tmp_path, secret)
    for batch in range(0, ROUNDS, AT_ONCE):
        started = []
        for i in range(batch, batch + AT_ONCE):
            folder = tmp_path / f"round{i}"
            config = _round_config(folder, publish, feed_server, smtp_sink)
            with Store(folder / "db.sqlite3") as store:
                store.ensure_installed_at(now - timedelta(days=30))
                for name in ("ann", "bob", "cho"):
                    store.add_subscriber(f"{name}.{i}@example.com", "", now)
            command = [sys.executable, "-m", "digest", "--config", str(config), "run"]
            pair = [
                subprocess.Popen(
                    command,
                    cwd=folder,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(2)
            ]
            started.append((i, folder, pair))
        for i, folder, pair in started:
            codes = sorted(p.wait(timeout=60) for p in pair)
            assert codes in ([0, 0], [0, 75]), (i, codes)
            with Store(folder / "db.sqlite3") as store:
                sent = [w for w in store.frozen_weeks() if store.issue_sent_at(w)]
                assert len(sent) == 1, i
                assert store.ledger_counts(sent[0])["sent"] == 3, i
    received = Counter(r.rcpt_tos[0] for r in smtp_sink.received)
    expected = {f"{n}.{i}@example.com" for n in ("ann", "bob", "cho") for i in range(ROUNDS)}
    assert set(received) == expected
    assert set(received.values()) == {1}  # nobody got it twice


@pytest.mark.parametrize(
    ("late", "published"), [(timedelta(hours=3), True), (timedelta(hours=20), False)]
)
def test_a_daemon_started_after_publish_time_decides_at_once(
    world: tuple[Path, Settings, FeedServer, SmtpSink], late: timedelta, published: bool
) -> None:
    """The daemon was down at publish time and starts `late` after it (fake clock):
    within the lateness it publishes on start, beyond it it skips, recorded."""
    import threading

    from digest.credentials import load_secrets
    from digest.run.daemon import run_daemon

    config, settings, _, sink = world
    assert run_at(config, TUESDAY) == 0  # installed on Tuesday, W47 due on Sunday 23:00Z
    stop = threading.Event()
    with time_machine.travel(W47_DUE + late, tick=True):
        daemon = threading.Thread(target=run_daemon, args=(settings, load_secrets(), stop))
        daemon.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(reports_of(settings, "daemon")) < 1:
            time.sleep(0.05)
        stop.set()
        daemon.join(timeout=30)
    assert not daemon.is_alive()
    decisions = reports_of(settings, "daemon")[0]["decisions"]
    with Store(settings.storage_path) as store:
        if published:
            assert weeks_received(sink) == Counter({(W47, a): 1 for a in SUBSCRIBERS})
            assert store.issue_sent_at(W47) is not None
        else:
            assert not sink.received
            assert "lateness" in (store.skipped_reason(W47) or "")
            assert decisions[-1]["action"] == "skip: too late"  # type: ignore[index]


def reports_of(settings: Settings, verb: str) -> list[dict[str, object]]:
    folder = settings.schedule.reports_dir
    if not folder.exists():
        return []
    return [json.loads(p.read_text("utf-8")) for p in sorted(folder.glob(f"*-{verb}.json"))]


def test_clock_steps_back_and_forth_never_send_twice(
    world: tuple[Path, Settings, FeedServer, SmtpSink], capsys: pytest.CaptureFixture[str]
) -> None:
    """NTP corrections and a wrong BIOS clock: runs at times that go backwards
    (before the publish time, before the first run) neither crash nor resend."""
    config, _, _, sink = world
    assert run_at(config, TUESDAY) == 0
    assert run_at(config, W47_DUE + timedelta(minutes=1)) == 0
    assert f"{W47}: sent" in capsys.readouterr().out
    for moment in (
        W47_DUE - timedelta(hours=2),  # stepped back before the publish time
        TUESDAY - timedelta(days=3),  # before the very first run
        W47_DUE + timedelta(minutes=5),  # and forward again
        W47_DUE - timedelta(seconds=1),
    ):
        assert run_at(config, moment) == 0
    out = capsys.readouterr().out
    assert f"{W47}: sent" not in out
    assert weeks_received(sink) == Counter({(W47, a): 1 for a in SUBSCRIBERS})
