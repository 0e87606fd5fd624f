"""The archive's small record of each issue: what its listings need, kept beside it.

Owns: `IssueRecord`, derived once from an issue and its view when the issue is
archived (`record_of`), and its file `<week>.meta.jsonl` (`record_bytes`,
`record_from_bytes`). The index, the country pages, the trends page and the
feed are rebuilt from these records, not from the issues' full JSON: a
record holds the issue's labels (subject, number, date range), its meta
description, its stories per section (counts) and each story's headline line
(title, link, source, date, anchor; no summary). The file is two lines of
JSON: the record (~2 KB), then the story lines (~20 KB for 80 stories), which
a build reads only for the issues whose stories it lists (the newest few).

A record also remembers what it was made from and what the issue's page shows
of its neighbours:

- `source`: size and modification time (ns) of `<week>.json` when the record
  was written. A `<week>.json` written by anything else (an older digest, a
  person) no longer matches, and the record is made again from it; so is a
  missing or unreadable record (archives written before records existed). A
  copy that keeps modification times (`rsync -a`, `cp -p`) keeps the records.
- `nav`: the previous and next issue the page links to. When another issue is
  archived next to it, the page is rendered again (`digest.web.archive`).

Doesn't own: the files' places and writing them (`digest.web.archive`), nor the
pages made from records (`digest.web.archive_pages`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from digest.models import TOP_STORIES, Issue, Story
from digest.render.issue import IssueView, StoryView, format_long_date
from digest.render.messages import message
from digest.render.typography import display_width, one_line, prefix_within

__all__ = [
    "RECORD_FORMAT",
    "IssueRecord",
    "SectionCount",
    "StoryLine",
    "record_bytes",
    "record_from_bytes",
    "record_of",
]

RECORD_FORMAT = "digest-archive-record/1"  # bump when a field changes meaning
DESCRIPTION_WIDTH = 240  # display columns (CJK count 2): ~160 characters of Latin text
DESCRIPTION_SECTIONS = 4  # sections named in the description, largest first


class StoryLine(NamedTuple):
    """One story as the listings show it: a headline, no summary.

    A named tuple rather than a dataclass (immutable all the same): a year of
    records holds ~4,000 of them, read back at every build, and a tuple is made
    from its JSON list in one step."""

    section: str  # the section's code
    title: str  # one line
    href: str | None  # the source's http(s) link; None: shown without a link
    source: str
    date: str  # with the year, in the issue's language: listings span years
    date_iso: str  # UTC, for <time datetime=...>
    anchor: str  # its id on the issue's page


@dataclass(frozen=True, slots=True)
class SectionCount:
    code: str
    name: str  # as the issue names it, in its language
    count: int


@dataclass(frozen=True, slots=True)
class IssueRecord:
    week: str
    number: int
    title: str
    language: str
    start: datetime  # UTC, the issue's window: listings order issues by it
    end: datetime
    generated_at: datetime
    subject: str  # "Asian AI Hubs Weekly #3 · Nov 16 – 22, 2026"
    issue_label: str  # "Issue #3"
    week_range: str
    preheader: str  # the feed entry's summary
    description: str  # <meta name="description">, og:description
    story_count: int
    sections: tuple[SectionCount, ...]  # non-empty sections, in the issue's order
    top: tuple[StoryLine, ...]  # the index's headlines
    # Every story's line, as JSON text: grouped by section in `sections` order,
    # oldest first in each. Read only when a page that lists them is made
    # (`stories`): a build needs the newest few issues' lines, not a year's.
    lines_json: bytes  # UTF-8
    source: tuple[int, int] = (0, 0)  # <week>.json's size and mtime_ns
    nav: tuple[str, str] | None = None  # (previous, next) week the page links to; None: unknown

    @property
    def stories(self) -> tuple[StoryLine, ...]:
        return _parse_lines(self.lines_json)

    @property
    def href(self) -> str:
        return f"{self.week}.html"

    @property
    def order(self) -> tuple[datetime, datetime, int]:
        # By coverage, then by number (a rebuilt week keeps its number).
        return (self.start, self.end, self.number)


# --- from an issue --------------------------------------------------------------------


def _top_models(issue: Issue) -> list[Story]:
    """The issue's lead stories (`Issue.top`: the editor's, or the ranking's), else
    its first stories in section order (issues archived before it had any)."""
    if issue.top:
        return list(issue.top[:TOP_STORIES])
    return [story for s in issue.sections for story in s.stories][:TOP_STORIES]


def _cut(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    return text[: prefix_within(text, width - 1)].rstrip() + "…"


def describe(view: IssueView, headline: str) -> str:
    """`Issue #12 · 30 stories · Japan (8), South Korea (6), … · <top headline>`."""
    lang = view.lang
    ranked = sorted(view.sections, key=lambda s: -s.count)  # stable: the issue's order on ties
    names = [s.toc_label for s in ranked[:DESCRIPTION_SECTIONS]]
    if len(ranked) > DESCRIPTION_SECTIONS:
        names.append("…")
    parts = [view.issue_label, view.story_count_label]
    if names:
        parts.append(message(lang, "list_separator").join(names))
    else:
        parts.append(view.empty_note)
    if headline:
        parts.append(headline)
    return _cut(one_line(" · ".join(parts)), DESCRIPTION_WIDTH)


def record_of(issue: Issue, view: IssueView) -> IssueRecord:
    """The record of `issue`, whose full view (`build_view(issue, settings)`) is `view`."""
    lines: dict[str, StoryLine] = {}
    stories: list[StoryLine] = []
    models = [s for s in issue.sections if s.stories]  # build_view skips empty ones
    for section, model in zip(view.sections, models, strict=True):
        pairs: list[tuple[Story, StoryView]] = list(
            zip(model.stories, section.stories, strict=True)
        )
        for story, sv in pairs:
            lines[sv.anchor] = StoryLine(
                section=section.code,
                title=sv.title,
                href=sv.href,
                source=sv.source,
                date=format_long_date(story.published, issue.timezone, view.lang),
                date_iso=sv.date_iso,
                anchor=sv.anchor,
            )
        # Oldest first; stable, so equal times keep the issue's order.
        pairs.sort(key=lambda p: p[0].published)
        stories.extend(lines[sv.anchor] for _, sv in pairs)
    top = tuple(lines[s.anchor] for s in _top_models(issue) if s.anchor in lines)
    return IssueRecord(
        week=issue.week,
        number=issue.number,
        title=view.title,
        language=view.lang,
        start=issue.start,
        end=issue.end,
        generated_at=issue.generated_at,
        subject=view.subject,
        issue_label=view.issue_label,
        week_range=view.week_range,
        preheader=view.preheader,
        description=describe(view, top[0].title if top else ""),
        story_count=view.story_count,
        sections=tuple(SectionCount(s.code, s.name, s.count) for s in view.sections),
        top=top,
        lines_json=json.dumps([list(line) for line in stories], ensure_ascii=False).encode(),
    )


# --- JSON -----------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def record_bytes(record: IssueRecord) -> bytes:
    """The record as its file holds it: two lines of JSON (JSON Lines), the record,
    then its story lines, so that reading it parses the first line only."""
    head = json.dumps(record_to_json(record), ensure_ascii=False, separators=(",", ":"))
    return b"%s\n%s\n" % (head.encode(), record.lines_json)


def record_from_bytes(data: bytes) -> IssueRecord:
    """Read back `record_bytes`. ValueError (or KeyError, TypeError) when it isn't
    one, or was cut short: the caller then makes the record again."""
    head, _, lines = data.partition(b"\n")
    fields = json.loads(head)
    lines = lines.removesuffix(b"\n")
    if not isinstance(fields, dict) or fields.get("lines_length") != len(lines):
        raise ValueError("the story lines are cut short")
    return record_from_json(fields, lines)


def record_to_json(record: IssueRecord) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "source": list(record.source),
        "nav": list(record.nav) if record.nav is not None else None,
        "week": record.week,
        "number": record.number,
        "title": record.title,
        "language": record.language,
        "start": _iso(record.start),
        "end": _iso(record.end),
        "generated_at": _iso(record.generated_at),
        "subject": record.subject,
        "issue_label": record.issue_label,
        "week_range": record.week_range,
        "preheader": record.preheader,
        "description": record.description,
        "story_count": record.story_count,
        "sections": [[s.code, s.name, s.count] for s in record.sections],
        "top": [list(line) for line in record.top],
        "lines_length": len(record.lines_json),  # a file cut short shows
    }


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what}: expected an integer")
    return value


def _time(data: dict[str, Any], key: str) -> datetime:
    moment = datetime.fromisoformat(_text(data, key))
    if moment.tzinfo is None:
        raise ValueError(f"{key}: no time zone")
    return moment


def _lines(raw: Any) -> tuple[StoryLine, ...]:
    # Checked for shape, not each value's type: a year of records is read at every
    # build, the file is ours, and Jinja shows any value as text.
    if type(raw) is not list or not all(type(x) is list and len(x) == 7 for x in raw):
        raise ValueError("story lines are lists of 7 items")
    return tuple(map(StoryLine._make, raw))


@functools.lru_cache(maxsize=128)
def _parse_lines(text: bytes) -> tuple[StoryLine, ...]:
    # Once per record and process: a build asks for a record's lines page by page.
    return _lines(json.loads(text))


def record_from_json(data: Any, lines_json: bytes) -> IssueRecord:
    """Read back `record_to_json` output (and its story lines, unread until used);
    ValueError (or KeyError, TypeError) when it isn't one of this format."""
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise ValueError(f"not a {RECORD_FORMAT} record")
    source = data["source"]
    if not isinstance(source, list) or len(source) != 2:
        raise ValueError("source: expected [size, mtime_ns]")
    nav = data["nav"]
    if nav is not None and not (
        isinstance(nav, list) and len(nav) == 2 and all(isinstance(w, str) for w in nav)
    ):
        raise ValueError("nav: expected [previous, next]")
    sections = []
    for raw in data["sections"]:
        code, name, count = raw
        if not isinstance(code, str) or not isinstance(name, str):
            raise ValueError("sections: expected [code, name, count]")
        sections.append(SectionCount(code, name, _int(count, "sections")))
    return IssueRecord(
        week=_text(data, "week"),
        number=_int(data["number"], "number"),
        title=_text(data, "title"),
        language=_text(data, "language"),
        start=_time(data, "start"),
        end=_time(data, "end"),
        generated_at=_time(data, "generated_at"),
        subject=_text(data, "subject"),
        issue_label=_text(data, "issue_label"),
        week_range=_text(data, "week_range"),
        preheader=_text(data, "preheader"),
        description=_text(data, "description"),
        story_count=_int(data["story_count"], "story_count"),
        sections=tuple(sections),
        top=_lines(data["top"]),
        lines_json=lines_json,
        source=(_int(source[0], "source"), _int(source[1], "source")),
        nav=(nav[0], nav[1]) if nav is not None else None,
    )
