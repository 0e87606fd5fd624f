"""A post's features: what near-duplicate clustering compares of two posts.

Owns: reducing a post to those features (`prepare`), all pure functions of its
text: normalisation (`normalize_text`: NFKC, case-folded, a quarter and a share
written one way), the lead story of a roundup title (`lead_story`), words,
numbers and CJK bigrams (`features_by_kind`), the version and
amount marks of a title (`number_marks`), the date a lead gives (`event_date`),
copied-prose shingles (`shingles`), the keys of exact duplicates (`title_key`,
`url_key`) and the event signature of canonical actor ids, model versions and
money amounts (`event_signature`). No weights, no batch, no I/O.
Doesn't own: what a feature weighs or when two posts are one story
(`digest.editorial.cluster`, whose docstring says what the features are and
why), finding who a text names (`digest.editorial.classify`), or reading
figures (`digest.editorial.figures`).

Every post of a batch passes through here (5,000 in benchmarks/duplicates.py),
so common cases take a fast path with the general one's result: ASCII text has
no CJK runs; one NFKC form serves a title, its key and the event signature, and
a summary's lead serves the whole summary (`nfkc`, `nfkc_extend`,
`normalize_nfkc`, `title_key_nfkc`); a date is looked for only in text with a
month sign or a "day"; a plain URL is read without urlsplit.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress
from operator import not_
from urllib.parse import urlsplit

from digest.editorial.figures import amounts, model_versions

# Event-signature features are marked by a character no text feature starts with.
ENTITY, VERSION, AMOUNT = "\x01", "\x02", "\x03"

_CJK_CHARS = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # han
    "\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3"  # hangul
)
_CJK_RUN = re.compile(f"[{_CJK_CHARS}]+")
_CJK_SPLIT = re.compile(f"([{_CJK_CHARS}]+)")  # text between CJK runs, and the runs
_CJK_BIGRAM = re.compile(f"(?=([{_CJK_CHARS}]{{2}}))")  # every bigram of every run
_WORD = re.compile(rf"[^\W_{_CJK_CHARS}]+(?:[.\-+'][^\W_{_CJK_CHARS}]+)*\+?%?")
_PLAIN_WORD = re.compile(rf"[^\W_{_CJK_CHARS}]+")
# Compounds split into parts, but "2.5" and the "+" of "2.5+" are part of a version.
_JOINERS = re.compile(r"[\-']|(?<!\d)\.|\.(?!\d)|\+(?=\w)")
_DIGIT = re.compile(r"\d")
_URL = re.compile(r"https?://\S+")
# Lookbehinds after the first character, so the regex engine can skip to it.
_THOUSANDS = re.compile(r",(?<=\d,)(?=\d{3}(?!\d))")
_CJK_DIGITS = "一二三四五六七八九"
_QUARTER = re.compile(r"(?<![a-z0-9])q([1-4])(?![a-z0-9])|第?([一二三四1-4])季度")
_TENTHS = re.compile(r"([一二三四五六七八九])(?<![一二三四五六七八九十\d][一二三四五六七八九])成")
_LEADING_TAG = re.compile(r"^\s*(?:【[^】]{1,12}】|\[[^\]]{1,12}\])\s*")
_NUMBER_PARTS = re.compile(r"(\D*?)(\d+(?:\.\d+)*)(.*)")
_NOT_WORD = re.compile(r"[\W_]+")
_CJK_MONTH_DAY = re.compile(r"(\d{1,2})[月월]\s?(\d{1,2})[日일]")
# Characters that start a new piece for NFKC: no canonical composition ends
# with one, none is a combining mark, and each is its own NFKC form.
_NFKC_BOUNDARY = re.compile(r"[\x00-\x7f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]")
# A plain "https://host/path?query#fragment": `url_key` reads it without urlsplit.
_SIMPLE_URL = re.compile(
    r"https?://([a-z0-9.\-]+)(/[^?#\x00-\x20]*)?(?:\?([^#\x00-\x20]*))?(?:#.*)?"
)
_WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")

_STOP_WORDS_TEXT = """a an and are as at be been but by can could did do does for from had has have
    he her his how i if in into is it its more most new no not now of on or our out
    over says said she so than that the their them then there these they this to up
    was we were what when where which who why will with would you your after before
    about amid vs via just all also"""
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width letters and digits as ASCII, compatibility forms unfolded."""
    return unicodedata.normalize("NFKC", text)


def nfkc_extend(text: str, cut: int, head_nfkc: str) -> str:
    """`nfkc(text)`, given `head_nfkc` = `nfkc(text[:cut])`: when the character at
    `cut` composes with nothing before it (ASCII, a Han ideograph, a Hangul
    syllable), NFKC keeps to each side of it and the head's form is reused."""
    if len(text) <= cut:
        return head_nfkc
    if _NFKC_BOUNDARY.match(text, cut):
        return head_nfkc + nfkc(text[cut:])
    return nfkc(text)


