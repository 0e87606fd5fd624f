"""Tests of digest.web.archive: issue pages, JSON, index.html and the Atom feed."""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from markupsafe import escape as markup_escape
from test_render import SCRIPT_TITLE, glance_rows, make_issue, make_settings

from digest.config import Settings
from digest.errors import WeekError
from digest.models import Issue, Section
from digest.render.issue import render_issue
from digest.web import archive_feed
from digest.web.archive import issue_from_json, issue_to_json, rebuild_index, write_issue

BASE = "https://digest.example.org/archive/"


def settings_for(folder: Path, language: str = "ja", base_url: str = BASE) -> Settings:
    s = make_settings(language)
    return replace(s, archive=replace(s.archive, dir=folder, base_url=base_url))


def weekly(language: str, n: int) -> Issue:
    """Issue number n (1-based), week 2026-W44 + n, each a week after the previous."""
    shift = timedelta(weeks=n - 3)
    base = make_issue(language)
    return replace(
        base,
        week=f"2026-W{44 + n}",
        number=n,
        start=base.start + shift,
        end=base.end + shift,
        generated_at=base.generated_at + shift,
    )


def dated(language: str, n: int) -> Issue:
    """`weekly(language, n)` whose stories are published in its own week and
    titled "... (#n)", so that pages listing several issues can be checked."""
    issue = weekly(language, n)
    shift = issue.start - make_issue(language).start
    sections = tuple(
        replace(
            section,
            stories=tuple(
                replace(story, title=f"{story.title} (#{n})", published=story.published + shift)
                for story in section.stories
            ),
        )
        for section in issue.sections
    )
    return replace(issue, sections=sections)


def publish(issue: Issue, settings: Settings) -> Path:
    return write_issue(issue, render_issue(issue, settings), settings)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.items: list[list[str]] = []  # the hrefs of each <li>
        self.canonical = ""  # <link rel="canonical">: absolute by design, not a link to follow
        self._in_item = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "li":
            self.items.append([])
            self._in_item = True
        if tag == "link" and ("rel", "canonical") in attrs:
            self.canonical = dict(attrs).get("href") or ""
            return
        for name, value in attrs:
            if name == "href" and value is not None:
                self.hrefs.append(value)
                if self._in_item:
                    self.items[-1].append(value)
            if name == "id" and value:
                self.ids.add(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._in_item = False


def links(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def hrefs(path: Path) -> list[str]:
    return links(path).hrefs


def issue_links(path: Path) -> list[str]:
    return [h for h in hrefs(path) if re.fullmatch(r"\d{4}-W\d\d\.html", h)]


def test_write_issue_writes_page_json_index_and_feed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "archive")
    issue = make_issue("ja")
    rendered = render_issue(issue, settings)
    page = write_issue(issue, rendered, settings)
    folder = settings.archive.dir
    assert page == folder / "2026-W47.html"
    # The issue as render_issue renders it, plus what the archive adds to it.
    text = page.read_text(encoding="utf-8")
    body = re.search(r'<td class="header">.*?<td class="footer">', rendered.html_web, re.DOTALL)
    assert body is not None and body.group(0) in text
    assert '<meta property="og:title"' in text and '<meta property="og:title"' not in (
        rendered.html_web
    )
    data = json.loads((folder / "2026-W47.json").read_text(encoding="utf-8"))
    assert data == issue_to_json(issue)
    assert "日経クロステック" in (folder / "2026-W47.json").read_text(encoding="utf-8")
    for name in ("index.html", "feed.xml", "trends.html", "2026-W47.meta.jsonl"):
        assert (folder / name).is_file(), name
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "temporary files left behind"


def test_json_round_trip_keeps_every_story() -> None:
    issue = make_issue("en")
    data = json.loads(json.dumps(issue_to_json(issue), ensure_ascii=False))
    assert issue_from_json(data) == issue
    assert data["week"] == "2026-W47" and data["number"] == 3 and data["language"] == "en"
    assert data["start"] == "2026-11-15T15:00:00Z" and data["end"] == "2026-11-22T15:00:00Z"
    assert data["generated_at"] == "2026-11-22T15:00:07.123456Z"
    assert [s["code"] for s in data["sections"]] == ["JP", "KR", "GLOBAL"]
    stories = [st for s in data["sections"] for st in s["stories"]]
    originals = [st for s in issue.sections for st in s.stories]
    assert len(stories) == len(originals) == issue.story_count == data["story_count"]
    for got, story in zip(stories, originals, strict=True):
        assert got["title"] == story.title and got["link"] == story.url
        assert got["anchor"] == story.anchor
        assert got["also"] == [{"source": a.source, "link": a.url} for a in story.also]
        assert got["date"].endswith("Z")
    assert any(st["title"] == SCRIPT_TITLE for st in stories)


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "some-package", "version": "1.0"},
        [1, 2, 3],
        {"format": "digest-issue/1", "week": "2026-W47"},
        {**issue_to_json(make_issue("en")), "week": "../../etc/passwd"},
        {**issue_to_json(make_issue("en")), "start": "yesterday"},
        {**issue_to_json(make_issue("en")), "number": "3"},
    ],
)
def test_issue_from_json_rejects_non_issues(bad: Any) -> None:
    with pytest.raises(ValueError):
        issue_from_json(bad)


