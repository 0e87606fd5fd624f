"""Cleaning a feed summary of what a reader should never see.

Owns: `clean_summary(summary, title)`, the named rules it applies (`RULES`, in
order) and the record of what each one changed (`Cleaning`). Pure: text in,
text out, no I/O, no clock, no logging. Called once, by
`digest.fetch.normalize`, on the plain text of an entry's summary, before the
length cap; so only posts gathered from now on are cleaned: a post already in
the store keeps the summary it was stored with. (Cleaning again where
summaries are read for rendering would be cheap and pure, but `digest.render`
may not import from `digest.fetch` (tests/test_layout.py), and a summary
cleaned only on the page would still feed the classifier its artefacts.)
Doesn't own: HTML to text and the length cap (`digest.fetch.normalize`), cutting
a summary to a display width (`digest.render.typography.truncate_summary`).

Every rule is general: it is written for a kind of artefact in every script
(English, Japanese, Chinese both ways, Korean), never for one outlet, and it
looks only at the head or the tail of a summary (`HEAD_WINDOW`,
`TAIL_WINDOW` characters), so a 100 KB summary costs no more than a short one.
Speed without a different result: a tail rule runs only on a text that holds
one of the strings its own pattern requires (read from the parsed pattern, and
looked for in one scan for all rules: `digest.fetch.gates`); a rule already run
on the very text it would get is not run again; the title is compared letter by
letter only as far as the summary still agrees with it; `read_more` is tried
only where a match can start (a lookahead for its phrases' first characters,
`_tail_rule`'s `lead`); `cut_marker` only on a text that ends as its marks do.
~0.04 ms a summary instead of ~0.6 ms.
The rules, in the order they run:

- `label_prefix`: a label before the text: "总结:", "摘要：", "要約：", "概要:",
  "요약:", "Summary:", "TL;DR:", "【摘要】", "[要約]" (a CJK label may also be
  followed by a space alone: "导语 2026 年…").
- `credits`: a photo credit or byline at the head ("图片来源：视觉中国 作者/杨继云 …",
  "文/张三", "사진: …") or a photo credit at the tail ("(Photo by … /Getty
  Images)", "Photographer: …", "*题图来源于网络。").
- `post_appeared_first`: WordPress's "The post <title> appeared first on <site>."
- `originally_published`: "This article originally appeared on …",
  "Originally published at …", "本文来自微信公众号…经授权发布。", "本文首发于…",
  "この記事は…から転載したものです。", "이 기사는 …에 게재된 …".
- `source_link`: "原始網址 Original URL： https://…", "原文链接：https://…",
  "출처: https://…" (a label and a URL, at the end).
- `copyright_notice`: "© rthk.hk …", "Copyright 2026 …", "版权所有…",
  "<저작권자 © … 무단전재 및 재배포 금지>", "無断転載…" (at the end, at most one
  short sentence).
- `related_links`: "相关阅读：…", "関連記事：…", "관련기사: …", "Related: …" and
  what follows them.
- `tags`: "Tags: …", "标签：…", "タグ：…", "태그: …", or a run of two or more
  #hashtags, at the end.
- `disclaimer`: "广告声明：…", "免責聲明：…", "Disclaimer: …" and what follows.
- `read_more`: "Continue reading…", "Read more »", "Read the full story",
  "閱讀全文", "…続きを読む", "더보기", "(more…)" at the end.
  The English phrases of these four could also be prose ("…customers can
  learn more.", "Claude Tag: a feature…"), so they count only right after a
  sentence end (or an ellipsis, or in brackets); a CJK label with a colon
  ("广告声明：") counts anywhere in the tail.
- `cut_marker`: the mark of a summary the feed cut ("… 不可或缺的 […]",
  "…了承し...", "…서울 중구...", "(…)") becomes one "…", and an ellipsis right
  after a whole sentence ("vendors.…") goes. The words before the mark stay:
  they are text the classifier and the duplicate finder read (dropping them
  back to the last sentence end cost one eval item its only place name, 서울,
  and its Korean section); the reader never sees them dangling, because
  `digest.render.typography.truncate_summary` cuts a summary that ends in "…"
  back to its last sentence end.
- `title_repeat`: a summary that starts by repeating the title (compared on
  letters and digits only, case- and width-folded). The title is stripped when
  a separator follows it (sentence or clause punctuation other than a comma, a
  dash, a bar, a colon, or a space before anything but a lower-case Latin
  letter: "펄어비스(대표 …)는 …" and "OpenAI appoints X to lead …" keep their
  subject), and the rest is kept. When nothing is left, or only a few words
  (`FEW_COLUMNS` wide: a site's name), the summary is dropped, below.

Why a summary that only repeats its title becomes "" (and nothing else does):
the digest shows the title right above the summary, so a summary that says the
title again (whole, cut short, or followed by a few words such as the site's
name: "<title> - Gulf News") tells the reader nothing and only doubles the
line; an empty summary is what the templates already show for feeds without
one (`{% if story.summary %}`). Keeping the repetition was the alternative: 130
of the shared corpus's 614 summaries (its WeChat feeds, Gulf News) are their
own headline again. So `title_repeat` may return "", and `Cleaning.dropped` says so:
that is "dropped because it only repeated the title", never "emptied".

The never-empty guarantee: every other rule is refused (its change is not
made, and `Cleaning.refused` names it) when its result would hold no letter
or digit, so the summary keeps the last stage that did, at worst the
original. A summary that is only a label ("Summary:"), only "Read more" or
only punctuation therefore stays as it came.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from digest.fetch import gates
from digest.fetch.gates import SRE_ALIASES as SRE_ALIASES  # re-exported, for tests
from digest.fetch.gates import TAIL_GATES as TAIL_GATES
from digest.fetch.gates import gate_fold as gate_fold

HEAD_WINDOW = 300  # characters of a summary's start that head rules look at
TAIL_WINDOW = 1200  # characters of its end that tail rules look at
MAX_PASSES = 4  # rules run again while something changed: one removal can uncover another
MIN_TITLE_TO_STRIP = 6  # letters/digits: a shorter title is usually the summary's subject
FEW_COLUMNS = 12  # what is left after the title, at most this wide: "a few words" (site name)

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Step:
    """One rule's change: the summary before and after it."""

    rule: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Cleaning:
    """What `clean_summary` did to one summary."""

    original: str
    text: str  # the cleaned summary: "" only when `dropped`
    steps: tuple[Step, ...] = ()
    refused: tuple[str, ...] = ()  # rules not applied because they would have emptied it
    dropped: bool = False  # it only repeated the title (see the module docstring)

    @property
    def changed_by(self) -> frozenset[str]:
        return frozenset(step.rule for step in self.steps)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    apply: Callable[[str, str], str]  # (summary, title) -> summary
    # A tail rule's gate: it can match only a text whose tail window holds one of these.
    gate: frozenset[str] | None = None


