"""Plain-text typography for mixed CJK and Latin text.

Owns: display width (a CJK character takes two columns), collapsing text to one
line, cutting a summary at a sentence end, and wrapping lines without breaking
Korean words or starting a line with Japanese closing punctuation (kinsoku).
Doesn't own: what text is shown where (`digest.render.view`).
"""

from __future__ import annotations

import re
import unicodedata

SUMMARY_WIDTH = 200  # display columns (a CJK character counts 2)
TEXT_WIDTH = 72  # display columns of the text part

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


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


# A sentence ends at CJK terminal punctuation, or at ./!/? followed by a space,
# possibly after closing quotes/brackets.
_SENTENCE_END = re.compile(r"[。！？．!?][」』）)\"'”’]*|\.[)\"'”’]*(?=\s|$)")
# Words whose final "." doesn't end a sentence ("Acme Inc. said...").
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "jr", "inc", "co", "corp", "ltd", "vs", "etc", "no"}
    | {"e.g", "i.e", "approx", "u.s", "u.k", "jan", "feb", "aug", "sept", "oct", "nov", "dec"}
)


def _is_abbreviation(text: str, dot: int) -> bool:
    word = text[:dot].rsplit(None, 1)[-1] if text[:dot].strip() else ""
    word = word.lstrip("(\"'“‘").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def truncate_summary(text: str, width: int = SUMMARY_WIDTH) -> str:
    """`text` on one line, cut to about `width` columns, at a sentence end if possible.

    Cut at the last sentence end that keeps at least 40 % of `width` (no ellipsis:
    it reads as complete); otherwise at the last space past 60 % (Latin text),
    otherwise hard at `width` (CJK has no spaces), with "…".
    """
    text = one_line(text)
    if display_width(text) <= width:
        return text
    cut = prefix_within(text, width - 1)  # room for the ellipsis
    best = 0
    for m in _SENTENCE_END.finditer(text, 0, len(text)):
        if m.end() > cut:
            break
        if m.group().startswith(".") and _is_abbreviation(text, m.start()):
            continue
        best = m.end()
    if best and display_width(text[:best]) >= width * 0.4:
        return text[:best]
    head = text[:cut]
    space = head.rfind(" ")
    if space > 0 and display_width(head[:space]) >= width * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:、，・-–—") + "…"


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
