"""Benchmark of `digest.fetch.gather`: concurrent versus sequential, first and second run.

Serves N feeds × M items (RSS 2.0 and Atom, en/ja/zh/ko) from a real loopback
`FeedServer` that waits `--delay` seconds before every answer (304s included),
then times, in one process:

1. concurrent first run into an empty database (every post new);
2. concurrent second run (every feed answers 304);
3. the sequential baseline: the same two runs with `concurrency = 1` on a fresh
   database.

Targets (defaults: 100 feeds × 20 items, 100 ms delay): first run ≤ 1.5 s and
≥ 10× faster than sequential; second run ≤ 0.3 s and ≥ 30× faster than
sequential. Prints PASS/FAIL per target and exits 1 if any fails.

Run: `.venv/bin/python benchmarks/gather.py [--feeds N] [--items M] [--delay S]
[--concurrency C]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from xml.sax.saxutils import escape

from digest.config import GatherSettings, Settings, parse_settings
from digest.fetch.gather import GatherReport, gather
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
            "gather": {"concurrency": concurrency, "timeout": 10, "allow_private": ["127.0.0.1"]},
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
    args = ap.parse_args(argv)
    concurrency = args.concurrency or GatherSettings().concurrency

    with serving(args) as (urls, size), tempfile.TemporaryDirectory() as tmp:
        print(
            f"{args.feeds} feeds × {args.items} items ({size / 1e6:.1f} MB), "
            f"server delay {args.delay * 1000:.0f} ms ({args.server}), "
            f"concurrency {concurrency}, {os.cpu_count()} CPUs"
        )
        c_first, c_second = timed_runs(urls, concurrency, Path(tmp) / "concurrent.sqlite3")
        s_first, s_second = timed_runs(urls, 1, Path(tmp) / "sequential.sqlite3")

    r_first, r_second = s_first / c_first, s_second / c_second
    print(f"sequential: first run {s_first:6.2f} s, second run {s_second:6.2f} s")
    print(f"concurrent: first run {c_first:6.2f} s, second run {c_second:6.2f} s")
    print(f"speed-up:   first run {r_first:6.1f}×,  second run {r_second:6.1f}×")
    checks = [
        ("first run  ≤ 1.5 s", c_first <= 1.5, f"{c_first:.2f} s"),
        ("first run  ≥ 10× sequential", r_first >= 10, f"{r_first:.1f}×"),
        ("second run ≤ 0.3 s", c_second <= 0.3, f"{c_second:.3f} s"),
        ("second run ≥ 30× sequential", r_second >= 30, f"{r_second:.1f}×"),
    ]
    for name, passed, value in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name:30} {value}")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
