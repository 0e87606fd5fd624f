"""The archive as a site readers visit, built light (issues 14 and 15).

Headlines on the index, previous/next between issues, the subscribe form,
social tags, the trends page and its SVG charts; and what keeps a weekly
build cheap: the issues' records (`<week>.meta.jsonl`), country pages
paginated with older pages that never change, files written only when their
bytes changed, feed entries kept from the last feed.xml.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from test_archive import BASE, dated, hrefs, links, publish, settings_for, weekly
from test_render import make_issue

from digest.config import Settings
from digest.models import Issue, Section, Story
from digest.render.charts import Bar, bar_chart
from digest.state.files import write_if_changed
from digest.web import archive_pages
from digest.web.archive import rebuild_index
from digest.web.archive_records import record_from_bytes

SVG = "{http://www.w3.org/2000/svg}"


class _Meta(HTMLParser):
    """<meta> and <link rel=canonical> of a page, and its forms."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (a.get("property") or a.get("name")):
            self.meta[str(a.get("property") or a.get("name"))] = a.get("content") or ""
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical = a.get("href") or ""
        if tag == "form":
            self.forms.append(a)
        if tag == "input":
            self.inputs.append(a)


def meta_of(path: Path) -> _Meta:
    p = _Meta()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def with_web_url(settings: Settings, url: str) -> Settings:
    return replace(settings, web=replace(settings.web, url=url))


def files_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


# --- index ------------------------------------------------------------------------------