def readable(text: str) -> bool:
    """Whether `text` holds at least one letter or digit (in any script)."""
    return any(ch.isalnum() for ch in text)


# What a removed head or tail may leave dangling at the new edge.
_EDGE_JUNK = " \t-–—―|｜/:：·•>»›<«‹*＊※"


def _trim_end(text: str) -> str:
    return text.rstrip(_EDGE_JUNK).rstrip()


def _trim_start(text: str) -> str:
    return text.lstrip(_EDGE_JUNK).lstrip()


# Each tail rule's gate (`gates.register`), for its `Rule`.
_GATES: dict[Callable[[str, str], str], frozenset[str] | None] = {}


def _tail_rule(*patterns: str, lead: str | None = None) -> Callable[[str, str], str]:
    """A rule removing the earliest match of `patterns` that runs to the end.

    `lead`: an alternation of phrases, each starting with a literal character,
    one of which every match holds after nothing but white space and `_OPENING`
    marks (its start); the search then tries only the positions that can start
    a match (`gates.first_chars`): the same match, ~2.5× sooner."""
    joined = r"(?:" + "|".join(patterns) + r")\s*$"
    firsts = gates.first_chars(lead) if lead is not None else None
    ahead = rf"(?=\s*+[{re.escape(_OPENING + firsts)}])" if firsts else ""
    tail = re.compile(ahead + joined, re.IGNORECASE | re.DOTALL)
    # Most summaries hold none of a rule's words: looking for them (all rules'
    # at once, `gates.present`) rules them out instead of trying the whole
    # pattern at every position of the tail.
    words = gates.register(joined)

    def apply(text: str, title: str) -> str:
        # A match lies in the tail window, and so do the strings it requires.
        if words is not None and words.isdisjoint(gates.present(text[-TAIL_WINDOW:])):
            return text
        m = tail.search(text, max(0, len(text) - TAIL_WINDOW))
        return _trim_end(text[: m.start()]) if m else text

    _GATES[apply] = words
    return apply


