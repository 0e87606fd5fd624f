"""Near-duplicate clustering: hand-written cases, and the labelled corpus pairs."""

from __future__ import annotations

import csv
import importlib.util
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from digest.config import DEFAULT_COUNTRIES
from digest.editorial.classify import Classifier
from digest.editorial.cluster import Doc, cluster, similarity, url_key
from digest.editorial.textfeatures import title_stories

T0 = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PAIRS = Path(__file__).resolve().parent / "data" / "duplicate_pairs.tsv"

# Names as selection gives them to the clusterer (digest.editorial.selection.merge_duplicates).
NAMES = Classifier(DEFAULT_COUNTRIES)


def doc(
    title: str,
    *,
    hours: float = 0,
    summary: str = "",
    url: str = "",
    source: str = "",
) -> Doc:
    return Doc(title, summary, url, T0 + timedelta(hours=hours), source)


def together(*docs: Doc) -> bool:
    """Whether all the docs end up in one group."""
    return len(cluster(docs)) == 1


# -- exact duplicates ------------------------------------------------------------


def test_same_article_url_always_merges_even_weeks_apart() -> None:
    a = doc("Kimi K2: Open Agentic Intelligence", url="https://www.kimi.com/blog/kimi-k2.html")
    b = doc("Kimi K2", hours=24 * 30, url="https://kimi.com/blog/kimi-k2/", source="other")
    assert together(a, b)


def test_a_home_page_link_is_not_an_article() -> None:
    assert url_key("https://www.example.com/") == ""
    a = doc("Samsung opens AI lab in Pangyo", url="https://example.com/")
    b = doc("Naver cuts HyperCLOVA prices", url="https://example.com/", source="b")
    assert not together(a, b)


def test_same_title_from_two_sources_merges_within_the_window_only() -> None:
    a = doc("DeepSeek releases V5", source="cn")
    b = doc("DeepSeek releases V5!", hours=30, source="en")
    c = doc("DeepSeek releases V5", hours=24 * 9, source="jp")
    assert cluster([a, b, c]) == [[0, 1], [2]]


def test_a_feeds_recurring_headline_is_not_a_duplicate() -> None:
    def close(day: int, points: str, level: str) -> Doc:
        return doc(
            "Hong Kong stocks close higher",
            hours=24 * day,
            url=f"https://rthk.example/{day}",
            source="rthk",
            summary=f"Hong Kong stocks ended higher on {['Monday', 'Tuesday'][day]}, with "
            f"the benchmark Hang Seng Index up {points} percent at {level}. The Shanghai "
            "Composite Index finished up at a higher level.",
        )

    assert not together(close(0, "1.8", "21,521"), close(1, "2.6", "21,857"))


def test_short_titles_never_merge_on_their_own() -> None:
    a = doc("AI", url="https://a.example/1", source="a")
    b = doc("AI", hours=1, url="https://a.example/2", source="a")
    assert not together(a, b)


# -- near duplicates -------------------------------------------------------------


def test_chinese_reports_of_one_event_merge_on_character_ngrams() -> None:
    a = doc("三星电子宣布在平泽新建AI芯片工厂，投资10.1兆韩元", source="cn-1")
    b = doc("投资10.1兆韩元！三星电子平泽AI芯片工厂正式动工", hours=5, source="cn-2")
    assert together(a, b)


def test_japanese_reports_of_one_event_merge() -> None:
    a = doc("ソフトバンク、北海道苫小牧市にAIデータセンター建設へ 投資額は数千億円", source="jp-1")
    b = doc(
        "ソフトバンクが苫小牧市にAIデータセンターを建設 投資額は数千億円規模",
        hours=3,
        source="jp-2",
    )
    assert together(a, b)


def test_a_headline_and_its_longer_wording_merge() -> None:
    a = doc("PyTorch 1.9发布，支持新API，可在边缘设备中执行", source="jiqizhixin")
    b = doc("PyTorch 1.9发布！移动端疯狂更新，网友：我的最爱", hours=2, source="qbitai")
    assert together(a, b)


def test_quarters_and_tenths_are_read_as_numbers() -> None:
    a = doc("最高涨幅30%！三季度晶圆代工报价再度上涨，封测厂商也将跟进", source="a")
    b = doc("传Q3晶圆代工成熟制程报价最高将上调三成", hours=18, source="b")
    assert together(a, b)


