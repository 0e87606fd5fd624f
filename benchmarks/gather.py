"""Benchmark of `digest.fetch.gather`: concurrent versus sequential, first and second run.

Serves N feeds × M items (RSS 2.0 and Atom, en/ja/zh/ko) from a real loopback
`FeedServer` that waits `--delay` seconds before every answer (304s included),
then times, in one process:

1. concurrent first run into an empty database (every post new);
2. concurrent second run (every feed answers 304);
3. the sequential baseline: the same two runs with `concurrency = 1` on a fresh
   database.

Then, as a user runs them (whole processes, same feeds, same run):

4. `digest gather` twice on a fresh database (first run, then all 304), and the
   floors: of a first run, a minimal asyncio client and feedparser alone (in as
   many processes as digest uses) on the same bytes; of an unchanged run, the
   same client sending the ETags digest stored (each a process of its own);
5. rss2email 3.14 (`r2e run --no-send`) twice, the peer: installed with pip into
   a venv of the benchmark's own, var/bench-rss2email (made on first use; the
   peer is skipped with a notice when it cannot be installed, and with
   `--no-peer`);
6. peak memory of `digest gather` (first run, then all 304, on a database of
   their own): the whole process tree (gather, fork server, parser workers,
   resource tracker) sampled from /proc every 20 ms, PSS and RSS summed over
   the processes (getrusage's ru_maxrss would not do: it is one process's, and
   carries over the benchmark's own through fork and exec); these two runs
   are not timed (`--no-memory` skips them).

One server on 127.0.0.1 stands for N hosts of a feed each, so digest's limit
per host (`[gather] per_host`) is switched off (`per_host = 0`) in every run
of digest here: N feeds of one real host would be fetched `per_host` at a time.

Targets (defaults: 100 feeds × 20 items, 100 ms delay): first run ≤ 1.5 s and
≥ 10× faster than sequential; second run ≤ 0.3 s and ≥ 30× faster than
sequential; as whole processes, first run ≤ 1.5× the floor, unchanged run
≤ 1.0 s, ≥ 8× rss2email's first run and ≥ 15× its unchanged run. Prints
PASS/FAIL per target and exits 1 if any fails.

With `--rounds N`, step 4 is made N times (each on a fresh database, digest's two
runs then their floors), and the median of the rounds' ratios is judged: on a
shared host whose load drifts, a round compares runs made seconds apart.

Run: `.venv/bin/python benchmarks/gather.py [--feeds N] [--items M] [--delay S]
[--concurrency C] [--rounds N] [--no-peer] [--no-sequential]`; at 1,000 feeds:
`--feeds 1000 --no-peer --no-sequential --rounds 5` (the sequential runs and the
peer take minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import feedparser
from bytecode_cache import compile_like_an_install

from digest.config import GatherSettings, Settings, parse_settings
from digest.fetch.gather import GatherReport, gather
from digest.fetch.workers import auto_workers
from digest.loopback.feedserver import FeedServer, Route
from digest.state.store import Store

NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)

SUBJECTS = {
    "en": [
        ("Seoul's AI semiconductor push", "Samsung and SK hynix expand HBM capacity"),
        ("Tokyo startup raises funding", "for a Japanese-language large language model"),
        ("Singapore sandbox for generative AI", "regulators invite banks to test agents"),
        ("Shenzhen robotics cluster", "draws record venture investment this quarter"),
        ("Bengaluru data centre boom", "hyperscalers commit to new GPU regions"),
        ("Abu Dhabi sovereign AI fund", "backs open-weight model research"),
    ],
    "ja": [
        ("東京のAIスタートアップが資金調達", "日本語特化の大規模言語モデルを開発"),
        ("経済産業省が生成AIの指針を改定", "企業の利用ルールを明確化"),
        ("大阪で自動運転の実証実験", "2026年の万博跡地で実施へ"),
        ("国内GPUクラウドの需要が急拡大", "データセンター各社が増設を発表"),
    ],
    "zh": [
        ("深圳人工智能产业集群加速发展", "多家机器人企业完成新一轮融资"),
        ("香港推出生成式人工智能沙盒", "金融机构可测试大模型应用"),
        ("北京发布大模型备案新规", "开源模型生态持续扩大"),
        ("台积电扩大先进封装产能", "满足人工智能芯片需求"),
    ],
    "ko": [
        ("삼성전자, HBM4 양산 앞당긴다", "AI 반도체 수요 급증에 대응"),
        ("네이버, 하이퍼클로바X 새 버전 공개", "한국어 성능 대폭 향상"),
        ("정부, AI 기본법 시행령 발표", "스타트업 지원 확대"),
        ("판교 AI 스타트업 투자 급증", "벤처캐피털 관심 집중"),
    ],
}
FILLER = {
    "en": "Analysts said the move reflects growing competition across Asia's AI hubs, "
    "where governments and companies are investing in compute, talent and data. ",
    "ja": "アナリストは、アジアのAI拠点間で計算資源や人材、"
    "データへの投資競争が激しくなっていると指摘した。",
    "zh": "分析人士指出，亚洲各人工智能中心在算力、人才和数据方面的竞争日益激烈。",
    "ko": "전문가들은 아시아 AI 허브 간 컴퓨팅 자원과 인재, "
    "데이터 확보 경쟁이 치열해지고 있다고 분석했다. ",
}


def _items(n_feed: int, n_items: int, lang: str, rng: random.Random) -> list[dict[str, str]]:
    items = []
    for i in range(n_items):
        head, tail = rng.choice(SUBJECTS[lang])
        when = NOW - timedelta(hours=n_feed + i * 7)
        summary = (
            f"<p><strong>{head}</strong>: {tail}.</p>"
            f"<p>{FILLER[lang] * rng.randint(2, 4)}</p>"
            f'<p><a href="https://news{n_feed}.example/{i}?utm_source=rss">Read more</a></p>'
        )
        items.append(
            {
                "title": f"{head} — {tail} ({i})",
                "link": f"https://news{n_feed}.example/{lang}/2026/{i:04d}?utm_medium=feed",
                "guid": f"https://news{n_feed}.example/p/{i}",
                "summary": summary,
                "date": when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                "iso": when.isoformat(),
            }
        )
    return items


def rss(n_feed: int, n_items: int, lang: str, rng: random.Random) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>News {n_feed} ({lang})</title><link>https://news{n_feed}.example/</link>",
        f"<language>{lang}</language><description>Feed {n_feed}</description>",
    ]
    for it in _items(n_feed, n_items, lang, rng):
        parts.append(
            f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
            f'<guid isPermaLink="false">{it["guid"]}</guid><pubDate>{it["date"]}</pubDate>'
            f"<description>{escape(it['summary'])}</description></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode()


def atom(n_feed: int, n_items: int, lang: str, rng: random.Random) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">',
        f"<title>News {n_feed} ({lang})</title><id>urn:feed:{n_feed}</id>",
        f'<link href="https://news{n_feed}.example/"/><updated>{NOW.isoformat()}</updated>',
    ]
    for it in _items(n_feed, n_items, lang, rng):
        parts.append(
            f"<entry><title>{escape(it['title'])}</title>"
            f'<link href="{escape(it["link"])}"/><id>{it["guid"]}</id>'
            f"<updated>{it['iso']}</updated>"
            f'<summary type="html">{escape(it["summary"])}</summary></entry>'
        )
    parts.append("</feed>\n")
    return "".join(parts).encode()


def build_routes(server: FeedServer, feeds: int, items: int) -> list[str]:
    rng = random.Random(42)
    languages = list(SUBJECTS)
    urls = []
    for n in range(feeds):
        lang = languages[n % len(languages)]
        if n % 3 == 2:
            server[f"/feeds/{n}.atom"] = Route(
                atom(n, items, lang, rng), content_type="application/atom+xml; charset=utf-8"
            )
            urls.append(server.url(f"/feeds/{n}.atom"))
        else:
            server[f"/feeds/{n}.rss"] = Route(rss(n, items, lang, rng))
            urls.append(server.url(f"/feeds/{n}.rss"))
    return urls


def settings_for(urls: list[str], concurrency: int, db: Path) -> Settings:
    return parse_settings(
        {
            "feeds": [{"url": u} for u in urls],
            # The feeds are served on loopback, which digest refuses unless allowed.
            # One server stands for many hosts: no limit per host (module docstring).
            "gather": {
                "concurrency": concurrency,
                "per_host": 0,
                "timeout": 10,
                "allow_private": ["127.0.0.1"],
            },
            "storage": {"path": str(db)},
        },
        Path("bench.toml"),
    )


def timed_runs(urls: list[str], concurrency: int, db: Path) -> tuple[float, float]:
    settings = settings_for(urls, concurrency, db)
    with Store(db) as store:
        t0 = time.perf_counter()
        first = gather(settings, store, NOW)
        t1 = time.perf_counter()
        second = gather(settings, store, NOW)
        t2 = time.perf_counter()
    _check(first, "ok", len(urls))
    _check(second, "not_modified", len(urls))
    return t1 - t0, t2 - t1


def _check(report: GatherReport, status: str, n: int) -> None:
    bad = [r for r in report.results if r.status != status]
    if bad or len(report.results) != n:
        for line in report.summary_lines():
            print("  " + line)
        raise SystemExit(f"benchmark invalid: expected every feed {status!r}")


def _serve(feeds: int, items: int, delay: float, conn: Connection) -> None:
    """Child process: serve the feeds until told to stop."""
    with FeedServer(delay=delay) as server:
        urls = build_routes(server, feeds, items)
        conn.send((urls, sum(len(r.body) for r in server.routes.values())))
        conn.recv()


@contextmanager
def serving(args: argparse.Namespace) -> Iterator[tuple[list[str], int]]:
    """The feed URLs and their total size, served in a child process or a thread."""
    if args.server == "thread":
        with FeedServer(delay=args.delay) as server:
            urls = build_routes(server, args.feeds, args.items)
            yield urls, sum(len(r.body) for r in server.routes.values())
        return
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_serve, args=(args.feeds, args.items, args.delay, theirs))
    child.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        child.join()
        ours.close()
        theirs.close()


ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "var" / "bench-rss2email"
PEER = "rss2email==3.14"


def _twice(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time of two runs of `command`, each a process of its own."""
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"benchmark invalid: {command[0]} failed:\n{done.stderr[-2000:]}")
    return times[0], times[1]


