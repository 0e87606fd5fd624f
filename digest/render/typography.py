"""Plain-text typography for mixed CJK and Latin text.

Owns: display width (a CJK character takes two columns), whether text holds
right-to-left script (`has_rtl`), collapsing text to one
line, cutting a summary at a sentence end, else a clause or word boundary (never
inside a word, a number, a URL or a Hangul word), and wrapping lines without
breaking Korean words or starting a line with Japanese closing punctuation
(kinsoku).
Doesn't own: what text is shown where (`digest.render.view`).
"""

from __future__ import annotations

import re
import unicodedata

SUMMARY_WIDTH = 200  # display columns (a CJK character counts 2)
TEXT_WIDTH = 72  # display columns of the text part

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# Hebrew, Arabic, Syriac, Thaana, N'Ko...; their presentation forms; the marks
# and embeddings that make text right to left; the RTL scripts beyond the BMP.
_RTL = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u200f\u202b\u202e\u2067"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def has_rtl(*texts: str) -> bool:
    """True when any of `texts` holds a right-to-left character (Arabic, Hebrew...)."""
    return any(_RTL.search(text) for text in texts)


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, Unicode line separators...) to single spaces."""
    return " ".join(CONTROL_CHARS.sub(" ", text).split())


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or ch in "\u200b\u200c\u200d\ufeff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def display_width(text: str) -> int:
    """Columns `text` takes in a monospace terminal: CJK (wide) characters count 2."""
    return sum(_char_width(ch) for ch in text)


def prefix_within(text: str, width: int) -> int:
    """Length of the longest prefix of `text` that is at most `width` columns wide."""
    used = 0
    for i, ch in enumerate(text):
        used += _char_width(ch)
        if used > width:
            return i
    return len(text)


# Where a cut may end, best first (`truncate_summary`):
# 1. a sentence end: CJK terminal punctuation (。！？ and the half-width ｡), a
#    full-width ．, or Latin ./!/? before a space or the end, possibly followed by
#    closing quotes/brackets; a "." glued between two Hangul syllables too
#    ("남겼다.고려아연은": feeds lose the space). The same notion as
#    `digest.fetch.summaries`, which this stage may not import.
_SENTENCE_END = re.compile(
    r"(?:[。！？｡]|[．](?!\d))[」』）)\]】\"'”’»]*"
    r"|[.!?][)\"'”’»\]]*(?=\s|$)"
    r"|(?<=[\uac00-\ud7a3])\.(?=[\uac00-\ud7a3])"
)
# 2. a clause boundary: the cut ends before one of these (never one inside a
#    number: "1,000", "19:00"; nor inside a URL).
_CLAUSE = frozenset("、，,;；：:︰")
# 3. a word boundary: a space, or a change between a run of CJK ideographs or
#    hiragana and anything else; in Japanese, hiragana followed by anything but
#    hiragana ("学習と|推論に": a particle ends a phrase); in Chinese, after a
#    function character (`_CJK_PHRASE_END`: "参加 Anthropic 的|文化"). Never
#    between two characters of one *token*: Latin letters, digits, Hangul,
#    katakana and the marks that join them in words, numbers and URLs
#    ("GPT-4", "3.5", "AI가", "データセンター").
# 4. only then, between two other CJK ideographs or hiragana: CJK writes no
#    word boundary, and knowing one takes a dictionary; at the email's width
#    the corpora never get this far (benchmarks/summaries.py).
_CJK_PHRASE_END = frozenset("的了和与與及或在是对對把被从從向为為将將于於")
# Words whose final "." doesn't end a sentence ("Acme Inc. said...").
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "inc", "co", "corp", "ltd", "vs", "etc", "no", "jan"}
    | {"e.g", "i.e", "approx", "u.s", "u.k", "feb", "aug", "sept", "oct", "nov", "dec", "prof"}
)
# The mark of a cut made before us, by the feed or by `digest.fetch.normalize`.
_FEED_CUT = re.compile(r"\s*(?:\[\s*(?:…|\.{3})\s*\]|…|\.{3})$")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_JOINERS = frozenset("-_./:'’%+&@#~=?")
# The least share of `width` each kind of cut must keep to be chosen over the next kind.
SENTENCE_MIN, CLAUSE_MIN, WORD_MIN = 0.4, 0.5, 0.6
# What a cut with an ellipsis may not leave dangling at its end.
_DANGLING = ' ,;:、，；：・-–—/（(「『【[〔《<"“‘'


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the "." ending at `end` closes an abbreviation ("Inc.", "U.S.")."""
    words = text[:end].rstrip(".").rsplit(None, 1)
    word = words[-1].lstrip("(\"'“‘").lower() if words else ""
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def is_ideographic(ch: str) -> bool:
    """CJK ideographs and hiragana: text written without spaces between words."""
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x3FFFF
        or 0x3040 <= o <= 0x309F
        or ch in "々〆〇"
    )


