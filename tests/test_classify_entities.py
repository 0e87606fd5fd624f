"""Sections decided from the knowledge base: who a story names, in any script,
what kind of name it is, where it stands, and what the feed says of itself."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from digest import bundled
from digest.config import Settings
from digest.editorial.classify import CACHE_PREFIX, Classifier
from digest.editorial.entities import COLUMNS
from digest.errors import ConfigError
from digest.run.pipeline import classifier as pipeline_classifier

COUNTRIES = ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE"]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(COUNTRIES)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # Actors of the knowledge base that places.toml never listed.
        ("KDDI、生成AIの新会社を設立", "JP"),
        ("카카오뱅크, AI 상담 서비스 출시", "KR"),
        ("联发科发布天玑新芯片", "TW"),
        ("MediaTek unveils a new Dimensity chip", "TW"),
        ("メディアテック、新チップ発表", "TW"),
        ("Infosys signs an AI deal with a European bank", "IN"),
        ("United Nations adopts an AI resolution", "XX"),
        # One actor in four scripts is one actor.
        ("Apple opens an AI lab", "US"),
        ("苹果发布新AI功能", "US"),
        ("애플, 새 AI 기능 공개", "US"),
        ("アップル、新AI機能を発表", "US"),
    ],
)
def test_entities_settle_the_country(classifier: Classifier, title: str, expected: str) -> None:
    assert classifier.classify(title).country == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # A company's short name as the news writes it...
        ("可灵2.1发布，快手股价上涨", "CN"),
        ("微视用AI打造舞林大会", "CN"),
        ("用友发布新一代ERP", "CN"),
        ("一加15发布", "CN"),
        # ...but not inside the everyday word that starts with it.
        ("可灵活应对市场变化", ""),
        ("微视频平台兴起", ""),
        ("使用友好的界面", ""),
        ("依图所示，芯片良率提升", ""),
        ("我们需要反思科技伦理", ""),
        ("思科发布新交换机", "US"),
        ("每个字符占4个字节", ""),
        ("字节发布豆包新模型", "CN"),
        # "Mac" alone is where an app runs, not Apple's news.
        ("不用改签名，给 Mac 微信聊天记录「搬个家」", "CN"),
    ],
)
def test_short_names_and_the_words_around_them(
    classifier: Classifier, title: str, expected: str
) -> None:
    assert classifier.classify(title).country == expected


def test_a_product_named_in_passing_is_no_subject(classifier: Classifier) -> None:
    # Below MIN_SCORE: one product in a summary makes no country.
    assert classifier.classify("A leaderboard of open models", "Qwen3 tops it").country == ""
    # As the headline's subject it stands for its maker.
    assert classifier.classify("萝卜快跑 goes driverless in London").country == "CN"


def test_an_actor_outweighs_a_product_of_another_country(classifier: Classifier) -> None:
    verdict = classifier.classify("Samsung Electronics brings ChatGPT to employees")
    assert verdict.country == "KR"
    assert dict(verdict.scores)["KR"] > dict(verdict.scores)["US"]


def test_a_local_feed_naming_itself_is_not_evidence(classifier: Classifier) -> None:
    # OpenAI's own news page (local, US) on a Japanese customer: the customer is news.
    story = classifier.classify(
        "MUFG aims to become AI-native with OpenAI",
        "OpenAI and ChatGPT Enterprise at OpenAI's largest bank customer in Japan",
        hint="US",
        local=True,
    )
    assert story.country == "JP"
    own = [e for e in story.evidence if e.country == "US" and e.where == "title"]
    assert own and all(e.points == 0 for e in own)
    # Its own news stays its own.
    assert classifier.classify("OpenAI ships a new model", hint="US", local=True).country == "US"
    # A city's news naming its own officials still counts: they are not the feed.
    hk = classifier.classify("李家超出席世界互聯網大會", hint="HK", local=True)
    assert hk.country == "HK"


def test_summary_names_each_actor_once(classifier: Classifier) -> None:
    verdict = classifier.classify(
        "New chip plans announced", "Microsoft said... 마이크로소프트는 ... Microsoft added"
    )
    assert dict(verdict.scores)["US"] == 1.0


def test_explanation_lists_names_scores_and_reason(classifier: Classifier) -> None:
    verdict = classifier.classify("Naver and Nvidia open a Seoul AI centre", "Naver said ...")
    assert verdict.country == "KR"
    found = {(e.key, e.where) for e in verdict.evidence}
    assert ("kr/naver", "title") in found and ("us/nvidia", "title") in found
    assert "KR scores" in verdict.reason and "US" in verdict.reason
    assert classifier.classify("Nothing named here").reason.startswith("no country")


def _entities_file(path: Path, *rows: str) -> Path:
    path.write_text("\t".join(COLUMNS) + "\n" + "".join(r + "\n" for r in rows), "utf-8")
    return path


def test_user_entities_extend_and_replace(tmp_path: Path) -> None:
    own = _entities_file(
        tmp_path / "entities.tsv",
        "kr/hanbit-lab\tcompany\tKR\tHanbit Lab\t\t\t\t한빛랩\t\tour own list",
        "us/nvidia\tcompany\tTW\tNvidia\t\t\t\t\t\ta test that replaces a row",
    )
    custom = Classifier.from_files(COUNTRIES, {}, bundled.PLACES_FILE, user_entities=own)
    assert custom.classify("Hanbit Lab raises a seed round").country == "KR"
    assert custom.classify("한빛랩, 시드 투자 유치").country == "KR"
    assert custom.classify("Nvidia ships a chip").country == "TW"  # replaced by id


def test_compiled_names_are_cached_and_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    own = _entities_file(
        tmp_path / "entities.tsv", "jp/hoshi\tcompany\tJP\tHoshi Robotics\t\t\t\t\t\tlist"
    )
    first = Classifier.from_files(
        COUNTRIES, {}, bundled.PLACES_FILE, user_entities=own, cache_dir=cache
    )
    [pickled] = cache.glob(f"{CACHE_PREFIX}*.pickle")
    again = Classifier.from_files(
        COUNTRIES, {}, bundled.PLACES_FILE, user_entities=own, cache_dir=cache
    )
    for c in (first, again):
        assert c.classify("Hoshi Robotics raises funds").country == "JP"
    # Edit the user's file: the cache is stale, a new one replaces it.
    _entities_file(own, "jp/hoshi\tcompany\tSG\tHoshi Robotics\t\t\t\t\t\tlist")
    os.utime(own, ns=(1, 1))
    edited = Classifier.from_files(
        COUNTRIES, {}, bundled.PLACES_FILE, user_entities=own, cache_dir=cache
    )
    assert edited.classify("Hoshi Robotics raises funds").country == "SG"
    assert [p.name for p in cache.glob(f"{CACHE_PREFIX}*.pickle")] != [pickled.name]
    # A torn cache file is rebuilt, never trusted.
    [current] = cache.glob(f"{CACHE_PREFIX}*.pickle")
    current.write_bytes(b"not a pickle")
    rebuilt = Classifier.from_files(
        COUNTRIES, {}, bundled.PLACES_FILE, user_entities=own, cache_dir=cache
    )
    assert rebuilt.classify("Hoshi Robotics raises funds").country == "SG"


def test_a_broken_user_entities_file_is_a_config_error(
    tmp_path: Path, write_config: Callable[..., tuple[Path, Settings]]
) -> None:
    (tmp_path / "entities.tsv").write_text("id\tkind\nbroken\trow\n", "utf-8")
    path, settings = write_config("")
    assert settings.entities_file == tmp_path / "entities.tsv"
    with pytest.raises(ConfigError) as caught:
        pipeline_classifier(settings)
    assert "entities" in str(caught.value) and str(path) in str(caught.value)
    assert "entities.tsv" in str(caught.value)


def test_entities_key_must_name_a_file(
    write_config: Callable[..., tuple[Path, Settings]],
) -> None:
    with pytest.raises(ConfigError, match="entities"):
        write_config('[digest]\nentities = "missing.tsv"\n')
