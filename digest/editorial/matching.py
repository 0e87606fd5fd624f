"""Finding listed names in multilingual text.

Owns: the one matching engine for lists of names (countries, organisations,
topic keywords) in mixed CJK and Latin text. Latin names match whole words
only and ignore case, except all-capital names ("US", "AI") and names written
"=Name", which match their exact case; CJK names match anywhere, since CJK
text has no spaces between words. At each position the longest name wins, and
matches never overlap, so a longer name hides the shorter ones inside it.
Doesn't own: what a match means (`digest.editorial.classify`, `digest.editorial.relevance`).

One Aho-Corasick automaton (ahocorasick-rs) scans the lower-cased text once,
whatever the number of names; boundaries and case are checked afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ahocorasick_rs import AhoCorasick

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Term(Generic[T]):
    text: str  # as written, without the "=" marker
    value: T
    latin: bool  # match on word boundaries
    exact_case: bool


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class TermMatcher(Generic[T]):
    """Compiled (name, value) pairs; `find(text)` gives the values matched, in order."""

    def __init__(self, pairs: Iterable[tuple[str, T]]) -> None:
        self._terms: list[_Term[T]] = []
        patterns: list[str] = []
        for written, value in pairs:
            exact = written.startswith("=")
            text = written[1:].strip() if exact else written.strip()
            # Lower-casing must keep positions: skip the rare name whose length changes.
            if not text or len(text.lower()) != len(text):
                continue
            latin = text.isascii()
            exact = exact or (latin and text.isupper())
            self._terms.append(_Term(text, value, latin, exact))
            patterns.append(text.lower())
        self._automaton = AhoCorasick(patterns) if patterns else None

    def find(self, text: str) -> list[T]:
        """The values of the names found in `text`: leftmost-longest, non-overlapping."""
        return [value for _, _, value in self.spans(text)]

    def spans(self, text: str) -> list[tuple[int, int, T]]:
        """(start, end, value) of each name found in `text`, as `find` picks them."""
        if self._automaton is None or not text:
            return []
        lowered = text.lower()
        if len(lowered) != len(text):  # a character whose lower case is longer
            lowered = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
        candidates = []
        for index, start, end in self._automaton.find_matches_as_indexes(lowered, overlapping=True):
            term = self._terms[index]
            if term.exact_case and text[start:end] != term.text:
                continue
            if term.latin and (
                (start > 0 and _is_ascii_word_char(text[start - 1]))
                or (end < len(text) and _is_ascii_word_char(text[end]))
            ):
                continue
            candidates.append((start, -(end - start), end, index))
        candidates.sort()
        found: list[tuple[int, int, T]] = []
        pos = 0
        for start, _, end, index in candidates:
            if start >= pos:
                found.append((start, end, self._terms[index].value))
                pos = end
        return found