def test_index_lists_each_issues_top_headlines(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (1, 2):
        publish(dated("en", n), settings)
    index = tmp_path / "index.html"
    text = index.read_text(encoding="utf-8")
    for n in (1, 2):
        issue = dated("en", n)
        first = [story for s in issue.sections for story in s.stories][:3]
        for story in first:
            assert f'href="{issue.week}.html#{story.anchor}"' in text
        # In section order: Japan's two, then Korea's first.
        positions = [text.index(f"#{story.anchor}") for story in first]
        assert positions == sorted(positions)
    assert text.index("(#2)") < text.index("(#1)")  # newest issue first
    assert "trends.html" in hrefs(index)


def test_index_prefers_the_issues_top_stories(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    issue = weekly("en", 1)
    global_story = issue.sections[-1].stories[0]
    publish(replace(issue, top=(global_story,)), settings)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    entry = re.search(r'<ul class="headlines">.*?</ul>', index, re.DOTALL)
    assert entry is not None
    assert re.findall(r'href="[^"]+"', entry.group(0)) == [
        f'href="2026-W45.html#{global_story.anchor}"'
    ]


# --- previous / next ------------------------------------------------------------------------


def nav_of(page: Path) -> tuple[list[str], list[str]]:
    text = page.read_text(encoding="utf-8")
    return re.findall(r'rel="prev" href="([^"]+)"', text), re.findall(
        r'rel="next" href="([^"]+)"', text
    )


def test_issue_pages_link_the_issues_before_and_after(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (1, 2, 3):
        publish(weekly("en", n), settings)
    # Each link twice: under the top bar and in the footer.
    assert nav_of(tmp_path / "2026-W45.html") == ([], ["2026-W46.html"] * 2)
    assert nav_of(tmp_path / "2026-W46.html") == (["2026-W45.html"] * 2, ["2026-W47.html"] * 2)
    assert nav_of(tmp_path / "2026-W47.html") == (["2026-W46.html"] * 2, [])
    text = (tmp_path / "2026-W46.html").read_text(encoding="utf-8")
    assert "← Previous: Issue #1" in text and "Next: Issue #3 →" in text


def test_pages_are_the_same_whatever_order_the_weeks_are_built_in(tmp_path: Path) -> None:
    """Writing issue N+1 updates issue N's page in place (only its links); a past
    week built late updates both neighbours. The result is what building the weeks
    in order gives, byte for byte."""
    in_order, shuffled = tmp_path / "a", tmp_path / "b"
    for folder, order in ((in_order, (1, 2, 3, 4)), (shuffled, (3, 1, 4, 2))):
        settings = settings_for(folder, "ja")
        for n in order:
            publish(dated("ja", n), settings)
    pages = sorted(p.relative_to(in_order).as_posix() for p in in_order.rglob("*.html"))
    assert pages == sorted(p.relative_to(shuffled).as_posix() for p in shuffled.rglob("*.html"))
    for name in pages:
        assert (in_order / name).read_bytes() == (shuffled / name).read_bytes(), name
    assert nav_of(shuffled / "2026-W46.html") == (["2026-W45.html"] * 2, ["2026-W47.html"] * 2)


def test_a_new_issue_rewrites_only_what_changed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (1, 2, 3):
        publish(dated("en", n), settings)
    before = files_state(tmp_path)
    publish(dated("en", 4), settings)
    after = files_state(tmp_path)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {
        "2026-W48.html",
        "2026-W48.json",
        "2026-W48.meta.jsonl",
        "2026-W47.html",  # its "next" link
        "2026-W47.meta.jsonl",  # which it records
        "index.html",
        "trends.html",
        "feed.xml",
        "country/jp.html",
        "country/kr.html",
        "country/global.html",
    }
    # Built again from the same files, nothing is written at all.
    rebuild_index(settings)
    assert files_state(tmp_path) == after


# --- subscribe form, social tags ----------------------------------------------------------


def test_subscribe_form_posts_to_the_readers_pages(tmp_path: Path) -> None:
    settings = with_web_url(settings_for(tmp_path, "en"), "https://digest.example.org/")
    publish(weekly("en", 1), settings)
    for name in ("index.html", "2026-W45.html", "trends.html", "country/jp.html"):
        page = meta_of(tmp_path / name)
        assert page.forms == [
            {
                "class": "subscribe-form",
                "method": "post",
                "action": "https://digest.example.org/subscribe",
            }
        ], name
        assert [i["name"] for i in page.inputs] == ["email"], name
        assert page.inputs[0]["type"] == "email" and "required" in page.inputs[0]


def test_no_subscribe_form_without_web_url(tmp_path: Path) -> None:
    settings = with_web_url(settings_for(tmp_path, "en", base_url=""), "")
    publish(weekly("en", 1), settings)
    for name in ("index.html", "2026-W45.html", "trends.html", "country/jp.html"):
        assert "<form" not in (tmp_path / name).read_text(encoding="utf-8"), name


def test_issue_page_has_a_description_and_social_tags(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    publish(weekly("en", 3), settings)
    tags = meta_of(tmp_path / "2026-W47.html")
    description = (
        "Issue #3 · 4 stories · Japan (2), South Korea (1), Global (1) · "
        "ソフトバンク、生成AI向けデータセンターを北海道に建設へ"
    )
    assert tags.meta["description"] == description
    assert tags.meta["og:description"] == tags.meta["twitter:description"] == description
    assert tags.meta["og:title"] == "Asian AI Hubs Weekly #3 · Nov 16 – 22, 2026"
    assert tags.meta["og:type"] == "article" and tags.meta["og:locale"] == "en_US"
    assert tags.meta["og:url"] == tags.canonical == BASE + "2026-W47.html"
    assert tags.meta["article:published_time"] == "2026-11-22T15:00:00Z"
    assert tags.meta["twitter:card"] == "summary"
    index = meta_of(tmp_path / "index.html")
    assert index.meta["og:url"] == BASE + "index.html" and index.meta["og:type"] == "website"
    assert meta_of(tmp_path / "country" / "kr.html").canonical == BASE + "country/kr.html"


def test_social_tags_without_base_url_have_no_address(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "ja", base_url="")
    publish(weekly("ja", 1), settings)
    tags = meta_of(tmp_path / "2026-W45.html")
    assert "og:url" not in tags.meta and tags.canonical == ""
    assert tags.meta["og:locale"] == "ja_JP"
    assert tags.meta["description"].startswith(
        "第1号 · 4件 · 日本（2）、韓国（1）、グローバル（1） · "
    )


def test_description_is_cut_to_a_snippet() -> None:
    from digest.render.issue import build_view
    from digest.web.archive_records import DESCRIPTION_WIDTH, record_of

    issue = make_issue("ja")
    long_title = "長い見出し" * 80
    first = replace(issue.sections[0].stories[0], title=long_title)
    sections = (replace(issue.sections[0], stories=(first,)), *issue.sections[1:])
    issue = replace(issue, sections=sections)
    settings = settings_for(Path("unused"), "ja")
    record = record_of(issue, build_view(issue, settings))
    assert record.description.endswith("…")
    from digest.render.typography import display_width

    assert display_width(record.description) <= DESCRIPTION_WIDTH


# --- trends ---------------------------------------------------------------------------------


def test_trends_page_charts_each_section_per_issue(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (1, 2, 3):
        issue = weekly("en", n)
        if n == 2:  # no Korea that week: its bar is a zero
            issue = replace(issue, sections=tuple(s for s in issue.sections if s.code != "KR"))
        publish(issue, settings)
    text = (tmp_path / "trends.html").read_text(encoding="utf-8")
    svgs = re.findall(r"<svg.*?</svg>", text, re.DOTALL)
    assert len(svgs) == 3  # Japan, South Korea, Global
    korea = ET.fromstring(svgs[1])
    assert korea.get("role") == "img"
    assert korea.get("aria-labelledby") == "chart-kr-title chart-kr-desc"
    assert korea.findtext(f"{SVG}title") == "South Korea: stories per issue"
    bars = korea.findall(f"{SVG}rect")
    assert [b.findtext(f"{SVG}title") for b in bars] == [
        "Issue #1 (Nov 2 – 8, 2026): 1 story",
        "Issue #2 (Nov 9 – 15, 2026): 0 stories",
        "Issue #3 (Nov 16 – 22, 2026): 1 story",
    ]
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[0] == heights[2] > heights[1] > 0  # a zero is a stub, not a gap
    assert 'id="trend-kr"' in text and "2 stories in all" in text
    # Linked from the index and from every country page (to its own chart).
    assert "trends.html" in hrefs(tmp_path / "index.html")
    assert "../trends.html#trend-kr" in hrefs(tmp_path / "country" / "kr.html")
    assert "trend-kr" in links(tmp_path / "trends.html").ids


def test_bar_chart_escapes_and_scales() -> None:
    svg = bar_chart(
        [Bar("<b>Issue #1</b> & more", 4), Bar("two", 8), Bar("three", 0)],
        chart_id="c-1",
        title='Korea "AI" <script>',
        description="a & b",
    )
    root = ET.fromstring(str(svg))  # well-formed XML: everything escaped
    assert root.findtext(f"{SVG}title") == 'Korea "AI" <script>'
    assert root.findtext(f"{SVG}desc") == "a & b"
    rects = root.findall(f"{SVG}rect")
    assert rects[0].findtext(f"{SVG}title") == "<b>Issue #1</b> & more"
    tallest = float(rects[1].get("height", "0"))
    assert float(rects[0].get("height", "0")) == pytest.approx(tallest / 2)
    assert root.get("viewBox") == "0 0 600 120"
    assert "<script" not in str(svg)
    assert ET.fromstring(str(bar_chart([], chart_id="e", title="t", description="d"))) is not None


# --- records -------------------------------------------------------------------------------


def test_each_issue_keeps_a_record_of_what_the_listings_need(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "ja")
    issue = weekly("ja", 1)
    publish(issue, settings)
    text = (tmp_path / "2026-W45.meta.jsonl").read_text(encoding="utf-8")
    head, lines, end = text.split("\n")
    assert end == ""
    data = json.loads(head)
    assert data["week"] == "2026-W45" and data["issue_label"] == "第1号"
    assert data["sections"] == [["JP", "日本", 2], ["KR", "韓国", 1], ["GLOBAL", "グローバル", 1]]
    assert len(json.loads(lines)) == issue.story_count
    assert "summary" not in text and "ソフトバンクは18日" not in text  # headlines only
    record = record_from_bytes(text.encode())
    assert [line.anchor for line in record.stories[:2]] == [
        s.anchor for s in sorted(issue.sections[0].stories, key=lambda s: s.published)
    ]
    stat = (tmp_path / "2026-W45.json").stat()
    assert record.source == (stat.st_size, stat.st_mtime_ns)
    assert record.nav == ("", "")


def test_an_archive_without_records_rebuilds_the_same(tmp_path: Path) -> None:
    """Archives written before records existed, or whose records are lost, cut
    short or older than their JSON: the records are made again from the JSON."""
    settings = settings_for(tmp_path, "en")
    for n in (1, 2, 3):
        publish(dated("en", n), settings)
    listings = ["index.html", "trends.html", "feed.xml", "country/jp.html", "2026-W46.html"]
    built = {name: (tmp_path / name).read_bytes() for name in listings}
    (tmp_path / "2026-W45.meta.jsonl").unlink()
    cut = tmp_path / "2026-W46.meta.jsonl"
    cut.write_bytes(cut.read_bytes()[:-200])
    # A JSON written by something else: same issue, another time stamp.
    source = tmp_path / "2026-W47.json"
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    rebuild_index(settings)
    for name in listings:
        # Feed entries carry a key of what they were made from: W47's JSON changed.
        unkeyed = [
            re.sub(rb"<!--digest-entry \w+-->", b"", x)
            for x in ((tmp_path / name).read_bytes(), built[name])
        ]
        assert unkeyed[0] == unkeyed[1], name
    for n in (45, 46, 47):
        assert record_from_bytes((tmp_path / f"2026-W{n}.meta.jsonl").read_bytes()).nav is not None


def test_pages_of_an_older_archive_get_their_links(tmp_path: Path) -> None:
    """An issue page written before previous/next existed (no records, no link
    places) is rendered again whole from its JSON."""
    settings = settings_for(tmp_path, "en")
    for n in (1, 2):
        publish(weekly("en", n), settings)
    old = tmp_path / "2026-W45.html"
    old.write_text("<!DOCTYPE html><p>an old page</p>", encoding="utf-8")
    for record in tmp_path.glob("*.meta.jsonl"):
        record.unlink()
    rebuild_index(settings)
    assert nav_of(old) == ([], ["2026-W46.html"] * 2)


# --- country pages: pagination ------------------------------------------------------------


def busy(n: int, per_issue: int = 3) -> Issue:
    """Issue n with `per_issue` Korean stories, each its own."""
    issue = dated("en", n)
    korea = issue.sections[1].stories[0]
    stories = tuple(
        replace(
            korea,
            title=f"Korean story {k} of issue {n}",
            post_id=f"kr-{n}-{k}",
            published=korea.published + timedelta(hours=k),
        )
        for k in range(per_issue)
    )
    return replace(issue, sections=(Section("KR", "South Korea", stories),))


def korean_titles(page: Path) -> list[str]:
    return re.findall(r"Korean story \d+ of issue \d+", page.read_text(encoding="utf-8"))


def test_country_pages_hold_fifty_stories_and_older_pages_never_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_pages, "PAGE_SIZE", 4)
    settings = settings_for(tmp_path, "en")
    for n in range(1, 5):
        publish(busy(n), settings)  # 12 stories: the newest 4, then pages of 4 from the oldest
    folder = tmp_path / "country"
    assert sorted(p.name for p in folder.iterdir()) == ["kr-1.html", "kr-2.html", "kr.html"]
    front, first, second = (folder / n for n in ("kr.html", "kr-1.html", "kr-2.html"))
    newest_first = [f"Korean story {k} of issue {n}" for n in (4, 3, 2, 1) for k in (2, 1, 0)]
    assert korean_titles(front) == newest_first[:4]
    assert korean_titles(second) == newest_first[4:8]
    assert korean_titles(first) == newest_first[8:]
    assert "12 stories across all issues" in front.read_text(encoding="utf-8")
    assert re.search(r"Issue #1 – Issue #2 · 4 stories", first.read_text(encoding="utf-8"))
    # Newer/older links, and the front page lists every older page.
    older = [h for h in hrefs(front) if re.fullmatch(r"kr-\d\.html", h)]
    assert older[-2:] == ["kr-2.html", "kr-1.html"]
    assert "kr.html" in hrefs(second) and "kr-1.html" in hrefs(second)
    assert "kr-2.html" in hrefs(first)
    kept = files_state(folder)
    publish(busy(5), settings)  # 15 stories: pages 1 and 2 full, page 3 holds 3
    assert sorted(p.name for p in folder.iterdir()) == [
        "kr-1.html",
        "kr-2.html",
        "kr-3.html",
        "kr.html",
    ]
    now = files_state(folder)
    assert now["kr-1.html"] == kept["kr-1.html"]  # full, and its links are the same
    assert now["kr-2.html"] != kept["kr-2.html"]  # its "newer" link is page 3 now
    assert len(korean_titles(folder / "kr-3.html")) == 3
    everything = [t for p in ("kr.html", "kr-3.html", "kr-2.html", "kr-1.html")
                  for t in korean_titles(folder / p)]  # fmt: skip
    assert len(everything) == len(set(everything)) == 15


def test_a_rebuilt_week_with_fewer_stories_removes_pages_it_no_longer_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_pages, "PAGE_SIZE", 4)
    settings = settings_for(tmp_path, "en")
    for n in range(1, 4):
        publish(busy(n), settings)
    assert (tmp_path / "country" / "kr-2.html").is_file()
    publish(busy(3, per_issue=1), settings)  # 7 stories: the newest 4, one older page
    names = sorted(p.name for p in (tmp_path / "country").iterdir())
    assert names == ["kr-1.html", "kr.html"]
    assert len(korean_titles(tmp_path / "country" / "kr-1.html")) == 3


# --- feed ---------------------------------------------------------------------------------


def test_feed_keeps_entries_it_already_has(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    for n in (1, 2):
        publish(dated("en", n), settings)
    feed = tmp_path / "feed.xml"
    entry = re.compile(r"  <entry>\n.*?  </entry>\n", re.DOTALL)
    before = entry.findall(feed.read_text(encoding="utf-8"))
    publish(dated("en", 3), settings)
    after = entry.findall(feed.read_text(encoding="utf-8"))
    assert after[1:] == before  # kept text for text
    parsed = feedparser.parse(feed.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert [e.link for e in parsed.entries] == [BASE + f"2026-W{w}.html" for w in (47, 46, 45)]
    assert "(#1)" in parsed.entries[2].content[0].value


def test_feed_entry_is_made_again_when_its_issue_changes(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    publish(dated("en", 1), settings)
    publish(dated("en", 2), settings)
    issue = dated("en", 1)
    story = issue.sections[0].stories[0]
    changed: Story = replace(story, title="A new headline for issue one")
    rebuilt = replace(
        issue, sections=(replace(issue.sections[0], stories=(changed,)), *issue.sections[1:])
    )
    publish(rebuilt, settings)
    parsed = feedparser.parse((tmp_path / "feed.xml").read_bytes())
    assert "A new headline for issue one" in parsed.entries[1].content[0].value


# --- files --------------------------------------------------------------------------------


def test_write_if_changed_leaves_equal_files_alone(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    assert write_if_changed(path, "<p>一</p>")
    first = path.stat()
    assert not write_if_changed(path, "<p>一</p>")
    assert not write_if_changed(path, "<p>一</p>".encode(), durable=False)
    same = path.stat()
    assert (same.st_ino, same.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert write_if_changed(path, "<p>二</p>", durable=False)
    assert path.read_text(encoding="utf-8") == "<p>二</p>"
    assert path.stat().st_ino != first.st_ino  # replaced, never written in place
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_feed_entry_and_page_carry_the_issues_lead(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "en")
    issue = weekly("en", 1)
    lead = issue.sections[1].stories[0]
    publish(replace(issue, note="A **busy** week in Seoul.", top=(lead,)), settings)
    content = feedparser.parse((tmp_path / "feed.xml").read_bytes()).entries[0].content[0].value
    assert "From the editor" in content and "<strong>busy</strong>" in content
    assert "Top stories" in content
    # The lead story in full once (as a lead), and named in its section.
    assert content.count("Tom &amp; Jerry AI Lab opens in Seoul") == 2
    assert "↑ Top story: " in content
    page = (tmp_path / "2026-W45.html").read_text(encoding="utf-8")
    assert "From the editor" in page and ".note" in page  # lead.css came with it


def test_an_older_page_made_from_the_same_inputs_is_not_rendered_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_pages, "PAGE_SIZE", 4)
    settings = settings_for(tmp_path, "en")
    for n in range(1, 5):
        publish(busy(n), settings)
    oldest = tmp_path / "country" / "kr-1.html"
    text = oldest.read_text(encoding="utf-8")
    assert re.search(r"<!-- digest-archive-page [0-9a-f]{64} -->\n</html>\n\Z", text)
    # The key says what the page is made of: a build that finds it leaves it alone...
    oldest.write_text(text.replace("Korean story 0 of issue 1", "MARK"), encoding="utf-8")
    rebuild_index(settings)
    assert "MARK" in oldest.read_text(encoding="utf-8")
    # ...until anything it is made of changes: here the settings (the title).
    retitled = replace(settings, digest=replace(settings.digest, title="Another Title"))
    rebuild_index(retitled)
    assert "MARK" not in oldest.read_text(encoding="utf-8")
    assert "Another Title" in oldest.read_text(encoding="utf-8")
