"""Clean summaries (issue 14): what each cleaning rule changed, and where display cuts end.

Runs every entry of every feed file in `../shared/corpus/feeds/*.xml` and, when
present, `benchmarks/eval/feeds/*.xml` (each set reported on its own) through
the real parsing and normalising path, `digest.fetch.parse.parse_feed` (which
calls `digest.fetch.normalize.normalize_entries`, which calls
`digest.fetch.summaries.clean_summary`), with each file's `[[feeds]]` hints
(`benchmarks/corpus_hints.toml`, `benchmarks/eval/hints.toml`). To say which
rule did what, each entry's title and uncleaned summary
(`digest.fetch.normalize.entry_texts`) go through `clean_summary` again here;
the script checks that this gives the very summary the real path produced
(`same as the real path: N/N`).

Per set it prints:

- per rule (`digest.fetch.summaries.RULES`), how many summaries it changed, and
  up to 10 before/after examples (clipped around the change) for a person to
  check, plus how many times a rule was refused because it would have left
  nothing readable;
- summaries emptied by cleaning (target 0; exits 1 otherwise): a readable
  summary that came out with no letter or digit, other than by the next line;
- summaries dropped because they only repeated the title (allowed; counted);
- the display cuts (`digest.render.typography.truncate_summary` at
  `SUMMARY_WIDTH`, what the email shows): how many summaries were cut, and
  where each cut ends: at a sentence end, a clause boundary (、，,;；：:), a
  word boundary (a space, or where CJK ideographs/hiragana meet other text),
  a CJK phrase end (hiragana before a kanji/katakana, after 的/了/和…), inside
  a CJK run (between two other ideographs/hiragana: CJK writes no word
  boundary; informative, reported at the email's width as a count), or
  MID-WORD: inside a Latin word, a number, a URL, a Hangul or katakana word
  (target 0; exits 1 otherwise). Also, cuts with an ellipsis that end at a
  sentence end (target 0: an ellipsis only marks a cut mid-sentence). The
  cut is judged here from the characters around it, not with the typography
  module's own helpers.

Run from the project folder:
    .venv/bin/python benchmarks/summaries.py [--examples N] [--widths 200,120]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from digest.config import FeedSettings
from digest.fetch.normalize import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, _shorten, entry_texts
from digest.fetch.parse import Fetched, _feedparser, parse_feed
from digest.fetch.summaries import RULE_NAMES, Cleaning, clean_summary, readable
from digest.render.typography import SUMMARY_WIDTH, one_line, truncate_summary

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus" / "feeds"
EVAL = ROOT / "benchmarks" / "eval"
SETS = (  # (label, feed folder, [[feeds]] hints)
    ("shared corpus", SHARED, ROOT / "benchmarks" / "corpus_hints.toml"),
    ("eval feeds", EVAL / "feeds", EVAL / "hints.toml"),
)
NOW = datetime(2026, 11, 22, tzinfo=UTC)
CLIP = 90  # characters shown each side of a change
KEPT_EXAMPLES = 400  # candidates kept per rule, before picking across feed files


@dataclass
class Tally:
    entries: int = 0
    summaries: int = 0  # entries with a readable summary before cleaning
    changed: int = 0
    same_as_real: int = 0
    compared: int = 0
    emptied: list[str] = field(default_factory=list)
    dropped: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (file, text)
    cuts: Counter[str] = field(default_factory=Counter)
    cut_examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _hints(path: Path) -> dict[str, dict[str, object]]:
    if not path.exists():
        return {}
    return {k: dict(v) for k, v in tomllib.loads(path.read_text("utf-8")).items()}


def _clip(before: str, after: str) -> tuple[str, str]:
    """Both texts clipped around where they differ."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1

    def show(text: str) -> str:
        lo, hi = max(0, start - CLIP // 3), min(len(text), len(text) - end + CLIP // 3)
        hi = max(hi, min(len(text), lo + CLIP))
        body = text[lo:hi]
        return ("…" if lo else "") + body + ("…" if hi < len(text) else "") if text else "∅"

    return show(before), show(after)


def _file_feed(path: Path, hints: dict[str, dict[str, object]]) -> FeedSettings:
    hint = hints.get(path.name, {})
    return FeedSettings(
        url=f"http://127.0.0.1/{path.name}",
        country=str(hint.get("country", "")),
        language=str(hint.get("language", "")),
        local=bool(hint.get("local", False)),
    )


def run_set(
    feeds: Sequence[Path], hints: dict[str, dict[str, object]], widths: Sequence[int]
) -> Tally:
    tally = Tally()
    for path in feeds:
        feed = _file_feed(path, hints)
        fetched = Fetched(
            200, feed.url, {"content-type": "application/xml"}, path.read_bytes(), None
        )
        posts = parse_feed(feed, fetched, NOW, max_entries=100_000).posts
        by_title: dict[str, list[str]] = {}
        for post in posts:
            by_title.setdefault(post.title, []).append(post.summary)
        for entry in _feedparser(fetched).get("entries") or []:
            title, raw = entry_texts(entry)
            tally.entries += 1
            cleaning = clean_summary(raw, title)
            ours = _shorten(cleaning.text, MAX_SUMMARY_CHARS)
            key = _shorten(title or (_shorten(ours, 80) if ours else ""), MAX_TITLE_CHARS)
            if by_title.get(key):
                tally.compared += 1
                tally.same_as_real += by_title[key].pop(0) == ours
            _count(tally, path.name, cleaning)
            if ours:
                for width in widths:
                    _count_cut(tally, path.name, ours, width)
    return tally


def _count(tally: Tally, name: str, cleaning: Cleaning) -> None:
    if not readable(cleaning.original):
        return
    tally.summaries += 1
    tally.changed += bool(cleaning.steps)
    if cleaning.dropped:
        tally.dropped += 1
    elif not readable(cleaning.text):
        tally.emptied.append(f"{name}: {cleaning.original[:120]!r}")
    for rule in cleaning.refused:
        tally.refused[rule] += 1
    for rule in cleaning.changed_by:
        tally.by_rule[rule] += 1
        shown = tally.examples.setdefault(rule, [])
        if len(shown) < KEPT_EXAMPLES:
            step = next(s for s in cleaning.steps if s.rule == rule)
            before, after = _clip(step.before, step.after)
            shown.append((name, f"    [{name}]\n      - {before}\n      + {after}"))


def _pick(candidates: list[tuple[str, str]], n: int) -> list[str]:
    """`n` examples taken in turn from each feed file, so they show many outlets."""
    by_file: dict[str, list[str]] = {}
    for name, text in candidates:
        by_file.setdefault(name, []).append(text)
    picked: list[str] = []
    while len(picked) < n and any(by_file.values()):
        for texts in by_file.values():
            if texts and len(picked) < n:
                picked.append(texts.pop(0))
    return picked


# --- judging a display cut, independently of digest.render.typography -------------------

_SENTENCE_MARKS = "。！？｡．.!?"
_CLOSERS = "」』）)]】\"'”’»"
_CLAUSE_MARKS = "、，,;；：:︰"
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)