def test_english_reports_sharing_the_lead_merge() -> None:
    lead = (
        "Samsung Electronics will invest 10.1 trillion won in a new AI chip plant in "
        "Pyeongtaek, the company said on Tuesday, with production due to start in 2028."
    )
    a = doc("Samsung to build $7bn AI chip plant", summary=lead, source="a")
    b = doc(
        "Samsung commits 10.1tn won to Pyeongtaek AI chip fab",
        hours=6,
        summary=lead.replace("the company said", "it said"),
        source="b",
    )
    assert together(a, b)


# -- hard negatives --------------------------------------------------------------


def test_same_company_same_day_different_events_stay_apart() -> None:
    a = doc(
        "Samsung opens AI lab in Pangyo",
        summary="Samsung Electronics opened an AI research lab in Pangyo on Tuesday.",
        source="a",
    )
    b = doc(
        "Samsung union strikes at Pyeongtaek plant",
        hours=3,
        summary="Samsung Electronics workers walked out at the Pyeongtaek chip plant on Tuesday.",
        source="b",
    )
    assert not together(a, b)


def test_a_version_mismatch_counts_against_a_match() -> None:
    v3, v2, v3_again = doc("DeepSeek-V3 发布"), doc("DeepSeek-V2 发布"), doc("DeepSeek V3 发布")
    assert similarity(v3, v2) < similarity(v3, v3_again)
    assert not together(doc("Kimi K2.5 released", source="a"), doc("Kimi K2 released", source="b"))
    music = doc("MiniMax Music 2.5 brings vocals to song generation")
    assert not together(music, doc("MiniMax Music 2.5+ brings instrumentals to song generation"))


def test_two_weekly_stories_on_one_topic_stay_apart() -> None:
    a = doc("DeepSeek-R1 发布", source="deepseek")
    b = doc("DeepSeek APP 发布", hours=24 * 2, source="deepseek")
    c = doc("DeepSeek removed from SKorean app stores", hours=24 * 3, source="rthk")
    assert len(cluster([a, b, c])) == 3


def test_meetings_on_different_days_stay_apart() -> None:
    template = (
        "民主党の厚生労働部門会議は9月{day}日の会合で、"
        "関係団体から税制改正要望についてヒアリングを行った。"
    )
    a = doc(
        "税制改正要望、消費税課税が重点項目に－厚労部門会議",
        summary=template.format(day=21),
        url="https://cb.example/1",
        source="cb",
    )
    b = doc(
        "税制改正要望、来週にも党税調に提出へ－厚労部門会議",
        hours=25,
        summary=template.format(day=22),
        url="https://cb.example/2",
        source="cb",
    )
    assert not together(a, b)


def test_reports_too_far_apart_do_not_merge() -> None:
    a = doc("三星电子宣布在平泽新建AI芯片工厂，投资10.1兆韩元", source="cn-1")
    b = doc("投资10.1兆韩元！三星电子平泽AI芯片工厂正式动工", hours=24 * 10, source="cn-2")
    assert not together(a, b)
    assert similarity(a, b) > 0.5  # it is the time, not the text, that keeps them apart


def test_a_roundup_title_is_matched_story_by_story() -> None:
    single = doc("国产射频芯片厂商飞骧科技拟A股IPO", source="icsmart")
    roundup = doc(
        "【上市】证监会同意格科微科创板IPO注册；飞骧科技拟A股IPO；均普智能科创板IPO成功过会",
        hours=1,
        source="jiwei",
    )
    assert cluster([single, roundup]) == [[0, 1]]


def test_a_morning_brief_joins_the_event_of_its_second_story() -> None:
    brief = doc("派早报：荣耀发布 Robot Phone、Google 推出 Pixel 11 系列等", source="sspai")
    launch = doc("Google 推出 Pixel 11 系列手机", hours=3, source="ithome")
    other = doc("小米发布新款平板电脑", hours=1, source="ithome")
    assert cluster([brief, other, launch]) == [[0, 2], [1]]


def test_a_brief_never_makes_two_events_one() -> None:
    first = doc("证监会同意格科微科创板IPO注册", source="a")
    second = doc("国产射频芯片厂商飞骧科技拟A股IPO", hours=1, source="b")
    roundup = doc(
        "【上市】证监会同意格科微科创板IPO注册；飞骧科技拟A股IPO", hours=2, source="jiwei"
    )
    groups = cluster([first, second, roundup])
    assert sorted(map(len, groups)) == [1, 2]  # the roundup joins one of the two
    assert not any({0, 1} <= set(g) for g in groups)


