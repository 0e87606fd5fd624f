"""digest.fetch.dates: feed date strings → aware UTC datetimes, zones never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from digest.fetch.dates import UTC_CONTEXT, DateContext, context_for, parse_date, plausible

JA = context_for(["ja"])
KO = context_for(["ko-KR"])
ZH = context_for(["zh-cn"])
EN = context_for(["en"])


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        # The forms feedparser misreads, each in its feed's zone.
        ("2024年3月5日", JA, utc(2024, 3, 4, 15, 0)),  # midnight in Tokyo
        ("2024年3月5日 14:30", JA, utc(2024, 3, 5, 5, 30)),
        ("2024年3月5日(火) 14:30", JA, utc(2024, 3, 5, 5, 30)),
        ("2024年03月05日 14時30分", JA, utc(2024, 3, 5, 5, 30)),
        ("2024年3月5日 午後2時30分15秒", JA, utc(2024, 3, 5, 5, 30, 15)),
        ("2024年3月5日 下午2:30", ZH, utc(2024, 3, 5, 6, 30)),
        ("2024년 3월 5일 오후 2시 30분", KO, utc(2024, 3, 5, 5, 30)),
        ("2024. 3. 5. 오후 2:30", KO, utc(2024, 3, 5, 5, 30)),
        ("2024-03-05 14:30:00", JA, utc(2024, 3, 5, 5, 30)),
        ("2024-03-05 14:30:00", ZH, utc(2024, 3, 5, 6, 30)),
        ("2024-03-05 14:30:00", EN, utc(2024, 3, 5, 14, 30)),  # no hint: UTC
        ("2016/6/29 15:07", ZH, utc(2016, 6, 29, 7, 7)),
        ("2016.06.29", KO, utc(2016, 6, 28, 15, 0)),
        ("2024/03/05 14:30:00 +0800", EN, utc(2024, 3, 5, 6, 30)),
        # RFC 822 with Asian zone names feedparser drops.
        ("Tue, 05 Mar 2024 14:30:00 KST", EN, utc(2024, 3, 5, 5, 30)),
        ("Tue, 05 Mar 2024 14:30:00 JST", EN, utc(2024, 3, 5, 5, 30)),
        ("Tue, 05 Mar 2024 14:30:00 HKT", EN, utc(2024, 3, 5, 6, 30)),
        ("Tue, 05 Mar 2024 14:30:00 SGT", EN, utc(2024, 3, 5, 6, 30)),
        ("Tue, 05 Mar 2024 14:30:00 IST", EN, utc(2024, 3, 5, 9, 0)),  # India
        ("Tue, 05 Mar 2024 14:30:00 GST", EN, utc(2024, 3, 5, 10, 30)),  # Gulf
        ("Tue, 05 Mar 2024 14:30:00 CST", ZH, utc(2024, 3, 5, 6, 30)),  # China
        ("Tue, 05 Mar 2024 14:30:00 CST", JA, utc(2024, 3, 5, 6, 30)),
        ("Tue, 05 Mar 2024 14:30:00 CST", EN, utc(2024, 3, 5, 20, 30)),  # US Central
        ("Tue, 05 Mar 2024 14:30:00 kst", EN, utc(2024, 3, 5, 5, 30)),
        ("Tue, 05 Mar 2024 14:30:00", KO, utc(2024, 3, 5, 5, 30)),  # no zone: the feed's
        # The ordinary forms stay as they were.
        ("Tue, 05 Mar 2024 14:30:00 +0900", EN, utc(2024, 3, 5, 5, 30)),
        ("Tue, 05 Mar 2024 14:30:00 +0900 (JST)", EN, utc(2024, 3, 5, 5, 30)),
        ("Tue, 05 Mar 2024 14:30:00 GMT+9", EN, utc(2024, 3, 5, 5, 30)),
        ("Thu, 01 Jan 2004 19:48:21 GMT", JA, utc(2004, 1, 1, 19, 48, 21)),
        ("Tue, 5 Mar 24 14:30 EST", EN, utc(2024, 3, 5, 19, 30)),
        ("05 Mar 2024 14:30:00 -0000", JA, utc(2024, 3, 5, 14, 30)),
        ("2003-12-31T10:14:55Z", JA, utc(2003, 12, 31, 10, 14, 55)),
        ("2024-03-05T14:30:00.123+09:00", EN, utc(2024, 3, 5, 5, 30)),
        ("2024-03-05T14:30:00+0900", EN, utc(2024, 3, 5, 5, 30)),
        ("2024-03-05T14:30:00-05:00", JA, utc(2024, 3, 5, 19, 30)),
        ("2024-03-05T24:00:00Z", EN, utc(2024, 3, 6, 0, 0)),
        ("2024-03-05", EN, utc(2024, 3, 5, 0, 0)),
        ("Mar 5, 2024 2:30 PM", EN, utc(2024, 3, 5, 14, 30)),
        ("5 March 2024", EN, utc(2024, 3, 5, 0, 0)),
        ("Tue Mar  5 14:30:00 2024", EN, utc(2024, 3, 5, 14, 30)),
        ("Sun Jan  4 16:29:06 PST 2004", EN, utc(2004, 1, 5, 0, 29, 6)),
        ("  2024年3月5日\u300014:30  ", JA, utc(2024, 3, 5, 5, 30)),
    ],
)
def test_parse_date(text: str, context: DateContext, expected: datetime) -> None:
    parsed = parse_date(text, context)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "Tue, 05 Mar 2024 14:30:00 XYZ",  # an unknown zone is not guessed
        "Tue, 05 Mar 2024 14:30:00 BST",  # ambiguous: British or Bangladesh
        "2024-13-05",
        "2024年2月30日",
        "Tue, 05 Foo 2024 14:30:00 GMT",
        "2024-03-05T14:30:00+25:00",
        "2024年3月5日 午後13:00",
        "2024" * 30,
    ],
)
def test_unreadable_or_impossible_dates_give_none(text: str) -> None:
    assert parse_date(text, JA) is None


def test_context_from_country_and_language_hints() -> None:
    assert context_for([], "KR") == DateContext(ZoneInfo("Asia/Seoul"), True)
    assert context_for(["en"], "SG") == DateContext(ZoneInfo("Asia/Singapore"), True)
    assert context_for(["en"], "IN") == DateContext(ZoneInfo("Asia/Kolkata"), False)
    assert context_for(["ja"], "AE").zone == ZoneInfo("Asia/Dubai")  # the country wins
    assert context_for(["zh-TW"]).zone == ZoneInfo("Asia/Taipei")
    assert context_for(["zh_HK"]).zone == ZoneInfo("Asia/Hong_Kong")
    assert context_for(["zh-Hans"]).zone == ZoneInfo("Asia/Shanghai")
    assert context_for(["", "zh"]).zone == ZoneInfo("Asia/Shanghai")  # the feed's own
    assert context_for(["en-US", "ja"]).zone == ZoneInfo("Asia/Tokyo")
    assert context_for(["en-US"]) == UTC_CONTEXT and UTC_CONTEXT.zone is UTC
    assert not UTC_CONTEXT.china and context_for(["ko"]).china


def test_zone_less_dates_follow_daylight_saving_in_the_feed_zone() -> None:
    sydney = DateContext(ZoneInfo("Australia/Sydney"))
    assert parse_date("2024-01-15 12:00", sydney) == utc(2024, 1, 15, 1, 0)  # AEDT +11
    assert parse_date("2024-07-15 12:00", sydney) == utc(2024, 7, 15, 2, 0)  # AEST +10


def test_a_fixed_offset_context_works_too() -> None:
    context = DateContext(timezone(timedelta(hours=8)), china=True)
    assert parse_date("2016/6/29 15:07", context) == utc(2016, 6, 29, 7, 7)


def test_plausible_rejects_feedparsers_filled_in_dates() -> None:
    # feedparser read "2024年3月5日" as 1 November 2024 (month and day from the clock).
    assert not plausible("2024年3月5日", utc(2024, 11, 1))
    # Its reading of a perforce-style date is believable: year and day are there.
    assert plausible("Fri, 2006/09/15 08:19:53 EDT", utc(2006, 9, 15, 12, 19, 53))
    # The day may move by one on the way to UTC.
    assert plausible("Fri, 2006/09/15 02:00:00 +0900", utc(2006, 9, 14, 17))
    assert not plausible("sometime in 2006", utc(2006, 9, 14, 17))


def test_plausible_never_overrides_a_zone_we_refused() -> None:
    # feedparser reads "XYZ" as UTC; the shape is ours, so its reading is not taken.
    assert not plausible("Tue, 05 Mar 2024 14:30:00 XYZ", utc(2024, 3, 5, 14, 30))
