"""Tests of digest.render.issue, digest.render.messages and the issue templates.

Golden files under tests/golden/ hold the email HTML and the text part of a
fixed issue in each language; `DIGEST_UPDATE_GOLDEN=1 pytest tests/test_render.py`
rewrites them (review the diff before committing).
"""

from __future__ import annotations

import html
import importlib.util
import logging
import os
import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from digest.config import Settings, parse_settings
from digest.errors import TemplateError
from digest.models import GLOBAL_SECTION, AlsoReported, Issue, Section, Story
from digest.render import issue as render
from digest.render.issue import (
    UNSUBSCRIBE_PLACEHOLDER,
    format_date_range,
    format_short_date,
    get_environment,
    issue_date_range,
    personalize,
    render_issue,
    safe_href,
)
from digest.render.messages import CATALOGUES, EN, MessageError, message, plural
from digest.render.typography import display_width, truncate_summary, wrap_text

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parent.parent
UNSUB = "https://digest.example.org/unsubscribe?s=42&t=abc_DEF-123"

SCRIPT_TITLE = "<script>alert('x')</script> Tom & Jerry AI Lab opens in Seoul"


def make_settings(language: str = "ja", **archive: Any) -> Settings:
    return parse_settings(
        {
            "digest": {
                "language": language,
                "title": "アジアAIハブ週報" if language == "ja" else "Asian AI Hubs Weekly",
                "contact": "editor@example.org",
            },
            "archive": {"base_url": "https://digest.example.org/archive/", **archive},
        },
        source=Path("test.toml"),
    )


def make_issue(
    language: str = "ja",
    *,
    week: str = "2026-W47",
    number: int = 3,
    start: datetime = datetime(2026, 11, 15, 15, 0, tzinfo=UTC),  # Mon 16 Nov 00:00 JST
    end: datetime = datetime(2026, 11, 22, 15, 0, tzinfo=UTC),  # Mon 23 Nov 00:00 JST
    title: str | None = None,
) -> Issue:
    """A fixed issue: CJK and English stories, `also`, a Global section, a title
    with <script> and &, and a story whose URL is javascript:."""
    ja = language == "ja"
    jp = (
        Story(
            title="ソフトバンク、生成AI向けデータセンターを北海道に建設へ",
            url="https://xtech.nikkei.com/atcl/nxt/news/24/01234/",
            source="日経クロステック",
            published=datetime(2026, 11, 17, 23, 30, tzinfo=UTC),  # 18 Nov in Tokyo
            summary=(
                "ソフトバンクは18日、生成AIの学習と推論に使う大規模データセンターを北海道苫小牧市に"
                "建設すると発表した。再生可能エネルギーを活用し、2027年度の稼働開始を目指す。受電容量は"
                "最終的に300メガワット超を計画しており、国内最大級となる見通し。"
            ),
            country="JP",
            also=(
                AlsoReported(
                    "ITmedia AI+", "https://www.itmedia.co.jp/aiplus/articles/2611/18/news101.html"
                ),
                AlsoReported(
                    "Impress Watch", "https://www.watch.impress.co.jp/docs/news/1999999.html"
                ),
            ),
            feed_url="https://xtech.nikkei.com/rss/index.rdf",
            post_id="nxt-24-01234",
        ),
        Story(
            title="Sakana AI raises ¥20bn to build small Japanese models",
            url="javascript:alert(1)",
            source="Evil Feed",
            published=datetime(2026, 11, 19, 2, 0, tzinfo=UTC),
            summary="A short summary.",
            country="JP",
            feed_url="https://evil.example/feed",
            post_id="1",
        ),
    )
    kr = (
        Story(
            title=SCRIPT_TITLE,
            url="https://www.koreaherald.com/view.php?ud=20261118000123&np=1",
            source="The Korea Herald",
            published=datetime(2026, 11, 18, 6, 0, tzinfo=UTC),
            summary=(
                "네이버와 삼성전자가 서울에 공동 AI 연구소를 연다. "
                "Both firms will fund 200 researchers."
            ),
            country="KR",
            second_country="JP",  # shown as a tag
            feed_url="https://www.koreaherald.com/rss",
            post_id="20261118000123",
        ),
    )
    glob = (
        Story(
            title="OpenAI and G42 expand Stargate UAE to 5GW",
            url="https://openai.com/index/stargate-uae/",
            source="OpenAI",
            published=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
            summary=(
                "OpenAI said the second phase of the Abu Dhabi campus will come online in 2027. "
                "The company also announced partnerships with governments in Asia, including "
                "Japan, Korea and India, to offer sovereign deployments. Analysts said the move "
                "intensifies competition among Gulf and Asian hubs for data-centre investment."
            ),
            country="",
            feed_url="https://openai.com/news/rss.xml",
            post_id="stargate-uae",
        ),
    )
    return Issue(
        week=week,
        number=number,
        title=title or ("アジアAIハブ週報" if ja else "Asian AI Hubs Weekly"),
        language=language,
        timezone="Asia/Tokyo",
        start=start,
        end=end,
        sections=(
            Section("JP", "日本" if ja else "Japan", jp),
            Section("KR", "韓国" if ja else "South Korea", kr),
            Section(GLOBAL_SECTION, "グローバル" if ja else "Global", glob),
        ),
        generated_at=datetime(2026, 11, 22, 15, 0, 7, 123456, tzinfo=UTC),
        duplicates_merged=2,
    )


