"""Readers' own countries and language: one variant of the issue per distinct choice.

Real parts only: a SQLite file holding a week of posts in three countries and
Global, subscribers with their choices (schema 4's `countries` and `language`),
the real templates, an aiosmtpd sink on 127.0.0.1, and `digest` run in-process
or as a real process (the crash test). Renders are counted through
`digest.render.issue.PREMAILER_CALLS` (one per email rendered) and the send
report's `variants`, never by replacing a part of digest.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.cli import main
from digest.config import Settings, load_settings, parse_settings
from digest.credentials import Secrets
from digest.loopback.mailsink import SmtpSink
from digest.mail.deliver import DeliveryReport
from digest.models import GLOBAL_SECTION, Issue, Post, Section, Story
from digest.render import issue as render
from digest.render.choice import Choice, reader_choice, variant_of
from digest.render.issue import UNSUBSCRIBE_PLACEHOLDER, render_issue, render_variant
from digest.run import pipeline
from digest.state.store import Store

WEEK = "2026-W47"  # publish mon 08:00 Asia/Tokyo: window 2026-11-15T23:00Z → 11-22T23:00Z
T0 = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # after the publish time
SECRET = "test-secret-0123456789-abcdefghij"
KEY = SECRET.encode()

pytestmark = pytest.mark.network

# Configured order: JP, KR, CN, TW (then Global). TW has no story this week.
STORIES = {
    "JP": [
        "SoftBank builds an AI data centre in Hokkaido, Japan",
        "Sakana AI opens a Tokyo lab for Japanese language models",
    ],
    "KR": [
        "Samsung opens an AI chip lab in Pangyo, Korea",
        "Naver cuts prices of its Korean AI models",
        "Kakao launches an AI agent for Korean banks",
    ],
    "CN": ["Baidu launches a new Ernie model in Beijing, China"],
    GLOBAL_SECTION: ["Researchers publish an open benchmark for AI agents"],
}


def posts() -> list[Post]:
    base = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
    out = []
    for n, (code, titles) in enumerate(STORIES.items()):
        for i, title in enumerate(titles):
            out.append(
                Post(
                    feed_url="https://feeds.example.com/asia.xml",
                    post_id=f"{code}-{i}",
                    url=f"https://news.example.com/{code.lower()}/{i}",
                    title=title,
                    summary=f"{title}.",
                    published=base + timedelta(hours=3 * n + i),
                    first_seen=base + timedelta(hours=3 * n + i, minutes=5),
                )
            )
    return out


@dataclass
class World:
    config: Path
    settings: Settings
    readers: dict[str, tuple[str, tuple[str, ...]]]  # address → (language, countries)

    def store(self) -> Store:
        return Store(self.settings.storage_path)


def make_world(
    tmp_path: Path,
    port: int,
    readers: Sequence[tuple[str, tuple[str, ...]]],
    *,
    delivery: str = "connections = 2",
    empty_week: str = "skip",
) -> World:
    """A ja digest of JP, KR, CN, TW and Global; reader n is `r{n:03d}@example.com`
    with the (language, countries) `readers[n]`."""
    folder = tmp_path / "w"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "digest.toml"
    config.write_text(
        '[digest]\ntitle = "アジアAIハブ週報"\nlanguage = "ja"\n'
        'countries = ["JP", "KR", "CN", "TW"]\nmax_per_section = 10\n'
        '[[feeds]]\nurl = "https://feeds.example.com/asia.xml"\nname = "Asia AI"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from = "アジアAIハブ週報 <digest@example.com>"\n'
        f"[delivery]\n{delivery}\n"
        f'[schedule]\nempty_week = "{empty_week}"\n'
        f'reports_dir = "{folder.as_posix()}/reports"\n'
        f'[storage]\npath = "{folder.as_posix()}/db.sqlite3"\n'
        f'[archive]\ndir = "{folder.as_posix()}/archive"\nbase_url = "https://digest.example.com/"\n'
        "allow_placeholder_links = true\n",  # the example domain: see digest.run.links
        encoding="utf-8",
    )
    settings = load_settings(config)
    chosen = {f"r{n:03d}@example.com": choice for n, choice in enumerate(readers)}
    with Store(settings.storage_path) as store:
        store.add_posts(posts())
        for email, (language, countries) in chosen.items():
            reader, _ = store.add_subscriber(email, "", T0)
            store.set_preferences(reader.id, language, countries, T0)
    return World(config, settings, chosen)


def send(
    world: World, *, dry_run: bool = False, progress: object = None
) -> tuple[pipeline.BuiltIssue, DeliveryReport]:
    with world.store() as store:
        return pipeline.send(
            world.settings,
            Secrets(smtp_password=None, signing_key=KEY),
            store,
            WEEK,
            lambda: NOW,
            dry_run=dry_run,
            progress=progress,  # type: ignore[arg-type]
        )


def by_reader(sink: SmtpSink) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for item in sink.received:
        out.setdefault(item.rcpt_tos[0], []).append(item.message())
    return out


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = (str(p.get_content()) for p in msg.iter_parts())  # type: ignore[attr-defined]
    return text, html


class _Page(HTMLParser):
    """Section ids, glance rows and the contents line's links of an issue page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.glance: list[str] = []
        self.contents: list[str] = []
        self._cell = ""
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "td" and "section" in classes:
            self.sections.append((a.get("id") or "").removeprefix("section-").upper())
        if tag == "td" and "glance-name" in classes:
            self._text = []
        if tag == "a" and (a.get("href") or "").startswith("#section-"):
            self.contents.append((a.get("href") or "").removeprefix("#section-").upper())

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._text is not None:
            self.glance.append("".join(self._text).strip())
            self._text = None


