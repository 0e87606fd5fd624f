"""Near-duplicate stories: which posts report the same event.

Owns: the pure decision of which posts are one story (`cluster`), and the score
behind it (`similarity`, `Batch.score`). Takes plain `Doc`s; no I/O, no clock,
no knowledge of feeds beyond the opaque `source` string.
Doesn't own: which post of a group is the main story or how "also reported by"
links are shown (`digest.editorial.selection`), nor fetching and normalising entries
(`digest.fetch.gather`, `digest.fetch.normalize`), nor turning a post into the
features of steps 2 and 7 below (`digest.editorial.textfeatures`, which reads
figures with `digest.editorial.figures`; `title_key` and `url_key` are
re-exported here).

The algorithm, for one batch of docs (an issue's week, or a benchmark's 5,000):

1. **Always merge** two docs with the same article URL (scheme, `www.`, a
   trailing `/` and a `.html`/`.htm` suffix ignored: kimi.com serves one post as
   `/blog/kimi-k2.html` and `/blog/kimi-k2`), whatever their dates; a site's
   home page is not an article and never merges. Also always merge the same
   normalised title (`title_key`, 4 characters or more) within the window,
   except two items of *one* source under different URLs: a feed that repeats
   a title is running a recurring headline ("Hong Kong stocks close higher"
   five days a week), so those go through the scoring below instead.
2. **Features.** NFKC + casefold. Chinese, Japanese and Korean runs become
   character bigrams (no word boundaries to rely on); other scripts become
   words (English stop words dropped, a plural "s" stripped). Tokens with a
   digit ("deepseek-v3", "k2.5", "30%", "17年", "10.1兆") are distinctive;
   compounds also yield their parts, so "DeepSeek-V3" meets "DeepSeek V3";
   "Q3"/"三季度" and "三成"/"30%" are written one way. A multi-story title
   ("A；B；C", as 集微网 writes them; "派早报：A、B等"; a newscast's "A…B":
   `title_stories`) is matched by its lead story and, story by story, by
   each of the others (`_story_score`: plain Dice, as a short story is
   contained in many headlines); a leading 【tag】 / [tag] is a column label.
   The summary adds its first `LEAD_CHARS` characters (a summary that repeats
   the title is not counted twice; links are dropped).
3. **Boilerplate.** Within one source, a feature found in `BOILERPLATE_SHARE` of
   its docs or more (if it has `BOILERPLATE_MIN_DOCS`) is the site's furniture,
   not news: " | TechCrunch", "[AI 아나운서]", RTHK's "原始網址 … © rthk.hk"
   tail, Hacker News' "points, commentaires". No per-site patterns needed.
4. **Weights.** A feature weighs `class weight × idf` over the batch, with
   idf = ln((N + IDF_PRIOR) / (df + 1)); the prior keeps a two-doc batch
   (`similarity`) from treating every word as rare. Class weights: distinctive
   tokens `W_NUMBER` (a model name or an amount says more than any word), words
   `W_WORD`, CJK bigrams `W_BIGRAM` (a 20-character Chinese headline has 19
   bigrams, an English one about 8 content words).
5. **Candidates** come from an inverted index over each doc's `SIGNATURE`
   rarest features among those in at least 2 and at most
   `max(CAP_MIN, CAP_SHARE × N)` docs (in that many headlines a feature cannot
   be what two reports of one event share alone). Each postings list is walked
   in time order, pairing only docs within the window, and a pair must share
   `SIGNATURE_SHARED` indexed features (one is a topic word) unless one doc is
   too short to have that many; pairs sharing an amount, and a brief's stories
   against every title, are indexed too (`digest.editorial.candidates`). The
   work grows with N × (stories per window sharing rare features), not N²:
   benchmarks/duplicates.py times it.
6. **Score** of a pair, 0…1:
   - two sources: the better of the titles' weighted Dice overlap (blended
     half-and-half with how much of the shorter title the longer one
     contains, for "WorldVQA: Measuring …" vs a short headline) and the Dice
     overlap of title + summary lead;
   - one source: the title + lead overlap only (a feed's own headlines are
     formulaic), or, when its text was copied — most of one summary's
     4-character / 3-word shingles found in the other, not counting passages
     that `COPY_WITNESSES` other items of the source also carry (its template) —
     that share;
   - times `CONFLICT_FACTOR` for each version/amount conflict in the titles
     (same stem, no shared value: "v3" vs "v3.1", "k2.5" vs "k2", "2.5" vs
     "2.5+") and for leads that quote `LEAD_NUMBERS_MIN` numbers or more each
     and share almost none (two days' market closes); times
     `DATE_CONFLICT_FACTOR` for leads that date the event differently
     ("9月21日の会合" vs "9月22日の会合"; "on Monday" vs "on Wednesday");
     times `NAMES_CONFLICT_FACTOR` when both titles name places, organisations
     or people (`Doc.names`, from the places data) and share none.
   A pair merges when it is within the window, shares `MIN_SHARED` features
   or more, and the score reaches `THRESHOLD` plus `THRESHOLD_PER_DAY` for each
   day between the two reports.
7. **Event signature**, for reports whose wording shares little (two
   languages, two angles): the canonical ids of the actors the title and lead
   name (`Doc.names`, `Doc.lead_names`, from the knowledge base, so Apple,
   苹果, 애플 and アップル are one id), the versions of models and products the
   knowledge base knows, and the money amounts (`digest.editorial.figures`:
   "$94.0bn" = "940亿美元", 10.1兆ウォン = ₩10.1tn). Its features join the
   text's above (so 苹果 meets Apple in the Dice score), and a pair within
   `SIGNATURE_DAYS` that shares an amount and an actor merges when the
   weighted Dice overlap of the two signatures reaches `SIGNATURE_MIN`, after
   the version, amount and date conflicts above (not the names one: the
   shared actor settles it). A model version and its maker alone never merge
   two reports: a week holds many stories on one release (launch, benchmarks,
   price). Two items of one outlet need `EVENT_SHARED` signature features in
   common. Pairs that share an amount are candidates whatever their text.
8. **Union-find** over merged pairs; each group lists its docs earliest first.
   A multi-story title that matches only through one of its later stories
   joins that story's event last, and one event at most (its best match):
   a brief of stories A and B must never make A's and B's reports one group.

The numbers were set on the labelled pairs of the shared corpus
(tests/data/duplicate_pairs.tsv, benchmarks/duplicates.py); why each one is
what it is sits next to it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain, compress

from digest.editorial.candidates import MIN_SHARED, candidate_pairs
from digest.editorial.textfeatures import (
    AMOUNT,
    ENTITY,
    feature_kinds,
    has_digit,
    number_marks,
    prepare,
    shingles,
    title_key,
    url_key,
)

__all__ = ["LEAD_CHARS", "WINDOW", "Batch", "Doc", "cluster", "similarity", "title_key", "url_key"]

# Reports of one event come within a few days of each other; an issue spans 7,
# so 4 days keeps a Monday and a Friday take on one topic apart.
WINDOW = timedelta(days=4)

# A summary's opening carries the event (who, what, how much); the rest is
# background that different stories on one topic share.
LEAD_CHARS = 240

BOILERPLATE_SHARE = 0.6  # "| TechCrunch" is on 100% of a feed's titles; real topics < 50%
BOILERPLATE_MIN_DOCS = 5  # with fewer docs a shared word is as likely news as furniture

IDF_PRIOR = 10.0  # pseudo-docs: idf stays between ~1.4 and ~1.8 in a two-doc batch

W_NUMBER = 2.5  # "DeepSeek-V3", "10.1兆", "$75m": what tells two releases apart
W_ENTITY = 1.5  # an actor's canonical id: a name, in whatever script

# Two reports of one event, in two languages or two wordings, share its signature:
# an amount and an actor, and most of the signature by weight, within
# SIGNATURE_DAYS. Text need not match at all.
SIGNATURE_MIN = 0.5
EVENT_SHARED = 3
SIGNATURE_DAYS = 3.0
W_WORD = 1.0
W_BIGRAM = 0.5


# 0.46: below the weakest same-event pair the method can see (0.48: an RTHK story
# rewritten 3 minutes later) and well above every labelled different-event pair
# (≤ 0.31 after the time allowance); 0.44 starts merging unlabelled items of one
# committee meeting and one RTHK roundup with the speech it quotes.
THRESHOLD = 0.46
THRESHOLD_PER_DAY = 0.03  # 4 days apart needs 0.58: later reports must agree more
CONTAINMENT_SHARE = 0.5  # Dice alone halves a headline that another one extends
CONTAINMENT_MIN_FEATURES = 4  # "WorldVQA" is contained in anything that names it
CONFLICT_FACTOR = 0.5  # one version or amount mismatch halves the score
# Leads that date the event differently are about two events, however alike the
# prose: a feed's template text ("…は9月21日の会合で…") copies perfectly otherwise.
DATE_CONFLICT_FACTOR = 0.25
# "Samsung opens a lab in Seoul" and "Naver opens a lab in Tokyo" share their
# wording but not one name: halving, like a version conflict, keeps them apart.
NAMES_CONFLICT_FACTOR = 0.5
LEAD_NUMBERS_MIN = 3  # both leads quote at least this many numbers ...
LEAD_NUMBERS_SHARED = 0.2  # ... and share fewer than this fraction: different figures
COPY_CHARS = 1500  # a rewrite may copy its paragraphs in another order
COPY_MIN_SHINGLES = 20  # a shorter text proves nothing by being copied
COPY_FLOOR = 0.2  # only pairs that already look related are checked for copying
COPY_WITNESSES = 4  # other items of the source whose shared passages are its template


@dataclass(frozen=True, slots=True)
class Doc:
    """What the near-duplicate decision needs to know about one post."""

    title: str
    summary: str
    url: str  # canonical, may be ""
    published: datetime  # aware
    source: str = ""  # the feed it came from: boilerplate is per source; "" = unknown
    names: frozenset[str] = frozenset()  # canonical keys of who and where its title names
    # Canonical keys of the actors its summary lead names (`Classifier.keys`):
    # with the title's, the "who" of the event signature, in any script.
    lead_names: frozenset[str] = frozenset()


# -- the batch -------------------------------------------------------------------


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class Batch:
    """Docs prepared for near-duplicate search; weights and boilerplate are batch-wide."""

    def __init__(self, docs: Sequence[Doc], *, window: timedelta = WINDOW) -> None:
        self.docs = list(docs)
        self.window = window
        self._window = window.total_seconds()
        self._ts = [d.published.timestamp() for d in self.docs]  # floats: fast to compare
        self._order = sorted(range(len(self.docs)), key=lambda i: (self._ts[i], i))
        self._prepared = [
            prepare(d.title, d.summary, d.url, d.names | d.lead_names, LEAD_CHARS)
            for d in self.docs
        ]
        self._by_source: dict[str, list[int]] = defaultdict(list)
        for i in self._order:
            if self.docs[i].source:
                self._by_source[self.docs[i].source].append(i)
        n = len(self.docs)
        # Docs per feature: counted once, then kept up to date as boilerplate goes.
        self._df: Counter[str] = Counter(chain.from_iterable(p.body for p in self._prepared))
        self._drop_boilerplate(self._df)
        idf = [math.log((n + IDF_PRIOR) / (count + 1)) for count in range(n + 1)]
        # Class weight × idf by df, for each kind of feature (`feature_kinds`).
        self._tables = [[w * x for x in idf] for w in (W_BIGRAM, W_WORD, W_NUMBER, W_ENTITY)]
        # Only the docs of candidate pairs are scored: what scoring needs is
        # worked out for a doc when it is first scored (`_weigh` and below).
        self._weight: dict[str, float] = {}
        self._weighed = [False] * n
        self._title_sum: list[float | None] = [None] * n
        self._body_sum: list[float | None] = [None] * n
        self._title_marks: list[dict[str, frozenset[str]] | None] = [None] * n
        self._shingle_cache: dict[int, set[str]] = {}

    def _weigh(self, i: int) -> None:
        """Weigh the features of doc i, for scoring it."""
        if not self._weighed[i]:
            self._weighed[i] = True
            df, weight = self._df, self._weight
            kinds = feature_kinds(self._prepared[i].body.difference(weight))
            for features, table in zip(kinds, self._tables, strict=True):
                weights = map(table.__getitem__, map(df.__getitem__, features))
                weight.update(zip(features, weights, strict=True))

    def _sum(self, features: Iterable[str]) -> float:
        return sum(map(self._weight.__getitem__, features))

    def _title_total(self, i: int) -> float:
        total = self._title_sum[i]
        if total is None:
            total = self._title_sum[i] = self._sum(self._prepared[i].title)
        return total

    def _body_total(self, i: int) -> float:
        total = self._body_sum[i]
        if total is None:
            total = self._body_sum[i] = self._sum(self._prepared[i].body)
        return total

    def _marks(self, i: int) -> dict[str, frozenset[str]]:
        marks = self._title_marks[i]
        if marks is None:
            title = self._prepared[i].title
            marks = number_marks(title) if has_digit(self.docs[i].title) else {}
            self._title_marks[i] = marks
        return marks

    def _drop_boilerplate(self, df: Counter[str]) -> None:
        """Remove each source's furniture from its docs, and from `df`."""
        sources = [m for m in self._by_source.values() if len(m) >= BOILERPLATE_MIN_DOCS]
        if not sources:
            return
        # Furniture is in BOILERPLATE_SHARE of its source's docs, so in at least
        # that many of the batch's: only those features are counted per source.
        least = BOILERPLATE_SHARE * min(map(len, sources))
        frequent = set(compress(df, map(least.__le__, df.values())))
        for members in sources:
            counts = Counter(
                chain.from_iterable(self._prepared[i].body & frequent for i in members)
            )
            limit = BOILERPLATE_SHARE * len(members)
            furniture = {f for f, c in counts.items() if c >= limit}
            if not furniture:
                continue
            for i in members:
                p = self._prepared[i]
                p.title -= furniture
                p.body -= furniture
                p.lead_numbers -= furniture
                p.signature -= furniture
                for story in p.stories:
                    story -= furniture
            for f in furniture:
                df[f] -= counts[f]
                if not df[f]:
                    del df[f]

    # -- scoring -------------------------------------------------------------

    def _shared(self, a: set[str], b: set[str]) -> float:
        return sum(map(self._weight.__getitem__, a & b if len(a) <= len(b) else b & a))

    def _title_score(self, i: int, j: int) -> float:
        self._weigh(i)
        self._weigh(j)
        a, b = self._prepared[i].title, self._prepared[j].title
        sum_a, sum_b = self._title_total(i), self._title_total(j)
        if sum_a <= 0 or sum_b <= 0:
            return 0.0
        shared = self._shared(a, b)
        dice = 2 * shared / (sum_a + sum_b)
        if min(len(a), len(b)) < CONTAINMENT_MIN_FEATURES:
            return dice
        return (1 - CONTAINMENT_SHARE) * dice + CONTAINMENT_SHARE * shared / min(sum_a, sum_b)

    def _story_score(self, i: int, j: int) -> float:
        """The best weighted Dice overlap of one story of a multi-story title with
        the other title or one of its stories: a brief's second item is an event
        of its own. Plain Dice, no containment: a short story is contained in
        many headlines on its topic."""
        a, b = self._prepared[i], self._prepared[j]
        if not a.stories and not b.stories:
            return 0.0
        self._weigh(i)
        self._weigh(j)
        best = 0.0
        for story_a in a.stories or [a.title]:
            sum_a = self._sum(story_a)
            for story_b in b.stories or [b.title]:
                sum_b = self._sum(story_b)
                if len(story_a & story_b) >= MIN_SHARED and sum_a > 0 and sum_b > 0:
                    best = max(best, 2 * self._shared(story_a, story_b) / (sum_a + sum_b))
        return best

    def _body_score(self, i: int, j: int) -> float:
        self._weigh(i)
        self._weigh(j)
        sum_a, sum_b = self._body_total(i), self._body_total(j)
        if sum_a <= 0 or sum_b <= 0:
            return 0.0
        return 2 * self._shared(self._prepared[i].body, self._prepared[j].body) / (sum_a + sum_b)

    def _shingles(self, i: int) -> set[str]:
        cached = self._shingle_cache.get(i)
        if cached is None:
            cached = self._shingle_cache[i] = shingles(self._prepared[i].summary[:COPY_CHARS])
        return cached

    def _copied(self, i: int, j: int) -> float:
        """Share of the shorter summary found in the other, the source's template aside."""
        a, b = self._shingles(i), self._shingles(j)
        if min(len(a), len(b)) < COPY_MIN_SHINGLES:
            return 0.0
        # The source's other items nearest in time show what every item carries.
        siblings = self._by_source[self.docs[i].source]
        at = siblings.index(i)
        ts = self._ts
        nearby = sorted(
            siblings[max(0, at - COPY_WITNESSES - 1) : at + COPY_WITNESSES + 2],
            key=lambda k: (abs(ts[k] - ts[i]), k),
        )
        witnesses = [k for k in nearby if k not in (i, j)][:COPY_WITNESSES]
        template = set().union(*(self._shingles(k) for k in witnesses)) if witnesses else set()
        own_a, own_b = a - template, b - template
        shorter = min(len(own_a), len(own_b))
        if shorter < COPY_MIN_SHINGLES:
            return 0.0
        return len(own_a & own_b) / shorter

    def score(self, i: int, j: int) -> float:
        """How alike docs i and j read, 0…1, before the allowance for time apart."""
        return self._text_score(i, j) * self._conflicts(i, j)

    def _text_score(self, i: int, j: int, *, stories: bool = True) -> float:
        one_source = bool(self.docs[i].source) and self.docs[i].source == self.docs[j].source
        score = self._body_score(i, j)
        if not one_source:
            score = max(score, self._title_score(i, j))
            if stories:
                score = max(score, self._story_score(i, j))
        elif score >= COPY_FLOOR:
            score = max(score, self._copied(i, j))
        return score

    def _conflicts(self, i: int, j: int, *, names: bool = True) -> float:
        factor = 1.0
        marks_a, marks_b = self._marks(i), self._marks(j)
        for stem, values in marks_a.items():
            other = marks_b.get(stem)
            if other is not None and not values & other:
                factor *= CONFLICT_FACTOR
        a, b = self._prepared[i], self._prepared[j]
        na, nb = a.lead_numbers, b.lead_numbers
        fewer = min(len(na), len(nb))
        if fewer >= LEAD_NUMBERS_MIN and len(na & nb) < LEAD_NUMBERS_SHARED * fewer:
            factor *= CONFLICT_FACTOR
        # Both titles name who and where, and none in common: two actors, two events.
        names_a, names_b = self.docs[i].names, self.docs[j].names
        if names and names_a and names_b and names_a.isdisjoint(names_b):
            factor *= NAMES_CONFLICT_FACTOR
        da, db = a.event_date, b.event_date
        # A weekday and a calendar date may name the same day: only like with like.
        if da and db and da != db and da[0].isdigit() == db[0].isdigit():
            factor *= DATE_CONFLICT_FACTOR
        return factor

    def days_apart(self, i: int, j: int) -> float:
        return abs(self._ts[i] - self._ts[j]) / 86400

    def threshold(self, i: int, j: int) -> float:
        return THRESHOLD + THRESHOLD_PER_DAY * self.days_apart(i, j)

    def within_window(self, i: int, j: int) -> bool:
        return abs(self._ts[i] - self._ts[j]) <= self._window

    def exact(self, i: int, j: int) -> bool:
        """Same article URL, or same title within the window (see the module docstring)."""
        a, b = self._prepared[i], self._prepared[j]
        if a.url_key and a.url_key == b.url_key:
            return True
        if len(a.title_key) < 4 or a.title_key != b.title_key or not self.within_window(i, j):
            return False
        one_source = bool(self.docs[i].source) and self.docs[i].source == self.docs[j].source
        return not one_source or a.url_key == b.url_key

    def same_story(self, i: int, j: int) -> bool:
        """The pairwise decision, before transitivity."""
        if self.exact(i, j):
            return True
        return self.within_window(i, j) and self._alike(i, j)

    def _alike(self, i: int, j: int, *, stories: bool = True) -> bool:
        threshold = self.threshold(i, j)
        # Conflicts only lower the text score: skip them when it is short.
        text = self._text_score(i, j, stories=stories)
        if text < threshold or len(self._prepared[i].body & self._prepared[j].body) < MIN_SHARED:
            return self._same_signature(i, j)
        return text * self._conflicts(i, j) >= threshold or self._same_signature(i, j)

    def signature_score(self, i: int, j: int) -> float:
        """Weighted Dice overlap of two event signatures, 0…1; 0 unless they share
        an amount and an actor."""
        a, b = self._prepared[i].signature, self._prepared[j].signature
        shared = a & b
        kinds = {f[0] for f in shared}
        # An amount and who it is about (a profit, a round, a fine) is one event.
        # A model version and its maker are not: a week holds many stories on one
        # release (its launch, its benchmarks, its price), and "Kimi K3" does not
        # tell them apart; versions count towards the overlap, never alone.
        if ENTITY not in kinds or AMOUNT not in kinds:
            return 0.0
        one_source = bool(self.docs[i].source) and self.docs[i].source == self.docs[j].source
        # One outlet repeats its own figures in every follow-up.
        if one_source and len(shared) < EVENT_SHARED:
            return 0.0
        self._weigh(i)
        self._weigh(j)
        return 2 * self._shared(a, b) / (self._sum(a) + self._sum(b))

    def _same_signature(self, i: int, j: int) -> bool:
        if self.days_apart(i, j) > SIGNATURE_DAYS:
            return False
        score = self.signature_score(i, j)
        # The signature shares an actor already: titles naming the product and
        # its maker ("GPT-5.6" / "OpenAI") are no conflict of names here.
        return (
            score >= SIGNATURE_MIN and score * self._conflicts(i, j, names=False) >= SIGNATURE_MIN
        )

    # -- grouping ------------------------------------------------------------

    def groups(self) -> list[list[int]]:
        """Every index exactly once; each group earliest first; groups by first report."""
        n = len(self.docs)
        uf = _UnionFind(n)
        self._merge_exact(uf)
        # Candidates are within the window; exact duplicates are already merged.
        # A multi-story title that matches only through one of its stories joins
        # that story's event afterwards, and one event at most: a brief of
        # stories A and B must not make A's and B's reports one group.
        by_story: dict[int, tuple[float, int]] = {}  # brief → (best story score, partner)
        candidates = candidate_pairs(
            self._prepared, self._df, self._order, self._ts, self._window, SIGNATURE_DAYS * 86400
        )
        for i, j in candidates:
            if uf.find(i) == uf.find(j):
                continue
            if self._alike(i, j, stories=False):
                uf.union(i, j)
            elif self._alike(i, j):
                score = self._story_score(i, j)
                for brief, other in ((i, j), (j, i)):
                    if self._prepared[brief].stories and score > by_story.get(brief, (0.0, 0))[0]:
                        by_story[brief] = (score, other)
        alone = Counter(uf.find(i) for i in range(n))
        for brief, (_, other) in sorted(by_story.items()):
            if alone[uf.find(brief)] == 1:  # not already part of an event
                alone[uf.find(brief)] = 0
                uf.union(brief, other)
                alone[uf.find(brief)] = 2
        members: dict[int, list[int]] = defaultdict(list)
        for i in range(n):
            members[uf.find(i)].append(i)
        rank = [0] * n
        for r, i in enumerate(self._order):
            rank[i] = r
        groups = [sorted(g, key=rank.__getitem__) for g in members.values()]
        groups.sort(key=lambda g: rank[g[0]])
        return groups

    def _merge_exact(self, uf: _UnionFind) -> None:
        by_url: dict[str, list[int]] = defaultdict(list)
        by_title: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(self._prepared):
            if p.url_key:
                by_url[p.url_key].append(i)
            if len(p.title_key) >= 4:
                by_title[p.title_key].append(i)
        for same_url in by_url.values():
            for i in same_url[1:]:
                uf.union(same_url[0], i)
        for same_title in by_title.values():
            for k, i in enumerate(same_title):
                for j in same_title[k + 1 :]:
                    if self.exact(i, j):
                        uf.union(i, j)


def cluster(docs: Sequence[Doc], *, window: timedelta = WINDOW) -> list[list[int]]:
    """Group the indices of `docs` that report the same event.

    Every index appears exactly once; a group lists its docs by `published`
    (then index), and groups come in order of their earliest doc.
    """
    return Batch(docs, window=window).groups()


def similarity(a: Doc, b: Doc) -> float:
    """The score `cluster` gives the pair when the two are the whole batch."""
    return Batch([a, b]).score(0, 1)
