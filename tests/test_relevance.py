"""`filter = "ai"`: which stories are about AI, in four languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.bundled import TOPICS_FILE
from digest.editorial.relevance import Relevance, load_topics


@pytest.fixture(scope="module")
def relevance() -> Relevance:
    return Relevance(load_topics(TOPICS_FILE))


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Samsung unveils AI chip for data centres", "", True),
        ("ソフトバンク、生成AIの新会社を設立", "", True),
        ("百度发布文心大模型新版本", "", True),
        ("네이버, 초거대 인공지능 요금 인하", "", True),
        ("PyTorch 2.9 released", "", True),
        ("Galaxy S26 preorders hit record 1.35m in Korea", "", False),
        ("台积电2纳米量产，良率提升", "晶圆代工报价再度上涨", False),  # chips, not AI
        ("Football: Japan beat Korea 2-1", "", False),
        ("Travel agency opens in Seoul", "", False),  # "agency" is not "agent"
        # A column tag is not the story: "[AI 아나운서]" is a newscast's name.
        ("[AI 아나운서] 이더리움 역대급 급락", "비트코인 시장 동향", False),
        # ...but a column about AI counts like a weak word, beside a second keyword.
        ("[피지컬AI와 윤리] 킬러 로봇의 최종 통제권", "자율 무기와 딥러닝의 책임", True),
        ("[AI 아나운서] 이더리움 역대급 급락", "AI가 읽어 주는 시장 동향", False),
        # The summary must name the topic twice, in two words, to carry a story.
        ("New phone launches", "It ships with an AI assistant.", False),
        ("New phone launches", "Its AI assistant runs a small language model on device.", True),
        # Two different keywords: one word repeated is still one passing mention.
        ("New phone launches", "AI photo editing, AI wallpapers and a bigger battery.", False),
        # ...counted as listed, whatever clitics stick to it: one keyword, twice.
        ("هاتف جديد", "كاميرا بالذكاء الاصطناعي وشاشة للذكاء الاصطناعي", False),
        ("هاتف جديد", "مساعد بالذكاء الاصطناعي يعمل بنموذج لغوي كبير", True),
        # Weak words ("GPU", "humanoid", "モデル") count only beside a second keyword:
        ("Nvidia ships a faster gaming GPU", "Frame rates rise 30%.", False),
        ("Nvidia ships a faster GPU for AI training", "", True),
        ("Xiaomi shows a humanoid robot hand", "It cools itself like sweat.", False),
        ("Xiaomi shows a humanoid robot", "It learns tasks with reinforcement learning.", True),
        ("トヨタ、新型モデルを発表", "", False),
        # ...and never toward a summary's two: "AI" beside "GPU" is a chip story.
        ("Samsung profit slips", "AI demand lifts its GPU memory sales.", False),
        # In a "A；B" digest title only A is the title.
        ("台积电涨价；华为发布大模型", "", False),
    ],
)
def test_is_about_ai(relevance: Relevance, title: str, summary: str, expected: bool) -> None:
    assert relevance.is_about("ai", title, summary) is expected


def test_keywords_are_user_data(tmp_path: Path) -> None:
    topics = tmp_path / "topics.toml"
    topics.write_text('[ai]\nen = ["=Foo"]\nja = ["フー"]\n')
    custom = Relevance(load_topics(topics))
    assert custom.is_about("ai", "Foo ships")
    assert custom.is_about("ai", "フーが出た")
    assert not custom.is_about("ai", "foo ships")
    with pytest.raises(KeyError):
        custom.is_about("sport", "Foo ships")


def test_weak_keywords_are_user_data(tmp_path: Path) -> None:
    topics = tmp_path / "topics.toml"
    topics.write_text('[ai]\nen = ["robot", "GPU"]\n[ai.weak]\nen = ["GPU", "Bar"]\n')
    custom = Relevance(load_topics(topics))
    assert not custom.is_about("ai", "Bar ships")
    assert custom.is_about("ai", "Bar ships a robot")
    assert custom.is_about("ai", "GPU ships")  # listed as strong too: the strong list wins