def _gather_command(urls: list[str], tmp: Path, db: str, concurrency: int) -> list[str]:
    config = tmp / f"{db}.toml"
    config.write_text(
        "".join(f'[[feeds]]\nurl = "{u}"\n' for u in urls)
        + f'[storage]\npath = "{(tmp / db).as_posix()}.sqlite3"\n'
        # One server stands for many hosts: no limit per host (module docstring).
        + '[gather]\nallow_private = ["127.0.0.1"]\nper_host = 0\n'
        # The floors' concurrency, written out: the same for both.
        + f"concurrency = {concurrency}\n"
    )
    return [sys.executable, "-m", "digest", "--config", str(config), "gather"]


def digest_processes(
    urls: list[str], tmp: Path, concurrency: int, db: str = "cli"
) -> tuple[float, float]:
    """`digest gather` as a user runs it: first run, then the run where all is 304."""
    return _twice(_gather_command(urls, tmp, db, concurrency), tmp)


@dataclass(frozen=True)
class Round:
    """One round of the whole-process runs: digest's two runs, then their floors."""

    first: float
    second: float
    floor_first: float
    floor_second: float

    @property
    def ratio(self) -> float:
        return self.first / self.floor_first


def whole_process_rounds(
    urls: list[str], tmp: Path, concurrency: int, entries: int, rounds: int
) -> list[Round]:
    """`rounds` rounds, each on a fresh database: `digest gather` twice, then the
    floors of both runs. On a machine whose load drifts (a shared host), a round's
    ratio compares runs made seconds apart; the median of the rounds is judged."""
    out = []
    for r in range(rounds):
        db = f"cli{r}"
        first, second = digest_processes(urls, tmp, concurrency, db)
        floor_first = floor(urls, concurrency, entries)
        floor_second = floor_unchanged(urls, concurrency, tmp / f"{db}.sqlite3")
        out.append(Round(first, second, floor_first, floor_second))
    return out