def _head_rule(pattern: str) -> Callable[[str, str], str]:
    """A rule removing `pattern` (repeated) at the start."""
    head = re.compile(r"\s*(?:" + pattern + r")", re.IGNORECASE)

    def apply(text: str, title: str) -> str:
        end = 0
        while m := head.match(text[:HEAD_WINDOW], end):
            if m.end() == end:
                break
            end = m.end()
        return _trim_start(text[end:]) if end else text

    return apply


# --- label_prefix ---------------------------------------------------------------------

_LATIN_LABELS = (
    r"(?:AI[- ]?(?:generated )?)?summary|tl;?\s?dr|abstract|excerpt|synopsis|overview"
    r"|key (?:points|takeaways)|in brief|at a glance"
)
_CJK_LABELS = (
    r"AI\s?(?:总结|總結|摘要|要約|요약)|内容提要|內容提要|摘要|总结|總結|概要|要約|要旨|概述|提要"
    r"|简介|簡介|导读|導讀|导语|導語|划重点|劃重點|要点|要點|まとめ|あらすじ"
    r"|한\s?줄\s?요약|세\s?줄\s?요약|핵심\s?요약|요약|개요|요지"
)
_LABEL = rf"(?:{_LATIN_LABELS}|{_CJK_LABELS})"
_label_prefix = _head_rule(
    rf"[【\[〔〖（(「『《<]\s*{_LABEL}\s*[】\]〕〗）)」』》>]\s*[:：︰]?"  # 【摘要】 [要約]
    rf"|{_LABEL}\s*(?:[:：︰]|\s[-–—|｜]\s)"  # Summary: / 要約： / TL;DR —
    rf"|(?:{_CJK_LABELS})\s"  # 导语 2026 年… (CJK has no spaces between words)
)


# --- credits --------------------------------------------------------------------------

_CREDIT_KEYS = (
    r"图片来源|圖片來源|封面来源|封面來源|题图来源|題圖來源|题图|題圖|头图|頭圖|图源|圖源|来源|來源"
    r"|作者|编辑|編輯|责编|責編|记者|記者|撰文|撰稿|报道|報導|采访|採訪|整理|出品|策划|策劃"
    r"|编译|編譯|翻译|翻譯|文|图|圖"
    r"|写真|画像|撮影|取材・文|사진|글|기자|Photo|Image|Credit|Source"
)
# A key, a separator, then one short token (no sentence punctuation) and a space;
# Latin names of agencies may run on in capitals or with slashes
# ("图片来源：BRENDAN SMIALOWSKI/AFP/GETTY IMAGES ").
_credits_head = _head_rule(
    rf"(?:{_CREDIT_KEYS})\s*[：:丨|｜/]\s*[^\s，。,、！？!?]{{1,30}}"
    r"(?:\s+(?-i:[A-Z0-9][A-Z0-9.&'’-]+|\S+/\S+)(?=\s))*\s"
)
_credits_tail = _tail_rule(
    r"[(（]\s*(?:Photos?|Photograph|Images?|Picture|Illustration)(?:\s+by|\s*[:：])[^()（）]{1,160}[)）]",
    r"\b(?:Photographer|Photo(?:graph)?|Image|Illustration)(?:\s+by|\s*:)\s[^.。]{1,120}"
    r"(?:Getty Images|Reuters|AP|AFP|Shutterstock|Unsplash|Bloomberg|EPA|Xinhua)\.?",
    r"(?:(?<=[\s。！？.!?])|^)[*＊※]?\s*(?:题图|題圖|头图|頭圖|封面图?|封面圖?|配图|配圖|图片|圖片)"
    r"[^。]{0,20}来源[^。]{0,30}。?",
)


