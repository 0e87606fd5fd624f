"""Finding listed names in multilingual text.

Owns: the one matching engine for lists of names (countries, organisations,
topic keywords) in mixed CJK and Latin text. Latin names match whole words
only and ignore case, except all-capital names ("US", "AI") and names written
"=Name", which match their exact case. Han names (kanji, hanzi) match
anywhere, since that text has no spaces between words. A katakana name must not
touch other katakana (メタ is not in メタバース; グーグル is in グーグル・クラウド),
and a hangul name must start a word and end where a particle, a space or
another script does (애플 is in 애플은 and 애플의, not in 애플리케이션). At each
position the longest name wins, and matches never overlap, so a longer name
hides the shorter ones inside it.
Doesn't own: what a match means (`digest.editorial.classify`, `digest.editorial.relevance`).

One Aho-Corasick automaton (ahocorasick-rs) scans the lower-cased text once,
whatever the number of names; boundaries and case are checked afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

from ahocorasick_rs import AhoCorasick, Implementation

T = TypeVar("T")


LATIN, KATAKANA, HANGUL, OTHER = "latin", "katakana", "hangul", "other"

# What may follow a Korean noun inside the same word: case particles, topic and
# additive particles and their usual stacks (삼성전자가, 네이버는, 카카오에서도).
KOREAN_PARTICLES = frozenset(
    {
        "은", "는", "이", "가", "을", "를", "의", "에", "에서", "에게", "께", "께서", "와", "과",
        "도", "로", "으로", "만", "까지", "부터", "보다", "처럼", "이나", "나", "랑", "이랑",
        "하고", "이다", "이며", "이고", "였다", "이었다", "라는", "이라는", "측", "측은", "측이",
        "측의", "에는", "에서는", "에서도", "에도", "와의", "과의", "으로는", "로는", "으로도",
        "로도", "까지는", "부터는", "만의", "만은", "이라고", "라고", "에게는", "의한", "에의",
        "보다는",
    }
)  # fmt: skip


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _is_katakana(ch: str) -> bool:
    # The katakana block with its prolonged sound mark, and half-width katakana;
    # "・" separates words.
    return ("\u30a0" <= ch <= "\u30ff" and ch != "・") or "\uff66" <= ch <= "\uff9f"


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def script_of(text: str) -> str:
    """How a name's edges are checked: LATIN (ASCII), KATAKANA, HANGUL or OTHER."""
    if text.isascii():
        return LATIN
    if all(_is_katakana(ch) or ch == "・" for ch in text):
        return KATAKANA
    if all(_is_hangul(ch) or ch == " " for ch in text):
        return HANGUL
    return OTHER


def _hangul_word_ends(text: str, end: int) -> bool:
    """True when a hangul name ending at `end` ends its word: what follows is not
    hangul, or is a particle running to the end of the word."""
    run = end
    while run < len(text) and _is_hangul(text[run]):
        run += 1
    return run == end or text[end:run] in KOREAN_PARTICLES


def _at_boundary(text: str, start: int, end: int, script: str) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if script == LATIN:
        return not (_is_ascii_word_char(before or " ") or _is_ascii_word_char(after or " "))
    if script == KATAKANA:
        return not (_is_katakana(before or " ") or _is_katakana(after or " "))
    if script == HANGUL:
        return not _is_hangul(before or " ") and _hangul_word_ends(text, end)
    return True


def _automaton(patterns: list[str]) -> AhoCorasick | None:
    # The non-contiguous NFA builds fastest, and finds as fast on headline-sized text.
    if not patterns:
        return None
    return AhoCorasick(patterns, implementation=Implementation.NoncontiguousNFA)


class _Term(NamedTuple, Generic[T]):
    text: str  # as written, without the "=" marker
    value: T
    script: str  # LATIN, KATAKANA, HANGUL or OTHER: how its edges are checked
    exact_case: bool


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
            script = script_of(text)
            exact = exact or (script == LATIN and text.isupper())
            self._terms.append(_Term(text, value, script, exact))
            patterns.append(text.lower())
        self._automaton = _automaton(patterns)

    # A compiled matcher pickles without its automaton (a Rust object) and builds
    # it again on loading: that is the cheap half of compiling 25,000 names.
    def __getstate__(self) -> list[tuple[str, T, str, bool]]:
        return [(t.text, t.value, t.script, t.exact_case) for t in self._terms]

    def __setstate__(self, state: list[tuple[str, T, str, bool]]) -> None:
        self._terms = list(map(_Term._make, state))
        self._automaton = _automaton([t.text.lower() for t in self._terms])

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
            if not _at_boundary(text, start, end, term.script):
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