def _tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text("ascii", "replace")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


@dataclass
class TreeMemory:
    """Peak memory of a process tree: the sums over all its processes at one
    moment (RSS counts pages shared by forked processes in each of them; PSS
    shares them out), sampled from /proc/<pid>/smaps_rollup."""

    rss_kb: int = 0
    pss_kb: int = 0
    processes: int = 0

    def sample(self, root: int) -> None:
        rss = pss = 0
        pids = _tree(root)
        for pid in pids:
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        self.rss_kb, self.pss_kb = max(self.rss_kb, rss), max(self.pss_kb, pss)
        self.processes = max(self.processes, len(pids))

    def __str__(self) -> str:
        return (
            f"{self.pss_kb / 1024:5.0f} MB PSS, {self.rss_kb / 1024:5.0f} MB RSS, summed over "
            f"{self.processes} processes"
        )


def measured(command: list[str], cwd: Path, every: float = 0.02) -> TreeMemory:
    """Run `command` once, sampling its whole process tree's memory (untimed: the
    sampling takes CPU of its own)."""
    memory = TreeMemory()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while child.poll() is None:
        memory.sample(child.pid)
        time.sleep(every)
    if child.returncode != 0:
        raise SystemExit(f"benchmark invalid: {command[0]} failed ({child.returncode})")
    return memory


