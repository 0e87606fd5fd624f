"""Candidate pairs for near-duplicate search: which docs are worth scoring.

Owns: step 5 of `digest.editorial.cluster`'s algorithm, the inverted indexes
that pick the pairs `Batch` scores (`candidate_pairs`), so a batch of 5,000
costs N × (docs per window sharing rare features), never N². Pure: takes the
prepared features, document frequencies and timestamps; no I/O.
Doesn't own: features (`digest.editorial.textfeatures`) or whether a pair is
one story (`digest.editorial.cluster`).

Three indexes, each walked in time order within its window:

1. each doc's `SIGNATURE` rarest features among those in at least 2 and at
   most `max(CAP_MIN, CAP_SHARE × N)` docs; a pair must share
   `SIGNATURE_SHARED` of them (one is a topic word) unless a doc is too short
   to have that many;
2. the money amounts of event signatures: two languages share few other
   features, and the signature rule needs an amount;
3. the features of each story of a multi-story title against every title:
   a brief's later stories are not among the rarest features of its text.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import compress

from digest.editorial.textfeatures import AMOUNT, Prepared

__all__ = ["MIN_SHARED", "candidate_pairs"]

SIGNATURE = 10  # rarest features indexed per doc (a feature in one doc pairs nothing)
SIGNATURE_SHARED = 2  # a pair sharing one of them is one topic word; short docs excepted
CAP_MIN = 40  # features in more docs than this (and than CAP_SHARE of N) are not indexed
CAP_SHARE = 0.02
MIN_SHARED = 2  # features two docs must share to merge on score: "AI" alone is no evidence


def _window_pairs(
    postings: Iterable[list[int]], ts: Sequence[float], window: float, n: int
) -> list[int]:
    """Every pair (as i * n + j, i earlier) of each postings list (docs in time
    order) no more than `window` seconds apart; a pair once per list it is in."""
    found: list[int] = []
    for members in postings:
        if len(members) < 2:
            continue
        scaled = [i * n for i in members]
        start = 0
        for k in range(1, len(members)):
            j = members[k]
            while ts[j] - ts[members[start]] > window:
                start += 1
            found.extend(map(j.__add__, scaled[start:k]))
    return found


def candidate_pairs(
    prepared: Sequence[Prepared],
    df: Counter[str],
    order: Sequence[int],
    ts: Sequence[float],
    window: float,
    signature_window: float,
) -> list[tuple[int, int]]:
    """The pairs (i, j) worth scoring, i reported first, sorted. `order` lists
    the docs by time, `ts` gives their times in seconds, `df` the docs per feature."""
    n = len(prepared)
    cap = max(CAP_MIN, int(CAP_SHARE * n))
    postings: dict[str, list[int]] = defaultdict(list)
    # A feature of one doc pairs nothing; one in very many is not news. Of the
    # rest, a doc's SIGNATURE rarest are indexed, as they pair the fewest docs,
    # ties broken by the feature itself (the same every run). Most of them are
    # in two docs.
    twice = set(compress(df, map((2).__eq__, df.values())))
    in_range = [2 < count <= cap for count in range(n + 1)]
    more = set(compress(df, map(in_range.__getitem__, df.values())))
    small: set[int] = set()  # docs too short to share two indexed features
    for i in order:  # so each postings list is in time order
        body = prepared[i].body
        indexable = sorted(body & twice)
        if len(indexable) >= SIGNATURE:
            del indexable[SIGNATURE:]
        else:
            others = list(body & more)
            if len(indexable) + len(others) <= SIGNATURE:
                indexable += others
            else:  # those below the count that fills the SIGNATURE, then the first at it
                counts = list(map(df.__getitem__, others))
                last = sorted(counts)[SIGNATURE - len(indexable) - 1]
                indexable += compress(others, map(last.__gt__, counts))
                indexable += sorted(compress(others, map(last.__eq__, counts)))
                del indexable[SIGNATURE:]
        if len(indexable) < SIGNATURE_SHARED + 1:
            small.add(i)
        for f in indexable:
            postings[f].append(i)
    shared = Counter(_window_pairs(postings.values(), ts, window, n))
    pairs = set(compress(shared, map(SIGNATURE_SHARED.__le__, shared.values())))
    if small:
        pairs.update(key for key in shared if key // n in small or key % n in small)
    indexed = twice | more
    pairs.update(_amount_pairs(prepared, order, ts, signature_window, indexed))
    pairs.update(_story_pairs(prepared, order, ts, window, indexed))
    return [divmod(key, n) for key in sorted(pairs)]


def _amount_pairs(
    prepared: Sequence[Prepared],
    order: Sequence[int],
    ts: Sequence[float],
    window: float,
    indexed: set[str],
) -> set[int]:
    """Pairs that share an amount of their event signatures within `window`."""
    postings: dict[str, list[int]] = defaultdict(list)
    for i in order:
        for f in prepared[i].signature:
            if f[0] == AMOUNT and f in indexed:
                postings[f].append(i)
    return set(_window_pairs(postings.values(), ts, window, len(prepared)))


def _story_pairs(
    prepared: Sequence[Prepared],
    order: Sequence[int],
    ts: Sequence[float],
    window: float,
    indexed: set[str],
) -> set[int]:
    """Pairs of a multi-story title and a title that share MIN_SHARED features
    of one of its stories within `window`."""
    wanted = {f for p in prepared for story in p.stories for f in story} & indexed
    if not wanted:
        return set()
    postings: dict[str, list[int]] = defaultdict(list)
    for i in order:
        for f in prepared[i].title.union(*prepared[i].stories) & wanted:
            postings[f].append(i)
    n = len(prepared)
    shared = Counter(_window_pairs(postings.values(), ts, window, n))
    return {
        key
        for key, count in shared.items()
        if count >= MIN_SHARED and (prepared[key // n].stories or prepared[key % n].stories)
    }
