"""Build-time and size check of the email: a realistic 60-story issue.

Renders a 60-story issue (Japanese, Chinese, Korean and English stories over
nine sections, a third with "also reported by" links, long summaries that get
truncated) in both languages, and checks:

- `render_issue` (email + web + text, one premailer run) takes < 0.5 s;
- the whole build from the store (select from SQLite + classify + merge +
  render + inline + text + archive files), as `digest build` runs it, < 0.5 s;
- the email HTML is at most 102 KB: Gmail clips larger messages and hides the
  rest (including the unsubscribe link) behind "View entire message".

Prints the figures and PASS/FAIL; exits 1 on FAIL. Run from the project folder:
    .venv/bin/python benchmarks/build.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.config import Settings, parse_settings
from digest.models import GLOBAL_SECTION, AlsoReported, Issue, Post, Section, Story
from digest.render.issue import personalize, render_issue
from digest.run.pipeline import build
from digest.state.store import Store

MAX_SECONDS = 0.5
MAX_BYTES = 102 * 1024  # Gmail clips at 102 KB

SECTIONS = [
    ("JP", "日本", "Japan"),
    ("KR", "韓国", "South Korea"),
    ("CN", "中国", "China"),
    ("HK", "香港", "Hong Kong"),
    ("TW", "台湾", "Taiwan"),
    ("SG", "シンガポール", "Singapore"),
    ("IN", "インド", "India"),
    ("AE", "アラブ首長国連邦", "United Arab Emirates"),
    (GLOBAL_SECTION, "グローバル", "Global"),
]

TITLES = [
    "ソフトバンク、生成AI向けの大規模データセンターを北海道苫小牧市に建設へ 投資額は数千億円規模",
    "Naver unveils HyperCLOVA X Think, a reasoning model tuned for Korean public-sector work",
    "百度发布文心大模型新版本，推理成本较上一代下降百分之八十，面向中小企业开放接口",
    "삼성전자, 차세대 HBM4 양산 앞당겨… 엔비디아 공급 계약 임박한 것으로 알려져",
    "Singapore's IMDA launches a S$70m programme to build Southeast Asian language models",
    "台積電先進封裝產能持續吃緊，CoWoS 擴產計畫再加碼以因應 AI 晶片需求",
    "India's AI Mission picks 8 startups to build foundation models on subsidised GPU capacity",
    "G42 and Microsoft open a 200MW AI campus in Abu Dhabi, the largest in the Gulf region",
    "経済産業省、AI事業者ガイドラインを改定 生成AIの透明性確保と知的財産保護を明記",
    "香港科技園公司推出人工智能超算中心第二期，為本地初創企業提供算力資助",
]

SUMMARIES = [
    "ソフトバンクは18日、生成AIの学習と推論に使う大規模データセンターを北海道苫小牧市に建設すると"
    "発表した。再生可能エネルギーを活用し、2027年度の稼働開始を目指す。受電容量は最終的に300メガ"
    "ワット超を計画しており、国内最大級となる見通し。同社は国産大規模言語モデルの開発も進めている。",
    "The Korean internet company said the model outperforms its predecessor on reasoning "
    "benchmarks and will be offered to ministries through a sovereign cloud. Naver also "
    "announced a partnership with a chipmaker to run inference on domestic accelerators, "
    "cutting costs. Analysts expect the public-sector market to grow quickly as agencies "
    "adopt generative AI for document work.",
    "百度在年度大会上表示，新模型在多项中文基准测试中表现领先，并将通过智能云向开发者开放。公司称，"
    "通过自研芯片与推理框架优化，调用价格大幅下降，预计将吸引更多中小企业采用。分析人士认为，"
    "国内大模型价格战仍将持续。",
    "삼성전자가 차세대 고대역폭메모리 HBM4의 양산 일정을 앞당기는 방안을 "
    "검토 중인 것으로 전해졌다. 업계에 따르면 엔비디아와의 공급 계약이 막바지 "
    "단계에 있으며, 내년 상반기부터 본격적인 공급이 시작될 전망이다. 회사 측은 "
    "구체적인 내용은 확인해 줄 수 없다고 밝혔다.",
]

SOURCES = [
    "日経クロステック",
    "ITmedia AI+",
    "The Korea Herald",
    "36氪",
    "DigiTimes Asia",
    "The Straits Times",
    "Inc42",
    "The National",
    "South China Morning Post",
    "Yonhap",
]


def make_issue(language: str, stories: int = 60) -> Issue:
    base = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    per_section: dict[str, list[Story]] = {code: [] for code, _, _ in SECTIONS}
    codes = [code for code, _, _ in SECTIONS]
    for i in range(stories):
        code = codes[i % len(codes)]
        also = (
            tuple(
                AlsoReported(
                    SOURCES[(i + k) % len(SOURCES)],
                    f"https://news.example-{k}.com/2026/11/{i:03d}/ai-hub-report-{k}",
                )
                for k in range(1 + i % 2)
            )
            if i % 3 == 0
            else ()
        )
        per_section[code].append(
            Story(
                title=TITLES[i % len(TITLES)],
                url=f"https://www.example-news-{i % 7}.com/articles/2026/11/{18 + i % 5}/"
                f"ai-{i:04d}-story-with-a-realistic-slug?ref=rss",
                source=SOURCES[i % len(SOURCES)],
                published=base + timedelta(hours=2 * i + 1),
                summary=SUMMARIES[i % len(SUMMARIES)],
                country="" if code == GLOBAL_SECTION else code,
                also=also,
                feed_url=f"https://feeds.example.com/{i % 13}.xml",
                post_id=f"post-{i}",
            )
        )
    names = {code: (ja if language == "ja" else en) for code, ja, en in SECTIONS}
    return Issue(
        week="2026-W47",
        number=3,
        title="アジアAIハブ週報" if language == "ja" else "Asian AI Hubs Weekly",
        language=language,
        timezone="Asia/Tokyo",
        start=datetime(2026, 11, 15, 15, 0, tzinfo=UTC),
        end=datetime(2026, 11, 22, 15, 0, tzinfo=UTC),
        sections=tuple(Section(c, names[c], tuple(per_section[c])) for c in codes),
        generated_at=datetime(2026, 11, 22, 15, 0, 5, tzinfo=UTC),
    )


# Distinct events for the pipeline build: near-duplicate clustering merges
# reports of one event, so reusing TITLES would merge them.
ACTORS = [
    "Samsung",
    "ソフトバンク",
    "百度",
    "Naver",
    "台積電",
    "G42",
    "Infosys",
    "Sea Group",
    "華為",
    "楽天",
    "카카오",
    "阿里云",
    "Upstage",
    "富士通",
    "腾讯",
    "MediaTek",
    "Sakana AI",
    "字节跳动",
    "LG",
    "NTT",
    "小米",
    "Foxconn",
    "Reliance Jio",
    "MBZUAI",
]
ACTIONS = [
    "opens a research lab in",
    "raises $1.2bn for a data centre in",
    "launches an open model built in",
    "signs a chip supply deal covering",
    "cuts inference prices for customers in",
    "hires 300 engineers for",
    "wins a government AI contract in",
]
PLACES = [
    "Seoul",
    "Tokyo",
    "Beijing",
    "Hong Kong",
    "Hsinchu",
    "Singapore",
    "Bengaluru",
    "Abu Dhabi",
    "Shenzhen",
    "Osaka",
    "Busan",
    "Hangzhou",
    "Taipei",
]


def event_title(i: int) -> str:
    return f"{ACTORS[i % len(ACTORS)]} {ACTIONS[i % len(ACTIONS)]} {PLACES[i % len(PLACES)]}"


def event_summary(i: int) -> str:
    """A summary of its own for event i: reports of different events share no passage."""
    actor, place = ACTORS[i % len(ACTORS)], PLACES[i % len(PLACES)]
    return (
        f"{actor} said the {place} project would employ {40 + 7 * i} people and cost "
        f"{1 + i % 9}.{i % 10}bn, with a first phase due in {2027 + i % 3}."
    )


def stored_week(language: str, stories: int, tmp: Path) -> tuple[Settings, list[Post]]:
    """Settings with their state in `tmp`, and a week of `stories` posts to store."""
    feeds = [f"https://feeds.example.com/{i}.xml" for i in range(stories)]
    settings = parse_settings(
        {
            "digest": {"language": language, "max_per_section": stories},
            "feeds": [
                {"url": url, "name": SOURCES[i % len(SOURCES)]} for i, url in enumerate(feeds)
            ],
            "storage": {"path": f"{tmp}/db.sqlite3"},
            "archive": {
                "dir": f"{tmp}/archive",
                "base_url": "https://digest.example.org/archive/",
            },
        },
        source=Path("bench.toml"),
    )
    base = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    posts = [
        Post(
            feed_url=feeds[i % len(feeds)],
            post_id=f"post-{i}",
            url=f"https://www.example-news-{i % 7}.com/articles/2026/11/ai-{i:04d}",
            title=event_title(i),
            summary=event_summary(i),
            published=base + timedelta(hours=2 * i + 1),
            first_seen=base + timedelta(hours=2 * i + 2),
        )
        for i in range(stories)
    ]
    return settings, posts


def measure_pipeline_build(language: str, stories: int = 60) -> bool:
    """Time `digest build` as the CLI runs it, from posts stored in SQLite."""
    with tempfile.TemporaryDirectory() as tmp:
        settings, posts = stored_week(language, stories, Path(tmp))
        with Store(settings.storage_path) as store:
            store.add_posts(posts)
            t0 = time.perf_counter()
            built = build(settings, store, "2026-W47", datetime(2026, 11, 23, tzinfo=UTC))
            seconds = time.perf_counter() - t0
        size = len(built.rendered.html_email.encode("utf-8"))
    passed = seconds < MAX_SECONDS and size <= MAX_BYTES and built.issue.story_count == stories
    print(
        f"{language}: digest build from SQLite ({built.issue.story_count} stories: select + "
        f"classify + render + inline + text + archive) {seconds * 1000:.0f} ms "
        f"(limit {MAX_SECONDS * 1000:.0f} ms)  html_email {size / 1024:.1f} KB  "
        f"{'PASS' if passed else 'FAIL'}"
    )
    return passed


def time_build_in_fresh_processes(code: Path, stories: int, language: str) -> list[float]:
    """Seconds of `build` for `stories` stories, in two fresh processes running the
    code at `code` on one state folder: the first compiles the knowledge base's
    names and caches them, the second reads the cache (every later cron run)."""
    script = f"""