def page(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    p.close()
    return p


def links_to_full_issue(html: str) -> list[str]:
    """The labels of the links to the issue's web page, but "view in browser"."""
    found = re.findall(
        r'<a [^>]*href="https://digest\.example\.com/2026-W47\.html"[^>]*>([^<]*)</a>', html
    )
    return [label for label in found if label not in ("ブラウザで表示", "View in browser")]


def flat(text: str) -> str:
    return " ".join(text.split())


def section_codes(msg: EmailMessage) -> list[str]:
    return page(parts(msg)[1]).sections


# --- the choice, as data ----------------------------------------------------------


def settings_of(language: str = "ja") -> Settings:
    return parse_settings(
        {"digest": {"language": language, "countries": ["JP", "KR", "CN", "TW"]}},
        source=Path("test.toml"),
    )


def test_a_reader_choice_is_normalised_against_the_settings() -> None:
    settings = settings_of()
    assert reader_choice("", (), settings) == Choice("ja")
    assert reader_choice("en", ("kr", "JP"), settings) == Choice("en", ("JP", "KR"))
    # The configured order, Global last; codes no longer configured are dropped.
    assert reader_choice("", ("GLOBAL", "KR", "TH"), settings) == Choice("ja", ("KR", "GLOBAL"))
    # Every section is the full issue; so is a choice left with none configured.
    every = ("TW", "CN", "KR", "JP", GLOBAL_SECTION)
    assert reader_choice("ja", every, settings) == Choice("ja")
    assert reader_choice("ja", ("TH",), settings) == Choice("ja")
    # A language digest has no labels for is the digest's.
    assert reader_choice("fr", ("KR",), settings) == Choice("ja", ("KR",))


def test_a_choice_that_leaves_out_nothing_this_week_is_the_full_issue() -> None:
    story = Story("t", "https://x.example/", "s", NOW, "", "KR")
    issue = Issue(
        week=WEEK,
        number=1,
        title="T",
        language="ja",
        timezone="Asia/Tokyo",
        start=NOW - timedelta(days=7),
        end=NOW,
        sections=(Section("KR", "韓国", (story,)), Section("TW", "台湾", ())),
        generated_at=NOW,
    )
    assert variant_of(Choice("ja", ("KR",)), issue) == Choice("ja")
    assert variant_of(Choice("en", ("JP", "KR")), issue) == Choice("en")
    wider = replace_sections(issue, ("JP", "KR"))
    assert variant_of(Choice("ja", ("KR",)), wider) == Choice("ja", ("KR",))
    # A quiet week (no story at all) is one note for everyone of a language.
    quiet = replace_sections(issue, ())
    assert variant_of(Choice("en", ("KR",)), quiet) == Choice("en")


def replace_sections(issue: Issue, codes: tuple[str, ...]) -> Issue:
    story = Story("t", "https://x.example/", "s", NOW, "", "KR")
    return replace(issue, sections=tuple(Section(c, c, (story,)) for c in codes))


# --- sending ------------------------------------------------------------------------


def test_each_reader_gets_their_countries_and_same_choices_share_one_rendering(
    tmp_path: Path,
) -> None:
    readers = [
        ("", ("KR", "JP")),  # r000
        ("", ()),  # r001: every section
        ("ja", ("JP", "KR")),  # r002: the same choice as r000, written otherwise
        ("", ("KR", "JP", "TW")),  # r003: TW has nothing this week
        ("en", ()),  # r004: English, every section
    ]
    with SmtpSink() as sink:
        world = make_world(tmp_path, sink.port, readers)
        before = render.PREMAILER_CALLS
        built, report = send(world)
        renders = render.PREMAILER_CALLS - before
        got = by_reader(sink)
    # The full issue (archive and r001), ja JP+KR (r000, r002), ja JP+KR+TW (r003),
    # en full (r004): four renderings for five readers, one per distinct choice.
    assert (report.sent, report.variants, renders) == (5, 4, 4)
    assert "rendered 4 variants" in "\n".join(report.summary_lines())
    assert all(len(msgs) == 1 for msgs in got.values()) and len(got) == 5

    full = got["r001@example.com"][0]
    assert section_codes(full) == ["JP", "KR", "CN", GLOBAL_SECTION]
    assert (
        full["Subject"] == built.rendered.subject == "アジアAIハブ週報 第1号 2026年11月16日〜22日"
    )
    # The archive's web page stays the full issue.
    assert page(built.path.read_text(encoding="utf-8")).sections == [
        "JP",
        "KR",
        "CN",
        GLOBAL_SECTION,
    ]

    mine = got["r000@example.com"][0]
    text, html = parts(mine)
    view = page(html)
    assert view.sections == ["JP", "KR"]  # the configured order, not the reader's
    assert view.contents == ["JP", "KR"]
    assert view.glance == ["日本", "韓国"]
    assert mine["Subject"] == "アジアAIハブ週報 第1号 2026年11月16日〜22日（日本、韓国）"
    assert "選択中の国・地域：日本、韓国" in html
    assert links_to_full_issue(html) == ["全地域の完全版（7件）"]
    assert "5件" in html and "Baidu" not in html and "benchmark" not in html
    assert "Baidu" not in text and "日本（2） · 韓国（3）" in text
    assert "全地域の完全版（7件）： https://digest.example.com/2026-W47.html" in flat(text)
    # The same choice, written in another order and with the language spelled out.
    same = got["r002@example.com"][0]
    assert same["Subject"] == mine["Subject"] and section_codes(same) == ["JP", "KR"]
    # A chosen section without stories this week is simply absent.
    tw = got["r003@example.com"][0]
    assert section_codes(tw) == ["JP", "KR"]
    assert tw["Subject"] == mine["Subject"] and "日本、韓国、台湾" in parts(tw)[1]

    english = got["r004@example.com"][0]
    text, html = parts(english)
    assert english["Subject"] == "アジアAIハブ週報 #1 · Nov 16 – 22, 2026"
    assert section_codes(english) == ["JP", "KR", "CN", GLOBAL_SECTION]
    assert page(html).glance == ["Japan", "South Korea", "China", "Global"]
    for label in ("This week at a glance", "In this issue", "Unsubscribe", "View in browser"):
        assert label in html
    assert "Unsubscribe: https://" in text
    assert "配信停止" not in html and "国・地域別の件数" not in html
    assert 'lang="en"' in html

    # Every variant carries each reader's own unsubscribe link, in both parts, and
    # a Message-ID of its own that the ledger recorded.
    with world.store() as store:
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
    for address, (msg,) in got.items():
        link = str(msg["List-Unsubscribe"]).split(">")[0].lstrip("<")
        text, html = parts(msg)
        assert UNSUBSCRIBE_PLACEHOLDER not in text + html
        assert link in text and link.replace("&", "&amp;") in html
        assert rows[address].status == "sent" and rows[address].message_id == msg["Message-ID"]
    assert len({str(m[0]["List-Unsubscribe"]) for m in got.values()}) == 5


def test_a_reader_whose_countries_had_nothing_gets_a_short_note(tmp_path: Path) -> None:
    with SmtpSink() as sink:
        world = make_world(tmp_path, sink.port, [("", ("TW",)), ("en", ("TW",))])
        _, report = send(world)
        got = by_reader(sink)
    assert report.sent == 2
    ja = got["r000@example.com"][0]
    text, html = parts(ja)
    assert section_codes(ja) == []
    assert ja["Subject"] == "アジアAIハブ週報 第1号 2026年11月16日〜22日"
    assert "今週は、選択中の国・地域（台湾）のニュースはありません。" in html
    assert links_to_full_issue(html) == ["全地域の完全版（7件）"]
    assert "今週は、選択中の国・地域（台湾）のニュースはありません。" in text
    en_text, en_html = parts(got["r001@example.com"][0])
    assert "Nothing from your countries (Taiwan) this week." in en_html
    assert "Full issue, every country (7 stories): https://digest.example.com/" in flat(en_text)
    # The inbox preview says so too.
    assert "Nothing from your countries (Taiwan) this week." in en_html.split("</div>")[0]


def test_many_readers_of_two_choices_are_two_renderings(tmp_path: Path) -> None:
    readers = [("", ("KR",)) if n % 2 else ("", ()) for n in range(40)]
    with SmtpSink(keep=False) as sink:
        world = make_world(tmp_path, sink.port, readers, delivery="connections = 4")
        before = render.PREMAILER_CALLS
        _, report = send(world)
        assert render.PREMAILER_CALLS - before == 2
        assert (report.sent, report.variants) == (40, 2)
        assert set(sink.counts().values()) == {1} and len(sink.counts()) == 40


def test_a_choice_changed_during_the_send_gets_its_own_variant_once(tmp_path: Path) -> None:
    readers = [("", ())] * 6
    changed = threading.Event()

    def progress(report: DeliveryReport) -> None:
        # After the first message, the last two readers choose CN in English on the
        # web: their messages follow what the ledger claim reads, then.
        if report.sent == 1 and not changed.is_set():
            changed.set()
            with world.store() as store:
                for address in ("r004@example.com", "r005@example.com"):
                    reader = store.subscriber_by_email(address)
                    assert reader is not None
                    store.set_preferences(reader.id, "en", ("CN",), NOW)

    with SmtpSink() as sink:
        world = make_world(tmp_path, sink.port, readers, delivery="connections = 1")
        before = render.PREMAILER_CALLS
        _, report = send(world, progress=progress)
        got = by_reader(sink)
    assert changed.is_set() and report.sent == 6
    assert (report.variants, render.PREMAILER_CALLS - before) == (2, 2)
    for address in ("r004@example.com", "r005@example.com"):
        assert section_codes(got[address][0]) == ["CN"]
        assert got[address][0]["Subject"].endswith("· China")
    assert section_codes(got["r001@example.com"][0]) == ["JP", "KR", "CN", GLOBAL_SECTION]


def test_dry_run_and_test_copy_know_the_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    with SmtpSink() as sink:
        world = make_world(tmp_path, sink.port, [("", ("KR",)), ("en", ()), ("", ())])
        before = render.PREMAILER_CALLS
        code = main(["--config", str(world.config), "send", "--week", WEEK, "--dry-run"])
        out = capsys.readouterr().out
        assert code == 0 and "would render 3 variants" in out and "would send 3" in out
        assert render.PREMAILER_CALLS - before == 1  # the full issue only
        assert sink.received == []
        # A test copy to a reader's address is that reader's variant; to another
        # address, the full issue. No ledger row is touched.
        for address in ("r000@example.com", "editor@example.org"):
            code = main(["--config", str(world.config), "send", "--week", WEEK, "--to", address])
            assert code == 0
        copies = by_reader(sink)
    assert section_codes(copies["r000@example.com"][0]) == ["KR"]
    assert section_codes(copies["editor@example.org"][0]) == ["JP", "KR", "CN", GLOBAL_SECTION]
    with world.store() as store:
        assert store.delivery_rows(WEEK) == []


def test_preview_shows_a_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path, 25, [("", ())])
    args = ["--config", str(world.config), "preview", "--week", WEEK]
    assert main([*args, "--countries", "kr,global", "--language", "en"]) == 0
    shown = Path(capsys.readouterr().out.strip().removeprefix("file://"))
    html = shown.read_text(encoding="utf-8")
    assert page(html).sections == ["KR", GLOBAL_SECTION]
    assert "Your countries: South Korea, Global" in html
    assert UNSUBSCRIBE_PLACEHOLDER not in html
    assert main(args) == 0
    full = Path(capsys.readouterr().out.strip().removeprefix("file://"))
    assert page(full.read_text(encoding="utf-8")).sections == ["JP", "KR", "CN", GLOBAL_SECTION]
    assert main([*args, "--countries", "KR,FR"]) == 2
    assert "FR is not a section of this digest" in capsys.readouterr().err