def is_token_char(ch: str) -> bool:
    """A character of a word, number or URL that a cut may not split."""
    return (ch.isalnum() and not is_ideographic(ch)) or ch in _JOINERS


def _url_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _URL.finditer(text)]


def _in_spans(i: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < i < end for start, end in spans)


def _sentence_cut(text: str, limit: int) -> int:
    best = 0
    for m in _SENTENCE_END.finditer(text, 0, len(text)):
        if m.end() > limit:
            break
        if m.group()[0] == "." and _is_abbreviation(text, m.start() + 1):
            continue
        best = m.end()
    return best


def _clause_cut(text: str, limit: int, urls: list[tuple[int, int]]) -> int:
    for i in range(min(limit, len(text) - 1), 0, -1):
        ch = text[i]
        if ch not in _CLAUSE or _in_spans(i, urls):
            continue
        if ch in ",:" and text[i - 1].isdigit() and text[i + 1 : i + 2].isdigit():
            continue  # 1,000 and 19:00
        return i
    return 0


def _word_cuts(text: str, limit: int, urls: list[tuple[int, int]]) -> tuple[int, int]:
    """The last word boundary (tier 3) and the last boundary of tier 3 or 4."""
    weak = 0
    for i in range(min(limit, len(text) - 1), 0, -1):
        before, after = text[i - 1], text[i]
        if _in_spans(i, urls):
            continue
        if after.isspace() or before.isspace():
            return i, weak or i
        if is_token_char(before) and is_token_char(after):
            continue  # inside a word, a number or a Hangul/katakana word
        if after in _NO_START or before in _NO_END:
            continue  # kinsoku: "」" or "っ" would start the rest
        weak = weak or i
        if (
            not (is_ideographic(before) and is_ideographic(after))
            or (_is_hiragana(before) and not _is_hiragana(after))
            or before in _CJK_PHRASE_END
        ):
            return i, weak
    return 0, weak


def _is_hiragana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x309F


