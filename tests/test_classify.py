"""Country classification: the obvious cases in four languages."""

from __future__ import annotations

import pytest

from digest.classify import Classifier

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
        ("OpenAI ships a new model", ""),
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
    # A story that names no country is Global, whatever its feed's home.
    assert classifier.classify("OpenAI ships a new model", hint="KR").country == ""
    # Ties go to the hint.
    assert classifier.classify("Korea and Japan sign AI pact", hint="JP").country == "JP"


def test_two_hubs_give_a_second_country_tag(classifier: Classifier) -> None:
    verdict = classifier.classify("카카오, 일본 도쿄에 AI 거점 설립", hint="KR")
    assert verdict.country == "KR"
    assert verdict.second == "JP"
    single = classifier.classify("Samsung opens Pangyo lab", "Samsung said in Seoul on Monday.")
    assert single.second == ""