def test_a_variant_is_rendered_without_a_web_page_and_the_full_issue_is_unchanged() -> None:
    settings = settings_of()
    issue = Issue(
        week=WEEK,
        number=2,
        title="T",
        language="ja",
        timezone="Asia/Tokyo",
        start=NOW - timedelta(days=7),
        end=NOW,
        sections=(
            Section("JP", "日本", (Story("a", "https://a.example/", "s", NOW, "", "JP"),)),
            Section("KR", "韓国", (Story("b", "https://b.example/", "s", NOW, "", "KR"),)),
        ),
        generated_at=NOW,
    )
    full = render_issue(issue, settings)
    variant = render_variant(issue, settings, Choice("ja", ("KR",)))
    assert variant.html_web == "" and full.html_web
    # Without [archive] base_url there is no web page to link to: the reader's
    # countries are named, the link to the full issue is left out.
    assert (
        "選択中の国・地域：韓国" in variant.html_email and "選択中の国・地域：韓国" in variant.text
    )
    assert "全地域の完全版" not in variant.html_email + variant.text
    assert variant.html_email.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    assert variant.text.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    # The full issue rendered as a variant in the issue's language is the same email.
    same = render_variant(issue, settings, Choice("ja"))
    assert (same.html_email, same.text, same.subject) == (
        full.html_email,
        full.text,
        full.subject,
    )


