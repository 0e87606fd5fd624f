"""Arabic outlets of the Gulf hub: names in Arabic words, AI in Arabic, right-to-left display.

Every text here is a short sample written for these tests (no fetched article):
a feed of Arabic items goes through the real feed parser, the country
classifier and the AI filter; an issue with an Arabic story is rendered with
the real templates and laid out in headless Chromium.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import browser
import pytest

from digest.bundled import TOPICS_FILE
from digest.cli.opml import OpmlFeed, read_opml
from digest.config import FeedSettings, parse_settings
from digest.editorial.classify import Classifier
from digest.editorial.matching import TermMatcher, fold_arabic
from digest.editorial.relevance import Relevance, load_topics
from digest.models import AlsoReported, Issue, Section, Story
from digest.render.issue import personalize, render_issue
from digest.web.archive import write_issue

COUNTRIES = ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE", "SA", "QA"]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

MATCHER = TermMatcher(
    [("مصر", "EG"), ("الصين", "CN"), ("قطر", "QA"), ("=الرياض", "riyadh"), ("سعودي", "SA"),
     ("كوريا الجنوبية", "KR"), ("الإمارات", "AE"), ("اليابان", "JP"), ("中国", "CN"),
     ("India", "IN")]
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("مصر تطلق خطة", ["EG"]),
        ("مصرف الإمارات المركزي", ["AE"]),  # مصرف (bank) is a longer word, not Egypt
        ("المصري والمصرية", ["EG", "EG"]),  # the article before, an adjective ending after
        ("والصين والهند", ["CN"]),  # the conjunction و joined to the name
        ("بالصين وفي الصينية", ["CN", "CN"]),
        ("للصين", ["CN"]),  # ل + الصين is written للصين
        ("وللصين، فللصين", ["CN", "CN"]),  # و or ف before لل
        ("صينه", []),  # the article name does not match without its article
        ("قطرها", ["QA"]),  # an attached pronoun
        ("القطري", ["QA"]),  # a name written without the article takes one
        ("قطرات المطر", []),  # ات is no ending of a name
        ("تقطير", []),  # inside another word
        ("بالرياض", ["riyadh"]),  # "=Name": the prefixes...
        ("الرياضية", []),  # ...but no ending: sports is not Riyadh
        ("السعوديون والسعودية", ["SA", "SA"]),  # a name in ي takes ون, ة
        ("وكوريا الجنوبية", ["KR"]),
        ("الإماراتيون", ["AE"]),
        ("مع اليابان، وChina 中国 India", ["JP", "CN", "IN"]),  # other scripts unchanged
    ],
)
def test_arabic_names_match_words_with_their_clitics(text: str, found: list[str]) -> None:
    assert MATCHER.find(text) == found


def test_arabic_folding_keeps_spans_in_the_original_text() -> None:
    # Diacritics, tatweel and hamza forms differ from the listed name; the span
    # covers the name as written, its last letter's marks included.
    text = "أعلنت الْإِمَارَاتُ و الصـــين عن شراكة مع اليابان"
    spans = MATCHER.spans(text)
    assert [text[start:end] for start, end, _ in spans] == ["الْإِمَارَاتُ", "الصـــين", "اليابان"]
    assert [value for _, _, value in spans] == ["AE", "CN", "JP"]
    assert fold_arabic("إِنّ") == ("ان", [0, 2])
    assert fold_arabic("no Arabic") == ("no Arabic", None)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(COUNTRIES)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("الإمارات تطلق استراتيجية وطنية للذكاء الاصطناعي", "AE"),
        ("دبي تستضيف أسبوع الذكاء الاصطناعي", "AE"),
        ("أبوظبي: شراكة جديدة لتطوير نماذج لغوية عربية", "AE"),
        ("السعودية تستثمر في مراكز البيانات", "SA"),
        ("المملكة العربية السعودية تعلن خطة للحوسبة", "SA"),
        ("وزارة الاتصالات بالرياض تطلق منصة", "SA"),
        ("قطر تفتتح مركزا للأبحاث", "QA"),
        ("جامعة في الدوحة تطور روبوت دردشة", "QA"),
        ("شركة صينية تكشف عن شريحة جديدة في بكين", "CN"),
        ("الصين تفرض قيودا على تصدير الرقائق", "CN"),
        ("طوكيو: اليابان تدعم الشركات الناشئة", "JP"),
        ("سامسونج الكورية الجنوبية تطور ذاكرة", "KR"),
        ("سيول تستضيف قمة الذكاء الاصطناعي", "KR"),
        ("الولايات المتحدة تشدد القيود", "US"),
        # No country: a bank (مصرف) is not Egypt, sports (الرياضية) not Riyadh,
        # "financial" (مالي) not Mali, a US-dollar figure not the US.
        ("مصرف يطلق تطبيقا ذكيا", ""),
        ("الهيئة الرياضية تطلق تطبيقا ذكيا", ""),
        ("نمو القطاع المالي بفضل الأتمتة", ""),
        ("صفقة بقيمة مليار بالدولار الأمريكي", ""),
    ],
)
def test_arabic_titles_name_their_country(
    classifier: Classifier, title: str, expected: str
) -> None:
    assert classifier.classify(title).country == expected


def test_arabic_cldr_names_come_from_babel(classifier: Classifier) -> None:
    # CLDR's long names, from Babel, not from places.toml.
    assert classifier.classify("الإمارات العربية المتحدة وكوريا الجنوبية").country == "AE"
    assert classifier.classify("وزير خارجية إندونيسيا").country == "ID"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # No country word: the actor's Arabic name from the knowledge base places it.
        ("أعلنت مجموعة جي42 عن شراكة لتطوير مراكز البيانات", "AE"),
        ("طحنون بن زايد يترأس اجتماعاً حول الحوسبة", "AE"),
        ("وأرامكو تستثمر في الحوسبة السحابية", "SA"),
        ("سدايا تطلق نموذج علام بنسخة جديدة", "SA"),
        ("مؤسسة قطر تطلق برنامجاً للأبحاث", "QA"),
        ("هواوي تكشف عن شريحة جديدة", "CN"),
        ("إس كيه هاينكس ترفع إنتاج الذاكرة", "KR"),
    ],
)
def test_arabic_names_of_the_knowledge_base_place_a_story(
    classifier: Classifier, title: str, expected: str
) -> None:
    assert classifier.classify(title).country == expected


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("أطلقت أوبن إيه آي نموذجاً جديداً", {"us/openai"}),
        ("شراكة بين مايكروسوفت وجي 42 وبإنفيديا", {"us/microsoft", "ae/g42", "us/nvidia"}),
        ("لغوغل وجوجل", {"us/google"}),  # both spellings, one actor
        ("سامسونغ وسامسونج", {"kr/samsung-electronics"}),
        # The longest name wins: the university, not its namesake.
        ("جامعة محمد بن زايد للذكاء الاصطناعي", {"ae/mbzuai"}),
        ("كشفت آبل الأمريكية عن آيفون جديد", {"us/apple", "us/iphone"}),
        ("مسبار الأمل", {"ae/hope-probe"}),
        # Names that are ordinary words on their own are listed in longer forms
        # only: a source (مصدر, Masdar), requests (طلبات, Talabat), camels (الإبل,
        # folded like آبل), reconstruction (إعمار, Emaar), hope (الأمل).
        ("قال مصدر مطلع إن طلبات الشراء ارتفعت", set()),
        ("مهرجان الإبل وإعادة إعمار المدن", set()),
        ("الأمل كبير والطريق سالك وشبكة الاتصالات والبيانات تعمل", set()),
    ],
)
def test_arabic_names_give_the_actors_keys(
    classifier: Classifier, text: str, keys: set[str]
) -> None:
    assert classifier.keys(text) == keys


@pytest.fixture(scope="module")
def relevance() -> Relevance:
    return Relevance(load_topics(TOPICS_FILE))


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("الإمارات تطلق استراتيجية وطنية للذكاء الاصطناعي", "", True),
        ("تطوير نماذج لغوية عربية مفتوحة المصدر", "", True),
        ("شركة تطور روبوتاً منزلياً", "", False),  # a weak word, with its accusative alef
        ("شركة تطور روبوتاً يعمل بالذكاء الاصطناعي", "", True),
        ("شركة ناشئة تطور نموذج لغوي كبير للهجات الخليجية", "", True),
        ("باحثون يستخدمون التعلم العميق لرصد الأمراض", "", True),
        ("البنك يعتمد تقنيات تعلم الآلة", "", True),
        ("إطلاق روبوت الدردشة الجديد في الخدمات الحكومية", "", True),
        ("شات جي بي تي يصل إلى المدارس", "", True),
        ("المنتخب يفوز على اليابان في كرة القدم", "", False),
        ("ارتفاع أسعار النفط", "", False),
        # Weak words count only beside a second keyword.
        ("مصنع جديد للرقائق في الرياض", "", False),
        ("مصنع جديد للرقائق في الرياض", "لتلبية الطلب على الذكاء الاصطناعي", True),
        ("الروبوتات في المستودعات", "", False),
        # The summary must name two different keywords.
        ("هاتف جديد", "يدعم الهاتف ميزات الذكاء الاصطناعي.", False),
        ("هاتف جديد", "يدعم الذكاء الاصطناعي وتقنيات التعلم الآلي على الجهاز.", True),
    ],
)
def test_arabic_ai_vocabulary(
    relevance: Relevance, title: str, summary: str, expected: bool
) -> None:
    assert relevance.is_about("ai", title, summary) is expected


ARABIC_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>أخبار التقنية الخليجية</title><link>https://gulf.example/</link>
<language>ar</language><description>عينة</description>
<item><title>أبوظبي تطلق مختبرا للذكاء الاصطناعي التوليدي</title>
<link>https://gulf.example/1</link><pubDate>Wed, 18 Nov 2026 08:00:00 GMT</pubDate>
<description>أعلنت حكومة أبوظبي اليوم عن مختبر جديد لتطوير النماذج اللغوية.</description></item>
<item><title>السعودية: نمو سوق الرقائق والحوسبة السحابية بفضل الذكاء الاصطناعي</title>
<link>https://gulf.example/2</link><pubDate>Wed, 18 Nov 2026 09:00:00 GMT</pubDate>
<description>توقعات بنمو الطلب في الرياض وجدة.</description></item>
<item><title>المنتخب القطري يتأهل إلى النهائي</title>
<link>https://gulf.example/3</link><pubDate>Wed, 18 Nov 2026 10:00:00 GMT</pubDate>
<description>فاز المنتخب في الدوحة مساء أمس.</description></item>
<item><title>مصرف مركزي يرفع سعر الفائدة</title>
<link>https://gulf.example/4</link><pubDate>Wed, 18 Nov 2026 11:00:00 GMT</pubDate>
<description>قرار المصرف يؤثر في القطاع المالي.</description></item>
</channel></rss>
"""


