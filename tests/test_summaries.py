"""Clean summaries (issue 14): the named cleaning rules, and where display cuts end.

`digest.fetch.summaries.clean_summary` on examples written here in Japanese,
Simplified and Traditional Chinese, Korean and English; the guarantee that no
rule empties a summary (a generated table of a few thousand summaries: no
property-testing library is a dev dependency); hostile inputs; the cleaning at
the real normalisation boundary (feedparser results of small inline feeds); and
`digest.render.typography.truncate_summary` cutting at a sentence end, else a
clause or word boundary, never inside a word, a number, a URL or a Hangul word.
"""

# ruff: noqa: E501  (tables of CJK examples read best one case to a line)
from __future__ import annotations

import hashlib
import io
import itertools
import random
import re
import time
import unicodedata
from datetime import UTC, datetime

import feedparser
import pytest

from digest.config import FeedSettings
from digest.fetch import gates, summaries
from digest.fetch.normalize import normalize_entries
from digest.fetch.summaries import RULE_NAMES, clean_summary, readable
from digest.models import Post
from digest.render.typography import display_width, truncate_summary


def cleaned(summary: str, title: str = "Unrelated headline") -> str:
    return clean_summary(summary, title).text


def rules(summary: str, title: str = "Unrelated headline") -> set[str]:
    return set(clean_summary(summary, title).changed_by)


# --- each rule, in each script ----------------------------------------------------------

LABELS = [
    ("总结:月之暗面发布新一代模型，推理能力全面升级。", "月之暗面发布新一代模型，推理能力全面升级。"),
    ("摘要：深圳一家机器人公司完成新一轮融资。", "深圳一家机器人公司完成新一轮融资。"),
    ("【摘要】深圳一家机器人公司完成新一轮融资。", "深圳一家机器人公司完成新一轮融资。"),
    ("總結： 香港推出新的人工智能指引。", "香港推出新的人工智能指引。"),
    ("要約：ソフトバンクが北海道にデータセンターを建設する。", "ソフトバンクが北海道にデータセンターを建設する。"),
    ("[要約] ソフトバンクが北海道にデータセンターを建設する。", "ソフトバンクが北海道にデータセンターを建設する。"),
    ("概要: 経済産業省がAI事業者ガイドラインを改定した。", "経済産業省がAI事業者ガイドラインを改定した。"),
    ("요약: 네이버가 새 거대언어모델을 공개했다.", "네이버가 새 거대언어모델을 공개했다."),
    ("Summary: Samsung opens an AI lab in Seoul.", "Samsung opens an AI lab in Seoul."),
    ("TL;DR: Samsung opens an AI lab in Seoul.", "Samsung opens an AI lab in Seoul."),
    ("tldr — Samsung opens an AI lab in Seoul.", "Samsung opens an AI lab in Seoul."),
    ("导语 2026 年 7 月，一家出版社发布消息。", "2026 年 7 月，一家出版社发布消息。"),
    ("Summary: TL;DR: twice labelled.", "twice labelled."),
]  # fmt: skip


@pytest.mark.parametrize(("summary", "expected"), LABELS)
def test_label_prefix(summary: str, expected: str) -> None:
    assert cleaned(summary) == expected
    assert rules(summary) == {"label_prefix"}


@pytest.mark.parametrize(
    "summary",
    [
        "Summary statistics show a rise in AI adoption.",  # a word, not a label
        "摘要显示，AI 应用正在增加。",  # CJK label word glued to the sentence
        "要約すると、生成AIの利用が広がっている。",
        "요약하면 AI 도입이 늘었다.",
    ],
)
def test_label_words_inside_a_sentence_stay(summary: str) -> None:
    assert cleaned(summary) == summary


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("图片来源：视觉中国 作者/杨继云 深圳超级IPO来了。", "深圳超级IPO来了。"),
        ("封面來源丨Unsplash 作者丨追命 資本江湖裡，沒有永恆的戰友。", "資本江湖裡，沒有永恆的戰友。"),
        ("写真：共同 政府は新たなAI戦略を決めた。", "政府は新たなAI戦略を決めた。"),
        ("사진: 연합뉴스 정부가 AI 전략을 발표했다.", "정부가 AI 전략을 발표했다."),
        ("The minister spoke in Tokyo. (Photo by Jane Doe/Getty Images)", "The minister spoke in Tokyo."),
        ("结论就在这里。 *题图来源于网络。", "结论就在这里。"),
    ],
)  # fmt: skip
def test_credits(summary: str, expected: str) -> None:
    assert cleaned(summary) == expected
    assert rules(summary) == {"credits"}