def _credits(text: str, title: str) -> str:
    return _credits_tail(_credits_head(text, title), title)


# --- tails ----------------------------------------------------------------------------

# Where a trailing English phrase that could also be prose ("learn more",
# "Tags:", "Disclaimer:") may start: right after a sentence end or a closing
# mark, or at the very start; "…customers can learn more." keeps its last words.
# The CJK labels with a colon ("广告声明：", "相关阅读：") are never prose.
_AFTER_SENTENCE = r"(?:(?<=[.!?。！？…」』）)\]»”\"'])\s*|^\s*)"

_post_appeared_first = _tail_rule(
    r"\bThe post\b.{1,300}?\b(?:appeared first|first appeared)\s+on\b.{1,150}",
    r"\bThis entry was posted in\b.{1,300}",
)
_originally_published = _tail_rule(
    r"\b(?:This|The) (?:article|story|post|piece|interview|essay|report|column)\b.{0,40}?"
    r"\b(?:originally|first)\b.{0,12}?\b(?:appeared|published|ran|posted)\b.{0,250}",
    r"\b(?:Originally|First) (?:published|appeared|posted)\b.{0,250}",
    r"\b(?:This|The) (?:article|story) is republished\b.{0,250}",
    r"\bRepublished with permission\b.{0,200}",
    r"本文(?:来自|來自|转载自|轉載自|转自|轉自|首发于|首發於|原载于|原載於|原发于|原發於)[^。]{0,200}。?",
    r"[※＊*]?\s*(?:この|本)記事は.{0,100}?(?:転載|掲載|再構成|加筆).{0,60}",
    r"[※*]?\s*(?:이|본) (?:기사|글|콘텐츠)는 .{0,100}?(?:게재|전재|발행|실린|제공).{0,60}",
)
_source_link = _tail_rule(
    r"(?:(?:原始網址|原始网址|原文(?:链接|連結|網址|网址|地址)?|来源链接|來源連結|来源|來源"
    r"|Original (?:URL|link|article)|Source(?: link)?|Via|出典|元記事|출처|원문(?:\s*보기)?"
    r"|기사\s*원문)\s*)+[:：]?\s*https?://\S+",
)
_copyright_notice = _tail_rule(
    r"[<\[(（【〈]?\s*(?:저작권자\s*)?(?:©|ⓒ|Ⓒ|\(c\)\s*\d{4}|Copyright\b|版权所有|版權所有|著作権"
    r"|All rights reserved|무단\s*전재|無断転載|未经授权|未經授權)"
    r"(?:(?![。！？!?]|\.\s).){0,150}",
)
_related_links = _tail_rule(
    r"(?:相关阅读|相關閱讀|延伸阅读|延伸閱讀|推荐阅读|推薦閱讀|相关文章|相關文章|相关新闻|相關新聞"
    r"|相关报道|相關報導|関連記事|関連リンク|관련\s*기사|함께\s*보면\s*좋은\s*기사)\s*[:：].{0,600}",
    _AFTER_SENTENCE + r"(?:Related(?:\s+(?:articles?|stories|posts?|reading|coverage|news|links?))?"
    r"|See also|Read also|Also read|Read next)\s*[:：].{0,600}",
)
_tags = _tail_rule(
    _AFTER_SENTENCE + r"(?:Tags?|Tagged(?: with)?|Filed under)\s*[:：].{0,200}",
    r"(?:标签|標籤|タグ|태그|关键词|關鍵詞|키워드)\s*[:：].{0,200}",
    r"(?:(?<=\s)|^)#[^\s#]{1,40}(?:\s+#[^\s#]{1,40})+",
)
_disclaimer = _tail_rule(
    r"(?:广告声明|廣告聲明|免责声明|免責聲明|免責事項|면책\s*(?:조항|공고))\s*[:：].{0,400}",
    _AFTER_SENTENCE + r"(?:Disclaimer|Disclosure)\s*:.{0,400}",
)
# What may open the bracket around a "read more" link.
_OPENING = "[(（【«<"
_READ_MORE = (
    r"(?:continue reading\b.{0,150}|keep reading"
    r"|read (?:the )?(?:full|whole|complete|rest)\b[^.!?。]{0,60}"
    r"|read more(?:\s*[:：][^.!?。！？]{1,100}[.!?]?)?|full story|learn more|more\s*(?:…|\.{3})"
    r"|阅读全文|閱讀全文|查看全文|阅读原文|閱讀原文|点击(?:阅读|查看)全文|點擊(?:閱讀|查看)全文"
    r"|继续阅读|繼續閱讀|查看更多|查看详情|查看詳情|了解更多"
    r"|続きを読む|全文を読む|続きはこちら|もっと読む|記事を読む|詳しくはこちら|詳細はこちら|もっと見る"
    r"|기사\s*더\s*보기|더\s*보기|전문\s*보기|원문\s*보기|자세히\s*보기|계속\s*읽기|더\s*읽기|기사\s*전문)"
)
_read_more = _tail_rule(
    # after a sentence end, or after an ellipsis (left for `cut_marker`), or in brackets
    r"(?:"
    + _AFTER_SENTENCE
    + r"|(?<=…)\s*|(?<=\.{3})\s*|\s*(?=[\[(（【«<]))[\[(（【«<]?\s*"
    + _READ_MORE
    + r"\s*[\])）】»>›→]*\s*(?:»|>>|→|›|…|\.{3})?\s*[.!。]?",
    lead=_READ_MORE,
)