class _Collector(HTMLParser):
    """Collects hrefs, ids, style blocks and elements of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.styles: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"] or "")
        if a.get("id"):
            self.ids.append(a["id"] or "")
        if tag == "style":
            self._in_style = True
            self.styles.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles[-1] += data


def parse(doc: str) -> _Collector:
    c = _Collector()
    c.feed(doc)
    c.close()
    return c


@pytest.fixture(params=["ja", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- escaping and links -----------------------------------------------------------


def test_data_is_autoescaped(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    for doc in (r.html_email, r.html_web):
        assert "<script" not in doc
        assert "&lt;script&gt;" in doc
        assert "Tom &amp; Jerry" in doc
    # The text part is plain text: shown as is, not entity-escaped.
    assert "<script>alert('x')</script> Tom & Jerry" in r.text


def test_every_email_href_is_http_or_in_page_anchor(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    doc = personalize(r.html_email, UNSUB, html=True)
    found = parse(doc)
    assert found.hrefs, "no links at all"
    for href in found.hrefs:
        if href.startswith("#"):
            assert href[1:] in found.ids, f"in-page link to a missing id: {href}"
        else:
            assert re.match(r"https?://[^\s]+$", href), href
    assert "javascript:" not in doc.lower()
    # The story with the javascript: URL is shown, unlinked.
    assert "Sakana AI raises ¥20bn" in doc
    assert not any("alert" in h for h in found.hrefs)


def test_web_links_are_http_anchor_or_relative_archive_files(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    found = parse(r.html_web)
    relative = {h for h in found.hrefs if not re.match(r"https?://|#", h)}
    countries = {"country/jp.html", "country/kr.html", "country/global.html"}
    assert relative == {"index.html", "feed.xml"} | countries
    assert "javascript:" not in r.html_web.lower()
    assert UNSUBSCRIBE_PLACEHOLDER not in r.html_web


def test_story_anchors_and_contents_line(language: str) -> None:
    issue = make_issue(language)
    r = render_issue(issue, make_settings(language))
    found = parse(r.html_email)
    for section in issue.sections:
        for story in section.stories:
            assert story.anchor in found.ids
    toc = [h for h in found.hrefs if h.startswith("#section-")]
    assert toc == ["#section-jp", "#section-kr", "#section-global"]
    label = {"ja": "日本（2）", "en": "Japan (2)"}[language]
    assert f'href="#section-jp" style="color:#0b57d0; text-decoration:none">{label}</a>' in (
        r.html_email
    )


class _Glance(HTMLParser):
    """The rows of the "at a glance" table: (name, bar width, bar colour, count)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, str, str, str]] = []
        self._depth = 0  # tables open inside the glance table, itself included
        self._cells: list[str] = []
        self._width = self._bgcolor = ""
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and (self._depth or a.get("class") == "glance"):
            self._depth += 1
            if self._depth == 2:  # the bar: a table as wide as the count, one coloured cell
                self._width = a.get("width") or ""
        elif self._depth and tag == "td":
            if a.get("class") == "glance-bar":
                self._bgcolor = a.get("bgcolor") or ""
                assert "background-color" in (a.get("style") or "background-color")
            elif self._depth == 1:
                self._cell = ""
        elif self._depth and tag not in ("tr",):
            raise AssertionError(f"<{tag}> in the glance chart: tables only")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._depth:
            self._depth -= 1
        elif tag == "td" and self._depth == 1 and self._cell is not None:
            self._cells.append(self._cell.strip())
            self._cell = None
        elif tag == "tr" and self._depth == 1:
            name, track, count = self._cells  # the track holds only the bar: no text
            assert track == "", track
            self.rows.append((name, self._width, self._bgcolor, count))
            self._cells = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data