TAILS = [
    # (rule, summary with the artefact, what stays)
    ("post_appeared_first", "Microsoft expands its AI capacity in Japan. The post Microsoft expands Azure AI appeared first on The Official Microsoft Blog.", "Microsoft expands its AI capacity in Japan."),
    ("originally_published", "Kakao opens a lab in Tokyo. This article originally appeared on Example News.", "Kakao opens a lab in Tokyo."),
    ("originally_published", "大模型进入落地阶段。 本文来自微信公众号“机器之心”（ID：almosthuman2014），作者：某某，36氪经授权发布。", "大模型进入落地阶段。"),
    ("originally_published", "生成AIの導入が進む。 ※この記事はExample Newsから転載したものです。", "生成AIの導入が進む。"),
    ("originally_published", "AI 반도체 수출이 늘었다. 이 기사는 예시일보에 게재된 기사를 재구성한 것입니다.", "AI 반도체 수출이 늘었다."),
    ("source_link", "港府公布人工智能政策。 原始網址 Original URL： https://news.example.hk/1799768.htm", "港府公布人工智能政策。"),
    ("source_link", "新模型发布。 原文链接：https://example.cn/post/1?utm_source=wechat", "新模型发布。"),
    ("source_link", "정부가 AI 전략을 발표했다. 출처: https://example.kr/a/1", "정부가 AI 전략을 발표했다."),
    ("copyright_notice", "The city sets AI rules. © example.hk 電子郵件 Email: news@example.hk", "The city sets AI rules."),
    ("copyright_notice", "네이버가 새 모델을 공개했다. <저작권자 © 예시투데이 무단전재 및 재배포 금지>", "네이버가 새 모델을 공개했다."),
    ("copyright_notice", "新しいモデルを公開した。 Copyright 2026 Example Media. All rights reserved.", "新しいモデルを公開した。"),
    ("copyright_notice", "新模型发布。 版权所有，未经授权不得转载", "新模型发布。"),
    ("related_links", "三星发布新耳机。 相关阅读： 《三星电子收购某音频公司》", "三星发布新耳机。"),
    ("related_links", "ソニーが新カメラを発表した。 関連記事：ソニー、映像拠点を開設", "ソニーが新カメラを発表した。"),
    ("related_links", "LG가 캐나다 공장을 열었다. 관련기사: LG, 북미 투자 확대", "LG가 캐나다 공장을 열었다."),
    ("tags", "Claude Tag 功能升级。 Tags: Product announcements", "Claude Tag 功能升级。"),
    ("tags", "報名開放中。 #黑客松 #AIHackathon #AI工作流", "報名開放中。"),
    ("tags", "新機能を追加した。 タグ：AI、スマホ", "新機能を追加した。"),
    ("disclaimer", "显示器首发价 849 元。 广告声明：文内含有的对外跳转链接，用于传递更多信息，结果仅供参考，所有文章均包含本声明。 【广告】", "显示器首发价 849 元。"),
    ("disclaimer", "股價創新高。 免責聲明：本文內容僅供參考，不構成投資建議。", "股價創新高。"),
    ("read_more", "Samsung opens an AI lab. Continue reading…", "Samsung opens an AI lab."),
    ("read_more", "Samsung opens an AI lab. Read more »", "Samsung opens an AI lab."),
    ("read_more", "Trained on 15T tokens. Read the full tech blog.", "Trained on 15T tokens."),
    ("read_more", "香港推出新指引。 閱讀全文", "香港推出新指引。"),
    ("read_more", "生成AIの新モデルを公開した。…続きを読む", "生成AIの新モデルを公開した。"),
    ("read_more", "네이버가 새 모델을 공개했다. 더보기", "네이버가 새 모델을 공개했다."),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "summary", "expected"), TAILS)
