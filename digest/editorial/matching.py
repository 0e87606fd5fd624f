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
names no 万科. An Arabic-script name is a word whose clitics may stick to it:
before it only the conjunctions, prepositions and article Arabic writes joined
(و ف ب ك ل, ال, and their stacks: والصين, بالصين, للصين), after it only a
relative adjective's endings (ي ية يون يين يات: الصينية, الإماراتي) or an
attached pronoun (ها هم ...). So مصر is not in مصرف (bank) and is in المصري.
A name written "=Name" in Arabic script takes the prefixes but no ending:
"=الرياض" (Riyadh) is not الرياضية (sports). Arabic text and names are folded
alike before matching: diacritics and tatweel dropped, أ إ آ ٱ read as ا, ى as
ي; spans still point into the text as given. At each position the longest name
wins, and matches never overlap, so a longer name hides the shorter ones inside it.
Doesn't own: what a match means (`digest.editorial.classify`, `digest.editorial.relevance`).

One Aho-Corasick automaton (pyahocorasick) scans the lower-cased text once,
whatever the number of names; boundaries and case are checked afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

import ahocorasick

T = TypeVar("T")


LATIN, KATAKANA, HANGUL, ARABIC, OTHER = "latin", "katakana", "hangul", "arabic", "other"
# An article name after the preposition ل, which swallows the article's alef:
# ل + الصين is written للصين. Compiled as the name without its alef ("لصين").
_ARABIC_LAM = "arabic-lam"

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


# Arabic writes conjunctions (و ف), prepositions (ب ك ل) and the article (ال)
# joined to the next word, stacked in this order; ل + ال contracts to لل.
ARABIC_PREFIXES = frozenset(
    conj + prep + art
    for conj in ("", "و", "ف")
    for prep in ("", "ب", "ك", "ل")
    for art in ("", "ال")
    if not (prep == "ل" and art)
) | {conj + "لل" for conj in ("", "و", "ف")}
# Before the article-less form of an article name (see _ARABIC_LAM): the ل that
# contracted with its article, after an optional conjunction.
ARABIC_LAM_PREFIXES = frozenset({"ل", "ول", "فل"})
# What may end the word after a name: a relative adjective's endings (الصيني,
# الصينية, الإماراتيون; ياً is يا once folded), attached pronouns, and the alef
# of an indefinite accusative (روبوتاً, نموذجاً).
_NISBA = ("ي", "ية", "يه", "يون", "يين", "يات", "يا")
_PRONOUNS = ("ه", "ها", "هم", "هما", "هن", "ك", "كم", "نا")
ARABIC_SUFFIXES = frozenset({"", "ا", *_NISBA, *_PRONOUNS})
# A name that is itself an adjective in ي takes the endings without their ي:
# سعودي → سعودية, سعوديون.
ARABIC_SUFFIXES_AFTER_YA = ARABIC_SUFFIXES | {ending[1:] for ending in _NISBA if len(ending) > 1}

# Folding: what Arabic text writes one way or another. Harakat (U+064B-065F),
# the dagger alef and Quranic marks are optional vowels; tatweel (U+0640)
# stretches a word for looks. Hamza on or under an alef, madda and wasla are
# often left off; final ى (alef maqsura) is often written ي and back; Persian
# keyboards type ی and ک for ي and ك.
_ARABIC_DROPPED = (
    "\u0640"
    + "".join(map(chr, range(0x064B, 0x0660)))
    + "\u0670"
    + "".join(map(chr, range(0x06D6, 0x06EE)))
)
_ARABIC_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك"}
    | dict.fromkeys(_ARABIC_DROPPED, None)
)
# The Arabic blocks: Arabic, Arabic Supplement, Arabic Extended-A.
_ARABIC_BLOCKS = "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff"
_ARABIC_CHAR = re.compile(f"[{_ARABIC_BLOCKS}]")


def _is_arabic(ch: str) -> bool:
    return _ARABIC_CHAR.match(ch) is not None


def _is_arabic_letter(ch: str) -> bool:
    return _is_arabic(ch) and ch.isalpha()


