"""Which country a story is about.

Owns: the pure decision that maps a story's title and summary (plus its feed's
country hint) to a primary country code and, when a story is truly about two
hubs, a second one. Doesn't own: fetching, storage, or which section a country
goes to (`digest.selection` puts unconfigured countries in Global).

How a story's country is decided
--------------------------------
1. Names are found in the text: country names from CLDR (through Babel) in
   English, Japanese, Chinese (simplified and traditional) and Korean, plus the
   cities, organisations and short forms in `digest/places.toml`, plus the
   `[aliases]` from the user's config. Latin names match whole words only
   ("India" is not in "Indiana"; all-capital acronyms such as "US" match their
   case only); CJK names match anywhere, longest name first (so
   "インドネシア" is Indonesia, not "インド").
2. Every match scores: in the title, 3 for the first mention of a country and
   1 for each repeat, plus 0.5 for the country named first (headlines name
   their subject first: "Kakao opens a Tokyo lab" is Korean news); in the
   summary, 1 per mention.
3. The feed's country hint is a prior: it adds 1 to its country, but only when
   the text mentions that country at all. A story that names no country is
   Global whatever its feed's home.
4. The highest score wins; ties go to the hint, then to the configured order.
   A winner outside the configured countries means the Global section.
5. A second configured country scoring at least 3 (a title mention) or half the
   winner's score is shown as a tag.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ahocorasick_rs import AhoCorasick
from babel import Locale

PLACES_FILE = Path(__file__).with_name("places.toml")
CLDR_LOCALES = ("en", "ja", "zh_Hans", "zh_Hant", "ko")
TITLE_WEIGHT = 3.0
TITLE_REPEAT_WEIGHT = 1.0
SUBJECT_BONUS = 0.5
SUMMARY_WEIGHT = 1.0
HINT_BONUS = 1.0
SECOND_MIN_SCORE = 3.0
SUMMARY_CHARS = 1200  # the lead of a summary says what it is about; long tails add noise

# English CLDR names that are also ordinary words or names of people and states.
AMBIGUOUS_ENGLISH = frozenset(
    {
        "chad",
        "jordan",
        "georgia",
        "turkey",
        "jersey",
        "guernsey",
        "niger",
        "mali",
        "man",
        "guinea",
        "dominica",
        "monaco",
        "panama",
    }
)


@dataclass(frozen=True, slots=True)
class Classification:
    country: str  # ISO code of the primary country; may be outside the configured list
    second: str = ""  # a second configured country worth a tag, or ""
    scores: tuple[tuple[str, float], ...] = ()  # for explaining decisions, best first


@cache
def _cldr_names() -> dict[str, str]:
    """Localized territory name → ISO code, for every 2-letter territory."""
    names: dict[str, str] = {}
    for loc in CLDR_LOCALES:
        for code, name in Locale.parse(loc).territories.items():
            if len(code) != 2 or not code.isalpha() or code in ("ZZ", "EU", "EZ", "UN", "QO"):
                continue
            if loc == "en" and name.lower() in AMBIGUOUS_ENGLISH:
                continue
            names.setdefault(name, code)
    return names


@cache
def _places(path: Path = PLACES_FILE) -> dict[str, tuple[str, ...]]:
    data = tomllib.loads(path.read_text("utf-8"))
    return {code: tuple(table.get("names", ())) for code, table in data.items()}


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class Classifier:
    """Compiled name tables for one configuration. Reuse it for many stories.

    Matching uses one Aho-Corasick automaton over the lower-cased text (linear in
    the text, whatever the number of names); word boundaries and the case of
    acronyms are checked on the original text afterwards.
    """

    def __init__(
        self, countries: Sequence[str], aliases: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self.countries = tuple(countries)
        term_to_code: dict[str, str] = dict(_cldr_names())
        for table in (_places(), aliases or {}):
            for code, names in table.items():
                for name in names:
                    term_to_code[name] = code
        self._terms: list[tuple[str, str, bool, bool]] = []  # term, code, latin, exact case
        patterns: list[str] = []
        for term, code in term_to_code.items():
            term = term.strip()
            if not term or len(term.lower()) != len(term):
                continue
            latin = term.isascii()
            self._terms.append((term, code, latin, latin and term.isupper()))
            patterns.append(term.lower())
        self._automaton = AhoCorasick(patterns)

    def mentions(self, text: str) -> list[str]:
        """Country codes mentioned in `text`, in order, one per mention."""
        lowered = text.lower()
        if len(lowered) != len(text):  # rare: a character whose lower case is longer
            lowered = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
        candidates = []
        for index, start, end in self._automaton.find_matches_as_indexes(lowered, overlapping=True):
            term, code, latin, exact = self._terms[index]
            if exact and text[start:end] != term:
                continue
            if latin and (
                (start > 0 and _is_ascii_word_char(text[start - 1]))
                or (end < len(text) and _is_ascii_word_char(text[end]))
            ):
                continue
            candidates.append((start, -(end - start), end, code))
        # Leftmost-longest, non-overlapping: "インドネシア" is Indonesia, not "インド".
        candidates.sort()
        found, pos = [], 0
        for start, _, end, code in candidates:
            if start >= pos:
                found.append(code)
                pos = end
        return found

    def classify(self, title: str, summary: str = "", hint: str = "") -> Classification:
        scores: dict[str, float] = {}
        in_title = self.mentions(title)
        for code in in_title:
            scores[code] = scores.get(code, 0.0) + (
                TITLE_REPEAT_WEIGHT if code in scores else TITLE_WEIGHT
            )
        if in_title:
            scores[in_title[0]] += SUBJECT_BONUS
        for code in self.mentions(summary[:SUMMARY_CHARS]):
            scores[code] = scores.get(code, 0.0) + SUMMARY_WEIGHT
        if not scores:
            return Classification(country="")
        if hint and hint in scores:
            scores[hint] += HINT_BONUS
        order = {code: i for i, code in enumerate(self.countries)}

        def rank(code: str) -> tuple[float, int, int]:
            return (-scores[code], 0 if code == hint else 1, order.get(code, len(order)))

        ranked = sorted(scores, key=rank)
        primary = ranked[0]
        second = ""
        for code in ranked[1:]:
            if code in order and (
                scores[code] >= SECOND_MIN_SCORE or scores[code] >= scores[primary] / 2
            ):
                second = code
                break
        return Classification(
            country=primary,
            second=second,
            scores=tuple((c, scores[c]) for c in ranked),
        )
