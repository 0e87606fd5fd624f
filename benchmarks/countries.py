"""How well stories land in the right country section, on real labelled feeds.

Serves a folder of feeds over local HTTP, gathers them through the real
pipeline, classifies every labelled item with the configured countries, and
prints section accuracy (a label outside the configured countries, or XX,
means the Global section), per-section precision and recall, a confusion
table, and the titles it got wrong. The last line reads `section accuracy: 0.NNN`.

    .venv/bin/python benchmarks/countries.py [--feeds DIR] [--labels FILE]

Targets (issues 3 and 12): section accuracy ≥ 0.92 (issue 12 asks 0.93 on
shared/corpus); recall ≥ 0.85 for every configured country with ≥ 5 labelled
items; items labelled US or XX placed in an Asian section ≤ 4%. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from corpus import DEFAULT_FEEDS, DEFAULT_HINTS, DEFAULT_LABELS, gather_corpus, read_hints

from digest.run.pipeline import classifier as pipeline_classifier

GLOBAL = "Global"
MAX_FOREIGN = 0.04  # share of US/XX items placed in an Asian section (issue 12)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=Path, default=DEFAULT_FEEDS, help="folder of feed files")
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="labels.tsv")
    ap.add_argument(
        "--hints",
        type=Path,
        default=DEFAULT_HINTS,
        help="TOML: feed file name → [[feeds]] keys country/local (default: corpus_hints.toml)",
    )
    ap.add_argument("--no-hints", action="store_true", help="classify without feed hints")
    ap.add_argument("--quiet", action="store_true", help="do not list the wrong titles")
    ap.add_argument(
        "--explain", action="store_true", help="under each wrong title, the names found"
    )
    args = ap.parse_args(argv)

    hints = {} if args.no_hints else read_hints(args.hints)
    items, settings = gather_corpus(args.feeds, args.labels, hints=hints)
    feed_of = {f.url: f for f in settings.feeds}
    countries = settings.digest.countries
    classifier = pipeline_classifier(settings)
    unmatched = [i for i in items if i.post is None]
    scored = [i for i in items if i.post is not None]

    def section(code: str) -> str:
        return code if code in countries else GLOBAL

    pairs = []  # (expected section, got section, item, verdict)
    for item in scored:
        assert item.post is not None
        feed = feed_of[item.post.feed_url]
        verdict = classifier.classify(
            item.post.title, item.post.summary, feed.country, local=feed.local
        )
        pairs.append((section(item.country), section(verdict.country), item, verdict))

    correct = sum(1 for want, got, _, _ in pairs if want == got)
    accuracy = correct / len(items) if items else 0.0  # unmatched items count as wrong
    print(
        f"{len(items)} labelled items, {len(scored)} matched to gathered posts, "
        f"{len(unmatched)} unmatched; configured countries: {' '.join(countries)}"
    )
    for item in unmatched:
        print(f"  unmatched: {item.file}  {item.title[:70]}")

    order = [*countries, GLOBAL]
    want_n = Counter(w for w, _, _, _ in pairs)
    got_n = Counter(g for _, g, _, _ in pairs)
    hit_n = Counter(w for w, g, _, _ in pairs if w == g)
    print("\nsection      labelled  placed  precision  recall")
    failed = []
    for code in order:
        if not want_n[code] and not got_n[code]:
            continue
        precision = hit_n[code] / got_n[code] if got_n[code] else float("nan")
        recall = hit_n[code] / want_n[code] if want_n[code] else float("nan")
        print(f"{code:10} {want_n[code]:9} {got_n[code]:7} {precision:10.3f} {recall:7.3f}")
        if code != GLOBAL and want_n[code] >= 5 and recall < 0.85:
            failed.append(f"recall {code} {recall:.3f} < 0.85")

    print("\nconfusion (rows: labelled section, columns: placed)")
    cols = [c for c in order if want_n[c] or got_n[c]]
    print(" " * 8 + "".join(f"{c:>7}" for c in cols))
    confusion = Counter((w, g) for w, g, _, _ in pairs)
    for want in cols:
        print(f"{want:8}" + "".join(f"{confusion[(want, got)] or '.':>7}" for got in cols))

    foreign = [p for p in pairs if p[2].country in ("US", "XX")]
    misplaced = [p for p in foreign if p[1] != GLOBAL]
    foreign_rate = len(misplaced) / len(foreign) if foreign else 0.0
    print(
        f"\nitems labelled US or XX placed in an Asian section: {len(misplaced)}/{len(foreign)}"
        f" = {foreign_rate:.3f} (target ≤ {MAX_FOREIGN})"
    )
    if foreign_rate > MAX_FOREIGN:
        failed.append(f"US/XX in Asian sections {foreign_rate:.3f} > {MAX_FOREIGN}")
    if accuracy < 0.92:
        failed.append(f"section accuracy {accuracy:.3f} < 0.92")

    if not args.quiet:
        print("\nwrong (labelled → placed, scores):")
        for want, got, item, verdict in pairs:
            if want != got:
                scores = " ".join(f"{c}={s:g}" for c, s in verdict.scores[:3])
                print(
                    f"  {item.country}→{verdict.country or 'none'} [{item.file}] "
                    f"{item.title[:80]}  ({scores})"
                )
                if args.explain:
                    for e in verdict.evidence:
                        print(f"      {e.where:7} {e.country} +{e.points:.2g}  {e.text} [{e.key}]")
    print("\n" + ("FAIL: " + "; ".join(failed) if failed else "PASS"))
    print(f"section accuracy: {accuracy:.3f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