def digest_memory(urls: list[str], tmp: Path, concurrency: int) -> tuple[TreeMemory, TreeMemory]:
    """Peak memory of `digest gather`, first run and all-304 run, on a database of
    their own (their wall times are not taken: sampling /proc costs CPU too)."""
    command = _gather_command(urls, tmp, "memory", concurrency)
    return measured(command, tmp), measured(command, tmp)


def peer_r2e() -> Path | None:
    """rss2email's `r2e`, installed into the benchmark's own venv when missing."""
    r2e = PEER_VENV / "bin" / "r2e"
    if not r2e.exists():
        print(f"installing {PEER} into {PEER_VENV} …")
        try:
            venv.create(PEER_VENV, with_pip=True)
            pip = [str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "-q", PEER]
            subprocess.run(pip, check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"rss2email unavailable, peer skipped: {e}")
            return None
    return r2e


def r2e_processes(r2e: Path, urls: list[str], tmp: Path) -> tuple[float, float]:
    """`r2e run --no-send` twice on the same feeds (it fetches them one after another)."""
    where = ["-c", str(tmp / "r2e.cfg"), "-d", str(tmp / "r2e.json")]
    opml = tmp / "feeds.opml"
    outlines = "".join(
        f'<outline type="rss" text="f{i}" xmlUrl="{u}"/>' for i, u in enumerate(urls)
    )
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    for setup in (["new", "bench@example.invalid"], ["opmlimport", str(opml)]):
        subprocess.run([str(r2e), *where, *setup], cwd=tmp, check=True, capture_output=True)
    return _twice([str(r2e), *where, "run", "--no-send"], tmp)


async def _get(url: str, slots: asyncio.Semaphore) -> bytes:
    """The least an HTTP/1.0 GET can do: one connection, read to EOF, drop the head."""
    parts = urlsplit(url)
    async with slots:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
    return data.partition(b"\r\n\r\n")[2]