def test_index_lists_issues_newest_first(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (2, 4, 1, 3):  # written out of order
        publish(weekly("en", n), settings)
    index = tmp_path / "index.html"
    pages = issue_links(index)
    assert pages == ["2026-W48.html", "2026-W47.html", "2026-W46.html", "2026-W45.html"]
    text = index.read_text(encoding="utf-8")
    assert text.index("Issue #4") < text.index("Issue #3") < text.index("Issue #1")
    assert "Nov 23 – 29, 2026" in text  # issue 4's week, in its time zone
    assert "4 stories · Japan (2) · South Korea (1) · Global (1)" in text
    assert '<html lang="en">' in text and "<script" not in text


@pytest.mark.parametrize("base_url", ["", BASE])
def test_archive_links_are_relative_and_resolve(tmp_path: Path, base_url: str) -> None:
    settings = settings_for(tmp_path / "site", "ja", base_url=base_url)
    for n in (1, 2):
        publish(dated("ja", n), settings)
    folder = settings.archive.dir
    pages = sorted(folder.rglob("*.html"))
    names = {p.relative_to(folder).as_posix() for p in pages}
    assert names == {
        "index.html",
        "trends.html",
        "2026-W45.html",
        "2026-W46.html",
        "country/jp.html",
        "country/kr.html",
        "country/global.html",
    }
    internal = 0
    for page in pages:
        for href in hrefs(page):
            parts = urlsplit(href)
            if parts.scheme in ("http", "https"):
                assert not href.startswith(base_url or "-"), f"{page.name}: {href} is absolute"
                continue
            assert not parts.scheme and not parts.netloc and not href.startswith("/"), href
            target = (page.parent / parts.path).resolve() if parts.path else page
            assert target.is_file(), f"{page.name}: {href} does not resolve"
            assert target.is_relative_to(folder.resolve()), f"{page.name}: {href} leaves the site"
            if parts.fragment:
                assert parts.fragment in links(target).ids, f"{page.name}: {href}: no such id"
            internal += 1
        assert "<script" not in page.read_text(encoding="utf-8")
    assert internal > 30
    index = hrefs(folder / "index.html")
    assert "feed.xml" in index
    countries = [h for h in index if h.startswith("country/")]
    assert countries == ["country/jp.html", "country/kr.html", "country/global.html"]
    # Each issue page links its sections to their country pages.
    assert "country/kr.html" in hrefs(folder / "2026-W46.html")


def test_country_pages_list_stories_newest_first_across_issues(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    issues = {n: dated("en", n) for n in (1, 3, 2)}  # written out of order
    for issue in issues.values():
        publish(issue, settings)
    jp = tmp_path / "country" / "jp.html"
    expected = sorted(
        (
            (story.published, story.title, f"../{issue.week}.html#{story.anchor}")
            for issue in issues.values()
            for story in issue.sections[0].stories
        ),
        reverse=True,
    )
    assert len(expected) == 6
    # Each <li>: the story's source link (if it has an http one), then its place in its issue.
    items = links(jp).items
    assert [item[-1] for item in items] == [href for _, _, href in expected]
    text = jp.read_text(encoding="utf-8")
    positions = [text.index(markup_escape(title)) for _, title, _ in expected]
    assert positions == sorted(positions)
    assert items[1][0] == "https://xtech.nikkei.com/atcl/nxt/news/24/01234/"  # issue 3's
    assert len(items[0]) == 1  # the javascript: story: shown, not linked
    assert "Nov 19, 2026" in text and "In Issue #3" in text
    assert "<title>Japan: all stories · Asian AI Hubs Weekly</title>" in text
    assert "Asian AI Hubs Weekly · 6 stories across all issues, newest first." in text
    global_page = (tmp_path / "country" / "global.html").read_text(encoding="utf-8")
    assert "OpenAI and G42 expand Stargate UAE to 5GW (#3)" in global_page
    assert "Tom &amp; Jerry" not in global_page  # that one is Korea's
    assert "Tom &amp; Jerry AI Lab opens in Seoul (#1)" in (
        tmp_path / "country" / "kr.html"
    ).read_text(encoding="utf-8")


def test_country_page_of_a_vanished_section_is_removed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    publish(weekly("en", 1), settings)
    assert (tmp_path / "country" / "kr.html").is_file()
    issue = weekly("en", 1)
    rebuilt = replace(issue, sections=tuple(s for s in issue.sections if s.code != "KR"))
    publish(rebuilt, settings)
    assert sorted(p.name for p in (tmp_path / "country").iterdir()) == ["global.html", "jp.html"]
    assert "country/kr.html" not in hrefs(tmp_path / "index.html")


def test_country_pages_need_no_empty_sections(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "ja")
    issue = weekly("ja", 1)
    publish(replace(issue, sections=(*issue.sections, Section("CN", "中国", ()))), settings)
    assert not (tmp_path / "country" / "cn.html").exists()
    assert "日本（2）" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_feed_parses_and_lists_newest_first(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (1, 3, 2):
        publish(weekly("en", n), settings)
    parsed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Asian AI Hubs Weekly"
    assert parsed.feed.id == BASE + "feed.xml"
    links = [e.link for e in parsed.entries]
    assert links == [BASE + "2026-W47.html", BASE + "2026-W46.html", BASE + "2026-W45.html"]
    assert [e.id for e in parsed.entries] == links
    first = parsed.entries[0]
    assert first.title == "Asian AI Hubs Weekly #3 · Nov 16 – 22, 2026"
    assert first.updated == "2026-11-22T15:00:07.123456Z"
    content = first.content[0]
    assert content.type == "text/html"
    # The headlines are in it, escaped in the XML and still escaped in the HTML.
    assert "OpenAI and G42 expand Stargate UAE to 5GW" in content.value
    assert "Tom &amp; Jerry" in content.value and "<script" not in content.value
    assert 'href="https://openai.com/index/stargate-uae/"' in content.value
    assert "javascript" not in content.value
    raw = (tmp_path / "feed.xml").read_text(encoding="utf-8")
    assert "&amp;lt;script&amp;gt;" in raw and "<script" not in raw  # HTML in XML


def test_feed_entries_carry_the_whole_issue(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "ja")
    issue = make_issue("ja")
    publish(issue, settings)
    parsed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    content = parsed.entries[0].content[0].value
    assert "<script" not in content
    for section in issue.sections:
        for story in section.stories:
            assert story.title in html.unescape(content)
        assert f'href="{BASE}country/{section.code.lower()}.html"' in content
    # Summaries, "also reported by" and the glance chart: the issue, not only headlines.
    assert "ソフトバンクは18日" in content and "ITmedia AI+" in content
    assert "ほかの報道" in content and "国・地域別の件数" in content
    assert [(r[0], r[1], r[3]) for r in glance_rows(content)] == [
        ("日本", "100%", "2"),
        ("韓国", "50%", "1"),
        ("グローバル", "50%", "1"),
    ]
    # Feed readers drop ids: the contents link into the issue page itself.
    assert f'href="{BASE}2026-W47.html#section-jp"' in content
    assert "javascript" not in content


def test_feed_keeps_the_newest_issues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_feed, "FEED_ISSUES", 2)
    settings = settings_for(tmp_path, "en")
    for n in (1, 2, 3):
        publish(weekly("en", n), settings)
    parsed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert [e.link for e in parsed.entries] == [BASE + "2026-W47.html", BASE + "2026-W46.html"]
    assert len(issue_links(tmp_path / "index.html")) == 3


def test_feed_without_base_url_uses_tag_ids(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "ja", base_url="")
    publish(weekly("ja", 1), settings)
    parsed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert parsed.bozo == 0
    (entry,) = parsed.entries
    assert re.fullmatch(r"tag:[a-z0-9.-]+,2026:digest/2026-W45", entry.id)
    assert entry.link.endswith("2026-W45.html")
    assert entry.title == "アジアAIハブ週報 第1号 2026年11月2日〜8日"


def test_rewriting_a_week_replaces_it(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    publish(weekly("en", 1), settings)
    issue = replace(weekly("en", 1), title="Asian AI Hubs Weekly (rebuilt)")
    publish(issue, settings)
    parsed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert len(parsed.entries) == 1
    assert parsed.entries[0].title.startswith("Asian AI Hubs Weekly (rebuilt) #1")


def test_non_issue_json_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, "en")
    publish(weekly("en", 1), settings)
    (tmp_path / "package.json").write_text('{"name": "x"}', encoding="utf-8")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "latin1.json").write_bytes(b'{"x": "\xe9"}')
    orphan = issue_to_json(weekly("en", 2))  # a JSON whose page is missing
    (tmp_path / "2026-W46.json").write_text(json.dumps(orphan), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="digest.web.archive"):
        rebuild_index(settings)
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("package.json", "broken.json", "latin1.json", "2026-W46.json"):
        assert name in warned
    pages = issue_links(tmp_path / "index.html")
    assert pages == ["2026-W45.html"]
    assert feedparser.parse((tmp_path / "feed.xml").read_bytes()).bozo == 0


def test_empty_archive(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "new", "ja")
    rebuild_index(settings)
    assert "まだ配信した号はありません。" in (tmp_path / "new" / "index.html").read_text("utf-8")
    parsed = feedparser.parse((tmp_path / "new" / "feed.xml").read_bytes())
    assert parsed.bozo == 0 and parsed.entries == []


def test_week_must_be_a_safe_file_name(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "archive", "en")
    issue = replace(make_issue("en"), week="../outside")
    with pytest.raises(WeekError):
        write_issue(issue, render_issue(make_issue("en"), settings), settings)
    assert not (tmp_path / "outside.html").exists()