# --- a crash mid-send ---------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_mid_send_with_variants_sends_nobody_twice_unrecorded(tmp_path: Path) -> None:
    """SIGKILL `digest send` a few times while it sends four variants, rerun, then
    check: everyone has a copy of their own variant, and every extra copy is one
    the ledger recorded as an unknown outcome."""
    choices = [("", ()), ("", ("KR",)), ("en", ("JP", "CN")), ("en", ())]
    readers = [choices[n % len(choices)] for n in range(120)]
    rng = random.Random(5)
    env = {**os.environ, "DIGEST_SECRET": SECRET}
    with SmtpSink(dot_delay=(0.02, 0.05), late_commit_rate=0.5, seed=5) as sink:
        world = make_world(tmp_path, sink.port, readers, delivery="connections = 4")
        command = [sys.executable, "-m", "digest", "--config", str(world.config)]
        killed = 0
        for _ in range(6):
            sessions = sink.sessions
            proc = subprocess.Popen(
                [*command, "send", "--week", WEEK],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            deadline = time.monotonic() + 30
            while sink.sessions == sessions and proc.poll() is None:
                assert time.monotonic() < deadline, "send never connected"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.05, 0.2))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)
            if proc.returncode != -signal.SIGKILL:
                break
            killed += 1
        for _ in range(10):
            final = subprocess.run(
                [*command, "send", "--week", WEEK], capture_output=True, env=env, timeout=120
            )
            with world.store() as store:
                if not store.ledger_open(WEEK):
                    break
        got = by_reader(sink)
    assert killed >= 2
    with world.store() as store:
        rows = {r.email: r for r in store.delivery_rows(WEEK)}
        assert not store.ledger_open(WEEK)
    expected = {
        ("", ()): ["JP", "KR", "CN", GLOBAL_SECTION],
        ("", ("KR",)): ["KR"],
        ("en", ("JP", "CN")): ["JP", "CN"],
        ("en", ()): ["JP", "KR", "CN", GLOBAL_SECTION],
    }
    named = final.stdout.decode()
    for address, choice in world.readers.items():
        copies = got.get(address, [])
        if not copies:
            # Missing only when the final send named it unknown (or failed).
            assert rows[address].status in ("unknown", "failed") and address in named
            continue
        assert len(copies) - 1 <= rows[address].unknowns, f"{address}: {len(copies)} copies"
        for msg in copies:
            assert section_codes(msg) == expected[choice], address
            assert ("Nov 16 – 22" in msg["Subject"]) == (choice[0] == "en")