def test_tail_rules(rule: str, summary: str, expected: str) -> None:
    result = clean_summary(summary, "Unrelated headline")
    assert result.text == expected
    assert rule in result.changed_by


@pytest.mark.parametrize(
    "summary",
    [
        "The post office in Seoul appeared first on the list of closures.",  # no "The post <x> appeared first on"
        "Photos of the launch were shared widely.",
        "They tagged it as urgent. Tags matter to them.",
        "Sony (©1990s design) returns with a new Walkman and a long story about it. It sells well.",
        "他说：「相关阅读材料很多」，然后离开。",
        "Customers who want the details can learn more.",  # prose, not a "Learn more" link
        "He said he will continue reading.",
        "Claude Tag: a new feature that tags your threads.",
    ],
)
def test_tail_rules_leave_ordinary_text(summary: str) -> None:
    assert cleaned(summary) == summary


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # The feed's cut mark becomes one "…"; the words before it stay (the classifier reads them).
        ("這款藍牙追蹤器已成為許多旅行者不可或缺的 […]", "這款藍牙追蹤器已成為許多旅行者不可或缺的…"),
        ("運輸及物流局作書面回覆。周 […]", "運輸及物流局作書面回覆。周…"),
        ("据え置くと発表した。 玉昌会は、高田病院（同市、...", "据え置くと発表した。 玉昌会は、高田病院（同市…"),
        ("분쟁의 불씨도 남겼다.고려아연은 24일 서울 중구...", "분쟁의 불씨도 남겼다.고려아연은 24일 서울 중구…"),
        ("The deal continues a grim run for IT vendors (…)", "The deal continues a grim run for IT vendors…"),
        # After a whole sentence the mark says nothing: it goes.
        ("A grim run for enterprise IT vendors.…", "A grim run for enterprise IT vendors."),
        ("新模型发布。……", "新模型发布。"),
    ],
)  # fmt: skip
def test_cut_marker(summary: str, expected: str) -> None:
    assert cleaned(summary) == expected
    assert rules(summary) == {"cut_marker"}


def test_a_read_more_link_after_a_cut_leaves_the_cut_marked() -> None:
    assert cleaned("Samsung opened a lab in… Read more") == "Samsung opened a lab in…"
    assert cleaned("サムスンが研究所を… 続きを読む") == "サムスンが研究所を…"


