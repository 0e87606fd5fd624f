"""Reading the date strings of feeds into aware UTC datetimes.

Owns: turning one date string from a feed (`<pubDate>`, `<dc:date>`, Atom
`<published>`/`<updated>`, ...) into an aware UTC `datetime` or None
(`parse_date`), the zone assumed for a feed whose dates carry none
(`DateContext`, `context_for`), and whether feedparser's own reading of a string
we cannot read can be believed (`plausible`). Pure: no I/O, no clock, no logging.
Doesn't own: which of an entry's dates is used, the fallback to the first-seen
time or the clamp of future dates (`digest.fetch.normalize`).

Why not just feedparser's `*_parsed`: it drops time-zone abbreviations it does
not know (KST, JST, HKT, SGT, IST ...) and reads the time as UTC, i.e. 5-9 hours
off; it reads CST as US Central even in a Chinese feed; and it turns
`2024年3月5日` or `2016/6/29 15:07` into the *current* month of the *current*
year's first day. Each of those can move a story into the wrong week, silently.
We parse the raw strings ourselves (no `feedparser.registerDateHandler`: that
is global state, and parsing runs in worker processes) and our reading wins.

Formats read (whitespace is lenient, the weekday optional, seconds optional):

- RFC 822/2822: `Tue, 05 Mar 2024 14:30:00 +0900`, also with a zone name or
  none, 2-digit years (< 50 → 20xx), and `Mar 5, 2024 14:30` / `5 March 2024`.
- ISO 8601 / W3C-DTF: `2024-03-05T14:30:00+09:00`, `2024-03-05 14:30:00`,
  `2024-03-05`, fractions of a second, `Z`, `+0900`, `+09`.
- Slashes and dots: `2016/6/29 15:07`, `2016.06.29`, Korean `2024. 3. 5. 오후 2:30`.
- CJK: `2024年3月5日`, `2024年3月5日(火) 14:30`, `2024年03月05日 14時30分`,
  `2024년 3월 5일 오후 2시 30분`, `2024年3月5日 下午2:30`.
- asctime: `Tue Mar  5 14:30:00 2024`, optionally with a zone before the year.

Zones: numeric offsets (`+0900`, `+09:00`, `GMT+9`, `UTC+08:00`) and the names
in `ZONES`: UT/UTC/GMT/Z, the RFC 822 US zones, and the Asian ones (JST, KST,
HKT, SGT, IST = India +05:30, PHT, ICT, WIB, GST = Gulf +04:00, ...). `CST` is
China Standard Time (+08:00) when the feed's context is CJK (`DateContext.china`),
otherwise US Central (-06:00) as RFC 822 says. An unknown zone name makes the
string unreadable (None) rather than guessed.

A date with no zone at all is read in the feed's likely zone (`context_for`):
the configured country (JP → Asia/Tokyo, KR → Asia/Seoul, CN → Asia/Shanghai,
TW → Asia/Taipei, HK → Asia/Hong_Kong, SG → Asia/Singapore, IN → Asia/Kolkata,
AE → Asia/Dubai), else the configured or declared language (ja → Asia/Tokyo,
ko → Asia/Seoul, zh/zh-cn/zh-hans → Asia/Shanghai, zh-tw/zh-hant → Asia/Taipei,
zh-hk → Asia/Hong_Kong, zh-sg → Asia/Singapore), else UTC. A date without a
time is midnight in that zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

# Zone names → offsets from UTC in minutes. Ambiguous names (BST: British or
# Bangladesh) are left out on purpose: unreadable beats hours off.
ZONES: dict[str, int] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420,
    "AKST": -540, "AKDT": -480, "HST": -600,
    "WEST": 60, "CET": 60, "CEST": 120, "EET": 120, "EEST": 180, "MSK": 180,
    "GST": 240,  # Gulf (UAE)
    "PKT": 300,
    "IST": 330,  # India
    "NPT": 345,
    "ICT": 420, "WIB": 420,
    "HKT": 480, "SGT": 480, "MYT": 480, "PHT": 480, "PHST": 480, "WITA": 480, "AWST": 480,
    "JST": 540, "KST": 540, "WIT": 540,
    "ACST": 570, "AEST": 600, "ACDT": 630, "AEDT": 660, "NZST": 720, "NZDT": 780,
}  # fmt: skip
CHINA_CST = 480

_COUNTRY_ZONES = {
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "CN": "Asia/Shanghai",
    "TW": "Asia/Taipei",
    "HK": "Asia/Hong_Kong",
    "SG": "Asia/Singapore",
    "IN": "Asia/Kolkata",
    "AE": "Asia/Dubai",
}
_CJK_COUNTRIES = frozenset({"JP", "KR", "CN", "TW", "HK", "SG"})

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip

_PM = frozenset({"午後", "下午", "오후", "pm", "p.m."})
_AMPM = r"(?P<ampm>午前|午後|上午|下午|오전|오후|[AaPp]\.?[Mm]\.?)"
_TIME = (
    rf"(?:{_AMPM}\s*)?(?P<hour>\d{{1,2}})"
    r"(?:\s*[:時时시点點]\s*(?P<minute>\d{1,2})"
    r"(?:\s*[:分분]\s*(?P<second>\d{1,2})(?:[.,]\d+)?)?)?"
    r"\s*[時时시点點分분秒초]?"
    r"(?:\s*(?P<ampm2>[AaPp]\.?[Mm]\.?))?"
)
_ZONE = (
    r"(?:(?P<zone>Z|(?:GMT|UTC|UT)?\s*[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5})"
    r"(?:\s*\([A-Za-z ]{1,40}\))?)"  # "+0900 (JST)": the number decides
)
_WEEKDAY = r"(?:[A-Za-z]{2,9}\.?,?\s+)?"
_CJK_WEEKDAY = r"(?:\s*[(（][^)）]{1,4}[)）])?"

_FORMATS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # ISO 8601 / W3C-DTF, with a space or T before the time.
        rf"(?P<year>\d{{4}})-(?P<month>\d{{1,2}})-(?P<day>\d{{1,2}})"
        rf"(?:(?:T|\s+){_TIME})?\s*{_ZONE}?",
        # RFC 822: [Tue,] 05 Mar 2024 [14:30[:00]] [zone]
        rf"{_WEEKDAY}(?P<day>\d{{1,2}})[\s-]+(?P<mname>[A-Za-z]{{3,9}})\.?,?[\s-]+"
        rf"(?P<year>\d{{4}}|\d{{2}})(?:,?\s+{_TIME})?\s*{_ZONE}?",
        # Month first: [Tue,] Mar 5, 2024 [14:30] [zone]
        rf"{_WEEKDAY}(?P<mname>[A-Za-z]{{3,9}})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
        rf"(?P<year>\d{{4}})(?:,?\s+(?:at\s+)?{_TIME})?\s*{_ZONE}?",
        # asctime: Tue Mar  5 14:30:00 [zone] 2024
        rf"[A-Za-z]{{3}}\s+(?P<mname>[A-Za-z]{{3}})\s+(?P<day>\d{{1,2}})\s+{_TIME}"
        rf"\s+(?:{_ZONE}\s+)?(?P<year>\d{{4}})",
        # 2016/6/29 15:07, 2016.06.29, 2024. 3. 5. 오후 2:30
        rf"(?P<year>\d{{4}})\s*([/.])\s*(?P<month>\d{{1,2}})\s*\2\s*(?P<day>\d{{1,2}})\.?"
        rf"{_CJK_WEEKDAY}(?:\s+{_TIME})?\s*{_ZONE}?",
        # 2024年3月5日(火) 14:30, 2024년 3월 5일 오후 2시 30분
        rf"(?P<year>\d{{4}})\s*[年년]\s*(?P<month>\d{{1,2}})\s*[月월]\s*(?P<day>\d{{1,2}})"
        rf"\s*[日일号號]?{_CJK_WEEKDAY}(?:\s*{_TIME})?\s*{_ZONE}?",
    )
)
_OFFSET = re.compile(r"(?:GMT|UTC|UT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DateContext:
    """What a feed's dates mean when they leave something out."""

    zone: tzinfo = UTC  # for dates without a zone
    china: bool = False  # CST is China Standard Time (+08:00), not US Central

    @property
    def zone_name(self) -> str:
        return str(self.zone)