def title_key(title: str) -> str:
    """A title reduced for exact-duplicate matching: NFKC, case-folded, no punctuation."""
    return title_key_nfkc(nfkc(title))


def title_key_nfkc(title: str) -> str:
    """`title_key` of a title already in NFKC."""
    return _NOT_WORD.sub("", title.casefold())


def url_key(url: str) -> str:
    """The part of a canonical URL that names the article; "" for a home page or none."""
    if not url:
        return ""
    simple = _SIMPLE_URL.fullmatch(url) if url.isascii() else None
    if simple is not None:  # what urlsplit gives for it, without its general checks
        host, path, query = simple.group(1), simple.group(2) or "", simple.group(3) or ""
    else:
        parts = urlsplit(url)
        host, path, query = parts.hostname or "", parts.path, parts.query
    host = host.removeprefix("www.")
    path = path.rstrip("/")
    for suffix in (".html", ".htm"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    if not host or (not path and not query):
        return ""
    return f"{host}{path}?{query}" if query else f"{host}{path}"


def normalize_text(text: str) -> str:
    """NFKC, case-folded, one apostrophe; no thousands separators; "q3" and "三季度"
    written "3季", "三成" written "30%"."""
    return normalize_nfkc(nfkc(text))


def normalize_nfkc(text: str) -> str:
    """`normalize_text` of a text already in NFKC."""
    text = text.casefold().replace("’", "'")
    if "," in text:
        text = _THOUSANDS.sub("", text)
    # One way to write a quarter and a share: "q3" meets "三季度", "三成" meets "30%".
    if "季度" in text or "q" in text:
        text = _QUARTER.sub(lambda m: _digit(m.group(1) or m.group(2)) + "季", text)
    if "成" in text:
        text = _TENTHS.sub(lambda m: _digit(m.group(1)) + "0%", text)
    return text


def _digit(numeral: str) -> str:
    return numeral if numeral.isdigit() else str(_CJK_DIGITS.index(numeral) + 1)


def lead_story(title: str) -> str:
    """The first story of a "A；B；C" roundup title, without a 【column】 label."""
    segments = [s for s in title.split("；") if s.strip()]
    lead = segments[0] if len(segments) > 1 else title
    return _LEADING_TAG.sub("", lead)


# Joiners of a multi-story title, strongest first. "；" always separates stories
# (集微网's roundups); "…" does in a Korean newscast's "A…B" but also joins two
# clauses of one story, and "、" lists stories in a Chinese morning brief
# ("派早报：A、B等") but names in a sentence ("腾讯、字节、阿里"): those two split
# a title only when every piece is long enough to be a headline of its own. In
# Japanese "、" is the comma of every sentence, so a title with kana never
# splits there.
_HARD_JOINERS = re.compile(r"\s*[；;]\s*")
_SOFT_JOINERS = (  # (joiner, whether it lists stories that may end in "等")
    (re.compile(r"\s*(?:…|⋯|\.\.\.)\s*"), False),
    (re.compile(r"\s*、\s*"), True),
)
_LIST_END = re.compile(r"(?:等等|等|など|and more)[。.！!？?]?\s*$")
_KANA = re.compile("[\u3040-\u30ff]")
STORY_MIN_CHARS = 8  # "Google 推出 Pixel 11 系列" is a story; "腾讯" or "A股" is a name


def _long_enough(piece: str) -> bool:
    return len(_NOT_WORD.sub("", piece)) >= STORY_MIN_CHARS


def title_stories(title: str) -> tuple[str, ...]:
    """The stories of a multi-story title, in order (at least two), or () when
    the title tells one story. A leading 【column】 label is dropped; so is the
    "等" ("and more") that ends a brief's list."""
    text = _LEADING_TAG.sub("", title)
    pieces = [p for p in _HARD_JOINERS.split(text) if p.strip()]
    for joiner, listing in _SOFT_JOINERS:
        if listing and _KANA.search(text):
            continue
        split: list[str] = []
        for piece in pieces:
            parts = [p for p in joiner.split(piece) if p.strip()]
            if listing and len(parts) > 1:
                parts[-1] = _LIST_END.sub("", parts[-1])
            if len(parts) > 1 and all(map(_long_enough, parts)):
                split.extend(parts)
            else:
                split.append(piece)
        pieces = split
    return tuple(pieces) if len(pieces) > 1 else ()


def _word_features(token: str, out: set[str]) -> None:
    if token.isalpha():  # the common case, without the checks below
        if len(token) > 1 and token not in _STOP_WORDS:
            plural = len(token) > 3 and token[-1] == "s" and token[-2] != "s"
            out.add(token[:-1] if plural else token)
        return
    token = token.removesuffix("'s")
    if _DIGIT.search(token):
        out.add(token)
    elif len(token) > 1 and token not in _STOP_WORDS:
        plural = len(token) > 3 and token[-1] == "s" and token[-2] != "s"
        out.add(token[:-1] if plural else token)
    if _JOINERS.search(token):
        for part in _JOINERS.split(token):
            if part and (len(part) > 1 or part.isdigit()):
                _word_features(part, out)


def _add_words(tokens: Iterable[str], out: set[str]) -> None:
    add = out.add
    for token in tokens:  # `_word_features`, with its two commonest cases inline
        if token.isalpha():
            if len(token) > 1 and token not in _STOP_WORDS:
                plural = len(token) > 3 and token[-1] == "s" and token[-2] != "s"
                add(token[:-1] if plural else token)
        elif token.isdecimal():  # a plain number: all digits, no joiner
            add(token)
        else:
            _word_features(token, out)


def features_by_kind(text: str) -> tuple[set[str], set[str]]:
    """The features of a text (`digest.editorial.cluster`, step 2): its words and
    numbers (none starts with a CJK character), and the bigrams of its CJK runs
    (a one-character run as itself)."""
    words: set[str] = set()
    # A token never holds a CJK character: the tokens of the whole text are
    # those of the stretches between its CJK runs.
    _add_words(_WORD.findall(text), words)
    if text.isascii():
        return words, set()
    parts = _CJK_SPLIT.split(text)  # [before run 1, run 1, before run 2, ..., after the last]
    if len(parts) == 1:
        return words, set()
    bigrams = set(_CJK_BIGRAM.findall(text))
    for k in range(1, len(parts), 2):
        run, before = parts[k], parts[k - 1]
        if len(run) == 1:
            bigrams.add(run)
        # "17年", "400亿", "10.1兆": a number with the CJK unit right after it.
        if before and before[-1].isdigit():
            tokens = _WORD.findall(before)
            if tokens and tokens[-1][-1].isdigit() and before.endswith(tokens[-1]):
                words.add(tokens[-1] + run[0])
    return words, bigrams


def number_marks(tokens: Iterable[str]) -> dict[str, frozenset[str]]:
    """Distinctive tokens by stem: "deepseek-v3.2-exp" → {"deepseek-v": {"3.2-exp"}}.

    A token that starts with letters is a name with a version ("k2.5", "gpt-6"):
    its stem is the letters, as for a bare version ("2.5+" → "": {"2.5+"}). One
    that starts with a digit is an amount: its stem is the unit ("30%" → "#%",
    "17年" → "#年", "2.5" → "#"; and "2.5" meets "2.5+" under "" too).
    """
    marks: dict[str, set[str]] = defaultdict(set)
    for feature in tokens:
        m = _NUMBER_PARTS.fullmatch(feature)
        if m is None:
            continue
        prefix, number, rest = m.groups()
        if prefix or rest[:1] in ("+", "-"):  # a version: "k2.5", "2.5+", "0324-exp"
            marks[prefix].add(number + rest)
        else:  # an amount, by unit: "30%", "17年", "75m"
            marks["#" + rest].add(number)
            if not rest and "." in number:  # or a bare version, "Music 2.5" vs "2.5+"
                marks[""].add(number)
    return {stem: frozenset(values) for stem, values in marks.items()}


def event_date(lead: str) -> str:
    """The first date a lead gives ("9-22", "wednesday"), or "": when it happened."""
    if "月" in lead or "월" in lead:
        m = _CJK_MONTH_DAY.search(lead)
        if m:
            return f"{int(m.group(1))}-{int(m.group(2))}"
    if "day" in lead:
        w = _WEEKDAY.search(lead)
        if w:
            return w.group(1)
    return ""


def shingles(text: str) -> set[str]:
    """Overlapping 4-character runs of CJK text and 3-word runs elsewhere: copied prose."""
    out: set[str] = set()
    words: list[str] = []
    pos = 0
    for run in _CJK_RUN.finditer(text):
        words += _PLAIN_WORD.findall(text, pos, run.start())
        chars = run.group()
        out.update([chars[i : i + 4] for i in range(len(chars) - 3)])
        pos = run.end()
    words += _PLAIN_WORD.findall(text, pos)
    out.update([f"{words[i]} {words[i + 1]} {words[i + 2]}" for i in range(len(words) - 2)])
    return out


def feature_kinds(features: Iterable[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """`features` by kind: CJK bigrams (of the blocks from U+2E80, with no digit),
    words, numbers (a token with a digit; a version or an amount of the event
    signature) and actors (the signature's canonical ids). A batch has some
    100,000 features, so the kinds are told apart by calls that run in C: only a
    bigram starts above U+2FFF, and only a signature feature below U+0004."""
    keys = list(features)
    high = list(map("\u2fff".__lt__, keys))
    rest = list(compress(keys, map(not_, high)))
    marked = list(map("\x04".__gt__, rest))
    tokens = list(compress(rest, map(not_, marked)))
    digits = list(map(bool, map(_DIGIT.search, tokens)))
    numbers = list(compress(tokens, digits))
    actors: list[str] = []
    for feature in compress(rest, marked):
        (actors if feature[0] == ENTITY else numbers).append(feature)
    return list(compress(keys, high)), list(compress(tokens, map(not_, digits))), numbers, actors


def strip_links(text: str) -> str:
    """`text` with its web addresses blanked out."""
    return _URL.sub(" ", text)


def has_digit(text: str) -> bool:
    """Whether `text` holds a decimal digit, in any script."""
    return _DIGIT.search(text) is not None


# -- a post's features -----------------------------------------------------------


@dataclass(slots=True)
class Prepared:
    """What near-duplicate scoring compares of one post (`prepare`)."""

    title: set[str]
    body: set[str]  # title + summary lead
    lead_numbers: set[str]
    event_date: str
    summary: str  # normalised, without the repeated title or links
    title_key: str
    url_key: str
    signature: set[str]  # ENTITY/VERSION/AMOUNT features: who, which model, how much
    # Features of each story of a multi-story title (`title_stories`); [] for one story.
    stories: list[set[str]]


def event_signature(
    title: str, lead: str, actors: Iterable[str], title_nfkc: str, lead_nfkc: str
) -> set[str]:
    """The event signature: the actors named (canonical ids, so Apple = 苹果 = 애플),
    the model or product versions and the money amounts, written one way whatever
    the language (`digest.editorial.figures`), of a title and a summary's lead
    (`*_nfkc`: their NFKC forms)."""
    out = {ENTITY + key for key in actors if "/" in key}
    if has_digit(title) or has_digit(lead):
        # The figures read the NFKC form of their text; given it, they skip that
        # step. It is the forms of title and lead joined: "\n" composes with
        # nothing. (Without a digit, NFKC could add one the raw text lacks.)
        text = title_nfkc + "\n" + lead_nfkc
        # Only versions of things the knowledge base knows ("qwen@3.8" beside
        # cn/qwen, "switch@2" beside jp/nintendo-switch): "AI 50", "Fold 8" or
        # "Site 53" name no model.
        known = {part for f in out for part in f.partition("/")[2].split("-")}
        out.update(VERSION + v for v in model_versions(text) if v.partition("@")[0] in known)
    else:  # there is no version without a digit
        text = title + "\n" + lead
    out.update(AMOUNT + a for a in amounts(text))
    return out


def prepare(title: str, summary: str, url: str, actors: Iterable[str], lead_chars: int) -> Prepared:
    """The features of a post: its title, the first `lead_chars` characters of its
    summary, and `actors`, the canonical ids of who its title and lead name."""
    title_nfkc = nfkc(title)
    full_title = normalize_nfkc(title_nfkc)
    first_story = lead_story(title)
    story = full_title if first_story == title else normalize_text(first_story)
    lead_nfkc = nfkc(summary[:lead_chars])
    if not summary:
        text = ""
    elif "http" in summary:  # links to drop
        text = normalize_text(strip_links(summary))
    else:
        text = normalize_nfkc(nfkc_extend(summary, lead_chars, lead_nfkc))
    if text.startswith(full_title):  # WeChat feeds repeat the title as the text
        text = text[len(full_title) :]
    lead = text[:lead_chars]
    title_features, title_bigrams = features_by_kind(story)
    title_features |= title_bigrams
    stories = []
    for story_text in title_stories(title_nfkc):
        words, bigrams = features_by_kind(normalize_nfkc(story_text))
        stories.append(words | bigrams)
    lead_words, body = features_by_kind(lead)  # the body grows from the lead's bigrams
    body.update(*stories)
    signature = event_signature(title, summary[:lead_chars], actors, title_nfkc, lead_nfkc)
    body |= title_features
    body |= lead_words
    body |= signature
    return Prepared(
        title=title_features,
        body=body,
        lead_numbers={f for f in lead_words if f[0].isdigit()},  # no bigram starts so
        event_date=event_date(lead),
        summary=text,
        title_key=title_key_nfkc(title_nfkc),
        url_key=url_key(url),
        signature=signature,
        stories=stories,
    )