def test_a_single_ellipsis_already_in_place_is_no_change() -> None:
    assert rules("這款藍牙追蹤器已成為許多旅行者不可或缺的…") == set()


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("韩疫苗接种加速推进下防疫混乱问题频现", "韩疫苗接种加速推进下防疫混乱问题频现"),
        ("巨頭們開闢DPU「芯」戰場", "巨頭們開闢DPU「芯」戰場。"),
        ("ソニー、映像制作拠点を本社内に開設へ", "ソニー、映像制作拠点を本社内に開設へ"),
        ("네이버, 새 AI 모델 공개", "네이버, 새 AI 모델 공개"),
        ("Expat mother, son unite in UAE after 12 years", "Expat mother, son unite in UAE after 12 years"),
        ("Spotify maps how songs connect | TechCrunch", "Spotify maps how songs connect"),
        ("Root guides England to 325-9", "Root guides England to 325-9 - Gulf News"),
        ("ＡＩ　Ｌａｂ　Opens In Seoul", "AI Lab opens in Seoul"),  # width and case folded
    ],
)  # fmt: skip
def test_title_repeat_drops_a_summary_that_only_repeats_the_title(title: str, summary: str) -> None:
    result = clean_summary(summary, title)
    assert result.text == "" and result.dropped
    assert result.changed_by == {"title_repeat"}


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("港股下午初段維持逾2%升幅", "港股下午初段維持逾2%升幅。恒生指數較早時報21394點。", "恒生指數較早時報21394點。"),
        ("禁止叫欧巴！拒绝聪油饼！", "禁止叫欧巴！拒绝聪油饼！朝鲜情侣这样称呼对方。", "朝鲜情侣这样称呼对方。"),
        ("ソニーが新拠点を開設", "ソニーが新拠点を開設 品川の本社内に最新設備をそろえる。", "品川の本社内に最新設備をそろえる。"),
        ("삼성전자, 서울에 AI 연구소 개소", "삼성전자, 서울에 AI 연구소 개소 연구원 200명이 일한다.", "연구원 200명이 일한다."),
        ("Samsung opens AI lab in Seoul", "Samsung opens AI lab in Seoul: 200 researchers will work there.", "200 researchers will work there."),
        ("Samsung opens AI lab in Seoul", "Samsung opens AI lab in Seoul. 总结: 新模型发布。", "新模型发布。"),
    ],
)  # fmt: skip
def test_title_repeat_strips_the_title_and_keeps_the_rest(
    title: str, summary: str, expected: str
) -> None:
    assert cleaned(summary, title) == expected
    assert "title_repeat" in rules(summary, title)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("펄어비스", "펄어비스(대표 허진영)는 붉은사막 판매량이 300만 장을 돌파했다고 밝혔다."),
        ("OpenAI appoints Dali Rajic as CRO", "OpenAI appoints Dali Rajic as CRO to lead its revenue team."),
        ("Kimi K2 Thinking", "Kimi K2 Thinking, Moonshot's best open-source thinking model."),
        ("ソニー「DMPC Japan」", "ソニー「DMPC Japan」を品川の本社内に開設すると発表した。"),
        ("巨头们开辟DPU战场", "巨头们开辟DPU战场的故事还在继续，英伟达也加入了。"),
    ],
)  # fmt: skip
def test_title_repeat_keeps_a_sentence_whose_subject_is_the_title(title: str, summary: str) -> None:
    assert cleaned(summary, title) == summary


def test_an_empty_title_repeats_nothing() -> None:
    assert cleaned("Some summary.", "") == "Some summary."


def test_every_rule_is_exercised_here() -> None:
    seen = {rule for rule, _, _ in TAILS} | {
        "label_prefix",
        "credits",
        "cut_marker",
        "title_repeat",
    }
    assert seen == set(RULE_NAMES)


# --- never emptied ----------------------------------------------------------------------

_PIECES = [
    "总结:", "要約：", "요약:", "Summary:", "TL;DR —", "【摘要】", "[要約]", "导语 ", "图片来源：视觉中国 ",
    "(Photo by A/Getty Images)", "The post X appeared first on Y.",
    "This article originally appeared on Z.", "本文来自微信公众号“X”，36氪经授权发布。",
    "原始網址： https://a.example/1", "© example", "<저작권자 © 예시 무단전재 및 재배포 금지>", "相关阅读：《X》",
    "Tags: AI", "#a #b", "广告声明：仅供参考。", "免責聲明：僅供參考。", "Read more", "Continue reading…", "閱讀全文",
    "…続きを読む", "더보기", "[…]", "...", "…", "。", "！", "?", " ", "—", "|", "、", "「", "」", "(", ")",
    "*", "#", "AI", "生成AI", "人工智能", "인공지능", "東京", "Seoul", "2026", "x", "가", "あ",
    "Samsung opens a lab.", "新模型发布。", "新しいモデルを公開した。", "새 모델을 공개했다.",
]  # fmt: skip
_TITLES = ["", "AI", "Samsung opens a lab", "新模型发布", "人工智能", "생성AI 모델", "東京"]


def _generated(n: int) -> list[tuple[str, str]]:
    rng = random.Random(14)
    table = [(a + b, t) for a, b in itertools.product(_PIECES, repeat=2) for t in _TITLES[:2]]
    for _ in range(n):
        k = rng.randint(1, 7)
        table.append(("".join(rng.choice(_PIECES) for _ in range(k)), rng.choice(_TITLES)))
    return table


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def test_no_rule_ever_empties_a_summary() -> None:
    """A readable summary stays readable; the one way to "" is a repeated title."""
    checked = 0
    for summary, title in _generated(3000):
        result = clean_summary(summary, title)
        if not readable(summary):
            assert result.text == summary, (summary, title)
            continue
        checked += 1
        if result.dropped:
            assert result.text == "" and result.steps[-1].rule == "title_repeat"
            # What was dropped said nothing but the title (and a few words at most).
            assert _fold(title) and _fold(title) in _fold(result.steps[-1].before) + _fold(title)
        else:
            assert readable(result.text), (summary, title, result)
            assert len(result.text) <= len(summary) + 1  # rules only take away ("[…]" → "…")
    assert checked > 5000


