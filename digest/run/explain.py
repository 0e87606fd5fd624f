"""Why each story landed in its section: `digest explain`.

Owns: re-running the country classifier on the stories of a week's issue (or
on one headline an editor types) and putting its verdict into words: the
section, the names found (as written, their canonical key, kind, country,
where and points), the scores per country, the reason, the second-country tag,
and what was merged into the story; as plain text for a person and as plain
data for `--json`. Doesn't own: the decision itself (`digest.editorial.classify`),
which stories make the issue (`digest.editorial.selection`, through
`pipeline.issue_model`), or printing (`digest.cli`).

The explanation classifies again rather than reading a record of the build:
`Classifier.classify` is pure and the classifier is built from the same files,
so it gives the verdict the build gave, and a name an editor has just added to
`entities.tsv` or `[aliases]` shows at once what it would change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest.config import FeedSettings, Settings
from digest.editorial.classify import COUNTRY_KIND, Classification, Evidence
from digest.models import GLOBAL_SECTION, AlsoReported
from digest.run.pipeline import classifier, issue_model
from digest.state.store import Store

WIDTH = 100  # a terminal line; titles are cut to fit
NAME_COLUMN = 24  # display columns for a name as written; longer ones are cut
NO_NAMES = "no names found — add one to entities.tsv or [aliases]"


@dataclass(frozen=True, slots=True)
class StoryExplanation:
    """One story and the classifier's account of it."""

    section: str  # the section it is in: a configured country code, or GLOBAL
    title: str
    verdict: Classification
    week: str = ""  # the issue's ISO week ("" for a typed headline)
    hint: str = ""  # the feed's country, a prior
    local: bool = False  # the feed is local news of `hint`
    source: str = ""  # the feed's display name ("" for a typed headline)
    url: str = ""
    feed_url: str = ""
    post_id: str = ""
    outlets: int = 1  # distinct feeds that reported it, its own included
    also: tuple[AlsoReported, ...] = ()  # the other reports merged into it
    # The section the classifier chose, when the editor moved the story
    # (`digest edit`) to `section`; "" when it is where the classifier put it.
    moved_from: str = ""

    def as_json(self) -> dict[str, Any]:
        """Plain data for `--json`: the fields above, evidence as objects."""
        v = self.verdict
        return {
            "week": self.week,
            "section": self.section,
            "country": v.country,
            "second": v.second,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "feed_url": self.feed_url,
            "post_id": self.post_id,
            "hint": self.hint,
            "local": self.local,
            # An object keeps the order (best first) and reads as `.scores.KR`.
            "scores": {code: round(points, 4) for code, points in v.scores},
            "evidence": [
                {
                    "text": e.text,
                    "key": e.key,
                    "kind": e.kind,
                    "country": e.country,
                    "where": e.where,
                    "points": round(e.points, 4),
                }
                for e in v.evidence
            ],
            "reason": v.reason,
            "moved_from": self.moved_from,
            "outlets": self.outlets,
            "merged": len(self.also),
            "also": [{"source": a.source, "url": a.url} for a in self.also],
        }


def section_of(verdict: Classification, settings: Settings) -> str:
    """The section a verdict puts a story in: as `selection.build_issue` does."""
    return verdict.country if verdict.country in settings.digest.countries else GLOBAL_SECTION


def explain_week(
    settings: Settings, store: Store, week: str, now: datetime, *, story: str = ""
) -> list[StoryExplanation]:
    """Every story of `week`'s issue, in section order (as the issue shows them).

    `story` keeps only those whose title contains it (case-insensitive) or
    whose URL, or the URL of a report merged into it, equals it. Reads the
    store only: no issue number is assigned, nothing is archived.
    """
    # The number is never shown; the one it would get assigns nothing.
    # One classifier for the issue and for the explanations: the same verdicts.
    names = classifier(settings)
    issue = issue_model(
        settings, store, week, now, number=store.next_issue_number(week), names=names
    )
    feeds = {f.url: f for f in settings.feeds}
    unknown = FeedSettings(url="")
    wanted = story.strip()
    found = []
    for section in issue.sections:
        for s in section.stories:
            if wanted and not _matches(wanted, s.title, [s.url, *(a.url for a in s.also)]):
                continue
            feed = feeds.get(s.feed_url, unknown)
            # The build classified the main post of the group, with its feed's
            # hint: the same call gives the same verdict.
            verdict = names.classify(s.title, s.summary, feed.country, local=feed.local)
            # Where the classifier put it and where it is differ only by an
            # editor's move: the reason below is the classifier's, say so.
            chosen = section_of(verdict, settings)
            found.append(
                StoryExplanation(
                    section=section.code,
                    title=s.title,
                    verdict=verdict,
                    week=week,
                    hint=feed.country,
                    local=feed.local,
                    source=s.source,
                    url=s.url,
                    feed_url=s.feed_url,
                    post_id=s.post_id,
                    outlets=s.outlets,
                    also=s.also,
                    moved_from=chosen if chosen != section.code else "",
                )
            )
    return found