# The floor of an unchanged run, self-contained (importing this module would
# import digest and feedparser): conditional HTTP/1.0 GETs, counting the 304s.
FLOOR_304 = """
import asyncio, json, sys, time
from urllib.parse import urlsplit
t = time.perf_counter()

async def get(url, etag, slots):
    parts = urlsplit(url)
    async with slots:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            f"GET {parts.path} HTTP/1.0\\r\\nHost: {parts.netloc}\\r\\n"
            f"If-None-Match: {etag}\\r\\n\\r\\n".encode()
        )
        data = await reader.read()
        writer.close()
    return data.split(b" ", 2)[1] == b"304"

async def main(etags, concurrency):
    slots = asyncio.Semaphore(concurrency)
    return sum(await asyncio.gather(*(get(u, e, slots) for u, e in etags.items())))

n = asyncio.run(main(json.load(open(sys.argv[2])), int(sys.argv[1])))
print(time.perf_counter() - t, n)
"""


def floor_unchanged(urls: list[str], concurrency: int, db: Path) -> float:
    """The floor of an unchanged run, in a process of its own: the same conditional
    GETs (the ETags digest stored) from a minimal asyncio client; no store."""
    with sqlite3.connect(db) as conn:
        etags = dict(conn.execute("SELECT url, etag FROM feeds WHERE etag IS NOT NULL"))
    if len(etags) != len(urls):
        raise SystemExit(f"benchmark invalid: {len(etags)} of {len(urls)} feeds have an ETag")
    spec = db.with_suffix(".etags.json")
    spec.write_text(json.dumps(etags))
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", FLOOR_304, str(concurrency), str(spec)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if int(done.stdout.split()[1]) != len(urls):
        raise SystemExit(f"benchmark invalid: the floor got {done.stdout.split()[1]} 304s")
    return seconds


def _feedparser_alone(body: bytes) -> int:
    # The options digest uses (`digest.fetch.parse._feedparser`).
    parsed: Any = feedparser.parse(
        io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False
    )
    return len(parsed.entries)


async def _floor(urls: list[str], concurrency: int, workers: int) -> int:
    slots = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max(workers, 1)) as pool:

        async def one(url: str) -> int:
            return await loop.run_in_executor(pool, _feedparser_alone, await _get(url, slots))

        return sum(await asyncio.gather(*(one(u) for u in urls)))


def floor(urls: list[str], concurrency: int, entries: int) -> float:
    """The floor of a first run, in a process of its own like `digest gather`: a
    minimal asyncio client and feedparser alone (as many processes as digest
    uses) on the same bytes; no storing, no normalising, no checks."""
    code = (
        "import asyncio, sys, time; t = time.perf_counter(); sys.path.insert(0, sys.argv[1]); "
        "import gather as b; "
        "n = asyncio.run(b._floor(sys.argv[4:], int(sys.argv[2]), int(sys.argv[3]))); "
        "print(time.perf_counter() - t, n)"
    )
    here = str(Path(__file__).parent)
    workers = auto_workers(len(urls))
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, here, str(concurrency), str(workers), *urls],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if int(done.stdout.split()[1]) != entries:
        raise SystemExit(f"benchmark invalid: the floor parsed {done.stdout.split()[1]} entries")
    return seconds