def test_cleaning_twice_changes_nothing_more() -> None:
    for summary, title in _generated(1000):
        once = clean_summary(summary, title)
        if once.dropped:
            continue
        assert clean_summary(once.text, title).text == once.text, (summary, title)


@pytest.mark.parametrize(
    "summary",
    ["Summary:", "总结:", "【摘要】", "Read more", "閱讀全文", "더보기", "© example", "Tags: x", "…", "……", "[…]", "。！？", "   ", "", "#a #b", "The post X appeared first on Y.",],
)  # fmt: skip
def test_a_summary_that_is_only_an_artefact_is_kept(summary: str) -> None:
    result = clean_summary(summary, "Unrelated headline")
    assert readable(result.text) or result.text == summary
    assert not result.dropped


# --- hostile inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "summary",
    [
        "生成AI" * 25_000,  # 100 KB without a single boundary
        "总结:" + "。" * 100_000,
        "The post " * 12_000 + "appeared first on",
        "[" * 50_000 + "…" + "]" * 50_000,
        "Summary: " * 11_000,
        "a " * 50_000 + "Read more",
        "#x " * 30_000,
        "\u200b" * 1000 + "요약:" + "가" * 100_000,
    ],
)
def test_hostile_summaries_are_cleaned_quickly(summary: str) -> None:
    start = time.perf_counter()
    result = clean_summary(summary, summary[:300])
    cut = truncate_summary(result.text or summary)
    assert time.perf_counter() - start < 2.0
    assert readable(result.text) or result.dropped or not readable(summary)
    assert display_width(cut) <= 200


# --- at the normalisation boundary ------------------------------------------------------

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FEED = FeedSettings(url="https://news.example.jp/feeds/rss.xml")


def _posts(items: str) -> list[Post]:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed</title><link>https://news.example.jp/</link>{items}</channel></rss>"
    ).encode()
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": "application/rss+xml", "content-location": FEED.url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    return list(normalize_entries(parsed, FEED, NOW))


def test_normalize_cleans_summaries_once_at_the_boundary() -> None:
    labelled, repeated, footer = _posts(
        "<item><title>Kimi K3</title><link>https://a.example/1</link>"
        "<description>总结:月之暗面推出新一代大模型，推理能力全面升级。</description></item>"
        "<item><title>巨头们开辟DPU战场</title><link>https://a.example/2</link>"
        "<description>巨头们开辟DPU战场</description></item>"
        "<item><title>Azure in Japan</title><link>https://a.example/3</link>"
        "<description>&lt;p&gt;Microsoft expands in Japan.&lt;/p&gt;&lt;p&gt;The post Azure in "
        "Japan appeared first on The Official Microsoft Blog.&lt;/p&gt;</description></item>"
    )
    assert labelled.summary == "月之暗面推出新一代大模型，推理能力全面升级。"
    assert repeated.summary == ""
    assert footer.summary == "Microsoft expands in Japan."


def test_hashed_ids_stay_what_they_were_before_cleaning() -> None:
    """An entry with neither guid nor link is known by a hash of its texts: the
    uncleaned ones, so a post stored before summaries were cleaned keeps its id."""
    [post] = _posts("<item><title>无链接</title><description>总结:内容。</description></item>")
    expected = hashlib.sha256("无链接\n总结:内容。".encode()).hexdigest()
    assert post.post_id == f"sha256:{expected}"
    assert post.summary == "内容。"


# --- display cuts -----------------------------------------------------------------------

