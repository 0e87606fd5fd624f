"""How well `filter = "ai"` keeps AI stories, on real labelled feeds.

Gathers the labelled corpus through the real pipeline (as benchmarks/countries.py
does) and compares `Relevance.is_about("ai", ...)` with the `is_ai` labels:
precision, recall, and the items it got wrong. Targets (issue 12, on the
corpus and on the evaluation set alike): precision ≥ 0.93, recall ≥ 0.92.
Exits 1 when a target is missed.

    .venv/bin/python benchmarks/relevance.py [--feeds DIR] [--labels FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from corpus import DEFAULT_FEEDS, DEFAULT_LABELS, gather_corpus

from digest.editorial.relevance import Relevance, load_topics

MIN_PRECISION = 0.93
MIN_RECALL = 0.92


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=Path, default=DEFAULT_FEEDS, help="folder of feed files")
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="labels.tsv")
    ap.add_argument("--quiet", action="store_true", help="do not list the wrong titles")
    args = ap.parse_args(argv)

    items, settings = gather_corpus(args.feeds, args.labels)
    relevance = Relevance(load_topics(settings.topics_file))
    tp = fp = fn = tn = 0
    wrong = []
    for item in items:
        got = item.post is not None and relevance.is_about("ai", item.post.title, item.post.summary)
        if got and item.is_ai:
            tp += 1
        elif got:
            fp += 1
            wrong.append(("kept, not AI", item))
        elif item.is_ai:
            fn += 1
            wrong.append(("dropped, AI ", item))
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    print(f"{len(items)} labelled items: {tp + fn} AI, {fp + tn} not")
    if not args.quiet:
        for what, item in wrong:
            print(f"  {what} [{item.file}] {item.title[:90]}")
    print(f"kept {tp + fp}: true {tp}, false {fp}; dropped {fn + tn}: AI {fn}")
    failed = []
    if precision < MIN_PRECISION:
        failed.append(f"precision {precision:.3f} < {MIN_PRECISION}")
    if recall < MIN_RECALL:
        failed.append(f"recall {recall:.3f} < {MIN_RECALL}")
    print("FAIL: " + "; ".join(failed) if failed else "PASS")
    print(f"is_ai precision: {precision:.3f}  recall: {recall:.3f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