def glance_rows(doc: str) -> list[tuple[str, str, str, str]]:
    g = _Glance()
    g.feed(doc)
    g.close()
    return g.rows


def test_glance_chart_draws_a_bar_per_section(language: str) -> None:
    issue = make_issue(language)
    r = render_issue(issue, make_settings(language))
    names = [s.name for s in issue.sections]
    expected = [(names[0], "100%", "#0b57d0", "2"), (names[1], "50%", "#0b57d0", "1")]
    expected.append((names[2], "50%", "#0b57d0", "1"))
    for doc in (r.html_email, r.html_web):
        assert glance_rows(doc) == expected
        label = message(language, "glance")
        # Right after the contents line, before the first section.
        contents = doc.index('href="#section-global"')
        assert contents < doc.index(label) < doc.index('id="section-jp"')
    # Email: the bar colour is inlined too (the attribute alone loses to dark-mode CSS).
    assert 'class="glance-bar" bgcolor="#0b57d0" height="10" style="background-color:#0b57d0' in (
        r.html_email
    )


def test_glance_bars_are_proportional_to_the_counts() -> None:
    base = make_issue("en")
    story = base.sections[0].stories[0]
    counts = {"JP": 7, "KR": 3, "CN": 1, GLOBAL_SECTION: 5}
    sections = tuple(
        Section(
            code,
            code,
            tuple(replace(story, post_id=f"{code}-{i}") for i in range(n)),
        )
        for code, n in counts.items()
    )
    r = render_issue(replace(base, sections=sections), make_settings("en"))
    rows = glance_rows(r.html_email)
    assert [(name, count) for name, _, _, count in rows] == [(c, str(n)) for c, n in counts.items()]
    widths = [int(w.rstrip("%")) for _, w, _, _ in rows]
    assert widths == [100, 43, 14, 71]  # round(100 * n / 7)
    for width, n in zip(widths, counts.values(), strict=True):
        assert abs(width - 100 * n / 7) <= 0.5


def test_text_part_contents_line_is_the_glance_line(language: str) -> None:
    # The text part doesn't draw bars (proportional fonts and CJK widths would
    # misalign them): its contents line names every section with its count.
    issue = make_issue(language)
    r = render_issue(issue, make_settings(language))
    view = render.build_view(issue, make_settings(language))
    contents = message(language, "contents") + message(language, "colon")
    line = next(ln for ln in r.text.split("\n") if ln.startswith(contents))
    assert line == contents + " · ".join(s.toc_label for s in view.sections)
    assert [s.count for s in view.sections] == [2, 1, 1]


def test_non_ascii_urls_become_ascii_hrefs() -> None:
    assert safe_href("https://例え.jp/ニュース?q=東京&x=1") == (
        "https://xn--r8jz45g.jp/%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9?q=%E6%9D%B1%E4%BA%AC&x=1"
    )
    assert safe_href("https://example.com/a?b=c&d=e#f") == "https://example.com/a?b=c&d=e#f"
    assert safe_href("HTTP://Example.com:8080/x") == "http://example.com:8080/x"
    for bad in (
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,x",
        "ftp://x/",
        "//example.com/x",
        "/relative",
        "",
        "https://",
        "https://exa mple.com\n/x",
    ):
        assert safe_href(bad) is None, bad