def test_japanese_commas_do_not_split_a_title_into_stories() -> None:
    japanese = "PayPayとVisaが戦略的提携、米国進出へ 日本でもPayPay加盟店との連携強化"
    assert title_stories(japanese) == ()
    assert title_stories("腾讯、字节、阿里齐下场：AI办公要大繁荣大发展了？") == ()
    assert title_stories("派早报：荣耀发布 Robot Phone、Google 推出 Pixel 11 系列等") == (
        "派早报：荣耀发布 Robot Phone",
        "Google 推出 Pixel 11 系列",
    )


def test_a_feeds_title_suffix_is_boilerplate() -> None:
    other_titles = [
        "Snapchat's new AI Clips Lens turns photos into videos",
        "Spotify's SongDNA maps how songs are connected",
        "Epic Games cuts 1,000 jobs as Fortnite engagement drops",
        "Roku's Howdy subscription launches on Prime Video",
    ]
    tc = [
        doc(f"{t} | TechCrunch", hours=k, source="techcrunch") for k, t in enumerate(other_titles)
    ]
    story = doc("Mirage raises $75M for its AI video editing app | TechCrunch", source="techcrunch")
    elsewhere = doc("Mirage raises $75M for AI video editing app", hours=2, source="verge")
    groups = cluster([*tc, story, elsewhere])
    assert [4, 5] in groups and len(groups) == 5


# -- the contract ----------------------------------------------------------------


def test_every_index_once_groups_earliest_first() -> None:
    rng = random.Random(3)
    titles = [
        "三星电子宣布在平泽新建AI芯片工厂，投资10.1兆韩元",
        "投资10.1兆韩元！三星电子平泽AI芯片工厂正式动工",
        "Samsung opens AI lab in Pangyo",
        "Samsung opens AI lab in Pangyo!",
        "Naver cuts HyperCLOVA X prices for public agencies",
        "ソフトバンク、北海道にAIデータセンター",
    ]
    docs = [doc(t, hours=rng.uniform(0, 48), source=f"s{k}") for k, t in enumerate(titles)]
    groups = cluster(docs)
    assert sorted(i for g in groups for i in g) == list(range(len(docs)))
    for g in groups:
        assert [docs[i].published for i in g] == sorted(docs[i].published for i in g)
    firsts = [docs[g[0]].published for g in groups]
    assert firsts == sorted(firsts)
    assert len(groups) == 4


def test_the_result_does_not_depend_on_input_order() -> None:
    docs = [
        doc("三星电子宣布在平泽新建AI芯片工厂，投资10.1兆韩元", source="a"),
        doc("投资10.1兆韩元！三星电子平泽AI芯片工厂正式动工", hours=5, source="b"),
        doc("Samsung opens AI lab in Pangyo", hours=1, source="c"),
        doc("Samsung union strikes at Pyeongtaek plant", hours=2, source="d"),
    ]
    expected = {frozenset(docs[i] for i in g) for g in cluster(docs)}
    shuffled = docs[::-1]
    assert {frozenset(shuffled[i] for i in g) for g in cluster(shuffled)} == expected


def test_similarity_is_symmetric_and_bounded() -> None:
    a = doc("Kimi K3 tops the open-model rankings", summary="Moonshot's Kimi K3 ranks first.")
    b = doc("Kimi K3 released", summary="Moonshot released Kimi K3 today.", hours=3)
    assert similarity(a, b) == pytest.approx(similarity(b, a))
    assert 0.0 <= similarity(a, b) <= 1.0
    assert similarity(a, a) == pytest.approx(1.0)


def test_no_docs_no_groups() -> None:
    assert cluster([]) == []


# -- the labelled corpus ---------------------------------------------------------


