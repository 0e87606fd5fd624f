"""Country classification: the obvious cases in four languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.editorial.classify import Classifier, load_places

COUNTRIES = ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE"]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(COUNTRIES, {"KR": ["Gangnam"]})


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("삼성전자, 판교에 AI 반도체 연구소 개소", "KR"),
        ("Samsung의 새로운 AI 칩", "KR"),
        ("ソフトバンク、東京に新データセンター", "JP"),
        ("深度求索发布DeepSeek-V5", "CN"),
        ("北京发布人工智能算力券政策", "CN"),
        ("數碼港推出人工智能資助計劃", "HK"),
        ("中国香港特别行政区发布AI政策", "HK"),
        ("台積電2奈米產能明年倍增", "TW"),
        ("台积电2纳米量产", "TW"),
        ("Singapore opens national AI sandbox", "SG"),
        ("India's IndiaAI mission adds 20,000 GPUs", "IN"),
        ("Abu Dhabi's G42 releases Arabic model", "AE"),
        ("South Korean chipmakers rally", "KR"),
        ("Startup in Gangnam raises seed round", "KR"),  # alias from config
        ("インドネシアでAI規制", "ID"),  # not "インド"
        ("Indiana startup raises $12M", ""),  # not India
        ("Let us talk about AI", ""),  # "us" is not the US
        ("OpenAI ships a new model", "US"),  # organisations settle the country too
        ("美对华芯片出口管制再升级", "US"),  # Chinese news' one-character "US" in set forms
        ("美军测试AI无人机", "US"),
        ("日政府公布生成式AI指南", "JP"),  # 日 alone is "day": only in set forms
        ("港媒：本地银行试用大模型客服", "HK"),
        ("A new open model tops the leaderboard", ""),
        ("A meta-analysis of model evaluations", ""),  # "=Meta" matches its case only
        ("Meta ships Llama 5", "US"),
        ("日本語に強いLLMが登場", ""),  # a language, not Japan
        ("美元走强，芯片股回调", ""),  # a currency, not the US
        ("Loiloscope 2 ships", ""),  # a name inside a word is no name
        ("US export rules tighten", "US"),
    ],
)
def test_obvious_cases(classifier: Classifier, title: str, expected: str) -> None:
    assert classifier.classify(title).country == expected


def test_title_outweighs_summary(classifier: Classifier) -> None:
    verdict = classifier.classify("Tokyo startup ships model", "Unlike rivals in Seoul, it ...")
    assert verdict.country == "JP"


def test_feed_hint_is_a_prior_not_the_answer(classifier: Classifier) -> None:
    # A Chinese-language feed (hint CN) writing about Korea is Korea.
    assert classifier.classify("韩国Naver发布新模型", hint="CN").country == "KR"
    # A story that names no country is Global, whatever its feed's home...
    assert classifier.classify("A new open model tops the leaderboard", hint="KR").country == ""
    # ...unless the feed is local news (a city's news desk, a company's own blog).
    local = classifier.classify("A new open model tops the leaderboard", hint="KR", local=True)
    assert local.country == "KR"
    # A local feed's passing summary mention of elsewhere does not move its story,
    assert classifier.classify("Police test robots", "as in Japan", "HK", local=True).country == (
        "HK"
    )
    # but a title naming another country does: a Chinese-language feed about Korea is Korea.
    assert classifier.classify("韩国Naver发布新模型", hint="CN", local=True).country == "KR"
    # Ties go to the hint where the title names it,
    assert classifier.classify("Korea and Japan sign AI pact", hint="JP").country == "JP"
    # not where only the summary ties two countries: that says nothing of the
    # feed's home (Chinese AI media cover the world), so the one named first wins.
    summary = "美国和中国的实验室都在押注物理AI。"  # the US and China, once each
    tied = classifier.classify("物理AI是下一轮工业革命", summary, hint="CN")
    assert dict(tied.scores)["US"] == dict(tied.scores)["CN"]
    assert tied.country == "US" and "feed's country" not in tied.reason
    # A local feed's home still takes a summary tie: its stories are its own news.
    assert classifier.classify("物理AI是下一轮工业革命", summary, "CN", local=True).country == "CN"


def test_two_hubs_give_a_second_country_tag(classifier: Classifier) -> None:
    verdict = classifier.classify("카카오, 일본 도쿄에 AI 거점 설립", hint="KR")
    assert verdict.country == "KR"
    assert verdict.second == "JP"
    single = classifier.classify("Samsung opens Pangyo lab", "Samsung said in Seoul on Monday.")
    assert single.second == ""


def test_domestic_words_name_the_feeds_country_weakly(classifier: Classifier) -> None:
    assert classifier.classify("5月国内手机出货量同比下滑32%", hint="CN").country == "CN"
    assert classifier.classify("5月国内手机出货量同比下滑32%").country == ""  # whose "domestic"?
    assert classifier.classify("국내 AI 스타트업 투자 급증", hint="KR").country == "KR"
    # A name is the subject; "国内" only says where it happened.
    samsung = classifier.classify("三星uMCP开启量产，本月进入国内市场", hint="CN")
    assert samsung.country == "KR"


def test_a_digest_title_is_about_its_first_story(classifier: Classifier) -> None:
    verdict = classifier.classify("【上市】华为发布新芯片；三星扩产；台积电涨价")
    assert verdict.country == "CN"


def test_summary_mentions_are_capped(classifier: Classifier) -> None:
    summary = "China " * 10
    assert classifier.classify("Hong Kong opens AI centre", summary).country == "HK"


def test_places_file_is_user_data(tmp_path: Path) -> None:
    places = tmp_path / "places.toml"
    places.write_text('[neutral]\nnames = ["Tokyo Drift"]\n[KR]\nnames = ["=Hanbit"]\n')
    custom = Classifier(COUNTRIES, places=load_places(places))
    assert custom.classify("Hanbit opens a lab").country == "KR"
    assert custom.classify("hanbit opens a lab").country == ""
    assert custom.classify("Tokyo Drift remake").country == ""
    assert custom.classify("Japan startup").country == "JP"  # CLDR names stay


@pytest.mark.parametrize(
    ("title", "names_amazon"),
    [
        ("Fires spread in the Amazon rainforest", False),
        ("حرائق في غابات الأمازون", False),
        ("亚马逊雨林大火蔓延", False),
        ("Amazon opens an AI lab in Tokyo", True),
        ("أمازون تطلق خدمة جديدة", True),
    ],
)
def test_the_rainforest_is_not_the_company(
    classifier: Classifier, title: str, names_amazon: bool
) -> None:
    assert ("us/amazon" in classifier.keys(title)) is names_amazon
