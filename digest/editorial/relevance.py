"""Whether a story is about a feed's topic (today: AI).

Owns: the pure decision behind `[[feeds]] filter = "ai"`, and reading the topic
keywords file (`config/topics.toml`). General feeds mix AI with sport and
politics; a filtered feed keeps only its stories about the topic.
Doesn't own: matching rules (`digest.editorial.matching`) or where the filter is applied
(`digest.editorial.selection`).

A story is about the topic when its title (the first story of a "A；B" title,
without a leading "[tag]" or "【tag】", which names a column, not the story:
"[AI 아나운서]" is a newscast's name) names one of the topic's keywords, or its
summary names two different ones (one passing mention in a long summary, or
one word repeated, is not what a story is about). A keyword in the column's
name counts like a weak word (below): "[피지컬AI와 윤리]" is a series on AI.

Some words are AI vocabulary only beside another: a GPU, 算力 or a humanoid
robot is as often a gaming card, a phone chip or a factory arm; "benchmark",
"モデル" and "论文" name phone scores, car models and any paper. A topic's
`weak` words (`[ai.weak]` in topics.toml) count in a title only when the
title or summary names a second, different keyword, and never toward a
summary's two.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from digest.editorial.classify import split_title
from digest.editorial.matching import TermMatcher

TOPICS = ("ai",)  # the values `filter` accepts
SUMMARY_HITS = 2  # different keywords: one passing mention is not the subject
SUMMARY_CHARS = 1200
_LEADING_TAG = re.compile(r"^\s*(?:\[[^\]]{1,30}\]|【[^】]{1,30}】)\s*")


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic's keywords: `words` say it alone, `weak` words only beside another."""

    words: tuple[str, ...]
    weak: tuple[str, ...] = ()


@cache
def load_topics(path: Path) -> dict[str, Topic]:
    """topic → its keywords, every language's list joined (a `weak` sub-table apart)."""
    data = tomllib.loads(path.read_text("utf-8"))
    topics: dict[str, Topic] = {}
    for topic, table in data.items():
        words: list[str] = []
        weak: list[str] = []
        for key, names in table.items():
            if key == "weak" and isinstance(names, dict):
                for more in names.values():
                    weak.extend(str(n) for n in more)
            else:
                words.extend(str(n) for n in names)
        topics[topic] = Topic(tuple(words), tuple(weak))
    return topics


class Relevance:
    """Compiled keyword lists. Reuse it for many stories."""

    def __init__(self, topics: Mapping[str, Topic | Iterable[str]]) -> None:
        self._matchers: dict[str, TermMatcher[tuple[str, bool]]] = {}
        for name, topic in topics.items():
            if not isinstance(topic, Topic):
                topic = Topic(tuple(topic))
            # A word in both lists is strong (at one place the first name listed
            # wins): a user who adds "GPU" to a language's list means it alone.
            pairs = [(word, (_listed(word), False)) for word in topic.words]
            pairs += [(word, (_listed(word), True)) for word in topic.weak]
            self._matchers[name] = TermMatcher(pairs)

    def is_about(self, topic: str, title: str, summary: str = "") -> bool:
        matcher = self._matchers.get(topic)
        if matcher is None:
            raise KeyError(f"no keywords for topic {topic!r}")
        tag = _LEADING_TAG.match(title)
        head, rest = split_title(title[tag.end() :] if tag else title)
        in_title = _keywords(matcher, head)
        if any(not weak for weak in in_title.values()):
            return True
        text = rest + "\n" + summary[:SUMMARY_CHARS]
        in_summary = _keywords(matcher, text)
        # A column's name counts like a weak word: "[피지컬AI와 윤리] 킬러 로봇…" is
        # a series on AI, "[AI 아나운서]" a newscast read by an AI about anything.
        in_tag = _keywords(matcher, tag.group()) if tag else {}
        if in_title or in_tag:
            # A weak word in the title ("GPU", "humanoid") needs a second word.
            return len(in_tag.keys() | in_title.keys() | in_summary.keys()) >= 2
        # Two different keywords: a summary that says "AI" twice about a phone's
        # camera is still a phone story; "AI" beside "GPU" is a chip story.
        return sum(1 for weak in in_summary.values() if not weak) >= SUMMARY_HITS


def _listed(word: str) -> str:
    """A keyword as listed, the one way it is counted (without "=", lower case)."""
    return word.removeprefix("=").strip().lower()


def _keywords(matcher: TermMatcher[tuple[str, bool]], text: str) -> dict[str, bool]:
    """The different keywords in `text` → whether each is weak. Counted as listed,
    not as written: "الذكاء الاصطناعي" and "للذكاء الاصطناعي" are one keyword."""
    return dict(matcher.find(text))
