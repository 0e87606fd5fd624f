"""Name matching at word edges in every script: Latin words, katakana runs, hangul words."""

from __future__ import annotations

import pytest

from digest.editorial.matching import TermMatcher

MATCHER = TermMatcher(
    [("メタ", "meta"), ("グーグル", "google"), ("애플", "apple"), ("삼성전자", "samsung"),
     ("India", "IN"), ("=Meta", "meta"), ("中国", "CN"), ("インド", "IN"), ("万科", "vanke")]
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("メタ、新しいAIモデル", ["meta"]),
        ("メタバース市場が拡大", []),  # inside a longer katakana word
        ("グーグル・クラウドが値下げ", ["google"]),  # "・" separates words
        ("米グーグルは", ["google"]),
        ("애플은 새 아이폰을", ["apple"]),  # a particle ends the word
        ("애플과의 협력", ["apple"]),
        ("애플리케이션 시장", []),  # a longer word, not a particle
        ("신애플", []),  # a hangul name must start its word
        ("애플측은 답하지 않았다", ["apple"]),  # a noun joined to the name: 측 (side)
        ("삼성전자내 조직 개편", ["samsung"]),
        ("애플인사이더", []),  # 인 starts a longer word here, not a bound noun
        ("삼성전자가 판교에", ["samsung"]),
        ("Indiana and India", ["IN"]),
        ("meta-analysis by Meta", ["meta"]),
        ("中国市场", ["CN"]),  # Han names match anywhere
        ("インドネシアとインド", ["IN"]),  # katakana: インド is not inside インドネシア
        ("10万科学家免费用1年", []),  # after a number, 万 multiplies it
        ("五万科学家", []),
        ("地产商万科发布年报", ["vanke"]),
    ],
)
def test_names_match_only_whole_words_of_their_script(text: str, found: list[str]) -> None:
    assert MATCHER.find(text) == found