W = 60  # narrow, so short texts in each script get cut


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Sentence ends, no ellipsis.
        ("ソフトバンクは北海道にデータセンターを建設すると発表した。再生可能エネルギーを活用し、2027年度の稼働開始を目指す。", "ソフトバンクは北海道にデータセンターを建設すると発表した。"),
        ("深圳一家机器人公司完成新一轮融资，估值超过十亿元。公司计划扩大产能并进入海外市场，明年推出新产品。", "深圳一家机器人公司完成新一轮融资，估值超过十亿元。"),
        ("香港政府公布人工智能發展指引，要求企業披露模型用途。業界普遍歡迎新措施，但擔心合規成本上升。", "香港政府公布人工智能發展指引，要求企業披露模型用途。"),
        ("네이버가 새 거대언어모델을 공개했다. 회사는 내년까지 해외 시장에 진출할 계획이라고 밝혔다.", "네이버가 새 거대언어모델을 공개했다."),
        ("추가 분쟁의 불씨도 함께 남겼다.고려아연은 24일 서울 중구에서 주주총회를 열었다.", "추가 분쟁의 불씨도 함께 남겼다."),
        ("Samsung opened an AI lab in Seoul on Monday. The lab will employ 200 researchers by 2027.", "Samsung opened an AI lab in Seoul on Monday."),
        # Clause boundaries, with an ellipsis and without the punctuation.
        ("経済産業省はAI事業者ガイドラインを改定し、生成AIの透明性確保と知的財産の保護を明記した", "経済産業省はAI事業者ガイドラインを改定し…"),
        ("阿里巴巴发布新一代大模型，支持超长上下文和多模态输入，面向企业客户开放接口调用服务", "阿里巴巴发布新一代大模型，支持超长上下文和多模态输入…"),
        ("The company, which was founded in Seoul in 2019, plans to hire more engineers next year", "The company, which was founded in Seoul in 2019…"),
        # Word boundaries: Korean and Latin spaces.
        ("삼성전자와 네이버가 서울에 공동 인공지능 연구소를 열고 연구원 이백 명을 채용할 계획이다", "삼성전자와 네이버가 서울에 공동 인공지능 연구소를 열고…"),
        ("Samsung and Naver will open a joint artificial intelligence laboratory in central Seoul", "Samsung and Naver will open a joint artificial intelligence…"),
    ],
)  # fmt: skip
def test_cuts_end_at_the_best_boundary(text: str, expected: str) -> None:
    cut = truncate_summary(text, W)
    assert cut == expected
    assert display_width(cut) <= W


@pytest.mark.parametrize(
    ("text", "not_inside"),
    [
        (
            "Revenue reached 1,234,567,890,123 won and 98,765,432,100 dollars in the quarter",
            "1,234,567,890,123",
        ),
        (
            "See https://example.com/a/very/long/path/with,commas;and:colons/inside/it for details",
            "https://example.com/a/very/long/path/with,commas;and:colons/inside/it",
        ),
        (
            "인공지능반도체생태계활성화를위한대규모투자계획을정부가발표했다고 밝혔다",
            "인공지능반도체생태계활성화를위한대규모투자계획을정부가발표했다고",
        ),
        (
            "データセンターインフラストラクチャーマネジメントシステムを導入した",
            "データセンターインフラストラクチャーマネジメントシステム",
        ),
        (
            "发布了GPT-4.5-turbo-preview-2026-08-01-experimental-edition模型",
            "GPT-4.5-turbo-preview-2026-08-01-experimental-edition",
        ),
        (
            "Launch time was 19:00:00 on the 3rd and 21:30:00 on the 4th, with more to come later",
            "19:00:00",
        ),
    ],
)
@pytest.mark.parametrize("width", [50, 60, 70, 80, 90])
def test_cuts_never_split_a_number_url_or_word(text: str, not_inside: str, width: int) -> None:
    """Wherever the width falls, the cut is before or after the token, never inside:
    unless the token alone is wider than the cut (then nothing else is possible)."""
    cut = truncate_summary(text, width).rstrip("…")
    start = text.index(not_inside)
    end = start + len(not_inside)
    if start > 0 or display_width(not_inside) < width:
        assert not (start < len(cut) < end), cut
    assert display_width(truncate_summary(text, width)) <= width


