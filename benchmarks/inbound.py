"""How well `digest inbox` tells bounces, complaints and unsubscribe mails apart.

Classifies every message of `tests/data/inbound/` (bounces and reports in the
formats of Postfix, Exim, Sendmail, qmail, Exchange, Gmail, Amazon SES, Yahoo,
Outlook.com, AOL, ESP relays, Japanese, Chinese and Korean providers, RFC 6533
and 6591 reports, auto-replies and unsubscribe mails: see its README.md) with
`digest.mail.inbound.classify` and compares kind, recipients, status and the
subscriber named by the token with `expected.tsv`. Prints one row per file
(file, expected, got, OK/WRONG) and `N/N classified right`, with the time taken.

Exits 1 on any WRONG. Run from the project folder:
    .venv/bin/python benchmarks/inbound.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from digest.mail.inbound import Inbound, classify

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "inbound"


def expected_rows() -> list[tuple[str, str]]:
    """(file, "kind | recipients | status | token id") from expected.tsv."""
    rows = []
    for line in (DATA / "expected.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, recipients, status, token = line.split("\t")
            rows.append((name, describe(kind, recipients, status, token)))
    return rows


def describe(kind: str, recipients: str, status: str, token: str) -> str:
    return f"{kind} | {recipients} | {status} | {token}"


def got(found: Inbound) -> str:
    return describe(
        str(found.kind),
        ",".join(found.recipients) or "-",
        found.status or "-",
        found.token.partition(".")[0] if found.token else "-",
    )


def main() -> int:
    rows = expected_rows()
    listed = {name for name, _ in rows}
    unlisted = sorted(p.name for p in DATA.glob("*.eml") if p.name not in listed)
    width = max(len(name) for name, _ in rows)
    right = 0
    started = time.perf_counter()
    print(f"{'file':<{width}}  {'expected':<48}  {'got':<48}  result")
    for name, expected in rows:
        answer = got(classify((DATA / name).read_bytes()))
        ok = answer == expected
        right += ok
        print(f"{name:<{width}}  {expected:<48}  {answer:<48}  {'OK' if ok else 'WRONG'}")
    seconds = time.perf_counter() - started
    for name in unlisted:
        print(f"{name}: not in expected.tsv")
    print(f"{right}/{len(rows)} classified right ({seconds * 1000:.0f} ms for all)")
    return 0 if right == len(rows) and not unlisted else 1


if __name__ == "__main__":
    sys.exit(main())