def _against_sequential(
    sequential: tuple[float, float], c_first: float, c_second: float
) -> list[tuple[str, bool, str]]:
    s_first, s_second = sequential
    r_first, r_second = s_first / c_first, s_second / c_second
    print(f"sequential: first run {s_first:6.2f} s, second run {s_second:6.2f} s")
    print(f"concurrent: first run {c_first:6.2f} s, second run {c_second:6.2f} s")
    print(f"speed-up:   first run {r_first:6.1f}×,  second run {r_second:6.1f}×")
    return [
        ("first run  ≤ 1.5 s", c_first <= 1.5, f"{c_first:.2f} s"),
        ("first run  ≥ 10× sequential", r_first >= 10, f"{r_first:.1f}×"),
        ("second run ≤ 0.3 s", c_second <= 0.3, f"{c_second:.3f} s"),
        ("second run ≥ 30× sequential", r_second >= 30, f"{r_second:.1f}×"),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="digest gather benchmark")
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--delay", type=float, default=0.1, help="server delay per response, s")
    ap.add_argument("--concurrency", type=int, default=None, help="default: the config default")
    ap.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="run the FeedServer in a child process (like a remote host; default) or in a "
        "thread of this process (its request handling then competes for our GIL)",
    )
    ap.add_argument("--no-peer", action="store_true", help="skip the rss2email comparison")
    ap.add_argument(
        "--no-sequential",
        action="store_true",
        help="skip the sequential baseline and its targets (for --feeds 1000: it takes minutes)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of the whole-process runs and their floors; the median is judged",
    )
    ap.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the two extra `digest gather` runs that sample the process tree's memory",
    )
    args = ap.parse_args(argv)
    concurrency = args.concurrency or GatherSettings().concurrency
    compile_like_an_install()  # the `digest gather` processes start as an install's do

    with serving(args) as (urls, size), tempfile.TemporaryDirectory() as tmp:
        print(
            f"{args.feeds} feeds × {args.items} items ({size / 1e6:.1f} MB), "
            f"server delay {args.delay * 1000:.0f} ms ({args.server}), "
            f"concurrency {concurrency}, {os.cpu_count()} CPUs"
        )
        c_first, c_second = timed_runs(urls, concurrency, Path(tmp) / "concurrent.sqlite3")
        sequential = None
        if not args.no_sequential:
            sequential = timed_runs(urls, 1, Path(tmp) / "sequential.sqlite3")
        rounds = whole_process_rounds(
            urls, Path(tmp), concurrency, args.feeds * args.items, max(1, args.rounds)
        )
        memory = None if args.no_memory else digest_memory(urls, Path(tmp), concurrency)
        r2e = None if args.no_peer else peer_r2e()
        peer = r2e_processes(r2e, urls, Path(tmp)) if r2e else None

    if args.no_sequential:
        # The absolute targets are set for the default size (100 feeds).
        print(f"concurrent: first run {c_first:6.2f} s, second run {c_second:6.2f} s")
        checks: list[tuple[str, bool, str]] = []
    else:
        assert sequential is not None
        checks = _against_sequential(sequential, c_first, c_second)
    for n, r in enumerate(rounds, 1):
        label = f" (round {n})" if len(rounds) > 1 else ""
        print(
            f"processes:  first run {r.first:6.2f} s, second run {r.second:6.2f} s  "
            f"(digest gather){label}"
        )
        print(
            f"floor:      first run {r.floor_first:6.2f} s, second run {r.floor_second:6.2f} s  "
            f"(asyncio + feedparser alone, a process){label}"
        )
    ratio = statistics.median(r.ratio for r in rounds)
    p_first = statistics.median(r.first for r in rounds)
    p_second = statistics.median(r.second for r in rounds)
    if len(rounds) > 1:
        print(
            f"median of {len(rounds)} rounds: first run {ratio:.2f}× its floor "
            f"(rounds {min(r.ratio for r in rounds):.2f}–{max(r.ratio for r in rounds):.2f}×), "
            f"second run {p_second:.2f} s"
        )
    if memory is not None:
        print(f"peak memory, first run:  {memory[0]}")
        print(f"peak memory, second run: {memory[1]}")
    checks += [
        ("processes first  ≤ 1.5× floor", ratio <= 1.5, f"{ratio:.2f}×"),
        ("processes second ≤ 1.0 s", p_second <= 1.0, f"{p_second:.2f} s"),
    ]
    if peer is not None:
        q_first, q_second = peer[0] / p_first, peer[1] / p_second
        print(f"rss2email:  first run {peer[0]:6.2f} s, second run {peer[1]:6.2f} s  (r2e run)")
        print(f"vs r2e:     first run {q_first:6.1f}×,  second run {q_second:6.1f}×")
        checks += [
            ("processes first  ≥ 8× r2e", q_first >= 8, f"{q_first:.1f}×"),
            ("processes second ≥ 15× r2e", q_second >= 15, f"{q_second:.1f}×"),
        ]
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, passed, value in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name:30} {value}")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
