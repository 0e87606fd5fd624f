"""Event signature figures: the money amount and the model version a story names.

Owns: reading, from a headline or a summary's lead, the figures that identify
an event whatever language or wording reports it, and writing each one as a
canonical token:

- `amounts(text)` — money amounts, as ``"<CUR>:<value>"``: CUR an ISO 4217
  code, value the amount in currency units rounded (half up) to 3 significant
  figures and written as mantissa ``e`` exponent without trailing zeros or a
  ``+``: "KRW:1.01e13", "USD:7.5e7", "JPY:3e11", "USD:7.5e1" ($75).
- `model_versions(text)` — a product or model name joined to its version, as
  ``"<name>@<version>"`` in lower case: "qwen@3.8", "gpt@4o", "deepseek@v3.1",
  "galaxy@s26"; a tier word next to the version adds ``"<name>@<version>-<tier>"``
  as well ("gemini@3.7" and "gemini@3.7-flash").

Why: "삼성, 10조 1000억 원 투자", "サムスン、10.1兆ウォン投資" and "Samsung to
invest ₩10.1tn" share no word and few characters, but all three carry
"KRW:1.01e13"; "Qwen3.8", "Qwen 3.8" and "通义千问Qwen-3.8发布" all carry
"qwen@3.8". Near-duplicate clustering (`digest.editorial.cluster`) can use
these tokens as features that mean the same thing in every language.

Doesn't own: how much a shared figure weighs or what a conflicting one means
(`digest.editorial.cluster`), nor names of organisations and places
(`digest.editorial.entities`). Pure: no I/O, no clock, stdlib only.

Amounts
-------
A number counts only with a currency next to it: a prefix ("$", "US$", "HK$",
"₩", "¥", "€", "£", "₹", "Rs", "USD ", "RMB ", "人民币") or a suffix ("won",
"yen", "yuan", "dollars", "ウォン", "円", "ドル", "元", "美元", "韩元", "港元",
"원", "달러"...). "30%", "2026年" and "10 million users" are not amounts.
Multipliers: k/thousand, m/mn/million, b/bn/billion, t/tn/trillion, lakh,
crore (chained: "1 lakh crore"); 万/萬, 億/亿, 兆/조 (1e12), 万亿, 천/만/억, and
十百千 or 십백천 in front of them ("5千万", "5천만"). East Asian amounts are sums
of terms with falling multipliers: "10조 1000억", "1兆2000億", "2万5000".
CJK numerals count where a multiplier follows ("三百亿元", "一兆円").
Choices, each for a reason:

- 兆 is 1e12 (Japanese, Korean and Taiwanese money usage), never "mega".
- A bare "$" is USD; "¥" is JPY (English-language usage) unless the amount
  ends in 元, which Chinese writers put after "¥" for yuan.
- 元 after a number is the generic unit: with a currency in front
  ("新台币100亿元", "港币50亿元") that currency counts, alone it is CNY (a Taiwan
  or Hong Kong story that means NT$ or HK$ by "元" reads as CNY: nothing in the
  text says otherwise, and two such reports still agree with each other).
  Not before 宇宙/年/旦/素/件/器 ("元宇宙" is the metaverse).
- A suffix currency word beats a prefix symbol ("$5亿美元" is USD either way).
- English "won" is also a verb ("3 won"), so it needs a multiplier or 1,000+.
- A hangul currency word must end its word or be followed by a particle
  ("원을", "원대"), so "원자력" after a number is not won.

Model versions
--------------
General rule, no list of products: a Latin name of 2+ letters, then nothing,
a hyphen or spaces, then a version with a digit: digits with optional dots
("3.8", "5"), or one letter + digits ("V3", "K2.5", "S26", "H100"), either with
an optional one-letter suffix ("4o", "910C") and "+". A version ends at
anything that is not a Latin letter or digit, so CJK text around it is a
boundary ("通义千问Qwen3.8发布"). CamelCase joins are split ("DeepSeekV3" is
"deepseek@v3"; "GPT5" stays "gpt@5").
What keeps ordinary phrases out:

- a stop list of names: English function words ("in 2026", "top 10", "over 50"),
  months and weekdays, units ("5 GB 10"), currency codes, words that number
  things ("Section 230", "Phase 3", "COVID-19", "Q3 FY26"), stock indices;
- versions that are quarters or halves ("Q3", "H1") or years (1900-2099);
- a plain number set off by a space needs a name with a capital letter
  ("Pixel 11", not "raised 10"), and 3+ digits need an all-capital name
  ("RTX 5090", not "Fortune 500");
- a number followed by a quantity word or counter is a quantity, not a version
  ("Nvidia 10 percent", "GPT 5月", "MSP 4기", "Craft 4-Minute"), nor is "3:30",
  "3/4", "1,000"; after a space, nor is one ending in k/m/b/t/x/p ("record
  1.35m", "Native 1080p"), though "Qwen-7B" is a variant;
- a possessive name takes only a letter version ("DeepSeek's V3", not
  "Korea's 10 largest").

Tiers: "Flash", "Pro", "Opus", "Mini"... (`_TIERS`, a closed list of edition
words, as the words after a version are otherwise anything) after the version,
or between the name and the version, give the same tokens, the tier always
last: "Claude Opus 4.1" and
"Claude 4.1 Opus" are both {"claude@4.1", "claude@4.1-opus"}; "Gemini 3.7
Flash" is {"gemini@3.7", "gemini@3.7-flash"}. The bare "name@version" is always
there, so a report that leaves the tier out still matches. A tier word with no
name before it is the name ("Opus 4.1" is "opus@4.1").
"Galaxy Z Fold7" gives "fold@7": the "Z" in between is not a version. Names in
other scripts ("갤럭시 S26", "通义千问3") are not read: only Latin names are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["amounts", "model_versions"]

# -- amounts ---------------------------------------------------------------------

# Characters that can start an amount: any digit (full-width ones too, before
# NFKC) or a CJK numeral. A headline without one is skipped at once.
_CJK_NUMERALS = "〇零一二两兩三四五六七八九十百千"
_MAY_HAVE_AMOUNT = re.compile(rf"[\d{_CJK_NUMERALS}]")
_HAS_DIGIT = re.compile(r"\d")

_CJK_DIGIT_VALUES = {
    "〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CJK_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}

# East Asian multipliers. Each big unit may carry a small one in front
# ("千万" = 1e7, "5천만" = 5e7); 千/천 and 百/백 also stand alone ("5千元").
_BIG_UNITS = {
    "万": 10**4, "萬": 10**4, "만": 10**4,
    "亿": 10**8, "億": 10**8, "억": 10**8,
    "兆": 10**12, "조": 10**12,
    "万亿": 10**12, "萬億": 10**12, "万億": 10**12,
}  # fmt: skip
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000, "십": 10, "백": 100, "천": 1000}
_CJK_MULTIPLIERS: dict[str, int] = {
    **{small + big: s * b for small, s in _SMALL_UNITS.items() for big, b in _BIG_UNITS.items()},
    **_BIG_UNITS,
    "千": 1000, "천": 1000, "百": 100, "백": 100,
}  # fmt: skip

_ENGLISH_MULTIPLIERS = {
    "thousand": 10**3, "k": 10**3,
    "million": 10**6, "mn": 10**6, "mln": 10**6, "m": 10**6,
    "billion": 10**9, "bn": 10**9, "b": 10**9,
    "trillion": 10**12, "tn": 10**12, "t": 10**12,
    "lakh": 10**5, "lakhs": 10**5, "lac": 10**5,
    "crore": 10**7, "crores": 10**7, "cr": 10**7,
}  # fmt: skip

_ISO_CODES_TEXT = (
    "USD CNY JPY KRW HKD TWD SGD INR AED EUR GBP SAR AUD CAD NZD CHF MYR THB IDR VND PHP"
)
_ISO_CODES = _ISO_CODES_TEXT.split()

# Prefixes written with Latin letters must start a word ("HK$", not the "K$" in it).
_LATIN_PREFIXES = {
    "US$": "USD", "HK$": "HKD", "S$": "SGD", "SG$": "SGD", "NT$": "TWD", "A$": "AUD",
    "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD", "R$": "BRL",
    "Rs.": "INR", "Rs": "INR", "RMB": "CNY", "Rmb": "CNY",
    **{code: code for code in _ISO_CODES},
}  # fmt: skip
_SYMBOL_PREFIXES = {
    "$": "USD", "₩": "KRW", "¥": "JPY", "€": "EUR", "£": "GBP", "₹": "INR",
    "人民币": "CNY", "人民幣": "CNY", "新台币": "TWD", "新台幣": "TWD", "台币": "TWD",
    "台幣": "TWD", "港币": "HKD", "港幣": "HKD",
}  # fmt: skip
_PREFIXES = {**_LATIN_PREFIXES, **_SYMBOL_PREFIXES}

_GENERIC_YUAN = "元"  # takes the currency in front of the number, else CNY
_CJK_SUFFIXES = {
    "韩元": "KRW", "韓元": "KRW", "韓圓": "KRW", "ウォン": "KRW",
    "円": "JPY", "日元": "JPY", "日圓": "JPY", "日币": "JPY", "日幣": "JPY",
    "ドル": "USD", "米ドル": "USD", "美元": "USD", "美金": "USD",
    "人民币": "CNY", "人民幣": "CNY", "人民元": "CNY", _GENERIC_YUAN: "CNY",
    "港元": "HKD", "港币": "HKD", "港幣": "HKD", "香港ドル": "HKD",
    "新台币": "TWD", "新台幣": "TWD", "台币": "TWD", "台幣": "TWD",
    "台湾ドル": "TWD", "台湾元": "TWD", "新台湾ドル": "TWD",
    "新元": "SGD", "新加坡元": "SGD", "新币": "SGD", "シンガポールドル": "SGD",
    "欧元": "EUR", "歐元": "EUR", "ユーロ": "EUR",
    "英镑": "GBP", "英鎊": "GBP", "ポンド": "GBP",
    "卢比": "INR", "盧比": "INR", "ルピー": "INR",
    "澳元": "AUD", "豪ドル": "AUD", "加元": "CAD", "カナダドル": "CAD",
    "迪拉姆": "AED", "ディルハム": "AED", "里亚尔": "SAR", "リヤル": "SAR",
}  # fmt: skip
_HANGUL_SUFFIXES = {
    "원": "KRW", "원화": "KRW", "엔": "JPY", "엔화": "JPY", "달러": "USD", "달러화": "USD",
    "위안": "CNY", "위안화": "CNY", "홍콩달러": "HKD", "대만달러": "TWD",
    "싱가포르달러": "SGD", "유로": "EUR", "유로화": "EUR", "파운드": "GBP", "루피": "INR",
    "디르함": "AED", "리얄": "SAR",
}  # fmt: skip
_ENGLISH_SUFFIXES = {
    "won": "KRW", "yen": "JPY", "yuan": "CNY", "renminbi": "CNY",
    "rupees": "INR", "rupee": "INR",
    "us dollars": "USD", "u.s. dollars": "USD", "dollars": "USD", "dollar": "USD",
    "hong kong dollars": "HKD", "singapore dollars": "SGD",
    "new taiwan dollars": "TWD", "taiwan dollars": "TWD", "nt dollars": "TWD",
    "australian dollars": "AUD", "canadian dollars": "CAD",
    "euros": "EUR", "euro": "EUR", "pounds sterling": "GBP", "pounds": "GBP",
    "dirhams": "AED", "riyals": "SAR", "ringgit": "MYR", "baht": "THB", "rupiah": "IDR",
}  # fmt: skip
_CODE_SUFFIXES = {"RMB": "CNY", **{code: code for code in _ISO_CODES}}
_SUFFIXES = {**_CJK_SUFFIXES, **_HANGUL_SUFFIXES, **_ENGLISH_SUFFIXES, **_CODE_SUFFIXES}


def _alternation(words: Iterable[str]) -> str:
    """A regex for any of `words`: longest first, so "美元" is tried before "元" and
    "HK$" before "$"; behind a one-character look-ahead, so a position where none
    can start costs one test instead of one per word."""
    words = sorted(words, key=len, reverse=True)
    firsts = sorted({case for w in words for case in (w[0].lower(), w[0].upper())})
    starts = "".join(re.escape(ch) for ch in firsts)
    return f"(?=[{starts}])(?:{'|'.join(re.escape(w) for w in words)})"


_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d{1,2}(?:,\d{2})+,\d{3}|\d+)(?:\.\d+)?"  # 1,000 / 1,00,000
_CJK_MULTIPLIER = f"(?:{_alternation(_CJK_MULTIPLIERS)})"
_CJK_TERM = rf"(?:{_NUM}[ \t]?|[{_CJK_NUMERALS}]+){_CJK_MULTIPLIER}"
_ENGLISH_MULTIPLIER = (
    # One-letter multipliers only count against the number ("$75m"): "5 t" is tonnes.
    rf"(?:[ \t]?-?(?i:{_alternation(w for w in _ENGLISH_MULTIPLIERS if len(w) > 1)})"
    r"|[kKmMbBtT])(?![A-Za-z])"
)
_HANGUL_END = r"(?:(?![가-힣])|(?=[은는이가을를의에과와도로대만씩]))"

# What ends a currency prefix ("$", "¥", "D" of "USD", "币" of "人民币"...): a number
# with none of these just before it needs a currency after it.
_PREFIX_ENDS = "".join(sorted({re.escape(prefix[-1]) for prefix in _PREFIXES}))
_SUFFIX = rf"""
    [ \t]?
    (?:(?P<cjk_suf>(?:{_alternation(_CJK_SUFFIXES)}))(?:(?<!元)|(?![宇年旦素件器]))
      |(?P<hangul_suf>{_alternation(_HANGUL_SUFFIXES)}){_HANGUL_END}
      |(?P<english_suf>(?i:{_alternation(_ENGLISH_SUFFIXES)}))(?![A-Za-z])
      |(?P<code_suf>{_alternation(_CODE_SUFFIXES)})(?![A-Za-z])
    )
