"""Charset and date check of `digest.fetch.gather` on feedparser's own test feeds.

Runs every `encoding__*`, `illformed__chardet__*` and date-related `wellformed__*`
file of the feedparser test corpus (BSD-licensed, see shared/corpus/SOURCES.md)
through the real gather path: a loopback `FeedServer` answers each file with its
`Header:` comment applied as response headers (Content-Type included; files
without one are served as `application/xml`, as `FeedServer.serve_directory`
would), and `gather` stores into a real SQLite `Store` in a temporary folder.

Per file it prints one of:

- `ok`: the feed was gathered and every stored text (post titles, summaries,
  the feed's title) reads as real text;
- `flagged`: the feed failed, or entries were left out / the charset was
  flagged in its warning: nothing garbled was stored;
- `MOJIBAKE`: something garbled was stored: U+FFFD, UTF-8 read as
  windows-1252 ("æ±äº¬", "â€™"), or, for a CJK file (Big5, EUC-JP, EUC-KR,
  GB2312, Shift_JIS), stored non-ASCII text without a single CJK character.

and, where the file's `Expect:` line names a text (`feed['title'] == '...'`,
`entries[0]['description'] == '...'`), whether that text was stored (`text
differs` is reported, not fatal: feedparser's expectation is sometimes the
mojibake itself, e.g. `bozo_linenoise`).

Dates: for files whose `Expect:` states an entry date (`entries[0]['published']
== '...'` or `entries[0]['updated_parsed'] == (...)`), the stored `published` is
compared with that date (parsed here with the standard library, not with
`digest.fetch.dates`). feedparser's date files have entries with neither title nor
link, which gather never stores; the benchmark adds `<title>entry</title>` to
each title-less `<item>`/`<entry>` of every ASCII-compatible file (the only
change made to any file) so that every entry reaches the store.

Mislabelled variants: every CJK file is served a second and third time with a
wrong HTTP charset (`application/xml; charset=iso-8859-1`, which overrides the
XML declaration and decodes any bytes without error, and `text/xml;
charset=utf-8`), the way misconfigured servers do; they are judged the same way.

Exits 1 if any file is MOJIBAKE or any checked date differs.

Run: `.venv/bin/python benchmarks/charsets.py [--dir FOLDER] [--verbose]`.
"""

from __future__ import annotations

import argparse
import ast
import calendar
import codecs
import html
import logging
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from digest.config import parse_settings
from digest.fetch.gather import FAILED, GatherReport, gather
from digest.fetch.normalize import html_to_text
from digest.loopback.feedserver import FeedServer, Route
from digest.models import Post
from digest.state.store import Store

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feedparser-tests"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

