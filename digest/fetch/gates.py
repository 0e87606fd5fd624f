"""The gates in front of the summary tail rules: which rules can match a text at all.

Owns: reading from a rule's own regex the strings every match of it contains
(`gate_strings`), folding a text as the rules' `re.IGNORECASE` compares it
(`gate_fold`, `SRE_ALIASES`), and `present`: which of all rules' strings one
text holds, found in one scan (the ASCII strings each looked for, the others only
when the text holds their first character) and reused for the parts of it that
rules leave. A tail rule whose strings are all absent cannot match and is not
run; that is the whole use of this module, so it may cost time but never change
a result (tests/test_summaries.py). Also read from a pattern: the characters
its matches start with (`first_chars`), for a lookahead in front of a rule.
Doesn't own: the rules, their order, or
what they remove (`digest.fetch.summaries`).
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # type: ignore[import-not-found]  # no stubs
import re._parser as sre_parse  # type: ignore[import-not-found]  # no stubs
from typing import Any


def _required(node: Any) -> list[str] | None:
    """Strings one of which every match of the parsed regex `node` contains, or
    None when nothing is required (or the pattern is beyond this reading).

    Read from the pattern itself, so it cannot disagree with it: runs of
    literals in a sequence; a group's or a repeat's (at least once) own; a
    branch's when each alternative has one. Zero-width parts (lookarounds,
    `\b`, `^`) and character classes require nothing."""
    if isinstance(node, list | sre_parse.SubPattern):
        best: list[str] | None = None
        run: list[str] = []
        candidates: list[list[str]] = []
        for op, av in node:
            if op is sre_constants.LITERAL:
                run.append(chr(av))
                continue
            if run:
                candidates.append(["".join(run)])
                run = []
            if (found := _required((op, av))) is not None:
                candidates.append(found)
        if run:
            candidates.append(["".join(run)])
        for found in candidates:  # the one whose shortest string is longest
            if best is None or min(map(len, found)) > min(map(len, best)):
                best = found
        return best
    op, av = node
    if op is sre_constants.BRANCH:
        union: list[str] = []
        for branch in av[1]:
            found = _required(branch)
            if found is None:
                return None
            union += found
        return union
    if op is sre_constants.SUBPATTERN:
        return _required(av[3])
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and av[0] >= 1:
        return _required(av[2])
    return None


# The characters that match an ASCII letter under `re.IGNORECASE` although
# `str.lower` does not make them that letter (tests/test_summaries.py checks
# every code point): folded to it before a gate looks for a rule's strings.
SRE_ALIASES = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_ALIASES = str.maketrans(SRE_ALIASES)
_last_folded: tuple[str, str] = ("", "")
# Every tail rule's pattern and its gate strings, for tests/test_summaries.py.
TAIL_GATES: list[tuple[str, tuple[str, ...] | None]] = []


def gate_fold(text: str) -> str:
    """`text` as the gates compare it: lower case, `SRE_ALIASES` folded."""
    global _last_folded
    if _last_folded[0] is not text:  # every gated rule asks for the same text in turn
        aliased = not text.isascii() and any(alias in text for alias in SRE_ALIASES)
        _last_folded = (text, (text.translate(_ALIASES) if aliased else text).lower())
    return _last_folded[1]


def gate_strings(pattern: str) -> tuple[str, ...] | None:
    """Lower-case strings one of which is in (the `gate_fold` of) every text
    where `pattern` matches case-insensitively; None when there are none."""
    try:
        found = _required(sre_parse.parse(pattern, re.IGNORECASE | re.DOTALL))
    except Exception:  # the private parser changed shape: no gate, same results
        return None
    if not found or any(len(ch.lower()) != 1 for ch in "".join(found)):
        return None
    return tuple(dict.fromkeys(text.lower() for text in found))


# Every gate string a tail rule needs looked for, filled as the rules are made
# (`register`); `present` scans a text for all of them at once.
_GATE_WORDS: dict[str, None] = {}
# Which of them a tail window holds: (window, its gate strings), the last asked for.
_last_present: tuple[str, frozenset[str]] = ("", frozenset())
_scan_words: tuple[tuple[str, ...], dict[str, tuple[str, ...]], re.Pattern[str]] | None = None


def _scan(folded: str) -> frozenset[str]:
    """The gate strings in `folded`: the ASCII ones each looked for, the others only
    when `folded` holds their first character (most texts hold few CJK labels).
    Those first characters are found by one character class (`re` scans for it
    in C: ~1 µs for a CJK summary where `set(folded)` took ~8)."""
    global _scan_words
    if _scan_words is None or sum(map(len, (_scan_words[0], *_scan_words[1].values()))) != len(
        _GATE_WORDS
    ):
        ascii_words = tuple(w for w in _GATE_WORDS if w.isascii())
        by_first: dict[str, tuple[str, ...]] = {}
        for word in _GATE_WORDS:
            if not word.isascii():
                by_first[word[0]] = (*by_first.get(word[0], ()), word)
        # No flags: `folded` is already lower case (`gate_fold`), as the words are.
        firsts = re.compile("[" + re.escape("".join(by_first)) + "]" if by_first else "(?!)")
        _scan_words = ascii_words, by_first, firsts
    ascii_words, by_first, firsts = _scan_words
    found = [w for w in ascii_words if w in folded]
    if not folded.isascii():
        for first in set(firsts.findall(folded)):
            found += [w for w in by_first[first] if w in folded]
    return frozenset(found)


def present(window: str) -> frozenset[str]:
    """The gate strings in `window` (as `gate_fold` reads it), of every tail rule.

    Rules and passes ask about the same text in turn, then about what a rule left
    of it: a window that is a part of the last one asked about can hold only the
    strings that one held (folding is letter by letter, and no gate string has a
    letter whose lower case depends on its neighbours, the Greek sigma: see
    `register`), so only those are looked for again."""
    global _last_present
    last_window, last_found = _last_present
    if window is last_window or window == last_window:
        return last_found
    folded = gate_fold(window)
    if window in last_window:
        found = frozenset(w for w in last_found if w in folded)
    else:
        found = _scan(folded)
    _last_present = (window, found)
    return found


def first_chars(pattern: str) -> str | None:
    """The characters one of which starts every match of `pattern`, an alternation
    whose every alternative starts with a literal character; None otherwise.

    For a lookahead in front of a rule (`digest.fetch.summaries._tail_rule`):
    `re` tries a pattern at every position of the text, and a lookahead for one
    of a few characters turns most positions down at once. The same flags as
    the rule's read it, so a character class of these matches what the
    literals do (case-insensitively too: tests/test_summaries.py)."""
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE | re.DOTALL)
    except Exception:  # the private parser changed shape: no lookahead, same results
        return None
    if len(parsed) != 1:
        return None
    op, av = parsed[0]
    if op is sre_constants.SUBPATTERN:
        inner = av[3]
        if len(inner) != 1:
            return None
        op, av = inner[0]
    branches = av[1] if op is sre_constants.BRANCH else [[(op, av)]]
    firsts: dict[str, None] = {}
    for branch in branches:
        if not len(branch) or branch[0][0] is not sre_constants.LITERAL:
            return None
        firsts[chr(branch[0][1])] = None
    return "".join(firsts)


def register(pattern: str) -> frozenset[str] | None:
    """The strings one of which must be in a text for the tail rule `pattern`
    (case-insensitive) to match it, for `present`; None: the rule has no gate."""
    gate = gate_strings(pattern)
    TAIL_GATES.append((pattern, gate))
    if gate is None or any(ch in "σς" for ch in "".join(gate)):
        return None
    # Within one rule, a string that holds another of its strings adds nothing.
    words = frozenset(w for w in gate if not any(o != w and o in w for o in gate))
    _GATE_WORDS.update(dict.fromkeys(sorted(words)))
    return words
