"""Which country a story is about.

Owns: the pure decision that maps a story's title and summary (plus its feed's
country hint) to a primary country code and, when a story is truly about two
hubs, a second one; and reading the places data file it needs. Doesn't own:
fetching, storage, or which section a country goes to (`digest.editorial.selection` puts
countries outside the configured list in Global).

How a story's country is decided
--------------------------------
1. Names are found in the text: country names from CLDR (through Babel) in
   English, Japanese, Chinese (simplified and traditional), Korean and Arabic; the
   places, organisations, people and short forms of `config/places.toml`; and
   the `[aliases]` of the user's config. Latin names match whole words only
   ("India" is not in "Indiana"); all-capital acronyms ("US") and names written
   "=Name" match their case only; CJK names match anywhere; Arabic names match
   words, with their joined prefixes and endings (والصين, الصينية; see
   `digest.editorial.matching`). At each position the
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
5. The highest score wins; ties go to the hint when the title names it (or
   the feed is local), then to the country named first, then to the
   configured order: a tie on the summary's mentions alone says nothing of the
   feed's home. A winner outside the configured countries (the US, say) means
   the Global section.
6. A second configured country mentioned in the title (or scoring half the
   winner's score, at least 2) is kept as a tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

import babel
from babel import Locale

from digest import __version__, bundled
from digest.editorial.entities import Entity, load_entities
from digest.editorial.matching import TermMatcher

CLDR_LOCALES = ("en", "ja", "zh_Hans", "zh_Hant", "ko", "ar")
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
LOCAL_PRIOR = 3.0  # a local feed's country: beats summary-only evidence, not a title mention

# A product or model is what a story is about more often than who: "ChatGPT
# arrives in Korea", "iPhone 17 の国内価格" are Korean and Japanese news. Its
# maker's country counts, but a third as much as a company, agency or person.
OBJECT_KINDS = frozenset({"product", "model"})
OBJECT_SHARE = 1 / 3
# A local feed that names a company or product of its own country is mostly a
# company speaking of itself (OpenAI's blog names OpenAI and ChatGPT in every
# post): the local prior stands for that, and its customers and partners are the
# news. A city's news naming its own places and officials still counts.
SELF_KINDS = frozenset({"company", "product", "model"})
COUNTRY_KIND = "country"  # CLDR names, places.toml and [aliases]: they name a country
# Less than this is no country: one product named in passing ("the TikTok
# alternative"), one summary mention of a place. The story is Global.
MIN_SCORE = 1.0

# English CLDR names that are also ordinary words or names of people and states.
AMBIGUOUS_ENGLISH = frozenset(
    {
        "chad", "jordan", "georgia", "turkey", "jersey", "guernsey", "niger", "mali", "man",
        "guinea", "dominica", "monaco", "panama",
    }
)  # fmt: skip
# Arabic CLDR names that are also common words: مالي (Mali) is "financial",
# بنين (Benin) "boys".
AMBIGUOUS_ARABIC = frozenset({"مالي", "بنين"})


@dataclass(frozen=True, slots=True)
class Places:
    """The names of the places data file: code → names, plus neutral names."""

    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    neutral: tuple[str, ...] = ()
    domestic: tuple[str, ...] = ()  # "国内", "국내": the country of the feed using them


class Name(NamedTuple):
    """What a listed name stands for."""

    code: str  # ISO code of its country; NEUTRAL or DOMESTIC for the special words
    key: str  # canonical: an entity id, "country:KR", else the name case-folded
    kind: str  # COUNTRY_KIND or an entity kind (company, product, model, person ...)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One name found in a story, and the points it gave its country."""

    text: str  # as written in the story
    key: str  # the entity id or "country:KR"
    kind: str
    country: str
    where: str  # "title" or "summary"
    points: float


@dataclass(frozen=True, slots=True)
class Classification:
    country: str  # ISO code of the primary country; may be outside the configured list
    second: str = ""  # a second configured country worth a tag, or ""
    scores: tuple[tuple[str, float], ...] = ()  # for explaining decisions, best first
    evidence: tuple[Evidence, ...] = ()  # the names behind the scores, in reading order
    reason: str = ""  # one line: why the winner won


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
            if loc == "ar" and name in AMBIGUOUS_ARABIC:
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


