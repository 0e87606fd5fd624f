"""The lead of an issue: lead stories and the editor's note.

Chosen by `digest.editorial.selection` (`ranked_top`, `apply_decisions`: pure,
data in, model out), shown by the real templates (`digest.render`: email, web
page, text part, a reader's variant, laid out by headless Chromium), and kept
in the archive's JSON (`digest.web.archive`), which still reads files written
before the lead existed.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_render import make_issue, make_settings

from digest.bundled import TOPICS_FILE
from digest.config import parse_settings
from digest.editorial.classify import Classifier
from digest.editorial.relevance import Relevance, load_topics
from digest.editorial.selection import apply_decisions, build_issue, issue_window, ranked_top
from digest.models import (
    DROP,
    GLOBAL_SECTION,
    PICK,
    TOP,
    AlsoReported,
    EditorialDecisions,
    Issue,
    Post,
    Section,
    Story,
    StoryDecision,
    story_key,
)
from digest.render.choice import Choice
from digest.render.issue import render_issue, render_variant
from digest.render.note import note_blocks, note_html
from digest.render.view import build_view, safe_href
from digest.web.archive import issue_from_json, issue_to_json

T0 = datetime(2026, 11, 17, 0, 0, tzinfo=UTC)
SECTIONS = ("KR", "JP", GLOBAL_SECTION)


def story(n: int, country: str, outlets: int = 1, hours: int = 0) -> Story:
    also = tuple(
        AlsoReported(f"Other {k}", f"https://other-{k}.example/{n}") for k in range(outlets - 1)
    )
    return Story(
        title=f"Story {n} ({country or 'global'})",
        url=f"https://news.example/{n}",
        source="News",
        published=T0 + timedelta(hours=hours or n),
        summary=f"Summary {n}.",
        country=country,
        also=also,
        feed_url="https://news.example/feed",
        post_id=str(n),
        outlets=outlets,
    )


def issue_of(*sections: tuple[str, list[Story]]) -> Issue:
    return Issue(
        week="2026-W47",
        number=3,
        title="Asian AI Hubs Weekly",
        language="en",
        timezone="Asia/Tokyo",
        start=datetime(2026, 11, 15, 15, 0, tzinfo=UTC),
        end=datetime(2026, 11, 22, 15, 0, tzinfo=UTC),
        sections=tuple(Section(code, code, tuple(stories)) for code, stories in sections),
        generated_at=datetime(2026, 11, 22, 15, 0, tzinfo=UTC),
    )


# --- choosing ---------------------------------------------------------------------------


def test_the_ranking_leads_with_the_most_reported_events_then_the_newest() -> None:
    kr = [story(1, "KR", outlets=3), story(2, "KR", outlets=2, hours=5), story(3, "KR")]
    jp = [story(4, "JP", outlets=2, hours=9), story(5, "JP", outlets=2, hours=1)]
    top = ranked_top([Section("KR", "KR", tuple(kr)), Section("JP", "JP", tuple(jp))])
    # Most outlets first, then the newest; at most three; a story one outlet
    # reported is never a lead on its own.
    assert [s.post_id for s in top] == ["1", "4", "2"]
    assert ranked_top([Section("KR", "KR", (story(1, "KR"), story(2, "KR")))]) == ()


def test_build_issue_opens_with_the_event_two_outlets_reported() -> None:
    s = parse_settings({"digest": {"countries": ["KR", "JP"]}}, Path("test.toml"))
    start, end = issue_window("2026-W47", s)
    t = start + timedelta(hours=5)

    def post(i: int, title: str, feed: str) -> Post:
        return Post(feed, f"p{i}", f"https://{i}.example/a", title, "", t + timedelta(hours=i), t)

    posts = [
        post(1, "Samsung opens Pangyo AI lab", "https://x.example/f"),
        post(2, "Samsung opens Pangyo AI lab", "https://y.example/f"),
        post(3, "ソフトバンク、東京に新拠点", "https://z.example/f"),
    ]
    issue = build_issue(
        posts,
        settings=s,
        week="2026-W47",
        number=1,
        now=end,
        feed_names={},
        feeds={},
        classifier=Classifier(s.digest.countries),
        relevance=Relevance(load_topics(TOPICS_FILE)),
    )
    assert [st.title for st in issue.top] == ["Samsung opens Pangyo AI lab"]
    assert issue.top[0] is issue.sections[0].stories[0]  # a lead is a story of its section
    assert issue.note == ""


def test_no_decisions_leave_the_issue_as_it_is() -> None:
    issue = issue_of(("KR", [story(1, "KR")]))
    assert apply_decisions(issue, None, SECTIONS) is issue
    assert apply_decisions(issue, EditorialDecisions("2026-W47"), SECTIONS) is issue


def test_decisions_drop_move_order_and_choose_the_leads() -> None:
    kr = [story(1, "KR", outlets=3), story(2, "KR"), story(3, "KR"), story(4, "KR")]
    jp = [story(5, "JP", outlets=2)]
    issue = issue_of(("KR", kr), ("JP", jp))
    issue = replace(issue, top=ranked_top(issue.sections))
    k = {n: story_key(f"https://news.example/{n}") for n in range(1, 7)}
    decisions = EditorialDecisions(
        "2026-W47",
        note="  **Hello**  \n",
        stories=(
            StoryDecision(k[2], DROP),
            StoryDecision(k[3], PICK, section=GLOBAL_SECTION),  # moved
            StoryDecision(k[4], TOP, position=0, lead=1),  # first in KR, second lead
            StoryDecision(k[5], TOP, lead=0),
            StoryDecision(k[6], DROP),  # no such story this week: nothing happens
        ),
        tops_chosen=True,
    )
    edited = apply_decisions(issue, decisions, SECTIONS)
    layout = {s.code: [st.post_id for st in s.stories] for s in edited.sections}
    assert layout == {"KR": ["4", "1"], "JP": ["5"], GLOBAL_SECTION: ["3"]}
    moved = edited.sections[2].stories[0]
    assert moved.country == "" and edited.sections[2].name == "Global"
    assert [s.post_id for s in edited.top] == ["5", "4"]  # the editor's, in their order
    assert edited.note == "**Hello**"
    # Without a choice of leads, the ranking picks them among what is left.
    ranked = apply_decisions(issue, replace(decisions, tops_chosen=False), SECTIONS)
    assert [s.post_id for s in ranked.top] == ["1", "5"]
    # Chosen and empty: no lead stories at all.
    none = EditorialDecisions("2026-W47", stories=(StoryDecision(k[1], PICK),), tops_chosen=True)
    assert apply_decisions(issue, none, SECTIONS).top == ()


def test_a_decision_follows_its_story_when_an_earlier_report_becomes_its_main() -> None:
    # The editor dropped the story when its main post was news.example/1; an earlier
    # report arrived since and leads the merged story: the old post is now "also".
    later = replace(
        story(1, "KR"),
        url="https://early.example/1",
        also=(AlsoReported("News", "https://news.example/1"),),
    )
    issue = issue_of(("KR", [later, story(2, "KR")]))
    decisions = EditorialDecisions(
        "2026-W47", stories=(StoryDecision(story_key("https://news.example/1"), DROP),)
    )
    edited = apply_decisions(issue, decisions, SECTIONS)
    assert [s.post_id for s in edited.sections[0].stories] == ["2"]


def test_a_decision_for_a_section_no_longer_configured_is_ignored() -> None:
    issue = issue_of(("KR", [story(1, "KR")]))
    decisions = EditorialDecisions(
        "2026-W47", stories=(StoryDecision(story_key("https://news.example/1"), PICK, "TW"),)
    )
    assert [s.code for s in apply_decisions(issue, decisions, SECTIONS).sections] == ["KR"]


# --- the editor's note --------------------------------------------------------------------

HOSTILE_NOTE = (
    "Read <script>alert(1)</script> and <img src=x onerror=alert(1)> carefully.\n\n"
    "[ok](https://例え.jp/パス) [js](javascript:alert(1)) [data](data:text/html,x) "
    "[mail](mailto:editor@example.org) [rel](/relative) ![pixel](https://t.example/p.gif)\n\n"
    "日本語の文が\n続きます。"
)


def test_the_note_passes_no_html_and_only_http_and_mailto_links() -> None:
    html = str(note_html(HOSTILE_NOTE, safe_href))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == [
        "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9",
        "mailto:editor@example.org",
        "https://t.example/p.gif",  # an image is never shown: at most a link to it
    ]
    assert "javascript:" in html and 'href="javascript' not in html  # shown as text
    assert "日本語の文が続きます。" in html  # no space between CJK lines
    blocks = note_blocks(HOSTILE_NOTE, safe_href)
    assert blocks[0].text.startswith("Read <script>alert(1)</script>")  # text part: plain
    assert "mail <editor@example.org>" in blocks[1].text


def test_the_note_in_email_web_page_and_text_part() -> None:
    issue = replace(make_issue("en"), note="A *big* week.\n\n- one\n- [two](https://two.example/)")
    rendered = render_issue(issue, make_settings("en"))
    for html in (rendered.html_email, rendered.html_web):
        assert "From the editor" in html
        assert "<em" in html and ">big</em>" in html
        assert 'href="https://two.example/"' in html
    # Inlined like the rest: premailer put the stylesheet's rules on the note.
    assert re.search(r'<p class="note-text" style="[^"]*margin', rendered.html_email)
    assert "From the editor\n===============\n\nA big week.\n\n- one\n- two " in rendered.text
    assert "<https://two.example/>" in rendered.text


# --- showing the lead --------------------------------------------------------------------


def _lead_issue(language: str = "en") -> Issue:
    issue = make_issue(language)
    jp_lead = issue.sections[0].stories[0]  # Japan, reported by three outlets
    global_lead = issue.sections[-1].stories[0]
    return replace(issue, top=(jp_lead, global_lead), note="The editor's *word*.")


def test_lead_stories_open_the_issue_and_point_from_their_sections() -> None:
    rendered = render_issue(_lead_issue(), make_settings("en"))
    html = rendered.html_email
    order = [
        html.index("From the editor"),
        html.index('id="top-stories"'),
        html.index('class="glance-full"'),
        html.index('id="section-jp"'),
    ]
    assert order == sorted(order)
    lead = html[html.index('id="top-stories"') : html.index('class="glance-full"')]
    assert "ソフトバンク" in lead and "ITmedia AI+" in lead  # with its "also reported by"
    # In its section the lead story is one line pointing up, not a second copy.
    japan = html[html.index('id="section-jp"') : html.index('id="section-kr"')]
    assert "↑ Top story: ソフトバンク" in japan and "ITmedia AI+" not in japan
    assert html.count("ソフトバンクは18日") == 1  # its summary, once
    # Text part: the leads' links are numbered first, the pointer has none.
    text = rendered.text
    assert text.index("Top stories\n===========") < text.index("Japan (2)\n=========")
    assert "[1] https://xtech.nikkei.com/atcl/nxt/news/24/01234/" in text
    assert "* ↑ Top story: ソフトバンク" in text
    # Only an issue with a lead carries the lead's stylesheet.
    assert ".glance-compact" in html
    assert ".glance-compact" not in render_issue(make_issue("en"), make_settings("en")).html_email


def test_a_variant_keeps_the_note_and_the_leads_of_its_sections_only() -> None:
    issue = _lead_issue()
    settings = make_settings("en")
    korea = build_view(issue, settings, Choice("en", ("KR",)))
    assert korea.note_html and korea.top == ()  # no lead of theirs; the note always
    assert korea.lead  # the note still opens it, with the glance after it
    japan = build_view(issue, settings, Choice("ja", ("JP",)))
    assert [s.title for s in japan.top] == [issue.top[0].title]
    text = render_variant(issue, settings, Choice("ja", ("JP",))).text
    assert "編集部から" in text and "今週の注目ニュース" in text and "Stargate" not in text


def test_the_compact_bar_fills_its_row_and_labels_what_fits() -> None:
    view = build_view(_lead_issue(), make_settings("en"))
    assert sum(s.glance_share for s in view.sections) == 100
    assert [s.glance_label for s in view.sections] == ["JP", "KR", "Global"]
    plain = build_view(make_issue("en"), make_settings("en"))
    assert not plain.lead and all(s.glance_share == 0 for s in plain.sections)


# --- the archive's JSON -------------------------------------------------------------------


def test_the_archive_json_keeps_the_note_and_the_leads() -> None:
    issue = _lead_issue("ja")
    data = json.loads(json.dumps(issue_to_json(issue)))
    assert data["note"] == "The editor's *word*." and len(data["top"]) == 2
    assert issue_from_json(data) == issue
    # Written before the lead existed: no note, no leads.
    old = {k: v for k, v in data.items() if k not in ("note", "top")}
    assert issue_from_json(old) == replace(issue, note="", top=())
    with pytest.raises(ValueError, match="top"):
        issue_from_json({**data, "top": ["s-nothere"]})


# --- in a browser ----------------------------------------------------------------------


@pytest.mark.browser
def test_the_lead_at_phone_and_email_widths(tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Chromium is not installed (make browser-deps)", pytrace=False)
    import browser

    page = tmp_path / "lead.html"
    page.write_text(render_issue(_lead_issue("ja"), make_settings("ja")).html_email, "utf-8")
    for layout in browser.measure_layouts(page, (375, 600)).values():
        assert not layout.overflows, layout.describe()
    script = """
async function collect() {
  return [...document.querySelectorAll("iframe")].map((f) => {
    const d = f.contentDocument, shown = (s) => {
      const r = d.querySelector(s).getBoundingClientRect(); return r.width > 0 && r.height > 0;
    };
    return [".note", "#top-stories", ".top-ref", ".glance-full", ".glance-compact"].map(shown);
  });
}
"""
    frames = "".join(browser._iframe(page, w, 800, i) for i, w in enumerate((375, 600)))
    phone, wide = browser._run_harness(frames, script, browser.TIMEOUT)
    assert phone == [True, True, True, False, True]  # the compact bar on a phone
    assert wide == [True, True, True, True, False]  # the chart in a 600 px window
