"""The editor's note: Markdown in, safe HTML and plain text out.

Owns: turning the note an editor writes with `digest edit` into the HTML the
email and the web page show and the blocks of the text part. markdown-it-py
parses it (CommonMark) with raw HTML off: an editor's `<script>` or `<img>`
is shown as text, never passed through. Only paragraphs, emphasis, inline
code, lists, quotes, links and line breaks are read; headings, images, code
blocks and rules are not (a note is a few paragraphs in the reader's email,
and an image would be a tracking pixel). A link is kept only when it is
http(s) (checked by the caller's `LinkCheck`: `digest.render.view.safe_href`,
as every link of the issue) or mailto; any other is shown as the text the
editor wrote. Elements get the classes of lead.css, so premailer inlines their
style like the rest.

A soft line break between two CJK characters is dropped: browsers (but
Firefox) draw it as a space, which is wrong in Japanese and Chinese.

Doesn't own: where the note is shown (the templates), or storing it
(`digest.state`). Pure: no I/O.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

from digest.render.typography import CONTROL_CHARS, one_line

# The check every link of the issue passes (`digest.render.view.safe_href`): an
# ASCII http(s) URL, or None. Given by the caller, which owns it.
LinkCheck = Callable[[str], str | None]

# The block and inline rules of CommonMark a note may use; everything else is off.
BLOCK_RULES = ["blockquote", "list", "paragraph", "reference"]
INLINE_RULES = ["text", "newline", "escape", "backticks", "emphasis", "link", "autolink", "entity"]

# Classes of base.css's companion lead.css, by token type.
CLASSES = {
    "paragraph_open": "note-text",
    "bullet_list_open": "note-list",
    "ordered_list_open": "note-list",
    "blockquote_open": "note-quote",
    "link_open": "link",
    "code_inline": "note-code",
}


def _href(url: str, check: LinkCheck) -> str | None:
    """The link an href may hold: http(s) as everywhere in the issue, or mailto."""
    if url[:7].lower() == "mailto:":
        address = url[7:]
        ok = "@" in address and not CONTROL_CHARS.search(address) and " " not in address
        return "mailto:" + address if ok else None
    return check(url)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def _finish(state: StateCore, check: LinkCheck) -> None:
    """Classes on elements, checked hrefs, and no space between CJK lines."""
    for token in state.tokens:
        if token.type in CLASSES:
            token.attrSet("class", CLASSES[token.type])
        children = token.children or []
        for i, child in enumerate(children):
            if child.type in CLASSES:
                child.attrSet("class", CLASSES[child.type])
            if child.type == "link_open":
                href = _href(str(child.attrGet("href") or ""), check)
                child.attrSet("href", href or "")  # validateLink let only these through
            elif child.type == "softbreak" and 0 < i < len(children) - 1:
                before, after = children[i - 1].content, children[i + 1].content
                if before and after and _wide(before[-1]) and _wide(after[0]):
                    child.type, child.content = "text", ""


@functools.cache
def _parser(check: LinkCheck) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(BLOCK_RULES + INLINE_RULES, ignoreInvalid=False)
    active = md.get_active_rules()
    md.disable([r for r in active["block"] if r not in BLOCK_RULES])
    md.disable([r for r in active["inline"] if r not in INLINE_RULES])
    md.validateLink = lambda url: _href(url, check) is not None  # type: ignore[method-assign]
    md.core.ruler.push("digest_note", lambda state: _finish(state, check))
    return md


# A note is parsed once per process, not once per variant of the issue.
@functools.lru_cache(maxsize=64)
def _tokens(source: str, check: LinkCheck) -> Sequence[Token]:
    return tuple(_parser(check).parse(source))


def note_html(source: str, check: LinkCheck) -> Markup:
    """The note as HTML for the email and the web page ("" when there is none)."""
    if not source.strip():
        return Markup("")
    md = _parser(check)
    html = md.renderer.render(list(_tokens(source, check)), md.options, {})
    # Raw HTML is off: every '<' of the note's text arrives escaped.
    return Markup(html.strip())


@dataclass(frozen=True, slots=True)
class NoteBlock:
    """One paragraph or list item of the note in the text part."""

    text: str  # one line; the template wraps it
    first: str  # what the first line starts with: indentation and a list marker
    indent: str  # what the other lines start with
    spaced: bool = True  # a blank line before it (not between the items of a list)


def _inline_text(children: Sequence[Token]) -> str:
    out: list[str] = []
    href: str | None = None
    label_start = 0
    for child in children:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "link_open":
            href = str(child.attrGet("href") or "") or None
            label_start = len(out)
        elif child.type == "link_close" and href:
            label = "".join(out[label_start:])
            shown = href[7:] if href.startswith("mailto:") else href
            if label.strip() != shown:
                out.append(f" <{shown}>")
            href = None
    return one_line("".join(out))


def note_blocks(source: str, check: LinkCheck) -> tuple[NoteBlock, ...]:
    """The note as plain-text blocks: paragraphs, list items ("- ", "1. "), and
    quotes ("> "), with each link's address after its text."""
    if not source.strip():
        return ()
    blocks: list[NoteBlock] = []
    lists: list[list[int]] = []  # per open list: [next number] (ordered) or [] (bullets)
    quote = ""
    marker = ""
    spaced = True
    for token in _tokens(source, check):
        if token.type == "bullet_list_open":
            lists.append([])
            spaced = True
        elif token.type == "ordered_list_open":
            lists.append([int(str(token.attrGet("start") or 1))])
            spaced = True
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            spaced = True
        elif token.type == "list_item_open" and lists:
            numbers = lists[-1]
            if numbers:
                marker = f"{numbers[0]}. "
                numbers[0] += 1
            else:
                marker = "- "
        elif token.type == "blockquote_open":
            quote += "> "
        elif token.type == "blockquote_close":
            quote = quote[:-2]
        elif token.type == "inline":
            text = _inline_text(token.children or [])
            if not text:
                continue
            depth = "  " * max(0, len(lists) - 1)
            first = quote + depth + marker
            blocks.append(NoteBlock(text, first, quote + depth + " " * len(marker), spaced))
            # The next item of this list follows without a blank line.
            spaced = not marker
            marker = ""
    return tuple(blocks)