def default_entities() -> tuple[Entity, ...]:
    """digest's own knowledge base (config/entities/*.tsv)."""
    return load_entities(bundled.ENTITIES_DIR)


def _usable_entity_name(name: str) -> bool:
    """Short Latin names of a knowledge base of thousands are mostly noise: "=LG",
    "SK", "A3" and "5G" name many things; places.toml and [aliases] may still list them."""
    text = name.removeprefix("=").strip()
    if not text.isascii():
        return True
    if len(text) <= 2:
        return False
    return not (len(text) == 3 and any(ch.isdigit() for ch in text))


CACHE_PREFIX = "names-"
CACHE_FORMAT = 3  # bump when the compiled form (TermMatcher, Name) changes shape


def _cache_key(aliases: Mapping[str, Iterable[str]], files: Iterable[Path]) -> str:
    stats = []
    for path in files:
        stat = path.stat()
        stats.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    payload = json.dumps(
        [
            CACHE_FORMAT,
            __version__,
            babel.__version__,
            stats,
            sorted((k, list(v)) for k, v in aliases.items()),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _write_cache(path: Path, data: bytes) -> None:
    """Best effort: a cache that cannot be written costs a rebuild next time, no more."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"{CACHE_PREFIX}*.pickle"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass


def split_title(title: str) -> tuple[str, str]:
    """(the first story of a title, the rest)."""
    for sep in STORY_SEPARATORS:
        head, found, rest = title.partition(sep)
        if found and head.strip():
            return head, rest
    return title, ""


def _name_table(
    places: Places,
    aliases: Mapping[str, Iterable[str]],
    entities: Iterable[Entity],
) -> list[tuple[str, Name]]:
    """Every listed name (as written, "=Name" for exact case) and what it stands
    for. Later tables win a name, whatever its case marker: CLDR, then places.toml,
    then the knowledge base (digest's rows, then the user's entities.tsv), then the
    user's [aliases]; neutral and domestic words last. A places or alias name that
    gives an entity's own country keeps the entity's id, so 三星 and Samsung stay
    one actor."""
    # lower-cased text → (table rank, [(as written, meaning)]): a later table
    # replaces every case variant of an earlier one, variants of one table stay
    # ("=vivo | =Vivo | =VIVO").
    table: dict[str, tuple[int, list[tuple[str, Name]]]] = {}

    # One Name object per meaning: 25,000 names share 7,000 meanings, and the
    # compiled cache then pickles (and loads) each meaning once.
    meanings: dict[Name, Name] = {}

    def put(rank: int, written: str, name: Name) -> None:
        name = meanings.setdefault(name, name)
        text = written.removeprefix("=").strip().lower()
        known = table.get(text)
        if known is None or known[0] != rank:
            table[text] = (rank, [(written, name)])
        else:
            known[1].append((written, name))

    def add_places(rank: int, source: Mapping[str, Iterable[str]]) -> None:
        for code, names in source.items():
            for written in names:
                text = written.removeprefix("=").strip()
                known = table.get(text.lower())
                if known is None or known[1][0][1].code != code:
                    put(rank, written, Name(code, text.casefold(), COUNTRY_KIND))

    for written, code in _cldr_names().items():
        put(0, written, Name(code, f"country:{code}", COUNTRY_KIND))
    add_places(1, places.names)
    for entity in entities:
        for written in entity.names:
            if _usable_entity_name(written):
                put(2, written, Name(entity.country, entity.id, entity.kind))
    add_places(3, aliases)
    for written in places.neutral:
        put(4, written, Name(NEUTRAL, "", ""))
    for written in places.domestic:
        put(4, written, Name(DOMESTIC, "", ""))
    return [pair for _, pairs in table.values() for pair in pairs]


class Classifier:
    """Compiled name tables for one configuration. Reuse it for many stories.

    Name matching is `digest.editorial.matching.TermMatcher`: one pass over the text,
    whatever the number of names. `Classifier.from_files` reads the data files and
    keeps the compiled names in a cache folder for the next run.
    """

    def __init__(
        self,
        countries: Sequence[str],
        aliases: Mapping[str, Iterable[str]] | None = None,
        places: Places | None = None,
        entities: Iterable[Entity] | None = None,
        *,
        matcher: TermMatcher[Name] | None = None,
    ) -> None:
        self.countries = tuple(countries)
        if matcher is None:
            table = _name_table(
                places if places is not None else load_places(),
                aliases or {},
                default_entities() if entities is None else entities,
            )
            matcher = TermMatcher(table)
        self._matcher = matcher

    @classmethod
    def from_files(
        cls,
        countries: Sequence[str],
        aliases: Mapping[str, Iterable[str]],
        places_file: Path,
        entities_dir: Path = bundled.ENTITIES_DIR,
        user_entities: Path | None = None,
        cache_dir: Path | None = None,
    ) -> Classifier:
        """A classifier for these data files. With `cache_dir`, the compiled names
        are kept there (one pickle, named by a hash of the files' paths, sizes and
        times, the aliases and digest's version) and read back while nothing
        changed: 25,000 names cost a build once, not on every run."""
        files = [places_file, *sorted(entities_dir.glob("*.tsv"))]
        if user_entities is not None:
            files.append(user_entities)
        key = _cache_key(aliases, files)
        cached = cache_dir / f"{CACHE_PREFIX}{key}.pickle" if cache_dir else None
        if cached is not None:
            try:
                matcher = pickle.loads(cached.read_bytes())
            except FileNotFoundError:
                pass
            except Exception:  # a torn or foreign file: build afresh, and replace it
                cached.unlink(missing_ok=True)
            else:
                if isinstance(matcher, TermMatcher):
                    return cls(countries, matcher=matcher)
        entities = load_entities(entities_dir, [user_entities] if user_entities else [])
        built = cls(countries, aliases, load_places(places_file), entities)
        if cached is not None:
            _write_cache(cached, pickle.dumps(built._matcher, protocol=pickle.HIGHEST_PROTOCOL))
        return built

    def _found(self, text: str) -> list[tuple[str, Name]]:
        return [(text[start:end], name) for start, end, name in self._matcher.spans(text)]

    def mentions(self, text: str) -> list[str]:
        """Country codes named in `text`, in order, one per mention (neutral names
        hide what is inside them and name nothing; domestic words give DOMESTIC)."""
        return [name.code for _, name in self._found(text) if name.code != NEUTRAL]

    def names(self, title: str) -> frozenset[str]:
        """The canonical keys of the actors, places and products a title's first
        story names: Apple, 苹果, 애플 and アップル are one key.

        Two reports of one event name the same actors; near-duplicate matching
        uses this to keep "Samsung opens a lab in Seoul" apart from "Naver opens
        a lab in Tokyo".
        """
        head, _ = split_title(title)
        return frozenset(
            name.key for _, name in self._found(head) if name.code not in (NEUTRAL, DOMESTIC)
        )

    def keys(self, text: str) -> frozenset[str]:
        """The canonical ids of the knowledge-base entities `text` names (not
        countries or places.toml names): who acts, in any script."""
        return frozenset(name.key for _, name in self._found(text) if "/" in name.key)

    def classify(
        self, title: str, summary: str = "", hint: str = "", *, local: bool = False
    ) -> Classification:
        """Decide a story's country. `hint` is its feed's country; `local` says the
        feed reports local news, so that stories naming no country are about `hint`."""
        head, rest = split_title(title)
        evidence: list[Evidence] = []
        scores: dict[str, float] = {}
        first_seen: dict[str, int] = {}
        subject, subject_share = "", 1.0
        domestic_in_title = 0
        for text, name in self._found(head):
            if name.code == NEUTRAL:
                continue
            if name.code == DOMESTIC:
                domestic_in_title += 1 if hint else 0
                continue
            if local and name.code == hint and name.kind in SELF_KINDS:
                evidence.append(Evidence(text, name.key, name.kind, name.code, "title", 0.0))
                continue
            # The subject of a headline stands for its maker, whatever its kind:
            # "萝卜快跑 goes driverless in Hong Kong" is Baidu's news. Not on a
            # local feed: its own news is the rule, and only another country's
            # actor or place in the title overrides it, not a product it writes about.
            subject_here = not subject and not local
            share = OBJECT_SHARE if name.kind in OBJECT_KINDS and not subject_here else 1.0
            if name.code in scores:
                # A repeat confirms; a stronger kind of name lifts the first mention.
                points = TITLE_REPEAT_WEIGHT * share
                earlier = max(
                    e.points for e in evidence if e.country == name.code and e.where == "title"
                )
                lift = max(0.0, TITLE_WEIGHT * share - earlier)
                points = max(points, lift)
            else:
                points = TITLE_WEIGHT * share
            if not subject:
                subject, subject_share = name.code, share
            evidence.append(Evidence(text, name.key, name.kind, name.code, "title", points))
            scores[name.code] = scores.get(name.code, 0.0) + points
            first_seen.setdefault(name.code, len(first_seen))
        if subject:
            scores[subject] += SUBJECT_BONUS * subject_share
        if domestic_in_title:
            # "国内" says where, weakly; it is never the subject the way a name is.
            scores[hint] = scores.get(hint, 0.0) + TITLE_REPEAT_WEIGHT * domestic_in_title
            first_seen.setdefault(hint, len(first_seen))
            points = TITLE_REPEAT_WEIGHT * domestic_in_title
            evidence.append(
                Evidence("(domestic word)", f"country:{hint}", COUNTRY_KIND, hint, "title", points)
            )
        from_summary: dict[str, float] = {}
        seen_in_summary: set[str] = set()
        for text, name in self._found(rest + "\n" + summary[:SUMMARY_CHARS]):
            # Each actor counts once: a summary that says "Microsoft" and then
            # "마이크로소프트" names one company, not two pieces of evidence.
            if name.key and name.key in seen_in_summary:
                continue
            seen_in_summary.add(name.key)
            code = name.code
            if code == NEUTRAL or (code == DOMESTIC and not hint):
                continue
            if code == DOMESTIC:
                code = hint
            if local and code == hint and name.kind in SELF_KINDS:
                continue  # the feed speaking of itself, as in the title
            share = OBJECT_SHARE if name.kind in OBJECT_KINDS else 1.0
            before = from_summary.get(code, 0.0)
            from_summary[code] = min(SUMMARY_CAP, before + SUMMARY_WEIGHT * share)
            if from_summary[code] > before:
                evidence.append(
                    Evidence(
                        text, name.key, name.kind, code, "summary", from_summary[code] - before
                    )
                )
            first_seen.setdefault(code, len(first_seen))
        for code, points in from_summary.items():
            scores[code] = scores.get(code, 0.0) + points
        if hint and (local or hint in {e.country for e in evidence if e.where == "title"}):
            prior = LOCAL_PRIOR if local else HINT_PRIOR
            scores[hint] = scores.get(hint, 0.0) + prior
            first_seen.setdefault(hint, len(first_seen))
            kind = "local" if local else "hint"
            evidence.append(Evidence("(feed)", f"country:{hint}", kind, hint, "feed", prior))
        if not scores or max(scores.values()) < MIN_SCORE:
            return Classification(
                country="",
                scores=tuple(sorted(scores.items(), key=lambda cs: -cs[1])),
                evidence=tuple(evidence),
                reason="no country is named enough: a passing mention is not a subject",
            )
        titled = {e.country for e in evidence if e.where == "title"}
        order = {code: i for i, code in enumerate(self.countries)}

        # The feed's country breaks a tie only where the title names it (or the
        # feed is local): two countries tied on the summary's mentions say nothing
        # of the feed's home, and Chinese AI media cover the world.
        tie_hint = hint if local or hint in titled else ""

        def rank(code: str) -> tuple[float, int, int, int]:
            return (-scores[code], 0 if code == tie_hint else 1, first_seen[code],
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
            evidence=tuple(evidence),
            reason=_reason(primary, ranked, scores, tie_hint, subject),
        )


def _reason(
    primary: str, ranked: list[str], scores: Mapping[str, float], hint: str, subject: str
) -> str:
    """Why `primary` won, in the words an editor uses."""
    if len(ranked) == 1:
        return f"{primary} is the only country named"
    runner = ranked[1]
    if scores[primary] > scores[runner]:
        return f"{primary} scores {scores[primary]:.3g}, ahead of {runner} ({scores[runner]:.3g})"
    if primary == hint:
        return f"{primary} ties with {runner} at {scores[primary]:.3g}; the feed's country wins"
    if primary == subject:
        return f"{primary} ties with {runner} at {scores[primary]:.3g}; it is named first"
    return f"{primary} ties with {runner} at {scores[primary]:.3g}; it comes first"