def truncate_summary(text: str, width: int = SUMMARY_WIDTH) -> str:
    """`text` on one line, cut to at most `width` columns at the best boundary.

    Text that fits is returned whole, unless it ends with the mark of an
    earlier cut ("…", "...", "[…]": the feed cut it mid-sentence); then it ends
    at its last sentence end, if that keeps `SENTENCE_MIN` of it. Otherwise the
    cut ends at the last sentence end that keeps at least `SENTENCE_MIN` of
    `width` (no ellipsis: it reads as complete); else before the last clause
    boundary keeping `CLAUSE_MIN` (、，,;；：: outside numbers and URLs); else at
    the last word boundary keeping `WORD_MIN` (a space, or where a run of CJK
    ideographs or hiragana meets other text, or between two of them, where CJK
    writes no boundary at all); those end with "…". Never inside a Latin word,
    a number, a URL, a Hangul or katakana word. When no boundary is that late,
    the latest boundary of any kind wins (a sentence end then needs no "…");
    only text with no boundary at all in the width (one long token) is cut hard.
    """
    text = one_line(text)
    shown = display_width(text)
    if _FEED_CUT.search(text):
        # The feed cut it already ("…"): back to its last sentence end, like any cut.
        head = _FEED_CUT.sub("", text)
        sentence = _sentence_cut(head, prefix_within(head, width))
        if sentence and display_width(head[:sentence]) >= min(width, shown) * SENTENCE_MIN:
            return head[:sentence].rstrip()
    if shown <= width:
        return text
    full = prefix_within(text, width)  # a sentence end needs no ellipsis
    room = prefix_within(text, width - 1)  # any other cut ends with "…"
    urls = _url_spans(text[: full + 1])  # a URL running past the cut still counts
    sentence = _sentence_cut(text, full)
    if sentence and display_width(text[:sentence]) >= width * SENTENCE_MIN:
        return text[:sentence].rstrip()
    clause = _clause_cut(text, room, urls)
    if clause and display_width(text[:clause]) >= width * CLAUSE_MIN:
        return _with_ellipsis(text[:clause])
    word, any_word = _word_cuts(text, room, urls)
    for cut in (word, any_word):
        if cut and display_width(text[:cut]) >= width * WORD_MIN:
            return _with_ellipsis(text[:cut])
    word = word or any_word
    latest = max(sentence, clause, word)
    if sentence and len(text[:latest].rstrip()) <= sentence:
        return text[:sentence].rstrip()  # the space after it is no later a cut
    if latest and _with_ellipsis(text[:latest]) != "…":
        return _with_ellipsis(text[:latest])
    return text[:room] + "…"


def _with_ellipsis(head: str) -> str:
    return head.rstrip(_DANGLING) + "…"


# Characters that must not start a line (closing punctuation, small kana, ...)
# and that must not end one (opening brackets): simple Japanese line-breaking rules.
_NO_START = set(
    "、。，．・：；？！ー…‥〜～」』）］｝〕〉》】〙〗’”,.;:!?)]}ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々"
)
_NO_END = set("「『（［｛〔〈《【〘〖‘“([{")


def _is_hangul(ch: str) -> bool:
    # Korean separates words with spaces and breaks lines there, like English.
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def _tokens(text: str) -> list[str]:
    """Split into unbreakable pieces; " " marks a break that shows as a space."""
    out: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace():
            if word:
                out.append(word)
                word = ""
            if out and out[-1] != " ":
                out.append(" ")
        elif _char_width(ch) == 2 and not _is_hangul(ch):
            if word:
                out.append(word)
                word = ""
            out.append(ch)
        else:
            word += ch
    if word:
        out.append(word)
    # Glue line-breaking exceptions to their neighbour (when not separated by a space).
    glued: list[str] = []
    for tok in out:
        if (
            glued
            and tok != " "
            and glued[-1] != " "
            and (tok[0] in _NO_START or glued[-1][-1] in _NO_END)
        ):
            glued[-1] += tok
        else:
            glued.append(tok)
    return glued


def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", first_indent: str | None = None
) -> str:
    """Wrap to `width` display columns; CJK text breaks between characters.

    Words longer than a line (URLs) are kept whole on a line of their own.
    """
    first = indent if first_indent is None else first_indent
    lines: list[str] = []
    line = first
    line_w = display_width(first)
    prefix_w = line_w
    pending_space = False
    for tok in _tokens(one_line(text)):
        if tok == " ":
            pending_space = True
            continue
        gap = " " if pending_space and line_w > prefix_w else ""
        tok_w = display_width(tok)
        if line_w + len(gap) + tok_w > width and line_w > prefix_w:
            lines.append(line)
            line = indent + tok
            line_w = display_width(indent) + tok_w
            prefix_w = display_width(indent)
        else:
            line += gap + tok
            line_w += len(gap) + tok_w
        pending_space = False
    lines.append(line)
    return "\n".join(ln.rstrip() for ln in lines)
