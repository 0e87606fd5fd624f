"""Event signature figures: one amount or model version, one token, in every language."""

from __future__ import annotations

import pytest

from digest.editorial.figures import amounts, model_versions

# -- amounts ---------------------------------------------------------------------

# Each class: one amount written many ways (en / ja / zh / ko), and its token.
AMOUNT_CLASSES = {
    "KRW:1.01e13": [
        "₩10.1tn",
        "10.1 trillion won",
        "10.1兆ウォン",
        "10.1万亿韩元",
        "10.1萬億韓元",
        "10조 1000억 원",
        "10조1000억원",
        "KRW 10.1 trillion",
        "１０．１兆ウォン",  # full-width digits
        "Samsung to invest ₩10.1tn in chips",
        "サムスン、10.1兆ウォン投資",
        "삼성, 10조 1000억 원 투자",
        "三星将投资10.1万亿韩元",
    ],
    "USD:7.5e7": ["$75m", "$75 million", "$75M", "US$75 million", "7500万ドル", "7500万美元"],
    "USD:3e9": [
        "US$3bn",
        "USD 3 billion",
        "$3 Billion",
        "3 billion dollars",
        "3 billion USD",
        "30億ドル",
        "30亿美元",
        "30억 달러",
    ],
    "JPY:3e11": ["¥300bn", "300 billion yen", "3000億円", "3000亿日元", "3000억 엔"],
    "CNY:1e10": [
        "RMB 10 billion",
        "Rmb10bn",
        "10bn yuan",
        "100亿元",
        "人民币100亿元",
        "100億人民元",
        "100억 위안",
        "¥100亿元",  # Chinese writers put 元 after ¥ for yuan
    ],
    "HKD:1.2e9": ["HK$1.2bn", "12亿港元", "12億港幣", "1.2 billion Hong Kong dollars"],
    "TWD:2e9": ["NT$2bn", "20亿新台币", "新台币20亿元", "20億台湾ドル"],
    "SGD:5e7": ["S$50m", "50 million Singapore dollars"],
    "INR:5e9": ["Rs 500 crore", "Rs.500cr", "₹500 crore", "INR 5 billion"],
    "INR:1e10": ["₹1,000 crore", "Rs 1,000 crores"],
    "INR:1e12": ["₹1 lakh crore"],
    "EUR:1.5e9": ["€1.5bn", "1.5 billion euros", "15亿欧元", "15億ユーロ"],
    "JPY:1.2e12": ["1兆2000億円", "¥1.2tn", "1.2 trillion yen"],
    "USD:3e8": ["3億ドル", "3亿美元", "3억 달러", "$300m", "$300 million"],
    "JPY:1e6": ["100万円", "¥1m", "1 million yen"],
    "KRW:5e11": ["5000억원", "5000억 원", "₩500bn", "500 billion won"],
    "KRW:1e12": ["1조 원", "1조원을 투자", "₩1tn", "1兆ウォン"],
    "USD:5e7": ["5000万美金", "5000万ドル", "5천만 달러", "$50m"],
    "CNY:3e10": ["三百亿元", "300亿元"],
    "JPY:1e12": ["一兆円", "1兆円"],
    "JPY:2.5e4": ["2万5000円", "25,000円", "¥25,000"],
    "USD:1e9": ["年率換算$10億規模", "$1B", "$1bn"],
}


@pytest.mark.parametrize(
    ("text", "token"),
    [(text, token) for token, texts in AMOUNT_CLASSES.items() for text in texts],
)
def test_an_amount_gives_one_token_in_every_language(text: str, token: str) -> None:
    assert amounts(text) == {token}


def test_different_amounts_give_different_tokens() -> None:
    assert len(AMOUNT_CLASSES) == len(set(AMOUNT_CLASSES))
    assert amounts("₩10.1tn") != amounts("₩10.2tn")
    assert amounts("10조 1000억 원") != amounts("10조 2000억 원")
    assert amounts("10.2兆ウォン") == {"KRW:1.02e13"}
    # Same figure, other currency: a different event.
    assert amounts("$10.1tn") == {"USD:1.01e13"}
    assert amounts("300億円") == {"JPY:3e10"} != amounts("¥300bn")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("$1.2bn-$1.5bn", {"USD:1.2e9", "USD:1.5e9"}),
        ("raised $3.5 million in 2026, up 30%", {"USD:3.5e6"}),
        ("Toyota: ¥4.52tn profit, US$29.5 billion", {"JPY:4.52e12", "USD:2.95e10"}),
        ("$9.995bn", {"USD:1e10"}),  # rounds half up into the next power of ten
        ("$75", {"USD:7.5e1"}),
        ("A$2bn", {"AUD:2e9"}),
        ("£40m", {"GBP:4e7"}),
        ("新台币100亿元", {"TWD:1e10"}),  # 元 takes the currency written in front
        ("港币50亿元", {"HKD:5e9"}),
        ("元宇宙公司融资10亿元", {"CNY:1e9"}),
        ("3억 5억 원", {"KRW:3e8"}),  # rising multipliers: two figures, the first kept
    ],
)
def test_amounts_in_context(text: str, tokens: set[str]) -> None:
    assert amounts(text) == tokens