_DATE_WORDS = re.compile(
    r"date|modified|issued|created|updated|published|expiration|lastbuilddate|pubdate", re.I
)
_CJK_FILES = re.compile(r"big5|euc-?kr|euc-?jp|gb2312|shift_?jis", re.I)
_CJK = re.compile("[\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# UTF-8 lead byte + continuation bytes as windows-1252 shows them. Written here
# independently of digest.fetch.charset, so the check does not grade its own homework.
_MOJIBAKE = re.compile(
    "[ÂÃ][\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™šœžŸ]"
    "|[à-ï][\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™šœžŸ]{2}"
)
_COMMENT = re.compile(rb"<!--(.*?)-->", re.S)
_TEXT_EXPECT = re.compile(
    r"""(?:feed|entries\[0\])\[['"](title|description|summary)['"]\]\s*==\s*"""
    r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    r"""|entries\[0\]\.(summary)\s*==\s*('(?:[^'\\]|\\.)*')"""
)
_DATE_EXPECT = re.compile(
    r"""entries\[0\]\[['"](published|updated|created)(_parsed)?['"]\]\s*==\s*"""
    r"""('[^']*'|\([\d,\s]+\))"""
)
_ENTRY_OPEN = re.compile(rb"<(item|entry)(\s[^>]*)?>(?P<body>.*?)</\1>", re.S)


_EXPECT_ENCODING = re.compile(r"""\bencoding\s*==\s*['"]([\w.-]+)['"]""")
_SPACE = re.compile(r"\s+")


WRONG_CHARSETS = ("application/xml; charset=iso-8859-1", "text/xml; charset=utf-8")


@dataclass
class FileCase:
    path: Path
    route: Route
    expect: str
    cjk: bool
    raw: bytes
    served_as: str = ""  # set for the mislabelled variants

    @property
    def label(self) -> str:
        return self.path.name + (f" (served as {self.served_as})" if self.served_as else "")


@dataclass
class Verdict:
    name: str
    category: str  # "ok" | "flagged" | "MOJIBAKE"
    detail: str
    text_check: str  # "" | "text ok" | "text differs"
    date_check: str  # "" | "date ok" | "DATE DIFFERS"


def select(folder: Path) -> list[Path]:
    files = sorted(folder.glob("encoding__*")) + sorted(folder.glob("illformed__chardet__*"))
    files += sorted(p for p in folder.glob("wellformed__*") if _DATE_WORDS.search(p.name))
    return [p for p in files if p.is_file()]


def load(path: Path) -> FileCase:
    raw = path.read_bytes()
    comment = _COMMENT.search(raw[:4000])
    meta = comment.group(1).decode("utf-8", errors="replace") if comment else ""
    expect = ""
    content_type = "application/xml"
    headers: dict[str, str] = {}
    for line in meta.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Expect":
            expect = value.strip()
        elif key == "Header":
            name, _, header_value = value.strip().partition(":")
            if name.strip().lower() == "content-type":
                content_type = header_value.strip()
            elif name.strip():
                headers[name.strip()] = header_value.strip()
    body = _with_titles(raw)
    route = Route(body, content_type=content_type, headers=headers)
    return FileCase(path, route, expect, bool(_CJK_FILES.search(path.name)), raw)


def _with_titles(raw: bytes) -> bytes:
    if b"\x00" in raw[:100]:
        return raw  # UTF-16/32: left exactly as they are

    def add(match: re.Match[bytes]) -> bytes:
        whole = match.group()
        if b"<title" in match.group("body"):
            return whole
        opening = whole.index(b">") + 1
        return whole[:opening] + b"<title>entry</title>" + whole[opening:]

    return _ENTRY_OPEN.sub(add, raw)


def stored_posts(store: Store, url: str) -> list[Post]:
    everything = store.posts_between(
        datetime(1900, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
    )
    return [p for p in everything if p.feed_url == url]


def judge(case: FileCase, url: str, report: GatherReport, store: Store) -> Verdict:
    result = next(r for r in report.results if r.url == url)
    posts = stored_posts(store, url)
    texts = [t for p in posts for t in (p.title, p.summary) if t]
    if result.title:
        texts.append(result.title)
    bad = [t for t in texts if _garbled(t, case.cjk)]
    name = case.label
    text_check = _text_check(case, texts) if not bad else ""
    date_check = _date_check(case.expect, posts)
    if bad:
        return Verdict(name, "MOJIBAKE", repr(bad[0][:60]), text_check, date_check)
    warning = result.warning or ""
    if result.status == FAILED:
        return Verdict(name, "flagged", f"failed: {result.error}", text_check, date_check)
    if "left out" in warning or "charset unknown" in warning:
        return Verdict(name, "flagged", warning, text_check, date_check)
    detail = f"{len(posts)} posts" + (f"; warning: {warning}" if warning else "")
    return Verdict(name, "ok", detail, text_check, date_check)


def _garbled(text: str, cjk: bool) -> bool:
    if "\ufffd" in text or _MOJIBAKE.search(text):
        return True
    return cjk and not text.isascii() and not _CJK.search(text)


def _text_check(case: FileCase, texts: list[str]) -> str:
    """Whether the stored text is the one the file's `Expect:` line implies.

    Either a text it names, or, when it names the true encoding (the chardet
    files: `encoding == 'SHIFT_JIS'`), every stored non-ASCII text must appear
    (whitespace ignored) in the file decoded with that encoding.
    """
    by_encoding = _EXPECT_ENCODING.search(case.expect)
    foreign = [t for t in texts if not t.isascii()]
    if by_encoding and foreign:
        try:
            codecs.lookup(by_encoding.group(1))
        except LookupError:
            return ""
        document = _SPACE.sub("", html.unescape(case.raw.decode(by_encoding.group(1), "replace")))
        found = all(_SPACE.sub("", t)[:20] in document for t in foreign)
        return "text ok" if found else "text differs"
    wanted = []
    for match in _TEXT_EXPECT.finditer(case.expect):
        literal = match.group(2) or match.group(4)
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            continue
        text = html_to_text(value) if isinstance(value, str) else ""
        if text:
            wanted.append(text)
    if not wanted:
        return ""
    joined = "\n".join(texts)
    return "text ok" if all(w in joined for w in wanted) else "text differs"


def _date_check(expect: str, posts: list[Post]) -> str:
    match = _DATE_EXPECT.search(expect)
    if match is None:
        return ""
    literal = ast.literal_eval(match.group(3))
    if isinstance(literal, tuple):
        wanted = datetime.fromtimestamp(calendar.timegm((*literal[:6], 0, 0, 0)), UTC)
    else:
        try:
            wanted = parsedate_to_datetime(literal)
        except (TypeError, ValueError):
            wanted = datetime.fromisoformat(literal)
        wanted = wanted.astimezone(UTC)
    if not posts:
        return "DATE DIFFERS (no post stored)"
    got = posts[0].published
    if got == wanted and posts[0].date_from_feed:
        return "date ok"
    return f"DATE DIFFERS ({got.isoformat()} stored, {wanted.isoformat()} expected)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="feedparser-tests folder")
    parser.add_argument("--verbose", action="store_true", help="print details for ok files too")
    args = parser.parse_args(argv)
    # gather logs every flagged feed at WARNING; the table below says the same.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR, format="  log: %(message)s"
    )
    files = select(args.dir)
    if not files:
        print(f"no test files found in {args.dir}", file=sys.stderr)
        return 2
    cases = [load(p) for p in files]
    cases += [
        replace(case, route=replace(case.route, content_type=wrong), served_as=wrong)
        for case in cases
        if case.cjk
        for wrong in WRONG_CHARSETS
    ]
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        urls = []
        for n, case in enumerate(cases):
            path = f"/{n}/{case.path.name}"
            server[path] = case.route
            urls.append(server.url(path))
        settings = parse_settings(
            {
                "feeds": [{"url": u} for u in urls],
                # Served on loopback, which digest refuses unless allowed.
                "gather": {"timeout": 10.0, "allow_private": ["127.0.0.1"]},
            },
            Path("charsets.toml"),
        )
        with Store(Path(tmp) / "charsets.sqlite3") as store:
            report = gather(settings, store, NOW)
            verdicts = [judge(c, u, report, store) for c, u in zip(cases, urls, strict=True)]

    totals: dict[str, int] = {"ok": 0, "flagged": 0, "MOJIBAKE": 0}
    text_totals: dict[str, int] = {"text ok": 0, "text differs": 0}
    dates_ok = dates_bad = 0
    for v in verdicts:
        totals[v.category] += 1
        if v.text_check:
            text_totals[v.text_check] += 1
        if v.date_check == "date ok":
            dates_ok += 1
        elif v.date_check:
            dates_bad += 1
        extra = ", ".join(x for x in (v.text_check, v.date_check) if x)
        show_detail = args.verbose or v.category != "ok" or "DIFFERS" in v.date_check
        line = f"{v.category:9} {v.name}"
        if extra:
            line += f"  [{extra}]"
        if show_detail:
            line += f"  — {v.detail}"
        print(line)
    cjk = sum(1 for c in cases if c.cjk and not c.served_as)
    variants = sum(1 for c in cases if c.served_as)
    print()
    print(
        f"{len(verdicts) - variants} files ({cjk} CJK) + {variants} mislabelled variants:"
        f" {totals['ok']} ok, {totals['flagged']} flagged, "
        f"{totals['MOJIBAKE']} MOJIBAKE; expected texts: {text_totals['text ok']} found, "
        f"{text_totals['text differs']} differ"
    )
    print(f"dates: {dates_ok + dates_bad} checked, {dates_ok} ok, {dates_bad} differ")
    return 1 if totals["MOJIBAKE"] or dates_bad else 0


if __name__ == "__main__":
    sys.exit(main())