def test_an_ellipsis_only_marks_a_cut_mid_sentence() -> None:
    whole = "Samsung opened an AI lab in Seoul. The lab will employ 200 researchers by 2027."
    assert truncate_summary(whole, 200) == whole  # not cut: no ellipsis
    assert truncate_summary(whole, 60) == "Samsung opened an AI lab in Seoul."  # no ellipsis


def test_a_feed_cut_goes_back_to_its_last_sentence_end() -> None:
    """A summary the feed cut ("…") is shown to its last whole sentence."""
    fed = "運輸及物流局局長陳美寶作書面回覆，表示政府會研究。周…"
    assert truncate_summary(fed) == "運輸及物流局局長陳美寶作書面回覆，表示政府會研究。"
    kept = "這款藍牙追蹤器已成為許多旅行者不可或缺的…"  # no sentence end: the mark stays
    assert truncate_summary(kept) == kept


def test_one_token_longer_than_the_width_is_cut_hard() -> None:
    token = "x" * 300
    cut = truncate_summary(token, W)
    assert cut.endswith("…") and display_width(cut) <= W


@pytest.mark.parametrize("width", [20, 40, 60, 80, 120, 200])
def test_cuts_fit_the_width_in_every_script(width: int) -> None:
    for text in [p for p, _ in _generated(300)] + [t for t, _ in TAILS_TEXTS]:
        cut = truncate_summary(text * 3, width)
        assert display_width(cut) <= width, (text, width, cut)


TAILS_TEXTS = [(summary, rule) for rule, summary, _ in TAILS]


# --- the gates in front of the tail rules (speed only: never a different result) ------


def test_every_tail_rule_has_a_gate() -> None:
    """Each tail rule is skipped on texts without any string its pattern requires."""
    assert len(summaries.TAIL_GATES) >= 9
    for pattern, gate in summaries.TAIL_GATES:
        assert gate, pattern[:80]


def test_gates_fold_every_character_the_rules_match_case_insensitively() -> None:
    """Any character `re.IGNORECASE` matches to a gate's character folds to it
    (`str.lower` alone misses U+0130 İ, U+0131 ı, U+017F ſ, U+212A K)."""
    wanted = sorted({ch for _, gate in summaries.TAIL_GATES for word in gate or () for ch in word})
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    anyone = re.compile("[" + "".join(map(re.escape, wanted)) + "]", re.IGNORECASE)
    for m in anyone.finditer(everything):
        x = m.group()
        for ch in wanted:
            if re.fullmatch(re.escape(ch), x, re.IGNORECASE):
                assert summaries.gate_fold(x) == ch, (hex(ord(x)), ch)


@pytest.mark.parametrize(
    "summary",
    [
        "Markets rallied. This article originally appeared on Example News.",
        "Markets rallied. Thİs artİcle orİgİnally appeared on Example News.",
        "Markets rallied. ſee alſo: more",
        "Markets rallied. Related: \u212aorea's chips",
        "市场上涨。相关阅读：芯片",
        "Markets rallied. READ MORE »",
    ],
)
def test_a_gate_never_changes_what_a_rule_does(summary: str) -> None:
    """Where a tail rule's own pattern matches, its gate lets the text through."""
    folded = summaries.gate_fold(summary)
    matched = 0
    for pattern, words in summaries.TAIL_GATES:
        ungated = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        if ungated.search(summary, max(0, len(summary) - summaries.TAIL_WINDOW)):
            matched += 1
            assert words is None or any(w in folded for w in words), (pattern[:60], summary)
    assert matched  # each example is one some rule removes


CHAINS = [
    # Each cleaned in turn: a text that is a part of the one before may reuse what
    # was found in that one (`gates.present`), and must come out the same.
    "Markets rallied. This article originally appeared on Example News. Read more »",
    "Markets rallied. This article originally appeared on Example News.",
    "Markets rallied.",
    "Markets rallied. Tags: AI, chips",
    "Markets rallied. Tags: AI",
    "ΟΔΟΣ ΣΟΦΙΑΣ. Related: more",  # a Greek sigma folds by its neighbours
    "市场上涨。相关阅读：芯片 阅读全文",
    "市场上涨。相关阅读：芯片",
    "시장이 올랐다. 관련기사: 반도체 더보기",
    "x" * 1500 + ". Read more",  # longer than the tail window
    "x" * 1500,
    "x" * 1400 + ". Copyright 2026 Example",
]


