"""Which country a story is about.

Owns: the pure decision that maps a story's title and summary (plus its feed's
country hint) to a primary country code and, when a story is truly about two
hubs, a second one; and reading the places data file it needs. Doesn't own:
fetching, storage, or which section a country goes to (`digest.editorial.selection` puts
countries outside the configured list in Global).

How a story's country is decided
--------------------------------
1. Names are found in the text: country names from CLDR (through Babel) in
   English, Japanese, Chinese (simplified and traditional) and Korean; the
   places, organisations, people and short forms of `config/places.toml`; and
   the `[aliases]` of the user's config. Latin names match whole words only
   ("India" is not in "Indiana"); all-capital acronyms ("US") and names written
   "=Name" match their case only; CJK names match anywhere. At each position the
   longest name wins ("インドネシア" is Indonesia, not "インド"), and neutral
   names ("日本語", "美元") hide the country names inside them.
2. Only the first story of a title counts as the title: "A；B；C" digests (one
   item, several stories) are about A; B and C are read like the summary.
3. Scores. In the title, a country's first mention scores 3 and each repeat 1,
   and the country named first gets 0.5 more: headlines name their subject
   first ("Kakao opens a Tokyo lab" is Korean news). In the summary, each
   mention scores 1, at most 2 per country: the title says what a story is
   about; a long summary that mentions China five times as background does not
   outvote it.
4. The feed's `country` hint is a prior: +1 to that country when the text names
   it. "Domestic" words (国内, 국내, 我国) name the hint country, weakly: 1 in a
   title, never the subject ("三星…进入国内市场" is Samsung news). A feed marked
   `local = true` (a city's news, a company's own blog) gives its country 2.5
   even unnamed: its stories that name no country are local, and a summary's
   passing mention of elsewhere does not move them; a title naming another
   country (3) still wins: a Chinese-language feed writing about Korea is Korea.
   Without `local`, a story that names no country is Global, whatever its
   feed's home: Chinese AI media cover the world.
5. The highest score wins; ties go to the hint, then to the country named
   first, then to the configured order. A winner outside the configured
   countries (the US, say) means the Global section.
6. A second configured country mentioned in the title (or scoring half the
   winner's score, at least 2) is kept as a tag.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from babel import Locale

from digest import bundled
from digest.editorial.matching import TermMatcher

CLDR_LOCALES = ("en", "ja", "zh_Hans", "zh_Hant", "ko")
TITLE_WEIGHT = 3.0
TITLE_REPEAT_WEIGHT = 1.0
SUBJECT_BONUS = 0.5
SUMMARY_WEIGHT = 1.0
SUMMARY_CAP = 2.0  # per country
HINT_PRIOR = 1.0
SECOND_MIN_SCORE = 2.0
SUMMARY_CHARS = 1200  # the lead of a summary says what it is about; long tails add noise
STORY_SEPARATORS = ("；", ";")  # "A；B；C": several stories in one item's title
NEUTRAL = ""  # the code of names that name no country
DOMESTIC = "*"  # the code of names that name the feed's own country
LOCAL_PRIOR = 2.5  # a local feed's country: beats summary-only evidence, not a title mention

# English CLDR names that are also ordinary words or names of people and states.
AMBIGUOUS_ENGLISH = frozenset(
    {
        "chad", "jordan", "georgia", "turkey", "jersey", "guernsey", "niger", "mali", "man",
        "guinea", "dominica", "monaco", "panama",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Places:
    """The names of the places data file: code → names, plus neutral names."""

    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    neutral: tuple[str, ...] = ()
    domestic: tuple[str, ...] = ()  # "国内", "국내": the country of the feed using them


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
def load_places(path: Path = bundled.PLACES_FILE) -> Places:
    """Read a places file (see config/places.toml for the format)."""
    data = tomllib.loads(path.read_text("utf-8"))
    neutral = tuple(data.pop("neutral", {}).get("names", ()))
    domestic = tuple(data.pop("domestic", {}).get("names", ()))
    names = {code.upper(): tuple(table.get("names", ())) for code, table in data.items()}
    return Places(names=names, neutral=neutral, domestic=domestic)


def split_title(title: str) -> tuple[str, str]:
    """(the first story of a title, the rest)."""
    for sep in STORY_SEPARATORS:
        head, found, rest = title.partition(sep)
        if found and head.strip():
            return head, rest
    return title, ""


class Classifier:
    """Compiled name tables for one configuration. Reuse it for many stories.

    Name matching is `digest.editorial.matching.TermMatcher`: one pass over the text,
    whatever the number of names.
    """

    def __init__(
        self,
        countries: Sequence[str],
        aliases: Mapping[str, Iterable[str]] | None = None,
        places: Places | None = None,
    ) -> None:
        self.countries = tuple(countries)
        places = places if places is not None else load_places()
        raw: dict[str, str] = dict(_cldr_names())
        for table in (places.names, aliases or {}):
            for code, names in table.items():
                for name in names:
                    raw[name] = code
        for name in places.neutral:
            raw[name] = NEUTRAL
        for name in places.domestic:
            raw[name] = DOMESTIC
        self._matcher = TermMatcher(raw.items())

    def mentions(self, text: str) -> list[str]:
        """Country codes named in `text`, in order, one per mention (neutral names
        hide what is inside them and name nothing; domestic words give DOMESTIC)."""
        return [code for code in self._matcher.find(text) if code != NEUTRAL]

    def names(self, title: str) -> frozenset[str]:
        """The places, organisations and people a title's first story names, case-folded.

        Two reports of one event name the same actors; near-duplicate matching
        uses this to keep "Samsung opens a lab in Seoul" apart from "Naver opens
        a lab in Tokyo".
        """
        head, _ = split_title(title)
        return frozenset(
            head[start:end].casefold()
            for start, end, code in self._matcher.spans(head)
            if code not in (NEUTRAL, DOMESTIC)
        )

    def classify(
        self, title: str, summary: str = "", hint: str = "", *, local: bool = False
    ) -> Classification:
        """Decide a story's country. `hint` is its feed's country; `local` says the
        feed reports local news, so that stories naming no country are about `hint`."""
        head, rest = split_title(title)
        named_in_title = self.mentions(head)
        domestic_in_title = named_in_title.count(DOMESTIC) if hint else 0
        in_title = [c for c in named_in_title if c != DOMESTIC]
        in_summary = [
            hint if c == DOMESTIC else c
            for c in self.mentions(rest + "\n" + summary[:SUMMARY_CHARS])
            if c != DOMESTIC or hint
        ]
        scores: dict[str, float] = {}
        first_seen: dict[str, int] = {}
        for i, code in enumerate(in_title):
            scores[code] = scores.get(code, 0.0) + (
                TITLE_REPEAT_WEIGHT if code in scores else TITLE_WEIGHT
            )
            first_seen.setdefault(code, i)
        if in_title:
            scores[in_title[0]] += SUBJECT_BONUS
        if domestic_in_title:
            # "国内" says where, weakly; it is never the subject the way a name is.
            scores[hint] = scores.get(hint, 0.0) + TITLE_REPEAT_WEIGHT * domestic_in_title
            first_seen.setdefault(hint, len(in_title))
        from_summary: dict[str, float] = {}
        for i, code in enumerate(in_summary):
            from_summary[code] = min(SUMMARY_CAP, from_summary.get(code, 0.0) + SUMMARY_WEIGHT)
            first_seen.setdefault(code, len(in_title) + i)
        for code, points in from_summary.items():
            scores[code] = scores.get(code, 0.0) + points
        if hint and (local or hint in scores):
            scores[hint] = scores.get(hint, 0.0) + (LOCAL_PRIOR if local else HINT_PRIOR)
            first_seen.setdefault(hint, len(in_title) + len(in_summary))
        titled = set(in_title)
        if not scores:
            return Classification(country="")
        order = {code: i for i, code in enumerate(self.countries)}

        def rank(code: str) -> tuple[float, int, int, int]:
            return (-scores[code], 0 if code == hint else 1, first_seen[code],
                    order.get(code, len(order)))  # fmt: skip

        ranked = sorted(scores, key=rank)
        primary = ranked[0]
        second = ""
        for code in ranked[1:]:
            if code in order and (
                code in titled or scores[code] >= max(SECOND_MIN_SCORE, scores[primary] / 2)
            ):
                second = code
                break
        return Classification(
            country=primary,
            second=second,
            scores=tuple((c, scores[c]) for c in ranked),
        )