def test_an_arabic_feed_is_filtered_and_placed(
    classifier: Classifier, relevance: Relevance
) -> None:
    # Imported here: the feed stage is the only one this module needs from digest.fetch.
    from digest.fetch.fetched import Fetched
    from digest.fetch.parse import parse_feed

    feed = FeedSettings(url="https://gulf.example/rss", language="ar", filter="ai")
    fetched = Fetched(
        status=200,
        url=feed.url,
        headers={"content-type": "application/rss+xml; charset=utf-8"},
        body=ARABIC_FEED.encode(),
        moved_to=None,
    )
    parsed = parse_feed(feed, fetched, NOW)
    assert parsed.error is None
    kept = [p for p in parsed.posts if relevance.is_about("ai", p.title, p.summary)]
    placed = [classifier.classify(p.title, p.summary).country for p in kept]
    assert [p.url for p in kept] == ["https://gulf.example/1", "https://gulf.example/2"]
    assert placed == ["AE", "SA"]
    # Without the filter, the others are still placed by their Arabic names.
    others = [classifier.classify(p.title, p.summary).country for p in parsed.posts[2:]]
    assert others == ["QA", ""]


def test_an_opml_folder_named_in_arabic_gives_the_country() -> None:
    opml = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>قراءاتي</title></head><body>
