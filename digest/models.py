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
  receive these, never storage rows. An issue may open with an editor's note and
  up to `TOP_STORIES` lead stories (`Issue.note`, `Issue.top`).
- `EditorialDecisions` and `StoryDecision` are what an editor decided about one
  week's issue with `digest edit` (kept by `digest.state.store`, applied by
  `digest.editorial.selection.apply_decisions`). A story is named in them by its
  `Story.key`.

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


def story_key(url: str, feed_url: str = "", post_id: str = "") -> str:
    """The editorial id of a story: 10 hex digits of the SHA-256 of its canonical
    URL (of its feed and post id when it has no URL).

    The URL, not the feed's post id, so that one article reached through two feeds
    is one story; tracking parameters are already gone (`digest.fetch.normalize`).
    """
    text = url if url else f"{feed_url}\n{post_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


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

    @property
    def key(self) -> str:
        """The id an editor's decision names this story by (`story_key` of its main post)."""
        return story_key(self.url, self.feed_url, self.post_id)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every id this story answers to: its own, then those of the other reports
        merged into it. A decision survives new reports arriving: when an earlier
        report joins the story and becomes its main post, the old main post is
        among the others, and its id still finds the story."""
        others = (story_key(a.url) for a in self.also if a.url)
        return tuple(dict.fromkeys((self.key, *others)))


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
    note: str = ""  # the editor's note, Markdown source ("" = none)
    # The lead stories, in order (at most TOP_STORIES); each is also in its section.
    top: tuple[Story, ...] = ()

    @property
    def story_count(self) -> int:
        return sum(len(s.stories) for s in self.sections)


TOP_STORIES = 3  # lead stories an issue opens with, at most

# What an editor may do with one story of a week (`digest edit`).
PICK, DROP, TOP = "pick", "drop", "top"
STORY_ACTIONS = (PICK, DROP, TOP)


@dataclass(frozen=True, slots=True)
class StoryDecision:
    """An editor's decision about one story of one week."""

    story: str  # the story's `Story.key` when the editor saw it
    action: str = PICK  # PICK (keep), DROP (leave out) or TOP (a lead story)
    section: str = ""  # the section the editor put it in; "" = where it was classified
    position: int | None = None  # its place in that section, 0 first; None = ranked
    lead: int | None = None  # TOP: its place among the lead stories, 0 first


@dataclass(frozen=True, slots=True)
class EditorialDecisions:
    """Everything an editor decided about one week's issue (`digest edit`).

    Only what differs from the issue digest would build on its own is kept: a
    story that is picked, stays in its section and is ranked as usual has no
    decision. `tops_chosen`: the lead stories are exactly the TOP decisions
    (maybe none); otherwise they are the ranking's, as without decisions.
    """

    week: str
    note: str = ""
    stories: tuple[StoryDecision, ...] = ()
    tops_chosen: bool = False

    @property
    def empty(self) -> bool:
        """Nothing decided: the issue is exactly what digest builds on its own."""
        return not self.note.strip() and not self.stories and not self.tops_chosen