"""
# The pattern starts with the number itself, so the scan skips to candidates at C
# speed (a CJK numeral without a multiplier fails at once); a number without a
# currency word after it and without a prefix-like character before it fails
# inside the scan. Which prefix it is gets read afterwards (`_PREFIX_BEFORE`).
_AMOUNT = re.compile(
    rf"""
    (?=[\d{_CJK_NUMERALS}])
    (?<!\d)(?<!\d[.,])  # not inside a number the scan gave up on
    (?P<after_prefix>(?<=[{_PREFIX_ENDS}])|(?<=[{_PREFIX_ENDS}][ \t]))?
    (?>  # atomic: "2026" without a currency fails once, not as "202", "20", "2"
        (?P<chain>{_CJK_TERM}(?:[ \t]?{_CJK_TERM})*\d*)
      | (?P<num>{_NUM})(?P<mult>{_ENGLISH_MULTIPLIER}(?:{_ENGLISH_MULTIPLIER})?)?
    )
    (?:{_SUFFIX}|(?(after_prefix)|(?!)))  # no currency word: only after a prefix
    """,
    re.VERBOSE,
)
_PREFIX_BEFORE = re.compile(
    rf"""
    (?:(?<![A-Za-z])(?P<latin>{_alternation(_LATIN_PREFIXES)})
      |(?P<symbol>{_alternation(_SYMBOL_PREFIXES)}))
    [ \t]?\Z
    """,
    re.VERBOSE,
)
_PREFIX_REACH = max(map(len, _PREFIXES)) + 1  # the longest prefix and a space
# "数百亿" is "several tens of billions", not 1e10.
_SEVERAL = frozenset("数數几幾")
_CHAIN_TERM = re.compile(
    rf"(?:(?P<num>{_NUM})[ \t]?|(?P<cjk>[{_CJK_NUMERALS}]+))(?P<mult>{_CJK_MULTIPLIER})"
)
_ENGLISH_MULTIPLIER_WORD = re.compile(r"[A-Za-z]+")

_THREE_FIGURES = Decimal("0.01")


def _nfkc(text: str) -> str:
    """Full-width digits and signs as ASCII ("１０．１兆", "＄７５ｍ"); the check is cheap."""
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _cjk_numeral(numeral: str) -> int:
    """The value of a CJK numeral: 三百 is 300, 一千二百 1200, 十 10, 三〇 30."""
    total, current, after_digit = 0, 0, False
    for ch in numeral:
        if ch in _CJK_SMALL_UNITS:
            total += (current or 1) * _CJK_SMALL_UNITS[ch]
            current, after_digit = 0, False
        else:
            digit = _CJK_DIGIT_VALUES[ch]
            current = current * 10 + digit if after_digit else digit
            after_digit = True
    return total + current


def _chain_value(chain: str) -> Decimal:
    """Sum of "<number><multiplier>" terms with falling multipliers, plus a tail."""
    value = Decimal(0)
    previous = 0
    end = 0
    for term in _CHAIN_TERM.finditer(chain):
        multiplier = _CJK_MULTIPLIERS[term["mult"]]
        if previous and multiplier >= previous:
            # "3억 5억" is two amounts, not one; the first one is what it says.
            return value
        number = Decimal(term["num"].replace(",", "")) if term["num"] else _cjk_numeral(term["cjk"])
        value += number * multiplier
        previous, end = multiplier, term.end()
    tail = chain[end:]
    if tail and int(tail) < previous:  # "2万5000" is 25,000
        value += int(tail)
    return value


def _canonical_value(value: Decimal) -> str:
    """3 significant figures, half up: 10100000000000 -> "1.01e13", 75 -> "7.5e1"."""
    exponent = value.adjusted()
    mantissa = value.scaleb(-exponent).quantize(_THREE_FIGURES, rounding=ROUND_HALF_UP)
    if mantissa >= 10:  # 9.995 rounds up to the next power of ten
        mantissa, exponent = mantissa.scaleb(-1), exponent + 1
    digits = format(mantissa.normalize(), "f")
    return f"{digits}e{exponent}"


def amounts(text: str) -> frozenset[str]:
    """Money amounts in `text` as "<ISO 4217 code>:<value to 3 significant figures>"."""
    if not _MAY_HAVE_AMOUNT.search(text):
        return frozenset()
    text = _nfkc(text)
    found: set[str] = set()
    for match in _AMOUNT.finditer(text):
        start = match.start()
        if start and (text[start - 1] in _SEVERAL or text[start - 1].isdigit()):
            continue  # "数百亿"; or the rest of a number the scan did not take
        prefix = None
        if match["after_prefix"] is not None:
            before = _PREFIX_BEFORE.search(text, max(0, start - _PREFIX_REACH), start)
            prefix = None if before is None else before["latin"] or before["symbol"]
        suffix = match["cjk_suf"] or match["hangul_suf"] or match["english_suf"]
        suffix = suffix or match["code_suf"]
        if prefix is None and suffix is None:
            continue  # a number without a currency is not an amount
        if match["chain"]:
            value = _chain_value(match["chain"])
            has_multiplier = True
        else:
            value = Decimal(match["num"].replace(",", ""))
            has_multiplier = bool(match["mult"])
            for word in _ENGLISH_MULTIPLIER_WORD.findall(match["mult"] or ""):
                value *= _ENGLISH_MULTIPLIERS[word.lower()]
        if value <= 0:
            continue
        # "won" is also the verb: "a team of 3 won" is not 3 won.
        verb_won = prefix is None and suffix is not None and suffix.lower() == "won"
        if verb_won and not has_multiplier and value < 1000:
            continue
        currency = _currency(prefix, suffix)
        found.add(f"{currency}:{_canonical_value(value)}")
    return frozenset(found)


def _currency(prefix: str | None, suffix: str | None) -> str:
    if suffix is None:
        assert prefix is not None
        return _PREFIXES[prefix]
    if suffix == _GENERIC_YUAN and prefix is not None:
        # "新台币100亿元" is NT$; "¥100亿元" is Chinese usage, so yuan.
        return "CNY" if prefix == "¥" else _PREFIXES[prefix]
    english = _ENGLISH_SUFFIXES.get(suffix.lower())
    return english if english is not None else _SUFFIXES[suffix]


# -- model versions --------------------------------------------------------------

# Tier words: a model's size or edition, written before or after the version.
_TIERS_TEXT = """flash pro ultra mini nano max plus turbo lite light opus sonnet haiku air coder
    codex instruct chat thinking reasoner preview vl omni large medium small"""
_TIERS = frozenset(_TIERS_TEXT.split())

# Names that are ordinary English before a number, or that number something other
# than a product. Compared case-folded.
_NOT_NAMES_TEXT = """
    a an the and or nor but not no yes so as is are was were be been being am
    in on at of to by for from with without into onto upon over under above below
    than about around near nearly almost approximately roughly some any all every each
    only just up down off out per via vs versus after before since until till through
    during within across between among against toward towards behind beyond plus minus
    top bottom first last next new latest old another other more most less least many
    much few several both either neither its it his her their our my your
    ever never also still even again
    this that these those who which what when where why how has have had will would can
    could may might must shall should do does did get gets got make makes made
    jan feb mar apr jun jul aug sep sept oct nov dec january february march april
    june july august september october november december
    mon tue tues wed thu thur thurs fri sat sun monday tuesday wednesday thursday friday
    saturday sunday today tomorrow yesterday week weeks day days month months year years
    quarter quarters half fy cy ytd am hr hrs min mins sec secs
    gb mb kb tb pb gbps mbps km kg mg mm cm nm ms ns hz khz mhz ghz kw mw gw kwh mwh gwh
    usd cny rmb jpy krw hkd twd sgd inr aed eur gbp sar aud cad nzd chf myr thb idr vnd
    php rs us uk eu hk nt sg
    section article chapter clause rule page pages paragraph vol volume issue nos
    number num step phase stage level tier round season episode part grade class type
    category route gate floor room unit units block lot district ward zone
    covid cov sars ncov war ww co pm
    nasdaq nikkei kospi kosdaq dax ftse cac nifty sensex taiex csi hsi index fortune
    """
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())

# What makes a number after a name a quantity rather than a version.
_QUANTITY_AFTER = re.compile(
    r"""[ \t\-]*(?i:%|percent|per\s?cent|pct|points?|pts|bps|basis|
        thousand|million|billion|trillion|mn|bn|tn|crores?|lakhs?|
        years?|yrs?|months?|weeks?|days?|hours?|hrs?|minutes?|mins?|seconds?|secs?|
        people|persons|users|employees|staff|workers|jobs|units|times|
        gb|mb|kb|tb|pb|km|kg|mm|cm|nm|ghz|mhz|hz|kw|mw|gw|kwh|degrees)(?![A-Za-z])""",
    re.VERBOSE,
)
# CJK counters and units: "GPT 5月" is May, "3个", "10일", "4기", "5%" are quantities.
_COUNTERS = frozenset(
    "年月日号號時时点點分秒个個人名位件台万萬亿億兆千百倍款家条條項项週周度季期次回歳岁%"
    "일월년개명위억조만원분초시배차회주세기대호종건곳층편권번"
)
# After a space, a number with one of these letters is a quantity: "record 1.35m",
# "Native 1080p", "a 4K screen", "2x faster". Written on ("Qwen-7B") it is a variant.
_QUANTITY_LETTERS = frozenset("kmbtxp")

_HYPHEN = "-\u2010\u2011\u2012\u2013"
_MODEL = re.compile(
    rf"""
    (?<![A-Za-z0-9])
    (?P<name>[A-Za-z]{{2,}}+)  # possessive: a word that is not a name fails once, not per letter
    (?P<possessive>['’]s)?
    (?P<sep>[ \t]*[{_HYPHEN}][ \t]*|[ \t]+|)
    (?P<version>[A-Za-z]?\d+(?:\.\d+)*[A-Za-z]?\+?)
    (?![A-Za-z0-9]|[.,:/]\d)
    (?:(?:[ \t]*[{_HYPHEN}][ \t]*|[ \t]+)(?P<tier>(?i:{"|".join(sorted(_TIERS))}))(?![A-Za-z0-9]))?
    """,
    re.VERBOSE,
)
# The name before a tier word: "Claude" in "Claude Opus 4.1".
_NAME_BEFORE = re.compile(rf"(?<![A-Za-z0-9])([A-Za-z]{{2,}})(?:[ \t]*[{_HYPHEN}][ \t]*|[ \t]+)\Z")
_QUARTER_OR_HALF = re.compile(r"[qh][1-4]")
_YEAR = re.compile(r"(?:19|20)\d\d")


def model_versions(text: str) -> frozenset[str]:
    """Product and model names with their versions, as "<name>@<version>" in lower case."""
    if not _HAS_DIGIT.search(text):
        return frozenset()
    text = _nfkc(text)
    found: set[str] = set()
    for match in _MODEL.finditer(text):
        name, version, sep = match["name"], match["version"], match["sep"]
        # CamelCase join: "DeepSeekV3" is DeepSeek + V3, while "GPT5" is GPT + 5.
        camel = len(name) >= 3 and name[-1].isupper() and name[-2].islower()
        if not sep and camel and version[0].isdigit():
            name, version = name[:-1], name[-1] + version
        token = _version_token(text, match, name, version, sep)
        if token is None:
            continue
        key, tiers = token
        found.add(key)
        found.update(f"{key}-{tier}" for tier in tiers)
    return frozenset(found)


def _version_token(
    text: str, match: re.Match[str], name: str, version: str, sep: str
) -> tuple[str, list[str]] | None:
    """The "name@version" a match stands for and its tiers, or None for a non-version."""
    name_key, version_key = name.casefold(), version.casefold()
    if name_key in _NOT_NAMES:
        return None
    if _QUARTER_OR_HALF.fullmatch(version_key) or _YEAR.fullmatch(version_key):
        return None
    numeric = version[0].isdigit()
    if match["possessive"] and numeric:
        return None  # "Korea's 10 largest": only "DeepSeek's V3" reads as a version
    if numeric:
        after = match.end("version")
        if _QUANTITY_AFTER.match(text, after) or text[after : after + 1] in _COUNTERS:
            return None
        spaced = sep != "" and not any(h in sep for h in _HYPHEN)
        number = version.rstrip("+")
        if spaced and version[-1].lower() in _QUANTITY_LETTERS:
            return None
        if spaced and number.replace(".", "").isdigit():
            # A bare number after a space reads as a version only after a proper
            # name ("Pixel 11", not "raised 10"); 3+ digits only after an
            # all-capital one ("RTX 5090", not "Fortune 500" or "Hires 500").
            if name.islower():
                return None
            if number.isdigit() and len(number) > 2 and not name.isupper():
                return None
    tiers: list[str] = []
    if name_key in _TIERS:
        before = _NAME_BEFORE.search(text, max(0, match.start() - 40), match.start())
        if before is not None:
            previous = before[1].casefold()
            if previous not in _NOT_NAMES and previous not in _TIERS:
                tiers.append(name_key)
                name_key = previous
    if match["tier"]:
        tier = match["tier"].casefold()
        if tier not in tiers:
            tiers.append(tier)
    return f"{name_key}@{version_key}", tiers
