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
one word repeated, is not what a story is about).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from digest.editorial.classify import split_title
from digest.editorial.matching import TermMatcher

TOPICS = ("ai",)  # the values `filter` accepts
SUMMARY_HITS = 2  # different keywords: one passing mention is not the subject
SUMMARY_CHARS = 1200
_LEADING_TAG = re.compile(r"^\s*(?:\[[^\]]{1,30}\]|【[^】]{1,30}】)\s*")


@cache
def load_topics(path: Path) -> dict[str, tuple[str, ...]]:
    """topic → keywords, every language's list joined."""
    data = tomllib.loads(path.read_text("utf-8"))
    topics: dict[str, tuple[str, ...]] = {}
    for topic, table in data.items():
        words: list[str] = []
        for names in table.values():
            words.extend(str(n) for n in names)
        topics[topic] = tuple(words)
    return topics


class Relevance:
    """Compiled keyword lists. Reuse it for many stories."""

    def __init__(self, topics: Mapping[str, Iterable[str]]) -> None:
        self._matchers = {
            topic: TermMatcher((word, topic) for word in words) for topic, words in topics.items()
        }

    def is_about(self, topic: str, title: str, summary: str = "") -> bool:
        matcher = self._matchers.get(topic)
        if matcher is None:
            raise KeyError(f"no keywords for topic {topic!r}")
        head, rest = split_title(_LEADING_TAG.sub("", title))
        if matcher.find(head):
            return True
        # Two different keywords: a summary that says "AI" twice about a phone's
        # camera is still a phone story.
        text = rest + "\n" + summary[:SUMMARY_CHARS]
        keywords = {text[start:end].lower() for start, end, _ in matcher.spans(text)}
        return len(keywords) >= SUMMARY_HITS