# --- cut_marker -----------------------------------------------------------------------

# The same notion of a sentence end as `digest.render.typography` (which may not
# import this stage): CJK terminal punctuation, Latin ./!/? before a space or the
# end, and a "." glued between two Hangul syllables ("남겼다.고려아연은").
_SENTENCE_END = re.compile(
    r"(?:[。！？｡]|[．](?!\d))[」』）)\]】\"'”’»]*"
    r"|[.!?][)\"'”’»\]]*(?=\s|$)"
    r"|(?<=[\uac00-\ud7a3])\.(?=[\uac00-\ud7a3])"
)
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "inc", "co", "corp", "ltd", "vs", "etc", "no", "jan"}
    | {"e.g", "i.e", "approx", "u.s", "u.k", "feb", "aug", "sept", "oct", "nov", "dec", "prof"}
)
_CUT_MARK = re.compile(
    r"\s*(?:\[\s*(?:…|\.{3}|⋯)\s*\]|[(（]\s*(?:…|\.{3}|⋯)\s*[)）]|(?:…|⋯|\.{3,}|。{3,})+)\s*$"
)


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the "." ending at `end` closes an abbreviation ("Inc.", "U.S.")."""
    words = text[:end].rstrip(".").rsplit(None, 1)
    word = words[-1].lstrip("(\"'“‘").lower() if words else ""
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_ends(text: str) -> list[int]:
    """Offsets just after each sentence end of `text`, in order."""
    ends = []
    for m in _SENTENCE_END.finditer(text):
        if m.group()[0] == "." and _is_abbreviation(text, m.start() + 1):
            continue
        ends.append(m.end())
    return ends


# What every match of `_CUT_MARK` ends with, but for white space: most summaries
# end otherwise, and are answered without trying the pattern at 64 positions.
_CUT_MARK_ENDS = ("…", "⋯", "...", "。。。", "]", ")", "）")


def _cut_marker(text: str, title: str) -> str:
    # `str.rstrip` and the pattern's `\s` strip the same (Unicode) white space.
    if not text.rstrip().endswith(_CUT_MARK_ENDS):
        return text
    m = _CUT_MARK.search(text, max(0, len(text) - 64))
    if m is None:
        return text
    head = text[: m.start()].rstrip()
    ends = sentence_ends(head)
    if ends and ends[-1] == len(head):
        return head  # "vendors.…": the sentence was whole
    return _trim_end(head).rstrip(",，、;；") + ELLIPSIS


# --- title_repeat ---------------------------------------------------------------------

# Between the title and the rest, one of these says "the title ended here".
_SEPARATORS = set("。．.！!？?：:｜|-–—―・/\\;；…」』】〕》>›»·•~〜")
_SENTENCE_MARKS = set("。．.！!？?…")
_FOLD_CACHE: dict[str, str] = {}
_TITLE_CACHE: dict[str, str] = {}


def _fold_char(ch: str) -> str:
    folded = _FOLD_CACHE.get(ch)
    if folded is None:
        folded = "".join(c for c in unicodedata.normalize("NFKC", ch).casefold() if c.isalnum())
        if len(_FOLD_CACHE) < 65536:
            _FOLD_CACHE[ch] = folded
    return folded


def _fold(text: str) -> tuple[str, list[int]]:
    """Letters and digits of `text`, NFKC- and case-folded, with the offset each came from."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold_char(ch):
            chars.append(c)
            offsets.append(i)
    return "".join(chars), offsets


