"""Frozen data that flows between the stages of the pipeline.

Owns: the shapes every stage agrees on, and nothing else (no I/O, no logic
beyond trivial derived properties).

- `Post` is what gathering produces once feedparser output has been normalised
  (see `digest.fetch.normalize`), and what the store keeps.
- `FeedState` is the per-feed machine state kept between runs (conditional GET
  validators, failures).
- `Subscriber` is a row of the mailing list.
- `Issue`, `Section`, `Story`, `AlsoReported` form the view model of one weekly
  issue: built whole by `digest.editorial.selection`, then rendered and archived. Templates
  receive these, never storage rows.

All datetimes are timezone-aware; those stored or compared are in UTC.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Post:
    """One feed entry, normalised: plain text, canonical URL, UTC time."""

    feed_url: str
    post_id: str  # stable within its feed: guid, else canonical link, else content hash
    url: str  # canonical: tracking parameters and fragment removed; may be "" if none
    title: str  # plain text, single line
    summary: str  # plain text, whitespace collapsed
    published: datetime  # UTC; the first-seen time when the feed gave none
    first_seen: datetime  # UTC
    language: str = ""  # as declared by the entry or feed, lower-case, may be ""
    date_from_feed: bool = True  # False when `published` fell back to first-seen


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about a feed between runs."""

    url: str
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    last_fetched: datetime | None = None
    last_ok: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive failed fetches
    gone_at: datetime | None = None  # answered 410 Gone: no longer polled
    retry_at: datetime | None = None  # 429/503 with Retry-After: not polled before this
    moved_to: str | None = None  # a 301/308 target (address-checked), fetched instead of url


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    name: str = ""
    # pending (web signup, unconfirmed) | active | unsubscribed | bouncing | complained
    status: str = "active"
    created: datetime | None = None
    language: str = ""  # "" = the digest's [digest] language
    countries: tuple[str, ...] = ()  # section codes the reader chose; () = every section
    confirmed: datetime | None = None  # when the reader confirmed a web signup
    nonce: str = ""  # the open confirmation request ("" = none); bound into its token


@dataclass(frozen=True, slots=True)
class AlsoReported:
    """Another source that carried the same story (merged as a duplicate)."""

    source: str
    url: str


@dataclass(frozen=True, slots=True)
class Story:
    title: str
    url: str
    source: str  # the feed's display name
    published: datetime  # UTC
    summary: str
    country: str  # primary country code of the story, or "" for Global
    also: tuple[AlsoReported, ...] = ()
    second_country: str = ""  # a second configured country the story is about, shown as a tag
    feed_url: str = ""
    post_id: str = ""
    outlets: int = 1  # distinct feeds that reported the event (the main one included)

    @property
    def anchor(self) -> str:
        """A stable id for linking to this story inside the issue page."""
        key = f"{self.feed_url}\n{self.post_id or self.url}".encode()
        return "s-" + hashlib.sha256(key).hexdigest()[:10]


GLOBAL_SECTION = "GLOBAL"


@dataclass(frozen=True, slots=True)
class Section:
    code: str  # ISO 3166 alpha-2, or GLOBAL_SECTION
    name: str  # localized display name
    stories: tuple[Story, ...]


@dataclass(frozen=True, slots=True)
class Issue:
    """The whole model of one weekly issue: everything rendering and archiving need."""

    week: str  # ISO week, e.g. "2026-W47"
    number: int  # 1, 2, 3 ... in order of first build
    title: str  # the digest's title
    language: str  # "ja" | "en"
    timezone: str  # IANA name used for dates shown to readers
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive: the publish time
    sections: tuple[Section, ...]
    generated_at: datetime  # UTC
    duplicates_merged: int = 0

    @property
    def story_count(self) -> int:
        return sum(len(s.stories) for s in self.sections)