def fold_arabic(text: str) -> tuple[str, list[int] | None]:
    """`text` with its Arabic folded (see _ARABIC_FOLD), and where each of its
    characters was in `text`, or None when none was dropped (same positions)."""
    folded = text.translate(_ARABIC_FOLD)
    if len(folded) == len(text):
        return folded, None
    dropped = frozenset(_ARABIC_DROPPED)
    return folded, [i for i, ch in enumerate(text) if ch not in dropped]


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _is_katakana(ch: str) -> bool:
    # The katakana block with its prolonged sound mark, and half-width katakana;
    # "・" separates words.
    return ("\u30a0" <= ch <= "\u30ff" and ch != "・") or "\uff66" <= ch <= "\uff9f"


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3" or "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f"


def script_of(text: str) -> str:
    """How a name's edges are checked: LATIN (ASCII), KATAKANA, HANGUL, ARABIC or OTHER."""
    if text.isascii():
        return LATIN
    if all(_is_katakana(ch) or ch == "・" for ch in text):
        return KATAKANA
    if all(_is_hangul(ch) or ch == " " for ch in text):
        return HANGUL
    if all(_is_arabic(ch) or ch == " " for ch in text):
        return ARABIC
    return OTHER


def _arabic_word_fits(
    text: str, start: int, end: int, prefixes: frozenset[str], ending: bool
) -> bool:
    """True when the Arabic letters joined before `start` are one of `prefixes`
    and those joined after `end` are an allowed ending (none unless `ending`)."""
    head = start
    while head > 0 and _is_arabic_letter(text[head - 1]):
        head -= 1
        if start - head > 4:  # longer than any prefix stack: inside another word
            return False
    if text[head:start] not in prefixes:
        return False
    tail = end
    while tail < len(text) and _is_arabic_letter(text[tail]):
        tail += 1
        if tail - end > 3:
            return False
    if not ending:
        return tail == end
    allowed = ARABIC_SUFFIXES_AFTER_YA if text[end - 1] == "ي" else ARABIC_SUFFIXES
    return text[end:tail] in allowed


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


def _at_boundary(text: str, start: int, end: int, script: str, exact: bool = False) -> bool:
    if script == ARABIC:
        return _arabic_word_fits(text, start, end, ARABIC_PREFIXES, not exact)
    if script == _ARABIC_LAM:
        return _arabic_word_fits(text, start, end, ARABIC_LAM_PREFIXES, not exact)
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
        self._scripts: list[str] = []  # LATIN, KATAKANA, HANGUL, ARABIC...: how edges are checked
        self._exact: list[bool] = []
        self._arabic = False  # any Arabic-script name: then Arabic text is folded first
        by_pattern: dict[str, list[int]] = {}

        def add(text: str, value: T, script: str, exact: bool) -> None:
            by_pattern.setdefault(text.lower(), []).append(len(self._texts))
            self._texts.append(text)
            self._values.append(value)
            self._scripts.append(script)
            self._exact.append(exact)

        for written, value in pairs:
            exact = written.startswith("=")
            text = written[1:].strip() if exact else written.strip()
            # Lower-casing must keep positions: skip the rare name whose length changes.
            if not text or len(text.lower()) != len(text):
                continue
            script = script_of(text)
            if script == ARABIC:
                self._arabic = True
                folded = fold_arabic(text)[0]
                if folded.strip():
                    add(folded, value, script, exact)
                    # ل + ال is written لل: الصين is in للصين as "لصين".
                    if text.startswith("ال") and len(folded) > 3:
                        add(folded[1:], value, _ARABIC_LAM, exact)
                continue
            add(text, value, script, exact or (script == LATIN and text.isupper()))
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
        given, positions = text, None
        if self._arabic and _ARABIC_CHAR.search(text):
            # Folding keeps lower-cased and original text aligned: it maps or drops
            # Arabic characters only, which have no case.
            text, positions = fold_arabic(text)
            lowered = lowered.translate(_ARABIC_FOLD)
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
                if not _at_boundary(text, start, end, scripts[index], exact[index]):
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
        if positions is not None:
            # Back to the text as given; a name's span keeps the marks on its last letter.
            ends = [*positions[1:], len(given)]
            found = [(positions[start], ends[end - 1], value) for start, end, value in found]
        return found