<outline text="قطر"><outline type="rss" text="الشرق" xmlUrl="https://qa.example/rss"/></outline>
<outline text="اليابان"><outline type="rss" text="Tokyo" xmlUrl="https://jp.example/rss"/></outline>
</body></opml>""".encode()
    feeds, skipped = read_opml(opml, ["JP", "QA"])
    assert feeds == [
        OpmlFeed("https://qa.example/rss", name="الشرق", country="QA"),
        OpmlFeed("https://jp.example/rss", name="Tokyo", country="JP"),
    ]
    assert skipped == []


# --- right-to-left display ------------------------------------------------------------

ARABIC_TITLE = "الإمارات تطلق مختبرا وطنيا للذكاء الاصطناعي"
ARABIC_SOURCE = "الخليج"


def _issue() -> Issue:
    def story(title: str, source: str, summary: str, also: str, n: int) -> Story:
        return Story(
            title=title,
            url=f"https://news.example/{n}",
            source=source,
            published=datetime(2026, 11, 18, n, 0, tzinfo=UTC),
            summary=summary,
            country="AE",
            also=(AlsoReported(also, f"https://also.example/{n}"),),
            feed_url=f"https://news.example/{n}.xml",
            post_id=str(n),
            outlets=2,
        )

    arabic = story(ARABIC_TITLE, ARABIC_SOURCE, "أعلنت الحكومة عن مختبر جديد.", "البيان", 1)
    english = story("Abu Dhabi opens an AI lab", "The National", "A new lab.", "Gulf News", 2)
    return Issue(
        week="2026-W47",
        number=3,
        title="Asian AI Hubs Weekly",
        language="en",
        timezone="Asia/Dubai",
        start=datetime(2026, 11, 15, 20, 0, tzinfo=UTC),
        end=datetime(2026, 11, 22, 20, 0, tzinfo=UTC),
        sections=(Section("AE", "UAE", (arabic, english)),),
        generated_at=datetime(2026, 11, 22, 20, 0, 5, tzinfo=UTC),
    )


_RTL = re.compile("[\u0590-\u08ff]")
_VOID = frozenset({"br", "img", "meta", "link", "input", "hr", "col", "wbr", "source"})


class _DirCheck(HTMLParser):
    """Text runs with Arabic or Hebrew letters, and whether an element around
    each (itself or an ancestor) has a dir attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: has dir
        self.runs: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.stack.append(any(name == "dir" for name, _ in attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if _RTL.search(data) and self.stack:
            self.runs.append((data.strip(), any(self.stack)))


def _rtl_runs(document: str) -> list[tuple[str, bool]]:
    check = _DirCheck()
    check.feed(document)
    return check.runs


def test_every_arabic_text_of_the_issue_has_a_direction(tmp_path: Path) -> None:
    """The email, the issue page, the archive's index, country page and feed
    entry: each run of feed text in Arabic sits in an element with dir."""
    settings = parse_settings(
        {
            "digest": {"language": "en", "title": "Asian AI Hubs Weekly"},
            "archive": {"base_url": "https://digest.example.org/archive/"},
        },
        source=Path("t.toml"),
    )
    settings = replace(settings, archive=replace(settings.archive, dir=tmp_path / "archive"))
    issue = _issue()
    rendered = render_issue(issue, settings)
    page = write_issue(issue, rendered, settings)
    feed = (tmp_path / "archive" / "feed.xml").read_text("utf-8")
    entry = html.unescape(re.search(r"<content[^>]*>(.*?)</content>", feed, re.S).group(1))
    documents = {
        "email": rendered.html_email,
        "web": rendered.html_web,
        "archive page": page.read_text("utf-8"),
        "index": (tmp_path / "archive" / "index.html").read_text("utf-8"),
        "country page": (tmp_path / "archive" / "country" / "ae.html").read_text("utf-8"),
        "feed entry": entry,
    }
    for name, document in documents.items():
        runs = _rtl_runs(document)
        assert any(ARABIC_TITLE in text for text, _ in runs), name
        assert [text for text, has_dir in runs if not has_dir] == [], name
    # The English story of the same issue is marked nowhere: LTR text needs no dir.
    english = re.search(r'<h3 class="story-title"[^>]*>.*?Abu Dhabi', rendered.html_email)
    assert english is not None and "dir=" not in english.group()
    assert "الخليج" in rendered.text  # the text part is plain text, no marks


# For each .story: its title's, summary's, source's and first "also" link's
# direction, and where the title's text sits in its block.
_DIRECTIONS_JS = """
async function collect() {
  const frames = [...document.querySelectorAll("iframe")];
  await Promise.all(frames.map((f) => f.contentDocument.fonts.ready));
  return frames.map((frame) => {
    const win = frame.contentWindow, doc = frame.contentDocument;
    return [...doc.querySelectorAll(".story")].map((story) => {
      const title = story.querySelector(".story-title");
      const range = doc.createRange();
      range.selectNodeContents(title);
      const text = range.getBoundingClientRect(), box = title.getBoundingClientRect();
      const dir = (el) => win.getComputedStyle(el).direction;
      return {
        title: title.textContent.trim(),
        direction: dir(title),
        summary: dir(story.querySelector(".summary")),
        source: dir(story.querySelector(".muted span") || story.querySelector(".muted")),
        also: dir(story.querySelector(".also a")),
        gap_left: text.left - box.left,
        gap_right: box.right - text.right,
      };
    });
  });
}
"""


@pytest.mark.browser
def test_arabic_stories_read_right_to_left_in_email_and_web_page(tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        pytest.fail(browser.INSTALL_HINT, pytrace=False)
    settings = parse_settings(
        {"digest": {"language": "en", "title": "Asian AI Hubs Weekly"}}, source=Path("t.toml")
    )
    rendered = render_issue(_issue(), settings)
    email = tmp_path / "email.html"
    email.write_text(personalize(rendered.html_email, "https://x.example/u", html=True), "utf-8")
    web = tmp_path / "web.html"
    web.write_text(rendered.html_web, "utf-8")
    frames = "".join(browser._iframe(page, 600, 1200, i) for i, page in enumerate((email, web)))

    pages = browser._run_harness(frames, _DIRECTIONS_JS, browser.TIMEOUT)

    for name, stories in zip(("email", "web page"), pages, strict=True):
        arabic, english = stories
        assert arabic["title"] == ARABIC_TITLE, name
        assert (arabic["direction"], arabic["summary"], arabic["source"], arabic["also"]) == (
            "rtl", "rtl", "rtl", "rtl"
        ), name  # fmt: skip
        # The short Arabic title sits at the right of its block, the English one at the left.
        assert arabic["gap_right"] < 1 < arabic["gap_left"] - 100, (name, arabic)
        assert (english["direction"], english["summary"], english["source"], english["also"]) == (
            "ltr", "ltr", "ltr", "ltr"
        ), name  # fmt: skip
        assert english["gap_left"] < 1 < english["gap_right"] - 100, (name, english)