import sys, time
from datetime import UTC, datetime
from pathlib import Path
sys.path.insert(0, {str(code)!r})
sys.path.insert(0, {str(Path(__file__).parent)!r})
import build as bench
from digest.config import Settings, parse_settings
from digest.run.pipeline import build
from digest.state.store import Store
tmp = Path(sys.argv[1])
settings, posts = bench.stored_week({language!r}, {stories}, tmp)
with Store(settings.storage_path) as store:
    if not store.count_posts():
        store.add_posts(posts)
    t0 = time.perf_counter()
    build(settings, store, "2026-W47", datetime(2026, 11, 23, tzinfo=UTC))
    print(time.perf_counter() - t0)
"""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(code)}
        return [
            float(
                subprocess.run(
                    [sys.executable, "-c", script, tmp], env=env, check=True,
                    capture_output=True, text=True,
                ).stdout.split()[-1]
            )
            for _ in range(2)
        ]  # fmt: skip


def compare_with(baseline: Path) -> None:
    """The build of an 80-story week, this code against `baseline` (a checkout of an
    earlier commit), each in fresh processes as cron runs it (best of 3 pairs)."""
    here = Path(__file__).resolve().parents[1]
    for language in ("ja", "en"):
        now = [min(x) for x in zip(*(time_build_in_fresh_processes(here, 80, language)
                                     for _ in range(3)), strict=True)]  # fmt: skip
        before = [min(x) for x in zip(*(time_build_in_fresh_processes(baseline, 80, language)
                                        for _ in range(3)), strict=True)]  # fmt: skip
        print(
            f"{language}: build of 80 stories in a fresh process: first run "
            f"{now[0] * 1000:.0f} ms (baseline {before[0] * 1000:.0f} ms), next runs "
            f"{now[1] * 1000:.0f} ms (baseline {before[1] * 1000:.0f} ms): ratio "
            f"{now[1] / before[1]:.2f} (target ≤ 1.20)"
        )


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline":
        compare_with(Path(sys.argv[2]).resolve())
        return 0
    ok = True
    for language in ("ja", "en"):
        settings = parse_settings(
            {
                "digest": {"language": language, "contact": "editor@example.org"},
                "archive": {"base_url": "https://digest.example.org/archive/"},
            },
            source=Path("bench.toml"),
        )
        issue = make_issue(language)
        # The first render of the process pays for compiling templates and parsing
        # the CSS; that is what a weekly cron run sees, so it is the one checked.
        t0 = time.perf_counter()
        rendered = render_issue(issue, settings)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_issue(issue, settings)
        warm = time.perf_counter() - t0
        # Measure what is sent: the personalised message, with a realistic URL.
        url = "https://digest.example.org/unsubscribe?s=12345&t=" + "x" * 43
        size = len(personalize(rendered.html_email, url, html=True).encode("utf-8"))
        passed = cold < MAX_SECONDS and size <= MAX_BYTES
        ok &= passed
        text_kb = len(rendered.text.encode()) / 1024
        print(
            f"{language}: {issue.story_count} stories  "
            f"render_issue {cold * 1000:.0f} ms first, {warm * 1000:.0f} ms again "
            f"(limit {MAX_SECONDS * 1000:.0f} ms)  "
            f"html_email {size / 1024:.1f} KB (limit {MAX_BYTES // 1024} KB)  "
            f"text {text_kb:.1f} KB  {'PASS' if passed else 'FAIL'}"
        )
    for language in ("ja", "en"):
        ok &= measure_pipeline_build(language)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