def explain_text(
    settings: Settings, title: str, summary: str = "", hint: str = "", local: bool = False
) -> StoryExplanation:
    """One headline an editor types, without the database: does the name just
    added to the knowledge base or `[aliases]` put it where it belongs?"""
    verdict = classifier(settings).classify(title, summary, hint, local=local)
    return StoryExplanation(
        section=section_of(verdict, settings), title=title, verdict=verdict, hint=hint, local=local
    )


def _matches(wanted: str, title: str, urls: Iterable[str]) -> bool:
    return wanted.casefold() in title.casefold() or wanted in urls


# -- plain text -----------------------------------------------------------------


def format_explanations(explanations: Iterable[StoryExplanation]) -> str:
    """Stories for a person, one block each, a blank line between (100 columns)."""
    return "\n\n".join("\n".join(explanation_lines(e)) for e in explanations)


def explanation_lines(e: StoryExplanation) -> list[str]:
    """One story's block:

    KR  삼성전자, 판교에 AI 연구소 개설
        KR AI · 2 outlets, 1 other report merged
        scores   KR 7.5 · US 1
        why      KR scores 7.5, ahead of US (1)
        title    KR +3      삼성전자  kr/samsung-electronics (company)
        title    KR +0.5    (named first: the subject)
        summary  US +1      OpenAI    us/openai (company)
        feed     KR +1      (the feed's country, and the title names it)
    """
    v = e.verdict
    head = f"{e.section}  "
    lines = [head + _cut(e.title, WIDTH - _width(head))]
    merged = _merged(e)
    if e.source or merged:
        lines.append("    " + " · ".join(part for part in (e.source, merged) if part))
    if v.scores:
        lines.append("    scores   " + " · ".join(f"{c} {_num(p)}" for c, p in v.scores))
    reason = v.reason
    if v.country and e.section == GLOBAL_SECTION and not e.moved_from:
        # The verdict is a country, the section is not: say why, or the editor
        # looks for a wrong score that is not there.
        reason += f"; {v.country} is not in [digest] countries: Global"
    if e.moved_from:
        lines.append(
            f"    moved    here by the editor (digest edit); the classifier chose {e.moved_from}"
        )
        reason = f"the classifier's: {reason}"
    lines.append(f"    why      {reason}")
    if v.second:
        lines.append(f"    tag      {v.second} (a second country, shown as a tag)")
    if not any(ev.where != "feed" for ev in v.evidence):
        lines.append(f"    {NO_NAMES}")
    lines += _evidence_lines(v)
    return lines


def _merged(e: StoryExplanation) -> str:
    parts = []
    if e.outlets > 1:
        parts.append(f"{e.outlets} outlets")
    if e.also:
        others = len(e.also)
        parts.append(f"{others} other report{'s' if others > 1 else ''} merged")
    return ", ".join(parts)


def _evidence_lines(v: Classification) -> Iterator[str]:
    # A headline's subject (its first name) gets a bonus the evidence does not
    # carry; shown beside it, so each country's points add up to its score.
    spent: dict[str, float] = {}
    for ev in v.evidence:
        spent[ev.country] = spent.get(ev.country, 0.0) + ev.points
    bonus = {c: p - spent.get(c, 0.0) for c, p in v.scores if p - spent.get(c, 0.0) > 1e-6}
    texts = [ev.text for ev in v.evidence if ev.where != "feed"]
    column = min(NAME_COLUMN, max((_width(t) for t in texts), default=0))
    for ev in v.evidence:
        yield "    " + _evidence_line(ev, column)
        if ev.where == "title" and ev.points > 0 and ev.country in bonus:
            extra = bonus.pop(ev.country)
            points = f"+{_num(extra)}"
            yield f"    {'title':<8} {ev.country:<2} {points:<7} (named first: the subject)"


def _evidence_line(ev: Evidence, column: int) -> str:
    points = f"+{_num(ev.points)}"
    start = f"{ev.where:<8} {ev.country or '--':<2} {points:<7}"
    if ev.where == "feed":
        if ev.kind == "local":
            return f"{start} (a local feed of {ev.country}: its news is {ev.country}'s)"
        return f"{start} (the feed's country, and the title names it)"
    name = _pad(_cut(ev.text, NAME_COLUMN), column)
    line = f"{start} {name}  {ev.key} ({_kind(ev)})"
    if ev.points == 0:
        line += " · the local feed's own: not counted"
    return _cut(line, WIDTH - 4)


def _kind(ev: Evidence) -> str:
    # Country names carry the key "country:KR" (CLDR); the names of places.toml
    # and [aliases] carry themselves: tell the editor which file to look in.
    if ev.kind == COUNTRY_KIND and not ev.key.startswith("country:"):
        return "a name in places.toml or [aliases]"
    return ev.kind


def _num(points: float) -> str:
    """3, 0.5, 0.33: scores as an editor reads them."""
    return f"{round(points, 2):g}"


def _width(text: str) -> int:
    """Display columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _width(text))


def _cut(text: str, columns: int) -> str:
    if _width(text) <= columns:
        return text
    out, used = "", 0
    for ch in text:
        w = _width(ch)
        if used + w > columns - 1:
            break
        out, used = out + ch, used + w
    return out + "…"