# --- CSS ------------------------------------------------------------------------------


def _strip_media_blocks(css: str) -> str:
    out, i = [], 0
    while True:
        j = css.find("@media", i)
        if j < 0:
            out.append(css[i:])
            return "".join(out)
        out.append(css[i:j])
        depth, k = 0, css.index("{", j)
        while True:
            depth += {"{": 1, "}": -1}.get(css[k], 0)
            k += 1
            if depth == 0:
                break
        i = k


def test_email_styles_are_inlined_and_only_media_rules_remain(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    found = parse(r.html_email)
    assert len(found.styles) == 1, "one <style> block (the Outlook one is in a comment)"
    style = found.styles[0]
    assert "@media (max-width: 620px)" in style
    assert "@media (prefers-color-scheme: dark)" in style
    assert "!important" in style  # or the media rules couldn't beat the inline styles
    assert _strip_media_blocks(style).strip() == ""
    styled = {tag for tag, attrs in found.elements if attrs.get("style")}
    assert {"body", "table", "td", "h1", "h2", "h3", "p", "a", "div"} <= styled
    for tag, attrs in found.elements:
        if tag in ("a", "p", "h1", "h2", "h3") or attrs.get("class") == "story":
            assert attrs.get("style"), f"<{tag} class={attrs.get('class')}> has no inline style"
    # The 600 px container survives inlining (premailer would write width="100%").
    container = [a for t, a in found.elements if a.get("class") == "container"]
    assert container[0]["width"] == "600"
    assert "max-width:600px" in (container[0]["style"] or "")
    assert "Hiragino Sans" in (container[0]["style"] or "")


def test_web_page_keeps_its_stylesheet() -> None:
    r = render_issue(make_issue("en"), make_settings("en"))
    found = parse(r.html_web)
    assert ".story-title" in found.styles[0] and "@media" in found.styles[0]
    assert not any(a.get("style") for t, a in found.elements if t in ("p", "h3", "a"))
    assert '<html lang="en">' in r.html_web


def test_no_cssutils_log_noise(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        render_issue(make_issue("ja"), make_settings("ja"))
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    # cssutils logs unknown CSS (mso-hide, -webkit-...) at WARNING: silenced at the source.
    assert logging.getLogger("CSSUTILS").getEffectiveLevel() >= logging.ERROR


def test_premailer_runs_exactly_once_per_render() -> None:
    before = render.PREMAILER_CALLS
    render_issue(make_issue("ja"), make_settings("ja"))
    assert before + 1 == render.PREMAILER_CALLS
    render_issue(make_issue("en"), make_settings("en"))
    assert before + 2 == render.PREMAILER_CALLS


# --- placeholder, subject, footer --------------------------------------------------


def test_placeholder_is_url_safe_and_present_once(language: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", UNSUBSCRIBE_PLACEHOLDER)
    r = render_issue(make_issue(language), make_settings(language))
    assert r.html_email.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    assert r.text.count(UNSUBSCRIBE_PLACEHOLDER) == 1
    assert f'href="{UNSUBSCRIBE_PLACEHOLDER}"' in r.html_email


def test_personalize_replaces_and_escapes() -> None:
    r = render_issue(make_issue("en"), make_settings("en"))
    doc = personalize(r.html_email, UNSUB, html=True)
    assert UNSUBSCRIBE_PLACEHOLDER not in doc
    assert html.escape(UNSUB) in doc and UNSUB not in doc  # & became &amp;
    assert UNSUB in parse(doc).hrefs
    text = personalize(r.text, UNSUB, html=False)
    assert f"Unsubscribe: {UNSUB}" in text
    for bad in ("javascript:alert(1)", "https://x.example/u\r\nBcc: a@b", "mailto:a@b.c"):
        with pytest.raises(ValueError):
            personalize(r.text, bad, html=False)
    with pytest.raises(ValueError, match="placeholder"):
        personalize(text, UNSUB, html=False)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ja", "アジアAIハブ週報 第3号 2026年11月16日〜22日"),
        ("en", "Asian AI Hubs Weekly #3 · Nov 16 – 22, 2026"),
    ],
)
def test_subject(language: str, expected: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    assert r.subject == expected


def test_subject_is_one_line_whatever_the_title() -> None:
    issue = make_issue("en", title="Asian AI\r\nBcc: victim@example.org\u2028Weekly\n")
    r = render_issue(issue, make_settings("en"))
    assert not re.search(r"[\r\n\u2028\u2029\x0b\x0c\x85]", r.subject)
    assert r.subject.startswith("Asian AI Bcc: victim@example.org Weekly #3")
    assert "Asian AI Bcc: victim@example.org Weekly</h1>" in r.html_email


def test_preheader_is_hidden_and_summarises(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    expected = {
        "ja": "今週は4件：日本（2）、韓国（1）、グローバル（1）",
        "en": "4 stories this week: Japan (2), South Korea (1), Global (1)",
    }[language]
    assert r.preheader == expected
    m = re.search(r'<div class="preheader" style="([^"]*)">([^<]*)</div>', r.html_email)
    assert m is not None
    assert "display:none" in m.group(1) and "mso-hide:all" in m.group(1)
    assert m.group(2).startswith(expected)
    assert r.html_email.index("preheader") < r.html_email.index('<h1 class="title"')


def test_view_in_browser_and_contact(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    web = "https://digest.example.org/archive/2026-W47.html"
    assert web in parse(r.html_email).hrefs
    assert web in r.text
    assert "editor@example.org" in r.html_email and "editor@example.org" in r.text
    bare = replace(make_settings(language), archive=replace(make_settings().archive, base_url=""))
    bare = replace(bare, digest=replace(bare.digest, contact=""))
    r2 = render_issue(make_issue(language), bare)
    assert "2026-W47.html" not in r2.html_email and "2026-W47.html" not in r2.text
    assert "editor@example.org" not in r2.html_email
    assert message(language, "view_in_browser") not in r2.html_email
    assert r2.html_email.count(UNSUBSCRIBE_PLACEHOLDER) == 1


def test_lang_attribute(language: str) -> None:
    r = render_issue(make_issue(language), make_settings(language))
    assert f'<html lang="{language}">' in r.html_email
    assert f'<html lang="{language}">' in r.html_web


def test_empty_issue_renders() -> None:
    issue = replace(make_issue("en"), sections=(Section("JP", "Japan", ()),))
    r = render_issue(issue, make_settings("en"))
    assert "No stories this week." in r.html_email and "No stories this week." in r.text
    assert "section-jp" not in r.html_email  # empty sections are left out
    assert r.text.count(UNSUBSCRIBE_PLACEHOLDER) == 1


# --- dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "ja", "en"),
    [
        # Local midnight to local midnight: the last day is the day before `end`.
        (
            datetime(2026, 11, 15, 15, tzinfo=UTC),
            datetime(2026, 11, 22, 15, tzinfo=UTC),
            "2026年11月16日〜22日",
            "Nov 16 – 22, 2026",
        ),
        # Across a month end.
        (
            datetime(2026, 11, 29, 15, tzinfo=UTC),
            datetime(2026, 12, 6, 15, tzinfo=UTC),
            "2026年11月30日〜12月6日",
            "Nov 30 – Dec 6, 2026",
        ),
        # Across a year end.
        (
            datetime(2026, 12, 27, 15, tzinfo=UTC),
            datetime(2027, 1, 3, 15, tzinfo=UTC),
            "2026年12月28日〜2027年1月3日",
            "Dec 28, 2026 – Jan 3, 2027",
        ),
        # Ending at a publish time (Mon 08:00 JST): named for the week it reports on.
        (
            datetime(2026, 11, 15, 23, tzinfo=UTC),
            datetime(2026, 11, 22, 23, tzinfo=UTC),
            "2026年11月16日〜22日",
            "Nov 16 – 22, 2026",
        ),
    ],
)
def test_week_range(start: datetime, end: datetime, ja: str, en: str) -> None:
    first, last = issue_date_range(start, end, "Asia/Tokyo")
    assert format_date_range(first, last, "ja") == ja
    assert format_date_range(first, last, "en") == en


def test_week_range_uses_issue_timezone() -> None:
    start, end = datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    assert issue_date_range(start, end, "UTC") == (date(2026, 11, 16), date(2026, 11, 22))
    assert issue_date_range(start, end, "Asia/Tokyo") == (date(2026, 11, 16), date(2026, 11, 22))
    assert issue_date_range(start, end, "America/New_York") == (
        date(2026, 11, 15),
        date(2026, 11, 21),
    )
    assert format_date_range(date(2026, 11, 16), date(2026, 11, 16), "en") == "Nov 16, 2026"


def test_short_dates_are_local() -> None:
    moment = datetime(2026, 11, 17, 20, 0, tzinfo=UTC)  # 18 Nov 05:00 in Tokyo
    assert format_short_date(moment, "Asia/Tokyo", "ja") == "11月18日"
    assert format_short_date(moment, "Asia/Tokyo", "en") == "Nov 18"
    assert format_short_date(moment, "UTC", "en") == "Nov 17"
    r = render_issue(make_issue("ja"), make_settings("ja"))
    assert "日経クロステック · 11月18日" in r.html_email  # 2026-11-17T23:30Z


# --- text helpers --------------------------------------------------------------------


def test_summary_truncation() -> None:
    short = "A short summary."
    assert truncate_summary(short) == short
    sentences = "The first sentence is here. " + "Another one follows it, a bit longer. " * 5
    cut = truncate_summary(sentences)
    assert display_width(cut) <= 200
    assert cut.endswith("longer.") and display_width(cut) > 150  # whole sentences
    # The only sentence end is too early (< 40 %): cut at the last clause
    # boundary (issue 14: a comma before a bare word), with an ellipsis.
    english = make_issue("en").sections[2].stories[0].summary
    cut = truncate_summary(english)
    assert cut.endswith(" Japan, Korea and India…") and display_width(cut) <= 200
    japanese = make_issue("ja").sections[0].stories[0].summary * 2
    cut = truncate_summary(japanese)
    assert display_width(cut) <= 200 and cut.endswith("。")
    no_stop = "生成AI" * 80
    cut = truncate_summary(no_stop)
    assert cut.endswith("…") and 190 <= display_width(cut) <= 200
    words = "word " * 60
    cut = truncate_summary(words)
    assert cut.endswith("word…") and display_width(cut) <= 200
    abbrev = "Shares of Acme Inc. rose. " + "x" * 250
    # Not at "Inc.", and never inside the 250-letter word: the early sentence end it is.
    assert truncate_summary(abbrev) == "Shares of Acme Inc. rose."
    assert truncate_summary("line one\n\nline\ttwo") == "line one line two"


def test_wrap_text_cjk_and_latin() -> None:
    text = (
        "経済産業省は、AI事業者ガイドラインを改定し、生成AIの透明性確保と知的財産の保護を明記した。"
        "OpenAI や Google などの海外事業者にも適用される。"
    )
    out = wrap_text(text, 40, "  ", "* ")
    lines = out.split("\n")
    assert len(lines) > 2
    assert all(display_width(line) <= 40 for line in lines)
    assert lines[0].startswith("* ") and all(ln.startswith("  ") for ln in lines[1:])
    assert not any(ln.strip()[0] in "、。）」" for ln in lines[1:])
    assert "".join(ln[2:] for ln in lines).replace(" ", "") == text.replace(" ", "")
    korean = "네이버와 삼성전자가 서울에 공동 AI 연구소를 연다. 두 회사는 연구원 200명을 지원한다."
    assert wrap_text(korean, 30).split("\n") == [
        "네이버와 삼성전자가 서울에",
        "공동 AI 연구소를 연다. 두",
        "회사는 연구원 200명을",
        "지원한다.",
    ]
    long_url = "https://example.com/" + "a" * 100
    out = wrap_text(f"see {long_url} now", 72)
    assert long_url in out.split("\n")


def test_text_part_layout(language: str) -> None:
    issue = make_issue(language)
    r = render_issue(issue, make_settings(language))
    lines = r.text.split("\n")
    for line in lines:
        assert display_width(line) <= 72 or re.search(r"https?://\S{40,}|\[\d+\] ", line), line
    # Sections in the same order as the HTML, each story title with its reference.
    positions = [r.text.index(s.name) for s in issue.sections]
    assert positions == sorted(positions)
    assert "* ソフトバンク" in r.text or "* ソフトバンク" in r.text.replace("\n  ", "")
    refs = re.findall(r"^\[(\d+)\] (\S+)$", r.text, flags=re.M)
    assert [int(n) for n, _ in refs] == list(range(1, len(refs) + 1))
    urls = [u for _, u in refs]
    assert urls[0] == "https://xtech.nikkei.com/atcl/nxt/news/24/01234/"
    assert "https://www.itmedia.co.jp/aiplus/articles/2611/18/news101.html" in urls
    assert len(urls) == 5  # 4 stories + 2 also - the javascript: one
    assert "javascript" not in r.text
    assert "\n-- \n" in r.text  # signature separator before the footer
    assert r.text.index("-- \n") < r.text.index(UNSUBSCRIBE_PLACEHOLDER)


# --- messages ----------------------------------------------------------------------------


def _fields(value: object) -> set[str]:
    texts = [value] if isinstance(value, str) else list(value.values())  # type: ignore[attr-defined]
    return {f for t in texts for f in re.findall(r"{(\w+)}", t)}


def test_catalogues_are_complete_and_consistent() -> None:
    for lang, cat in CATALOGUES.items():
        assert set(cat) == set(EN), (
            f"{lang}: missing {set(EN) - set(cat)}, extra {set(cat) - set(EN)}"
        )
        for key, value in cat.items():
            assert _fields(value) == _fields(EN[key]), f"{lang}.{key}"
            assert isinstance(value, str) or "other" in value


def test_every_label_is_used() -> None:
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "templates").glob("*.j2")]
    sources += [
        (ROOT / "digest" / name).read_text(encoding="utf-8")
        for name in (
            "render/issue.py",
            "render/view.py",
            "render/notice.py",
            "render/pages.py",
            "web/archive.py",
            "web/archive_pages.py",
            "web/app.py",
        )
    ]
    code = "\n".join(sources)
    unused = [key for key in EN if f'"{key}"' not in code]
    assert unused == []


def test_missing_labels_raise_clearly() -> None:
    with pytest.raises(MessageError, match=r"'nope'.*'ja'"):
        message("ja", "nope")
    with pytest.raises(MessageError, match="'fr'"):
        message("fr", "unsubscribe")
    with pytest.raises(MessageError, match="title"):
        message("en", "why")
    assert plural("en", "story_count", 1) == "1 story"
    assert plural("en", "story_count", 2) == "2 stories"
    assert plural("ja", "story_count", 1) == "1件"


# --- environment -------------------------------------------------------------------------


def test_environment_is_cached_and_strict(tmp_path: Path) -> None:
    templates = ROOT / "templates"
    assert get_environment(templates) is get_environment(templates)
    custom = tmp_path / "templates"
    shutil.copytree(templates, custom)
    layout = custom / "_layout.html.j2"
    layout.write_text(layout.read_text().replace("{{ v.title }}", "{{ v.no_such_field }}", 1))
    settings = replace(make_settings("en"), templates_dir=custom)
    with pytest.raises(TemplateError, match=r"_layout\.html\.j2:\d+: undefined: ") as info:
        render_issue(make_issue("en"), settings)
    assert isinstance(info.value.__cause__, UndefinedError)


def test_a_user_templates_dir_may_replace_one_file(tmp_path: Path) -> None:
    """`[templates] dir` is searched first; digest's own templates fill in the rest."""
    own = tmp_path / "mine"
    own.mkdir()
    (own / "issue.txt.j2").write_text("MINE {{ v.title }} {{ placeholder }}\n", encoding="utf-8")
    (own / "base.css").write_text(".mine { color: #123456 }\n", encoding="utf-8")
    settings = replace(make_settings("en"), templates_dir=own)
    rendered = render_issue(make_issue("en"), settings)
    assert rendered.text.startswith("MINE ")
    assert "#123456" in rendered.html_web  # the user's stylesheet, in the web version
    default = render_issue(make_issue("en"), make_settings("en"))
    assert rendered.html_email.count("<table") == default.html_email.count("<table")


# --- golden files ---------------------------------------------------------------------------


def _mask(text: str, issue: Issue) -> str:
    # Nothing volatile is rendered today; if a template starts showing the build
    # time, it is masked here rather than making the golden files churn.
    return text.replace(issue.generated_at.isoformat(), "<generated_at>")


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(("part", "suffix"), [("html_email", "html"), ("text", "txt")])
def test_golden(language: str, part: str, suffix: str) -> None:
    issue = make_issue(language)
    rendered = render_issue(issue, make_settings(language))
    actual = _mask(getattr(rendered, part), issue)
    path = GOLDEN / f"issue_{language}.{suffix}"
    if os.environ.get("DIGEST_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with DIGEST_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended, run with DIGEST_UPDATE_GOLDEN=1"
    )


# --- size and speed ----------------------------------------------------------------------


@pytest.mark.parametrize("stories", [60, 80])
def test_a_big_issue_stays_under_gmails_clipping_size(stories: int) -> None:
    # Size is deterministic, so a test may hold it; speed is for benchmarks/build.py.
    spec = importlib.util.spec_from_file_location("bench_build", ROOT / "benchmarks" / "build.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for language in ("ja", "en"):
        issue = bench.make_issue(language, stories)
        settings = make_settings(language=language)
        html = render_issue(issue, settings).html_email
        assert issue.story_count == stories
        assert len(glance_rows(html)) == len(issue.sections)  # the chart is in the count
        assert len(html.encode("utf-8")) <= 102 * 1024


@pytest.mark.parametrize(
    ("language", "label"), [("ja", "日本にも関連"), ("en", "Also about Japan")]
)
def test_a_second_country_is_shown_as_a_tag(language: str, label: str) -> None:
    rendered = render_issue(make_issue(language), make_settings(language))
    assert rendered.html_email.count(label) == 1 and rendered.text.count(label) == 1
    assert 'class="tag"' in rendered.html_web


def test_the_email_shows_the_first_stories_and_links_to_the_rest(tmp_path: Path) -> None:
    """A section over `max_per_section`: the email and the text part show the first
    ones and say how many more there are, linking to that section of the web page,
    which lists every story."""
    issue = make_issue("en")
    first = issue.sections[0]
    many = tuple(
        replace(first.stories[0], title=f"Story number {i}", url=f"https://x.example/{i}")
        for i in range(7)
    )
    issue = replace(issue, sections=(replace(first, stories=many), *issue.sections[1:]))
    settings = make_settings("en")
    settings = replace(settings, digest=replace(settings.digest, max_per_section=3))
    rendered = render_issue(issue, settings)
    section = render.build_view(issue, settings).sections[0]
    href = f"https://digest.example.org/archive/2026-W47.html#{section.anchor}"
    for part in (rendered.html_email, rendered.text):
        assert "Story number 2" in part and "Story number 3" not in part
        assert "4 more stories in this section on the web page" in part
        assert href in part
    assert all(f"Story number {i}" in rendered.html_web for i in range(7))
    assert "more stories in this section" not in rendered.html_web
    # The text part numbers only the links it shows.
    assert "[4] https://x.example/3" not in rendered.text
    ja = replace(settings, digest=replace(settings.digest, language="ja"))
    assert (
        "このセクションのほか4件はウェブ版で"
        in render_issue(replace(issue, language="ja"), ja).text
    )