def _few_words(rest: str) -> bool:
    if len(rest) > FEW_COLUMNS:
        return False
    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in rest)
    return width <= FEW_COLUMNS and not sentence_ends(rest.rstrip(".!?。！？"))


def _folded_title(title: str) -> str:
    # The same title is asked for on every pass (and by every entry of a feed
    # that repeats its title): one fold each.
    wanted = _TITLE_CACHE.get(title)
    if wanted is None:
        wanted = _fold(title)[0]
        if len(_TITLE_CACHE) >= 1024:
            _TITLE_CACHE.clear()
        _TITLE_CACHE[title] = wanted
    return wanted


def _starts_alike(window: str, wanted: str) -> bool:
    """Whether the folded `window` and `wanted` agree as far as both go: folds
    only until the first difference, which most summaries show at once."""
    n = 0
    for ch in window:
        for c in _fold_char(ch):
            if n == len(wanted):
                return True
            if c != wanted[n]:
                return False
            n += 1
    return True


def _title_repeat(text: str, title: str) -> str:
    wanted = _folded_title(title)
    if not wanted:
        return text
    window = text[: len(title) * 3 + 64]
    # Every outcome below but `text` needs one folded string to begin the other.
    if not _starts_alike(window, wanted):
        return text
    got, offsets = _fold(window)
    whole = len(window) == len(text)
    if whole and (
        got == wanted or (len(got) >= 4 and len(got) * 2 >= len(wanted) and wanted.startswith(got))
    ):
        return ""  # the title, or the title cut short ("<title> | Site" → "<title>")
    if len(wanted) < MIN_TITLE_TO_STRIP or not got.startswith(wanted):
        return text
    end = offsets[len(wanted) - 1] + 1
    gap_end = end
    while gap_end < len(text) and not text[gap_end].isalnum():
        gap_end += 1
    gap, rest = text[end:gap_end], text[gap_end:]
    if not rest:
        return ""  # the title and punctuation
    # The title's own closing marks ("」", "？") come first: they separate only
    # when they end a sentence ("禁止叫欧巴！拒绝…"), not when they close a quote
    # the summary's sentence goes on from ("「DMPC Japan」を…").
    cut = len(title)
    while cut and not title[cut - 1].isalnum():
        cut -= 1
    trail = title[cut:].strip()
    own, other = (trail, gap[len(trail) :]) if trail and gap.startswith(trail) else ("", gap)
    if any(ch in _SENTENCE_MARKS for ch in own) or any(ch in _SEPARATORS for ch in other):
        pass
    elif other and other.isspace():
        if rest[0].islower():
            return text  # "OpenAI appoints X as CRO to lead …": the sentence goes on
    else:
        return text  # "펄어비스(대표 …)는", "Kimi K2, Moonshot's …", "TitleRest": one sentence
    # A gap that opens a bracket ("<title> (Reuters)") gives the bracket to the rest.
    opening = len(gap) - len(gap.rstrip("（(「『【[〔《<\"“‘'"))
    if opening:
        rest = gap[-opening:] + rest
    return "" if _few_words(rest) else rest


