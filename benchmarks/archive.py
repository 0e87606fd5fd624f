"""A year of weekly issues built into one archive: the 52nd build against the 1st.

Simulates a year: 52 weekly issues of 80 stories each (Japanese, Chinese, Korean
and English headlines, each week's mix of countries shifting over the year),
stored in SQLite week by week as gathering would (with four weeks gathered
before the first issue), each built in turn with `digest.run.pipeline.build`
(select + classify + merge + render + inline + text + archive: what `digest
build` runs) into one archive folder. Prints:

- the 1st and the 52nd build's time and their ratio. Both are measured at the
  end of the year, 5 times each in turns (so that whatever else the machine
  does slows both alike), the best counting: week 1 into an empty folder,
  week 52 into a copy of the archive of weeks 1-51. Twice: each build in a
  process of its own, as cron runs `digest build` (the build's time, not
  Python's start-up and imports; target <= 1.2, issue 15), and all in one warm
  process after a warm-up build, where no start-up cost (templates compiled,
  the knowledge base loaded) hides the archive's share (target <= 1.5, issue 14);
- bytes (and files) written per build at weeks 1, 13, 26 and 52: flat once the
  feed holds its 20 issues (week 20), so the target is week 52 <= 1.1 x week 26;
- the largest country page, the feed, the index and the trends page at the end.

Bytes written are counted from the folder: every file new or replaced (another
inode or modification time) by the build, at its size. Nothing leaves the machine.

    .venv/bin/python benchmarks/archive.py [--weeks N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from digest.config import Settings, parse_settings
from digest.editorial.selection import issue_window
from digest.models import Post
from digest.run.pipeline import build
from digest.state.store import Store

YEAR = 2026
WEEKS = 52
STORIES = 80
MAX_RATIO = 1.2  # issue 15, for `digest build` as cron runs it (a process per build)
MAX_WARM_RATIO = 1.5  # issue 14, and in one warm process (no start-up costs to share)
# Bytes written at week 52 against week 26: the feed holds the 20 newest issues,
# so it (and what a build writes) grows until week 20, then stays.
MAX_GROWTH = 1.1
REPEATS = 5  # pairs of (first, last) builds; the best of each counts

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
    "연합뉴스",
    "机器之心",
    "ZDNet Korea",
]

# (country, actors): whose news it is; the classifier decides from these names.
ACTORS = {
    "JP": ["ソフトバンク", "富士通", "楽天", "NTT", "Sakana AI", "Preferred Networks"],
    "KR": ["삼성전자", "Naver", "카카오", "LG", "Upstage", "SK하이닉스"],
    "CN": ["百度", "阿里云", "腾讯", "字节跳动", "华为", "小米"],
    "TW": ["台積電", "MediaTek", "鴻海", "華碩"],
    "SG": ["Sea Group", "Grab", "DBS", "AI Singapore"],
    "IN": ["Infosys", "Reliance Jio", "Tata Consultancy Services", "Sarvam AI"],
    "AE": ["G42", "MBZUAI", "Mubadala"],
    "HK": ["香港科技園", "SenseTime", "HKUST"],
    "": ["OpenAI", "Google", "Microsoft", "Nvidia", "Anthropic", "Meta"],
}
# One headline shape per language; {a} an actor, {p} a place, {n} a number.
HEADLINES = [
    "{a}、{p}に生成AIの新拠点を開設へ 投資額は{n}00億円規模",
    "{a}、自社開発の大規模言語モデルを公開 推論コストを{n}割削減",
    "{a}在{p}发布新一代大模型，推理成本较上一代下降{n}0%",
    "{a}宣布投资{n}0亿元建设智算中心，面向中小企业开放算力",
    "{a}, {p}에 AI 연구소 설립… 연구 인력 {n}00명 채용 계획",
    "{a}, 차세대 AI 반도체 양산 앞당겨… {n}분기 공급 시작",
    "{a} opens an AI research lab in {p} with {n}00 engineers",
    "{a} signs a ${n}bn AI data centre deal covering {p}",
]
PLACES = ["東京", "Seoul", "北京", "Singapore", "Bengaluru", "台北", "Hong Kong", "Abu Dhabi"]
SUMMARY = (
    "{a}は{p}での事業について、{n}年以内に本格稼働を目指すと説明した。関係者によると、"
    "国内外の研究機関とも連携し、生成AIの開発と人材育成を進める。The company said the "
    "project would employ {n}00 people, with a first phase due next year."
)


HISTORY = 4  # weeks of posts gathered before the first issue (late posts are looked for)


def week_name(week: int) -> str:
    """Week 1 is 2026-W01; 0, -1, ... the weeks of 2025 before it."""
    return f"{YEAR}-W{week:02d}" if week >= 1 else f"{YEAR - 1}-W{52 + week:02d}"


def week_posts(week: int, settings: Settings, feeds: list[str]) -> list[Post]:
    """80 posts published in `week`'s window, the mix of countries moving over the
    year (each country's share follows a wave of its own)."""
    rng = random.Random(week)
    start, end = issue_window(week_name(week), settings)
    count = STORIES  # every week alike, so that week 1 and week 52 do the same work
    codes = list(ACTORS)
    weights = [1.0 + 0.8 * ((week * (k + 3) // 4 + k * 7) % 13) / 12 for k in range(len(codes))]
    posts = []
    for i in range(count):
        code = rng.choices(codes, weights)[0]
        actor = ACTORS[code][(week + i) % len(ACTORS[code])]
        fields = {"a": actor, "p": PLACES[(week * 3 + i) % len(PLACES)], "n": 1 + (i + week) % 9}
        title = HEADLINES[(i + week) % len(HEADLINES)].format(**fields) + f" ({week}-{i})"
        published = start + (end - start) * (i + 0.5) / count
        posts.append(
            Post(
                feed_url=feeds[i % len(feeds)],
                post_id=f"w{week}-{i}",
                url=f"https://www.example-news-{i % 9}.com/{YEAR}/w{week:02d}/ai-{i:03d}?ref=rss",
                title=title,
                summary=SUMMARY.format(**fields),
                published=published,
                first_seen=published + timedelta(minutes=20),
            )
        )
    return posts


def make_settings(tmp: Path) -> tuple[Settings, list[str]]:
    feeds = [f"https://feeds.example.com/{i}.xml" for i in range(len(SOURCES) * 3)]
    settings = parse_settings(
        {
            "digest": {"language": "ja", "contact": "editor@example.org"},
            "feeds": [
                {"url": url, "name": SOURCES[i % len(SOURCES)]} for i, url in enumerate(feeds)
            ],
            "storage": {"path": f"{tmp}/db.sqlite3"},
            "archive": {"dir": f"{tmp}/archive", "base_url": "https://digest.example.org/"},
        },
        source=Path("bench.toml"),
    )
    return settings, feeds


def snapshot(folder: Path) -> dict[Path, tuple[int, int, int]]:
    return {
        p: (s.st_ino, s.st_mtime_ns, s.st_size)
        for p in folder.rglob("*")
        if p.is_file() and (s := p.stat())
    }


def written(before: dict[Path, tuple[int, int, int]], folder: Path) -> tuple[int, int]:
    """(bytes, files) new or replaced in `folder` since `before`."""
    after = snapshot(folder)
    changed = [p for p, facts in after.items() if before.get(p) != facts]
    return sum(after[p][2] for p in changed), len(changed)


CPU: list[float] = []  # the processor time of each `timed` build, in order


def timed(settings: Settings, store: Store, week: int, folder: Path) -> float:
    """Seconds (wall clock) of building `week` into `folder`; its processor time
    goes to CPU."""
    moment = issue_window(week_name(week), settings)[1] + timedelta(minutes=5)
    at_folder = replace(settings, archive=replace(settings.archive, dir=folder))
    t0, c0 = time.perf_counter(), time.process_time()
    build(at_folder, store, week_name(week), moment)
    CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0


# One `digest build` as cron runs it: a process of its own, which compiles the
# templates and loads the knowledge base's cached names before building.
FRESH = """
import sys
from pathlib import Path
sys.path.insert(0, {here!r})
import archive as bench
from digest.state.store import Store
tmp, week, folder = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
settings, _ = bench.make_settings(tmp)
with Store(settings.storage_path) as store:
    print(bench.timed(settings, store, week, folder))
"""


def fresh(tmp: Path, week: int, folder: Path) -> float:
    """Seconds of `build` (imports excluded) in a new process."""
    script = FRESH.format(here=str(Path(__file__).resolve().parent))
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp), str(week), str(folder)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return float(out.split()[-1])


def first_and_last(
    tmp: Path, archive: Path, week: int, build_one: Callable[..., float]
) -> tuple[float, float]:
    """The best of REPEATS builds of week 1 into an empty folder and of `week`
    into a copy of `archive` (mtimes kept), in turns, so that whatever else the
    machine does slows both alike."""
    firsts, lasts = [], []
    for k in range(REPEATS):
        firsts.append(build_one(1, tmp / f"first-{k}"))
        copy = tmp / f"last-{k}"
        shutil.copytree(archive, copy)
        lasts.append(build_one(week, copy))
        shutil.rmtree(copy)
        shutil.rmtree(tmp / f"first-{k}")
    return min(firsts), min(lasts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=WEEKS, help="weeks to simulate (52)")
    weeks = parser.parse_args().weeks
    with tempfile.TemporaryDirectory(prefix="digest-archive-bench-") as name:
        tmp = Path(name)
        settings, feeds = make_settings(tmp)
        archive = settings.archive.dir
        before_last = tmp / "before-last"  # the archive before the last week's build
        writes: dict[int, tuple[int, int]] = {}
        with Store(settings.storage_path) as store:
            # The weeks before the first issue, as if digest had gathered them: every
            # build looks back LATE_HORIZON for late posts, the first one too.
            for week in range(1 - HISTORY, 2):
                store.add_posts(week_posts(week, settings, feeds))
            timed(settings, store, 1, tmp / "warm-up")  # templates, knowledge base, Babel
            for week in range(1, weeks + 1):
                if week > 1:
                    store.add_posts(week_posts(week, settings, feeds))
                if week == weeks:
                    shutil.copytree(archive, before_last)
                    c0 = len(CPU)
                    warm = first_and_last(
                        tmp, archive, week, lambda w, f: timed(settings, store, w, f)
                    )
                    cpu = (min(CPU[c0::2]), min(CPU[c0 + 1 :: 2]))
                before = snapshot(archive) if archive.exists() else {}
                took = timed(settings, store, week, archive)
                writes[week] = written(before, archive)
                if week % 13 == 0 or week == 1:
                    print(
                        f"  week {week:2d}: build {took * 1000:5.0f} ms, wrote "
                        f"{writes[week][0] / 1024:7.1f} KB in {writes[week][1]} files",
                        flush=True,
                    )
        cold = first_and_last(tmp, before_last, weeks, lambda w, f: fresh(tmp, w, f))
        country = max((archive / "country").glob("*.html"), key=lambda p: p.stat().st_size)
        sizes = {
            "largest country page": (country.name, country.stat().st_size),
            # An archive of an older digest (--baseline runs) may lack some.
            **{
                name: ("", (archive / name).stat().st_size)
                for name in ("feed.xml", "index.html", "trends.html")
                if (archive / name).exists()
            },
        }
        pages = len(list((archive / "country").glob("*.html")))
    marks = [w for w in (1, 13, 26, 52) if w <= weeks]
    flat = writes[weeks][0] / writes[26][0] if weeks >= 26 else 1.0
    ratio, warm_ratio = cold[1] / cold[0], warm[1] / warm[0]
    ok = ratio <= MAX_RATIO and warm_ratio <= MAX_WARM_RATIO and flat <= MAX_GROWTH
    print(
        f"build of week 1 and week {weeks} (digest.run.pipeline.build, {STORIES} stories, best "
        f"of {REPEATS} in turns), each in a new process as `digest build` runs: "
        f"{cold[0] * 1000:.0f} ms and {cold[1] * 1000:.0f} ms: ratio {ratio:.2f} "
        f"(target <= {MAX_RATIO})"
    )
    print(
        f"  the same in one warm process: {warm[0] * 1000:.0f} ms and {warm[1] * 1000:.0f} ms: "
        f"ratio {warm_ratio:.2f} (target <= {MAX_WARM_RATIO}); processor time "
        f"{cpu[0] * 1000:.0f} ms and {cpu[1] * 1000:.0f} ms"
    )
    print(
        "written per build: "
        + ", ".join(f"week {w} {writes[w][0] / 1024:.0f} KB ({writes[w][1]} files)" for w in marks)
        + f"; week {weeks} / week 26 = {flat:.2f} (target <= {MAX_GROWTH})"
    )
    for label, (which, size) in sizes.items():
        print(f"{label}: {size / 1024:.1f} KB {which}".rstrip())
    print(f"country pages after {weeks} weeks: {pages}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
