"""Build time, size and look of a full email: a realistic 80-story issue.

Owns: `make_issue`, the 80-story issue that tests/test_email_rendering.py
renders too (CJK and English stories over nine sections incl. Global, `also`
links, a second-country tag, long URLs in summaries, long unbroken CJK
titles), `make_lead_issue`, the same issue opening with an editor's note of
about 150 words and the three lead stories the ranking picks (`digest edit`,
`selection.ranked_top`), and the figures printed for both, in both languages:

- `render_issue` time, first in the process and warm; the build (render +
  personalize + archive files, as `digest build` runs after selection) must
  take < 0.5 s;
- premailer runs per render (`digest.render.issue.PREMAILER_CALLS`): 1 expected;
- the personalised HTML part against Gmail's 102 KB clipping limit, and the
  issue with a lead against 90 KB (room for longer titles and notes);
- screenshots of the issue with a lead at 375 and 600 px into var/screenshots/
  (tests/browser.py); any element of either issue that sticks out of the
  viewport; and the lead's blocks as laid out: the note, the lead stories and
  their pointers in the sections shown and inside the viewport at both widths,
  the "at a glance" chart shown at 600 px and the compact bar instead at 375 px.

Exits 1 if the build takes ≥ 0.5 s, an HTML part exceeds its limit, premailer
runs more than once per render, or (with Chromium) something sticks out or a
block of the lead is missing or shown at the wrong width. Without Chromium the
layout checks are skipped with a note. Run from the project folder:
    .venv/bin/python benchmarks/email_render.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from digest.config import Settings, parse_settings
from digest.editorial.selection import ranked_top
from digest.models import GLOBAL_SECTION, AlsoReported, Issue, Section, Story
from digest.render import issue as render
from digest.render.issue import personalize, render_issue
from digest.web.archive import write_issue

ROOT = Path(__file__).resolve().parent.parent

MAX_SECONDS = 0.5
MAX_BYTES = 102 * 1024  # Gmail clips larger HTML parts behind "View entire message"
MAX_LEAD_BYTES = 90 * 1024  # with a note and lead stories: room left for longer ones
STORIES = 80
UNSUBSCRIBE_URL = "https://digest.example.com/unsubscribe?token=1.abc"
SCREENSHOTS = ROOT / "var" / "screenshots"

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

# (title, summary, source) by country; a story's number picks one of them.
# Deliberately awkward for a 375 px column: unbroken CJK runs, fullwidth
# punctuation, long product names, raw URLs in summaries (feeds do that).
STORIES_BY_COUNTRY: dict[str, list[tuple[str, str, str]]] = {
    "JP": [
        (
            "ソフトバンク、生成AI向けの大規模データセンターを北海道苫小牧市に建設へ　"
            "投資額は数千億円規模",
            "ソフトバンクは18日、生成AIの学習と推論に使う大規模データセンターを北海道苫小牧市に"
            "建設すると発表した。再生可能エネルギーを活用し、2027年度の稼働開始を目指す。受電容量は"
            "最終的に300メガワット超を計画しており、国内最大級となる見通し。",
            "日経クロステック",
        ),
        (
            "経済産業省が生成人工知能事業者向け透明性確保及び知的財産保護指針改定案を公表意見募集開始",
            "経済産業省は生成AIの開発・提供・利用に関する指針の改定案を公表した。詳細は"
            "https://www.meti.go.jp/press/2026/11/20261118001/20261118001.html を参照。",
            "ITmedia AI+",
        ),
        (
            "Sakana AI raises ¥20bn to build small, efficient Japanese-language foundation models",
            "The Tokyo start-up said the round was led by domestic banks and will fund compute "
            "for evolutionary model merging. It plans to release open weights next year.",
            "The Japan Times",
        ),
    ],
    "KR": [
        (
            "삼성전자, 차세대 HBM4 양산 앞당겨… 엔비디아 공급 계약 임박한 것으로 알려져",
            "삼성전자가 차세대 고대역폭메모리 HBM4의 양산 일정을 앞당기는 방안을 검토 중인 것으로 "
            "전해졌다. 업계에 따르면 엔비디아와의 공급 계약이 막바지 단계에 있다.",
            "연합뉴스",
        ),
        (
            "Naver unveils HyperCLOVA X Think, a reasoning model tuned for Korean "
            "public-sector work",
            "The Korean internet company said the model outperforms its predecessor on reasoning "
            "benchmarks and will be offered to ministries through a sovereign cloud.",
            "The Korea Herald",
        ),
    ],
    "CN": [
        (
            "百度发布文心大模型新版本推理成本较上一代下降百分之八十面向中小企业全面开放应用程序接口服务",
            "百度在年度大会上表示，新模型在多项中文基准测试中表现领先，并将通过智能云向开发者开放。"
            "公司称，通过自研芯片与推理框架优化，调用价格大幅下降。",
            "36氪",
        ),
        (
            "DeepSeek releases V4 with a 1M-token context window under an MIT licence",
            "The Hangzhou lab published weights and a technical report at "
            "https://github.com/deepseek-ai/DeepSeek-V4/blob/main/DeepSeek_V4_technical_report.pdf "
            "and said API prices would stay unchanged.",
            "South China Morning Post",
        ),
    ],
    "HK": [
        (
            "香港科技園公司推出人工智能超算中心第二期，為本地初創企業提供算力資助",
            "數碼港及科技園表示，第二期算力將於明年第一季投入服務，初創企業可申請最高七成資助。",
            "香港經濟日報",
        ),
    ],
    "TW": [
        (
            "台積電先進封裝產能持續吃緊，CoWoS 擴產計畫再加碼以因應 AI 晶片需求",
            "供應鏈指出，台積電明年CoWoS月產能將再提升，主要客戶包括輝達與超微。",
            "DigiTimes Asia",
        ),
    ],
    "SG": [
        (
            "Singapore's IMDA launches a S$70m programme to build Southeast Asian language models",
            "The National Multimodal LLM Programme will fund SEA-LION successors and open "
            "evaluation suites for Bahasa, Thai, Vietnamese and Tagalog.",
            "The Straits Times",
        ),
    ],
    "IN": [
        (
            "India's AI Mission picks eight start-ups to build foundation models "
            "on subsidised GPUs",
            "The IndiaAI Mission said the selected teams will get access to 18,000 GPUs at "
            "subsidised rates; applications for the next round open in January.",
            "Inc42",
        ),
    ],
    "AE": [
        (
            "G42 and Microsoft open a 200MW AI campus in Abu Dhabi, the largest in the Gulf region",
            "The campus is the first phase of a 5GW cluster; G42 said it would host models for "
            "governments in Asia and Africa.",
            "The National",
        ),
    ],
    GLOBAL_SECTION: [
        (
            "OpenAI and G42 expand Stargate UAE to 5GW, with Asian sovereign deployments",
            "OpenAI said the second phase of the Abu Dhabi campus will come online in 2027, and "
            "announced partnerships with governments in Japan, Korea and India.",
            "OpenAI",
        ),
        (
            "Nvidia's quarterly data-centre revenue tops $50bn as Asian cloud providers buy more",
            "Demand from Japanese, Korean and Indian cloud providers offset export limits to "
            "China, the company said.",
            "Reuters",
        ),
    ],
}

ALSO_SOURCES = [
    "ITmedia AI+",
    "Impress Watch",
    "Yonhap",
    "Nikkei Asia",
    "TechNode",
    "Rest of World",
]


def make_issue(language: str, stories: int = STORIES, week: str = "2026-W47") -> Issue:
    """An issue of `stories` stories spread over the nine sections, in `language`.

    Every third story has one or two `also` links, every seventh a second country.
    """
    codes = [code for code, _, _ in SECTIONS]
    per_section: dict[str, list[Story]] = {code: [] for code in codes}
    base = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    for i in range(stories):
        code = codes[i % len(codes)]
        variants = STORIES_BY_COUNTRY[code]
        title, summary, source = variants[(i // len(codes)) % len(variants)]
        also = tuple(
            AlsoReported(
                ALSO_SOURCES[(i + k) % len(ALSO_SOURCES)],
                f"https://news.example-{k}.com/2026/11/{i:03d}/ai-hub-report-{k}?utm_source=rss",
            )
            for k in range(1 + i % 2 if i % 3 == 0 else 0)
        )
        per_section[code].append(
            Story(
                title=title,
                url=f"https://www.example-news-{i % 7}.com/articles/2026/11/{18 + i % 5}/"
                f"ai-{i:04d}-story-with-a-realistic-and-rather-long-slug-for-seo?ref=rss&id={i}",
                source=source,
                published=base + timedelta(hours=2 * i + 1),
                summary=summary,
                country="" if code == GLOBAL_SECTION else code,
                also=also,
                second_country="JP" if i % 7 == 1 and code not in ("JP", GLOBAL_SECTION) else "",
                feed_url=f"https://feeds.example.com/{code.lower()}/{i % 5}.xml",
                post_id=f"post-{i}",
                outlets=1 + len(also),
            )
        )
    names = {code: (ja if language == "ja" else en) for code, ja, en in SECTIONS}
    year, number = week.split("-W")
    shift = timedelta(weeks=(int(year) - 2026) * 52 + int(number) - 47)
    return Issue(
        week=week,
        number=3 + int(number) - 47,
        title="アジアAIハブ週報" if language == "ja" else "Asian AI Hubs Weekly",
        language=language,
        timezone="Asia/Tokyo",
        start=datetime(2026, 11, 15, 15, 0, tzinfo=UTC) + shift,
        end=datetime(2026, 11, 22, 15, 0, tzinfo=UTC) + shift,
        sections=tuple(Section(c, names[c], tuple(per_section[c])) for c in codes),
        generated_at=datetime(2026, 11, 22, 15, 0, 5, tzinfo=UTC) + shift,
        duplicates_merged=4,
    )


# About 150 words (in Japanese, about as much to read), with the Markdown an
# editor uses: emphasis, links, a list.
NOTES = {
    "en": (
        "This week the money moved east. **SoftBank's Hokkaido data centre** is the "
        "largest single AI investment Japan has seen, and it lands the same week as "
        "Korea's HBM4 push and a price cut from Baidu that undercuts every Western API "
        "we track. Three things to watch:\n\n"
        "- whether Samsung's Nvidia contract is signed before the year ends;\n"
        "- how the [METI guideline draft](https://www.meti.go.jp/press/2026/11/) treats "
        "training data;\n"
        "- who buys the Gulf's new compute: G42 says governments in Asia.\n\n"
        "Our lead stories are the events most outlets reported. Smaller items follow by "
        "country, newest first. As always, replies to this email reach the editor, and we "
        "read every one of them. If a colleague forwarded this to you, the archive has "
        "every issue, and subscribing takes one click. Next week we look at who is hiring "
        "AI engineers in Bengaluru and Singapore, and at what it costs. *See you then.*"
    ),
    "ja": (
        "今週、資金は東へ向かいました。**ソフトバンクの北海道データセンター**は日本で過去最大の"
        "AI投資となり、同じ週に韓国ではHBM4の前倒し、中国では百度による大幅な値下げが発表されました。"
        "注目すべき点は三つです。\n\n"
        "- サムスンとエヌビディアの供給契約が年内に結ばれるか\n"
        "- [経済産業省の指針改定案](https://www.meti.go.jp/press/2026/11/)が学習データを"
        "どう扱うか\n"
        "- 中東の新しい計算資源を誰が使うのか（G42はアジア各国の政府と説明）\n\n"
        "注目ニュースは、最も多くの媒体が報じた出来事です。そのほかのニュースは国・地域別に、"
        "新しい順に並べています。このメールへの返信は編集部に届き、すべて読んでいます。"
        "転送で受け取った方は、バックナンバーからすべての号を読めます。来週は、ベンガルールと"
        "シンガポールでAI技術者を採用しているのは誰か、そしてその費用を取り上げます。"
        "*また来週お届けします。*"
    ),
}


def make_lead_issue(language: str, stories: int = STORIES) -> Issue:
    """`make_issue` opening with an editor's note and the ranking's lead stories."""
    issue = make_issue(language, stories)
    return replace(issue, note=NOTES[language], top=ranked_top(issue.sections))


def make_settings(language: str, archive_dir: Path | None = None) -> Settings:
    settings = parse_settings(
        {
            "digest": {
                "language": language,
                "title": "アジアAIハブ週報" if language == "ja" else "Asian AI Hubs Weekly",
                "contact": "editor@example.com",
            },
            "archive": {"base_url": "https://digest.example.com/archive/"},
        },
        source=Path("bench.toml"),
    )
    if archive_dir is not None:
        settings = replace(settings, archive=replace(settings.archive, dir=archive_dir))
    return settings


def measure(language: str, archive_dir: Path, *, lead: bool = False) -> tuple[bool, str]:
    """Print the figures of one language; (passed, personalised email HTML)."""
    settings = make_settings(language, archive_dir)
    issue = make_lead_issue(language) if lead else make_issue(language)
    limit = MAX_LEAD_BYTES if lead else MAX_BYTES
    calls = render.PREMAILER_CALLS
    # The first render of the process pays for compiling templates and parsing
    # the CSS: that is what the weekly run sees, so it is the one checked.
    t0 = time.perf_counter()
    rendered = render_issue(issue, settings)
    html_email = personalize(rendered.html_email, UNSUBSCRIBE_URL, html=True)
    personalize(rendered.text, UNSUBSCRIBE_URL, html=False)
    write_issue(issue, rendered, settings)
    build = time.perf_counter() - t0
    premailer_calls = render.PREMAILER_CALLS - calls
    t0 = time.perf_counter()
    render_issue(issue, settings)
    warm = time.perf_counter() - t0
    size = len(html_email.encode("utf-8"))
    passed = build < MAX_SECONDS and size <= limit and premailer_calls == 1
    what = (
        f"with a note of {len(issue.note.split()) if language == 'en' else len(issue.note)} "
        f"{'words' if language == 'en' else 'characters'} and {len(issue.top)} lead stories"
        if lead
        else "no lead"
    )
    print(
        f"{language}: {issue.story_count} stories in {len(issue.sections)} sections, {what}  "
        f"build (render + personalize + archive) {build * 1000:.0f} ms first "
        f"(limit {MAX_SECONDS * 1000:.0f} ms), render_issue warm {warm * 1000:.0f} ms  "
        f"premailer calls {premailer_calls} (expected 1)  "
        f"HTML part {size / 1024:.1f} KB, target ≤ {limit // 1024} KB "
        f"({size / limit:.0%}; Gmail clips past {MAX_BYTES // 1024} KB)  "
        f"{'PASS' if passed else 'FAIL'}"
    )
    return passed, html_email


# The blocks of the lead, and at which widths each must be shown (True) or hidden.
LEAD_BLOCKS = {
    ".note": {375: True, 600: True},
    "#top-stories": {375: True, 600: True},
    ".top-ref": {375: True, 600: True},
    ".glance-full": {375: False, 600: True},
    ".glance-compact": {375: True, 600: False},
}
_BLOCKS_JS = """
async function collect() {
  const frames = [...document.querySelectorAll("iframe")];
  await Promise.all(frames.map((f) => f.contentDocument.fonts.ready));
  return frames.map((frame) => {
    const doc = frame.contentDocument, viewport = doc.documentElement.clientWidth;
    const out = {};
    for (const selector of %(selectors)s) {
      const el = doc.querySelector(selector);
      if (!el) { out[selector] = null; continue; }
      const r = el.getBoundingClientRect();
      out[selector] = {shown: r.width > 0 && r.height > 0, left: r.left, right: r.right,
                       height: r.height, viewport: viewport};
    }
    return out;
  });
}
"""


def check_lead_blocks(language: str, page: Path, browser: ModuleType) -> bool:
    """The note, the lead stories, their pointers and both forms of "at a glance",
    laid out at 375 and 600 px: each shown or hidden as `LEAD_BLOCKS` says, and
    inside the viewport when shown."""
    widths = (375, 600)
    frames = "\n".join(
        browser._iframe(page, w, browser.MEASURE_HEIGHT, i) for i, w in enumerate(widths)
    )
    script = _BLOCKS_JS % {"selectors": json.dumps(list(LEAD_BLOCKS))}
    results = browser._run_harness(frames, script, browser.TIMEOUT)
    ok = True
    for width, found in zip(widths, results, strict=True):
        parts = []
        for selector, wanted in LEAD_BLOCKS.items():
            box = found[selector]
            if box is None:
                parts.append(f"{selector} MISSING")
                ok = False
                continue
            inside = box["left"] >= -0.5 and box["right"] <= box["viewport"] + 0.5
            right = box["shown"] == wanted[width] and (inside or not box["shown"])
            ok &= right
            state = f"shown {box['height']:.0f} px high" if box["shown"] else "hidden"
            parts.append(f"{selector} {state}{'' if right else ' WRONG'}")
        print(f"{language} {width}px lead blocks: {', '.join(parts)}")
    return ok


def take_screenshots(language: str, pages: dict[str, str], folder: Path) -> bool:
    """Screenshots of the issue with a lead at 375 and 600 px, what sticks out
    of the viewport in either issue, and the lead's blocks. True when all is well
    (or Chromium is missing: a look, not a limit)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import browser  # tests/browser.py: the same Chromium helper the tests use

    ok = True
    for name, html_email in pages.items():
        page = folder / f"email-{language}-{name}.html"
        page.write_text(html_email, encoding="utf-8")
        try:
            layouts = browser.measure_layouts(page, (375, 600))
        except browser.ChromiumMissingError as e:
            print(f"{language}: no screenshots or layout checks: {e}")
            return True
        for width, layout in layouts.items():
            ok &= not layout.overflows
            if name != "lead":
                print(f"{language} {width}px, {name}: {layout.describe()}")
                continue
            png = browser.screenshot(
                page, width, SCREENSHOTS / f"bench-email-{language}-{width}.png",
                layout.scroll_height,
            )  # fmt: skip
            print(f"{language} {width}px, {name}: {png.relative_to(ROOT)}  {layout.describe()}")
        if name == "lead":
            ok &= check_lead_blocks(language, page, browser)
    return ok


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="digest-bench-email-") as tmp:
        for language in ("ja", "en"):
            pages = {}
            for lead in (False, True):
                name = "lead" if lead else "plain"
                passed, pages[name] = measure(
                    language, Path(tmp) / f"archive-{language}-{name}", lead=lead
                )
                ok &= passed
            ok &= take_screenshots(language, pages, Path(tmp))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