def test_what_the_gates_let_through_is_what_every_rule_alone_would_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cleaning with the gates gives what it gives with every tail rule run on
    every text (the gates only save work), whatever came before."""
    gated = [clean_summary(text, "") for text in CHAINS + CHAINS[::-1]]
    every = frozenset(gates._GATE_WORDS)
    monkeypatch.setattr(gates, "present", lambda window: every)
    ungated = [clean_summary(text, "") for text in CHAINS + CHAINS[::-1]]
    assert gated == ungated
    assert any(c.steps for c in gated)


def test_a_rule_s_lookahead_admits_every_character_its_phrases_start_with() -> None:
    """The lookahead in front of `read_more` (`gates.first_chars`) lets through
    every character `re.IGNORECASE` matches to a phrase's first letter (U+212A K
    for "keep"), so it can only skip positions where the rule cannot match."""
    firsts = gates.first_chars(summaries._READ_MORE)
    assert firsts and set("ckrflm阅기") <= set(firsts)
    ahead = re.compile(
        "[" + re.escape(summaries._OPENING + firsts) + "]", re.IGNORECASE | re.DOTALL
    )
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    starts = re.compile("[" + re.escape(firsts) + "]", re.IGNORECASE)
    for m in starts.finditer(everything):
        assert ahead.fullmatch(m.group())
    for ch in firsts:
        for m in re.finditer(re.escape(ch), everything, re.IGNORECASE):
            assert ahead.fullmatch(m.group()), (ch, hex(ord(m.group())))
    assert gates.first_chars(r"(?:a|\s*b)") is None  # not a literal first: no lookahead
    assert gates.first_chars(r"(?:ab|cd|a)") == "ac"


@pytest.mark.parametrize(
    "summary",
    [
        *CHAINS,
        "Markets rallied. \u212aeep reading",
        "Markets rallied.   (  read the full story  ) »",
        "Markets rallied… more...",
        "Markets rallied. 【阅读全文】",
        "市场上涨。 点击查看全文 >>",
        "시장이 올랐다. 기사  더  보기",
        "Markets rallied. Learn more.",
        "customers can learn more.",
        " Read more",
        "Read more",
    ],
)
def test_the_lookahead_finds_what_the_rule_alone_finds(summary: str) -> None:
    pattern = next(p for p, _ in summaries.TAIL_GATES if "continue reading" in p)
    alone = re.compile(pattern, re.IGNORECASE | re.DOTALL)
    start = max(0, len(summary) - summaries.TAIL_WINDOW)
    want = alone.search(summary, start)
    got = summaries._read_more(summary, "")
    assert got == (summaries._trim_end(summary[: want.start()]) if want else summary)


@pytest.mark.parametrize(
    "summary",
    [
        "不可或缺的 […]",
        "了承し...",
        "서울 중구... ",
        "Markets rallied (…)\u3000",
        "Markets rallied （⋯）",
        "vendors.…",
        "Markets rallied.",
        "Markets rallied。。。",
        "Markets rallied。",
        "Markets [rallied]",
        "(note)",
        "",
    ],
)
def test_cut_marker_s_quick_answer_is_what_its_pattern_gives(summary: str) -> None:
    """`_cut_marker` answers a text that cannot end in a cut mark without its
    pattern: the same as trying the pattern (whose `\\s` is `str.isspace`)."""
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert set(re.findall(r"\s", everything)) == {c for c in everything if c.isspace()}
    m = summaries._CUT_MARK.search(summary, max(0, len(summary) - 64))
    if m is None:
        assert summaries._cut_marker(summary, "") == summary
    else:
        assert summary.rstrip().endswith(summaries._CUT_MARK_ENDS)