RULES: tuple[Rule, ...] = (
    Rule("label_prefix", _label_prefix),
    Rule("credits", _credits),
    Rule("post_appeared_first", _post_appeared_first, _GATES[_post_appeared_first]),
    Rule("originally_published", _originally_published, _GATES[_originally_published]),
    Rule("source_link", _source_link, _GATES[_source_link]),
    Rule("copyright_notice", _copyright_notice, _GATES[_copyright_notice]),
    Rule("related_links", _related_links, _GATES[_related_links]),
    Rule("tags", _tags, _GATES[_tags]),
    Rule("disclaimer", _disclaimer, _GATES[_disclaimer]),
    Rule("read_more", _read_more, _GATES[_read_more]),
    Rule("cut_marker", _cut_marker),
    Rule("title_repeat", _title_repeat),
)
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)
TITLE_RULE = "title_repeat"


def clean_summary(summary: str, title: str) -> Cleaning:
    """`summary` (plain text, one line) without the artefacts of `RULES`.

    `title` is the entry's title, as plain text, before any length cap. The
    result is never emptied by a rule: see the module docstring for the one
    way to "" (a summary that only repeated the title) and for `refused`.
    """
    if not readable(summary):
        return Cleaning(summary, summary)
    text = summary
    steps: list[Step] = []
    refused: list[str] = []
    # Rules are pure in (text, title): one already run on this very text without
    # changing it would not change it now (the rules after the last change in a
    # pass need not run again at the start of the next).
    settled: set[str] = set()
    present: frozenset[str] | None = None  # the gate strings `text` holds, once asked
    for _ in range(MAX_PASSES):
        start = text
        for rule in RULES:
            if rule.name in settled:
                continue
            if rule.gate is not None:
                # All tail rules' gates are answered by one scan of each text.
                if present is None:
                    present = gates.present(text[-TAIL_WINDOW:])
                if rule.gate.isdisjoint(present):
                    after = text.strip()  # what `rule.apply` gives such a text
                else:
                    after = rule.apply(text, title).strip()
            else:
                after = rule.apply(text, title).strip()
            if after == text:
                settled.add(rule.name)
                continue
            if rule.name == TITLE_RULE and not after:
                steps.append(Step(rule.name, text, ""))
                return Cleaning(summary, "", tuple(steps), tuple(refused), dropped=True)
            if not readable(after):
                if rule.name not in refused:
                    refused.append(rule.name)
                settled.add(rule.name)
                continue
            steps.append(Step(rule.name, text, after))
            text = after
            present = None
            settled = set()
        if text == start:
            break
    return Cleaning(summary, text, tuple(steps), tuple(refused))