def context_for(hints: Iterable[str], country: str = "") -> DateContext:
    """The context of a feed from its configured country and language hints.

    `hints` are language tags, most trusted first (the configured language, then
    the feed's declared one). See the module docstring for the mapping.
    """
    tags = [h.strip().lower().replace("_", "-") for h in hints if h and h.strip()]
    country = country.strip().upper()
    china = country in _CJK_COUNTRIES or any(t.startswith(("zh", "ja", "ko")) for t in tags)
    name = _COUNTRY_ZONES.get(country)
    if name is None:
        for tag in tags:
            name = _language_zone(tag)
            if name:
                break
    return DateContext(ZoneInfo(name) if name else UTC, china)


def _language_zone(tag: str) -> str | None:
    if tag.startswith("ja"):
        return "Asia/Tokyo"
    if tag.startswith("ko"):
        return "Asia/Seoul"
    if not tag.startswith("zh"):
        return None
    if tag.startswith(("zh-tw", "zh-hant")):
        return "Asia/Taipei"
    if tag.startswith("zh-hk") or tag.startswith("zh-mo"):
        return "Asia/Hong_Kong"
    if tag.startswith("zh-sg"):
        return "Asia/Singapore"
    return "Asia/Shanghai"


UTC_CONTEXT = DateContext()