@pytest.mark.parametrize(
    "text",
    [
        "30%",
        "up 30% in 2026",
        "2026年",
        "2026年3月5日",
        "10 million users",
        "10万人",
        "1억 명",
        "Q3 results",
        "GPT-5 and Qwen 3.8",
        "top 10 startups",
        "1,000",
        "數百億元",  # "several tens of billions" is no figure
        "100元宇宙",  # 元宇宙 is the metaverse
        "1억 원자력",  # 원자력 is nuclear power, not won
        "a team of 3 won the prize",  # won, the verb
        "",
        "no digits at all",
    ],
)
def test_numbers_without_a_currency_are_not_amounts(text: str) -> None:
    assert amounts(text) == frozenset()


# -- model versions --------------------------------------------------------------

MODEL_CLASSES = {
    frozenset({"qwen@3.8"}): [
        "Qwen3.8",
        "Qwen 3.8",
        "Qwen-3.8",
        "qwen3.8",
        "通义千问Qwen3.8发布",
        "Alibaba launches Qwen 3.8",
        "Ｑｗｅｎ３．８",
    ],
    frozenset({"gpt@5"}): ["GPT5", "GPT-5", "GPT 5", "GPT‑5 launch", "GPT-5のAPI"],
    frozenset({"gpt@4o"}): ["GPT-4o", "GPT 4o", "gpt4o"],
    frozenset({"deepseek@v3"}): [
        "DeepSeek-V3",
        "DeepSeek V3",
        "DeepSeek v3",
        "DeepSeekV3",
        "DeepSeek's V3",
        "DeepSeek-V3发布",
    ],
    frozenset({"deepseek@v3.1"}): ["DeepSeek-V3.1", "DeepSeek V3.1"],
    frozenset({"gemini@3.7", "gemini@3.7-flash"}): [
        "Gemini 3.7 Flash",
        "Gemini-3.7-Flash",
        "Gemini Flash 3.7",
    ],
    frozenset({"kimi@k2.5"}): ["Kimi K2.5", "Kimi-K2.5", "KimiK2.5"],
    frozenset({"claude@4.1", "claude@4.1-opus"}): ["Claude Opus 4.1", "Claude 4.1 Opus"],
    frozenset({"deepseek@v4", "deepseek@v4-flash"}): ["DeepSeek V4 Flash上线"],
    frozenset({"gpt@4o", "gpt@4o-mini"}): ["GPT-4o-mini", "GPT-4o mini"],
    frozenset({"llama@4"}): ["Llama 4"],
    frozenset({"pixel@11"}): ["Pixel 11", "Google Pixel 11"],
    frozenset({"iphone@17"}): ["iPhone 17", "苹果iPhone 17上市"],
    frozenset({"galaxy@s26"}): ["Galaxy S26", "Galaxy-S26"],
    frozenset({"fold@7"}): ["Galaxy Z Fold7"],
    frozenset({"windows@11"}): ["Windows 11"],
    frozenset({"nvidia@h100"}): ["Nvidia H100"],
    frozenset({"rtx@5090"}): ["RTX 5090"],
    frozenset({"ascend@910c"}): ["Huawei Ascend 910C"],
    frozenset({"openai@o3"}): ["OpenAI o3"],
}


@pytest.mark.parametrize(
    ("text", "tokens"),
    [(text, tokens) for tokens, texts in MODEL_CLASSES.items() for text in texts],
)
def test_a_model_version_gives_one_token_set_however_written(
    text: str, tokens: frozenset[str]
) -> None:
    assert model_versions(text) == tokens


def test_different_versions_give_different_tokens() -> None:
    assert model_versions("DeepSeek-V3") != model_versions("DeepSeek-V3.1")
    assert model_versions("Kimi K2.5") != model_versions("Kimi K2")
    assert model_versions("Qwen 3.8") != model_versions("Qwen 3.9")
    # The bare name@version is shared whatever the tier; the tiered token is not.
    flash, pro = model_versions("Gemini 3.7 Flash"), model_versions("Gemini 3.7 Pro")
    assert flash & pro == {"gemini@3.7"}


def test_several_models_in_one_headline() -> None:
    assert model_versions("DeepSeek-V3.1 vs GPT-5 vs Claude Opus 4.1") == {
        "deepseek@v3.1",
        "gpt@5",
        "claude@4.1",
        "claude@4.1-opus",
    }


@pytest.mark.parametrize(
    "text",
    [
        "in 2026",
        "In 2026, AI grows",
        "top 10",
        "Top 10 AI startups",
        "Q3 results",
        "Samsung Q3 profit",
        "H1 revenue",
        "5 GB",
        "10 km",
        "30%",
        "Nvidia up 10 percent",
        "at 3",
        "Meeting at 3:30",
        "COVID 19",
        "COVID-19",
        "Section 230",
        "Fortune 500",
        "FY26",
        "March 3",
        "On Monday 5",
        "The 3 firms",
        "raised 10 billion",
        "Alibaba Raises 10 Billion Yuan",
        "Korea's 10 largest firms",
        "OpenAI 5月发布",  # a month, not a version
        "TSMC 3nm",
        "Apple 50th anniversary",
        "hit a record 1.35m",
        "Native 1080p video",
        "PM2.5",
        "2026",
        "",
        "no digits here",
    ],
)
def test_ordinary_numbers_are_not_versions(text: str) -> None:
    assert model_versions(text) == frozenset()


def test_a_headline_keeps_its_version_and_not_its_other_numbers() -> None:
    text = "Galaxy S26 preorders hit record 1.35m in Korea, up 30% on 2025"
    assert model_versions(text) == {"galaxy@s26"}