def _benchmark() -> ModuleType:
    """benchmarks/duplicates.py: its corpus loader is the one the figures come from."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "duplicates.py"
    spec = importlib.util.spec_from_file_location("bench_duplicates", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_labelled_pairs_meet_the_precision_and_recall_targets() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    corpus = _benchmark().load_corpus(CORPUS / "feeds")
    docs, where = corpus.docs, corpus.where
    group_of = {i: g for g, members in enumerate(cluster(docs)) for i in members}
    with PAIRS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) >= 50 and sum(r["label"] == "different" for r in rows) >= 40
    tp = fp = fn = 0
    for r in rows:
        a, b = where[(r["file_a"], r["item_a"])], where[(r["file_b"], r["item_b"])]
        i, j = (a[0], a[1]) if a == b else (a[0], b[0])  # one item twice: its two copies
        merged = group_of[i] == group_of[j]
        same = r["label"] == "same"
        tp += merged and same
        fp += merged and not same
        fn += same and not merged
    assert tp / (tp + fp) >= 0.95, f"precision {tp}/{tp + fp}"
    assert tp / (tp + fn) >= 0.80, f"recall {tp}/{tp + fn}"


def test_titles_naming_different_actors_are_different_events() -> None:
    t = datetime(2026, 11, 16, tzinfo=UTC)

    def named(title: str, hours: int, source: str) -> Doc:
        return Doc(
            title,
            "",
            f"https://{source}.example/{hours}",
            t + timedelta(hours=hours),
            source,
            names=NAMES.names(title),
        )

    apart = [
        named("Samsung opens a research lab in Seoul", 0, "a"),
        named("Naver opens a research lab in Tokyo", 3, "b"),
    ]
    assert cluster(apart) == [[0], [1]]
    # The same wording without names to tell them apart would merge: the names decide.
    assert len(cluster([Doc(d.title, "", d.url, d.published, d.source) for d in apart])) == 1
    together = [
        named("Samsung opens a research lab in Seoul", 0, "a"),
        named("Samsung opens new research lab in Seoul's Pangyo", 5, "b"),
    ]
    assert cluster(together) == [[0, 1]]


# -- event signatures ------------------------------------------------------------


def _signed(title: str, summary: str, hours: float, source: str) -> Doc:
    """A doc as selection builds it: canonical names of its title and lead."""
    return Doc(
        title,
        summary,
        f"https://{source}.example/{hours}",
        T0 + timedelta(hours=hours),
        source,
        names=NAMES.names(title),
        lead_names=NAMES.keys(summary),
    )


def test_one_event_in_two_languages_merges_on_its_signature() -> None:
    english = _signed(
        "Apple posts record quarterly revenue of $94.0bn",
        "Apple reported revenue of $94.0 billion for its fiscal third quarter.",
        0,
        "apple",
    )
    chinese = _signed(
        "苹果季度营收创纪录，达940亿美元", "苹果公司公布第三财季营收940亿美元。", 20, "36kr"
    )
    assert cluster([english, chinese]) == [[0, 1]]
    # Without the signature (no canonical names) the texts share nothing.
    plain = [Doc(d.title, d.summary, d.url, d.published, d.source) for d in (english, chinese)]
    assert len(cluster(plain)) == 2


def test_one_amount_in_three_scripts_merges() -> None:
    english = "Samsung Electronics reported an operating profit of 10.1 trillion won."
    chinese = "三星电子公布营业利润10.1万亿韩元。"
    korean = "삼성전자가 영업이익 10조1000억원을 기록했다."
    docs = [
        _signed("Samsung Electronics posts ₩10.1tn operating profit", english, 0, "a"),
        _signed("三星电子营业利润10.1万亿韩元", chinese, 6, "b"),
        _signed("삼성전자 영업이익 10조 1000억 원", korean, 9, "c"),
    ]
    assert cluster(docs) == [[0, 1, 2]]


def test_a_signature_needs_the_same_version_and_time() -> None:
    release = _signed("Alibaba releases Qwen3.8", "Alibaba's Qwen3.8 model is open.", 0, "a")
    other = _signed("阿里发布Qwen3.9", "阿里巴巴的Qwen3.9模型开源。", 5, "b")
    assert len(cluster([release, other])) == 2  # two releases
    later = _signed("阿里发布Qwen3.8", "阿里巴巴的Qwen3.8模型开源。", 24 * 5, "b")
    assert len(cluster([release, later])) == 2  # five days on: a follow-up


def test_a_model_and_its_maker_alone_are_not_an_event() -> None:
    # One outlet, two stories naming only Kimi K3: rankings, then a cloud port.
    a = _signed(
        "Kimi K3 tops the open-model rankings",
        "In this week's leaderboard of open models Kimi K3 took first place.",
        0,
        "qbit",
    )
    b = _signed(
        "A cloud adds Kimi K3 to its token factory",
        "Jiuzhang Yunji finished adapting Kimi K3, the first 3T open model it hosts.",
        20,
        "qbit",
    )
    assert len(cluster([a, b])) == 2