def _ideograph_or_hiragana(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x3040 <= o <= 0x309F or o >= 0x20000


def _in_token(ch: str) -> bool:
    """Part of a Latin word, a number, a URL, a Hangul or katakana word."""
    return (ch.isalnum() and not _ideograph_or_hiragana(ch)) or ch in "-_./:'’%+&@#~=?"


def judge_cut(full: str, cut: str) -> str:
    if cut.endswith("…") and not full.startswith(cut):
        head, ellipsis = cut[:-1], True
    else:
        head, ellipsis = cut, False
    if not full.startswith(head):
        return "NOT A PREFIX"
    body = head.rstrip(_CLOSERS)
    if not ellipsis:
        return "sentence end" if body and body[-1] in _SENTENCE_MARKS else "UNMARKED CUT"
    if body and body[-1] in "。！？｡":
        return "ELLIPSIS AFTER A SENTENCE END"
    p = len(head)
    before, after = full[p - 1], full[p]
    if any(start < p < end for start, end in (m.span() for m in _URL.finditer(full))):
        return "MID-WORD"
    if after in _CLAUSE_MARKS:
        return "clause boundary"
    if after.isspace() or before.isspace():
        return "word boundary"
    if _in_token(before) and _in_token(after):
        return "MID-WORD"
    if _ideograph_or_hiragana(before) and _ideograph_or_hiragana(after):
        if (_hiragana(before) and not _hiragana(after)) or before in "的了和与與及或在是对對":
            return "CJK phrase end"  # after a particle or a function character
        return "inside a CJK run"
    return "word boundary"


def _hiragana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x309F


def _count_cut(tally: Tally, name: str, summary: str, width: int) -> None:
    full = one_line(summary)
    cut = truncate_summary(summary, width)
    if cut == full:
        return
    if full.endswith("…") and not cut.endswith("…") and len(cut) < len(full):
        kind = "sentence end"  # a feed's own cut, taken back to its last sentence end
    else:
        kind = judge_cut(full, cut)
    tally.cuts[kind] += 1
    shown = tally.cut_examples.setdefault(kind, [])
    if len(shown) < KEPT_EXAMPLES:
        tail = cut[-70:]
        rest = full[len(cut.rstrip("…")) :][:30]
        shown.append((name, f"    [{name} @{width}] …{tail} ‖ {rest}…"))


CUT_KINDS = (
    "sentence end",
    "clause boundary",
    "word boundary",
    "CJK phrase end",
    "inside a CJK run",
)
BAD_CUTS = ("MID-WORD", "UNMARKED CUT", "NOT A PREFIX", "ELLIPSIS AFTER A SENTENCE END")


def report(label: str, tally: Tally, files: int, examples: int) -> list[str]:
    """Prints the figures of one set; returns the targets it missed."""
    print(f"== {label}: {files} feed files, {tally.entries} entries, "
          f"{tally.summaries} with a summary, {tally.changed} changed by cleaning")  # fmt: skip
    print(f"same as the real path: {tally.same_as_real}/{tally.compared}")
    print("per rule (summaries changed; refused = would have emptied it, so not applied):")
    for rule in RULE_NAMES:
        refused = f"  (refused {tally.refused[rule]})" if tally.refused[rule] else ""
        print(f"  {rule:<22}{tally.by_rule[rule]:>5}{refused}")
    print(f"summaries emptied by cleaning: {len(tally.emptied)} (target 0)")
    for line in tally.emptied:
        print(f"  {line}")
    print(f"summaries dropped because they only repeated the title: {tally.dropped}")
    total = sum(tally.cuts.values())
    print(f"display cuts: {total}")
    for kind in (*CUT_KINDS, *BAD_CUTS):
        if kind in (*CUT_KINDS, BAD_CUTS[0]) or tally.cuts[kind]:
            target = " (target 0)" if kind in BAD_CUTS else ""
            print(f"  {kind:<30}{tally.cuts[kind]:>5}{target}")
    if examples:
        for rule in RULE_NAMES:
            if tally.examples.get(rule):
                print(f"-- {rule}: {tally.by_rule[rule]} changed; examples:")
                print("\n".join(_pick(tally.examples[rule], examples)))
        for kind in (*CUT_KINDS, *BAD_CUTS):
            if tally.cut_examples.get(kind):
                print(f"-- cuts at: {kind} (text ‖ what was cut)")
                print("\n".join(_pick(tally.cut_examples[kind], examples)))
    missed = []
    if tally.emptied:
        missed.append(f"{label}: {len(tally.emptied)} summaries emptied by cleaning")
    bad = sum(tally.cuts[k] for k in BAD_CUTS)
    if bad:
        missed.append(f"{label}: {bad} display cuts inside a word or wrongly marked")
    if tally.same_as_real != tally.compared:
        missed.append(
            f"{label}: {tally.compared - tally.same_as_real} summaries differ from the real path"
        )
    print()
    return missed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10, help="before/after examples per rule")
    parser.add_argument(
        "--widths",
        default=str(SUMMARY_WIDTH),
        help="display widths to cut at, comma-separated (default: the email's)",
    )
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    missed: list[str] = []
    for label, folder, hints in SETS:
        files = sorted(folder.glob("*.xml"))
        if not files:
            print(f"== {label}: no feeds in {folder}; skipped\n")
            continue
        tally = run_set(files, _hints(hints), widths)
        missed += report(label, tally, len(files), args.examples)
    print("FAIL: " + "; ".join(missed) if missed else "PASS")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
