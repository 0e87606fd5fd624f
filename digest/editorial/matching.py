"""Finding listed names in multilingual text.

Owns: the one matching engine for lists of names (countries, organisations,
topic keywords) in mixed CJK and Latin text. Latin names match whole words
only and ignore case, except all-capital names ("US", "AI") and names written
"=Name", which match their exact case. Han names (kanji, hanzi) match
anywhere, since that text has no spaces between words. A katakana name must not
touch other katakana (メタ is not in メタバース; グーグル is in グーグル・クラウド),
and a hangul name must start a word and end where a particle, a space or
another script does, or a noun Korean joins to it (애플 is in 애플은, 애플의 and
애플측, 미국 in 미국시장, not 애플 in 애플리케이션). A Han name that starts with a
multiplier (万, 亿, 兆...) does not match right after a number: "10万科学家"
names no 万科. At each position the longest name wins, and matches never
overlap, so a longer name hides the shorter ones inside it.
Doesn't own: what a match means (`digest.editorial.classify`, `digest.editorial.relevance`).

One Aho-Corasick automaton (pyahocorasick) scans the lower-cased text once,
whatever the number of names; boundaries and case are checked afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

import ahocorasick

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


_MULTIPLIERS = frozenset("十百千万萬亿億兆")
_CJK_NUMERALS = frozenset("〇零一二两兩三四五六七八九十百千")


# Nouns Korean writes joined to the name before them, without a space.
KOREAN_BOUND_NOUNS = (
    "시장",
    "정부",
    "기업",
    "증시",
    "법인",
    "당국",
    "산",
    "측",
    "내",
    "발",
    "행",
    "인",
)


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
    rest = text[end:run]
    if run == end or rest in KOREAN_PARTICLES:
        return True
    # A place or actor joined to the noun it qualifies: 미국시장, 중국정부, 삼성전자측.
    for suffix in KOREAN_BOUND_NOUNS:
        if rest.startswith(suffix):
            after = rest[len(suffix) :]
            return not after or after in KOREAN_PARTICLES
    return False


def _at_boundary(text: str, start: int, end: int, script: str) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if script == LATIN:
        return not (_is_ascii_word_char(before or " ") or _is_ascii_word_char(after or " "))
    if script == KATAKANA:
        return not (_is_katakana(before or " ") or _is_katakana(after or " "))
    if script == HANGUL:
        return not _is_hangul(before or " ") and _hangul_word_ends(text, end)
    # After a number, 万, 億/亿, 兆 or 千 multiply it: "10万科学家" is 100,000
    # scientists, not Vanke (万科); "3千万台" names no 千万.
    return not (text[start] in _MULTIPLIERS and (before.isdigit() or before in _CJK_NUMERALS))


class TermMatcher(Generic[T]):
    """Compiled (name, value) pairs; `find(text)` gives the values matched, in order.

    Pickles whole, automaton included (pyahocorasick's C automaton pickles), as
    flat lists: reading 25,000 compiled names back costs a fraction of compiling them.
    """

    def __init__(self, pairs: Iterable[tuple[str, T]]) -> None:
        # One entry per name, in parallel lists (cheap to pickle and to load).
        self._texts: list[str] = []  # as written, without the "=" marker
        self._values: list[T] = []
        self._scripts: list[str] = []  # LATIN, KATAKANA, HANGUL or OTHER: how edges are checked
        self._exact: list[bool] = []
        by_pattern: dict[str, list[int]] = {}
        for written, value in pairs:
            exact = written.startswith("=")
            text = written[1:].strip() if exact else written.strip()
            # Lower-casing must keep positions: skip the rare name whose length changes.
            if not text or len(text.lower()) != len(text):
                continue
            script = script_of(text)
            by_pattern.setdefault(text.lower(), []).append(len(self._texts))
            self._texts.append(text)
            self._values.append(value)
            self._scripts.append(script)
            self._exact.append(exact or (script == LATIN and text.isupper()))
        # One pattern may stand for several names: "=vivo", "=Vivo", "=VIVO". The
        # automaton stores ints (compact, fast to pickle): pattern number → names.
        self._patterns: list[tuple[int, tuple[int, ...]]] = []
        self._automaton: ahocorasick.Automaton | None = None
        if by_pattern:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
            for pattern, indexes in by_pattern.items():
                automaton.add_word(pattern, len(self._patterns))
                self._patterns.append((len(pattern), tuple(indexes)))
            automaton.make_automaton()
            self._automaton = automaton

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
        texts, scripts, exact = self._texts, self._scripts, self._exact
        candidates = []
        patterns = self._patterns
        for last, number in self._automaton.iter(lowered):
            length, indexes = patterns[number]
            end = last + 1
            start = end - length
            for index in indexes:
                if exact[index] and text[start:end] != texts[index]:
                    continue
                if not _at_boundary(text, start, end, scripts[index]):
                    continue
                candidates.append((start, -length, end, index))
        candidates.sort()
        found: list[tuple[int, int, T]] = []
        pos = 0
        values = self._values
        for start, _, end, index in candidates:
            if start >= pos:
                found.append((start, end, values[index]))
                pos = end
        return found