def parse_date(text: str, context: DateContext = UTC_CONTEXT) -> datetime | None:
    """An aware UTC datetime for a feed's date string, or None if it is not one we read.

    None also for impossible values (month 13, an unknown zone name).
    """
    text = text.strip().replace("\u3000", " ")
    if not text or len(text) > 100:
        return None
    for pattern in _FORMATS:
        match = pattern.fullmatch(text)
        if match is not None:
            return _build(match.groupdict(), context)
    return None


def _build(parts: dict[str, str | None], context: DateContext) -> datetime | None:
    raw_year = parts["year"] or ""
    year = int(raw_year or 0)
    if len(raw_year) <= 2:  # RFC 822 two-digit years
        year += 2000 if year < 50 else 1900
    elif year < 1000:
        return None  # "0001" is written in full: no feed post is that old, and never "2001"
    if parts.get("mname"):
        month = _MONTHS.get((parts["mname"] or "").lower().rstrip("."))
        if month is None:
            return None
    else:
        month = int(parts["month"] or 0)
    day = int(parts["day"] or 0)
    hour = int(parts.get("hour") or 0)
    minute = int(parts.get("minute") or 0)
    second = min(int(parts.get("second") or 0), 59)  # a leap second is not worth a None
    ampm = (parts.get("ampm") or parts.get("ampm2") or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm in _PM or ampm == "pm" else 0)
    extra = timedelta()
    if hour == 24 and minute == 0 and second == 0:  # ISO 8601 end of day
        hour, extra = 0, timedelta(days=1)
    zone = _zone(parts.get("zone"), context)
    if zone is None:
        return None
    try:
        local = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None
    return (local + extra).astimezone(UTC)


def _zone(text: str | None, context: DateContext) -> tzinfo | None:
    if not text:
        return context.zone
    name = text.strip().upper()
    if name == "CST" and context.china:
        return timezone(timedelta(minutes=CHINA_CST))
    if name in ZONES:
        return timezone(timedelta(minutes=ZONES[name]))
    match = _OFFSET.fullmatch(name)
    if match is None:
        return None  # a zone name we do not know
    sign, hours, minutes = match.groups()
    if hours is None or int(hours) > 14 or int(minutes or 0) > 59:
        return None
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-offset if sign == "-" else offset)


def plausible(text: str, value: datetime) -> bool:
    """Whether feedparser's reading `value` (UTC) of a string we cannot read is believable.

    feedparser fills what it could not read from today's date (`2024年3月5日`
    became 1 November 2024), so its reading is believed only when its year and
    its day of the month (±1, for the shift to UTC) both appear as numbers in
    the string. Never for a string in one of our formats that `parse_date`
    rejected: an unknown zone name there is exactly what feedparser drops.
    """
    text = text.strip().replace("\u3000", " ")
    if any(pattern.fullmatch(text) for pattern in _FORMATS):
        return False
    numbers = {int(n) for n in re.findall(r"\d+", text)}
    year_ok = value.year in numbers or value.year % 100 in numbers
    day_ok = bool(numbers & {value.day - 1, value.day, value.day + 1} - {0})
    return year_ok and day_ok
