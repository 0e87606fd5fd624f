"""Week arithmetic and the issue model: pure functions, a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.bundled import TOPICS_FILE
from digest.config import FeedSettings, Settings, parse_settings
from digest.editorial.classify import Classifier
from digest.editorial.cluster import title_key
from digest.editorial.relevance import Relevance, load_topics
from digest.editorial.selection import (
    build_issue,
    country_name,
    issue_window,
    latest_due_week,
    merge_duplicates,
    next_week,
    parse_week,
    publish_time,
)
from digest.errors import WeekError
from digest.models import GLOBAL_SECTION, Post

RELEVANCE = Relevance(load_topics(TOPICS_FILE))


def feeds_of(*specs: tuple[str, str]) -> dict[str, FeedSettings]:
    return {url: FeedSettings(url=url, country=country) for url, country in specs}


def settings(**digest: object) -> Settings:
    return parse_settings({"digest": digest}, Path("test.toml"))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_monday_morning_issue_is_named_by_the_week_just_ended() -> None:
    s = settings(publish="mon 08:00", timezone="Asia/Tokyo")
    # Mon 2026-11-23 08:00 JST = Sun 23:00 UTC; covers Mon 16th 08:00 → Mon 23rd 08:00 JST.
    assert publish_time("2026-W47", s) == utc(2026, 11, 22, 23, 0)
    assert issue_window("2026-W47", s) == (utc(2026, 11, 15, 23, 0), utc(2026, 11, 22, 23, 0))


def test_friday_evening_issue_is_named_by_the_current_week() -> None:
    s = settings(publish="fri 17:00", timezone="Asia/Tokyo")
    assert publish_time("2026-W47", s) == utc(2026, 11, 20, 8, 0)
    assert issue_window("2026-W47", s)[0] == utc(2026, 11, 13, 8, 0)


def test_latest_due_week_switches_exactly_at_publish_time() -> None:
    s = settings(publish="mon 08:00", timezone="Asia/Tokyo")
    publish = utc(2026, 11, 22, 23, 0)
    assert latest_due_week(publish - timedelta(seconds=1), s) == "2026-W46"
    assert latest_due_week(publish, s) == "2026-W47"
    assert latest_due_week(publish + timedelta(days=6), s) == "2026-W47"


@pytest.mark.parametrize(
    "publish", ["mon 08:00", "wed 12:00", "thu 12:00", "fri 17:00", "sun 23:30"]
)
@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/New_York", "Asia/Kolkata", "UTC"])
def test_windows_tile_without_gap_or_overlap_over_a_year(publish: str, tz: str) -> None:
    s = settings(publish=publish, timezone=tz)
    week = "2025-W50"
    for _ in range(60):  # crosses a year end and both DST changes
        start, end = issue_window(week, s)
        following = next_week(week)
        assert issue_window(following, s)[0] == end
        assert timedelta(days=6, hours=22) <= end - start <= timedelta(days=7, hours=2)
        assert latest_due_week(end, s) == week
        week = following


def test_dst_change_keeps_local_publish_time() -> None:
    s = settings(publish="sun 09:00", timezone="America/New_York")
    # DST ends 2026-11-01: the window spanning it is 7 days and 1 hour long.
    start, end = issue_window("2026-W44", s)
    assert end == utc(2026, 11, 1, 14, 0)  # 09:00 EST
    assert start == utc(2026, 10, 25, 13, 0)  # 09:00 EDT


@pytest.mark.parametrize("bad", ["2026-47", "2026-W7", "W47", "2026-W54", "2025-W53", ""])
def test_bad_week_names_are_refused(bad: str) -> None:
    with pytest.raises(WeekError):
        parse_week(bad)


def test_country_names_are_localized_and_short() -> None:
    assert country_name("KR", "ja") == "韓国"
    assert country_name("HK", "en") == "Hong Kong"
    assert country_name("HK", "ja") == "香港"
    assert country_name(GLOBAL_SECTION, "ja") == "グローバル"
    assert country_name("AE", "en") == "United Arab Emirates"


def post(
    n: int,
    title: str,
    published: datetime,
    *,
    feed: str = "https://a.example/feed",
    url: str | None = None,
    summary: str = "",
) -> Post:
    return Post(
        feed_url=feed,
        post_id=f"id-{n}",
        url=url if url is not None else f"https://a.example/{n}",
        title=title,
        summary=summary,
        published=published,
        first_seen=published,
    )


def test_title_key_ignores_case_width_and_punctuation() -> None:
    assert title_key("Samsung opens AI lab!") == title_key("samsung  opens AI-lab")
    assert title_key("ＡＩ　新時代「開幕」") == title_key("AI新時代開幕")


def test_exact_duplicates_merge_by_url_or_title_keeping_the_earliest() -> None:
    t0 = utc(2026, 11, 17)
    posts = [
        post(1, "DeepSeek releases V5", t0, feed="https://cn.example/f"),
        post(2, "DeepSeek releases V5!", t0 + timedelta(hours=2), feed="https://en.example/f"),
        post(
            3,
            "Another headline",
            t0 + timedelta(hours=3),
            feed="https://en.example/f",
            url="https://a.example/1",
        ),  # same URL as post 1
        post(4, "AI", t0, url="https://b.example/x"),  # short titles never merge on title
        post(5, "AI", t0 + timedelta(hours=1), url="https://b.example/y"),
    ]
    groups = merge_duplicates(posts)
    assert len(groups) == 3
    merged = next(g for g in groups if g.main.post_id == "id-1")
    assert {p.post_id for p in merged.others} == {"id-2", "id-3"}


def test_build_issue_groups_orders_caps_and_merges() -> None:
    s = settings(publish="mon 08:00", countries=["KR", "JP", "CN"], max_per_section=2)
    start, end = issue_window("2026-W47", s)
    t = start + timedelta(days=1)
    posts = [
        post(1, "삼성전자, 판교에 AI 연구소", t, feed="https://kr.example/f"),
        post(2, "네이버 초거대 AI 요금 인하", t + timedelta(hours=1), feed="https://kr.example/f"),
        post(3, "Korea's Kakao opens Seoul AI hub", t + timedelta(hours=2)),
        post(4, "ソフトバンク、東京に新拠点", t + timedelta(hours=3), feed="https://jp.example/f"),
        post(5, "OpenAI ships a model", t + timedelta(hours=4)),  # no country → Global
        post(6, "Singapore sandbox opens", t + timedelta(hours=5)),  # unconfigured → Global
        post(7, "삼성전자, 판교에 AI 연구소", t + timedelta(hours=6), feed="https://en.example/f"),
        post(8, "Too old: Tokyo news", start - timedelta(seconds=1)),
        post(9, "Too new: Tokyo news", end),
    ]
    issue = build_issue(
        posts,
        settings=s,
        week="2026-W47",
        number=3,
        now=end,
        feed_names={"https://kr.example/f": "KR feed", "https://en.example/f": "EN feed"},
        feeds=feeds_of(("https://kr.example/f", "KR")),
        classifier=Classifier(s.digest.countries),
        relevance=RELEVANCE,
    )
    assert [sec.code for sec in issue.sections] == ["KR", "JP", GLOBAL_SECTION]
    kr = issue.sections[0]
    # Every story is kept (the email cuts, the web page lists all), ranked: the
    # event two outlets reported first, then the newest.
    assert [st.title[:5] for st in kr.stories] == ["삼성전자,", "Korea", "네이버 초"]
    assert [st.outlets for st in kr.stories] == [2, 1, 1]
    assert issue.duplicates_merged == 1
    assert [st.title for st in issue.sections[2].stories] == [
        "Singapore sandbox opens",
        "OpenAI ships a model",
    ]
    all_titles = [st.title for sec in issue.sections for st in sec.stories]
    assert not any(t.startswith("Too") for t in all_titles)
    assert issue.number == 3 and issue.week == "2026-W47"
    assert issue.sections[0].name == "韓国"


def test_merged_story_lists_other_sources() -> None:
    s = settings(countries=["KR"])
    start, _ = issue_window("2026-W47", s)
    t = start + timedelta(hours=5)
    posts = [
        post(
            1,
            "Samsung opens Pangyo AI lab",
            t,
            feed="https://x.example/f",
            url="https://x.example/1",
        ),
        post(
            2,
            "Samsung opens Pangyo AI lab",
            t + timedelta(hours=1),
            feed="https://y.example/f",
            url="https://y.example/2",
        ),
    ]
    issue = build_issue(
        posts,
        settings=s,
        week="2026-W47",
        number=1,
        now=t,
        feed_names={"https://x.example/f": "X", "https://y.example/f": "Y"},
        feeds={},
        classifier=Classifier(s.digest.countries),
        relevance=RELEVANCE,
    )
    story = issue.sections[0].stories[0]
    assert story.source == "X" and story.url == "https://x.example/1"
    assert [(a.source, a.url) for a in story.also] == [("Y", "https://y.example/2")]


def test_filtered_feeds_keep_only_ai_stories_and_local_feeds_keep_their_news() -> None:
    s = settings(countries=["KR", "JP"])
    start, _ = issue_window("2026-W47", s)
    t = start + timedelta(hours=5)
    general, local = "https://news.example/all", "https://kr.example/local"
    posts = [
        post(1, "Samsung unveils AI chip for data centres", t, feed=general),
        post(2, "Korea beat Japan 2-1 in the final", t, feed=general),  # sport: filtered out
        post(3, "New open model tops the leaderboard", t, feed=local),  # names no country
    ]
    feeds = {
        general: FeedSettings(url=general, filter="ai"),
        local: FeedSettings(url=local, country="KR", local=True),
    }
    issue = build_issue(
        posts,
        settings=s,
        week="2026-W47",
        number=1,
        now=t,
        feed_names={},
        feeds=feeds,
        classifier=Classifier(s.digest.countries),
        relevance=RELEVANCE,
    )
    titles = {sec.code: [st.title for st in sec.stories] for sec in issue.sections}
    assert titles == {
        "KR": ["Samsung unveils AI chip for data centres", "New open model tops the leaderboard"]
    }
