"""Whether a feed's decoded text can be trusted, and re-decoding its bytes when not.

Owns: the rules below, as pure functions on bytes and strings (no I/O, no clock,
no feedparser): spotting mojibake in text (`garbled`, `suspicious`), finding the
encodings a document declares (`declared_encodings`), choosing how to decode a
body (`redecode`), and turning the chosen text back into UTF-8 XML that says so
(`utf8_document`).
Doesn't own: fetching, calling feedparser, or deciding what a feed's result is
(`digest.fetch.gather` does all three, calling in here only when something looks wrong).

Why: CJK feeds are often served with the wrong charset (an Apache default of
ISO-8859-1 in front of Shift_JIS, `utf-8` declared over GBK, nothing at all over
EUC-KR). feedparser decodes with the first declared encoding that does not raise,
so a single-byte declaration "works" and yields mojibake silently; when nothing
declared works it falls back to windows-1252. No story may reach an issue as
mojibake: it is decoded correctly, or left out and the feed flagged.

Rules:

1. When to look (cheap, so a feed whose charset is fine costs nothing extra):
   gather asks only when feedparser reported an encoding problem, when a CJK feed
   was decoded with a single-byte encoding although its body has bytes ≥ 0x80,
   or when `suspicious` finds signs of mojibake in the decoded text. A body that
   is pure ASCII never needs a second look.
2. Signs of mojibake (`garbled`): U+FFFD replacement characters; UTF-8 read as
   windows-1252/Latin-1 (e.g. "æ±äº¬" for 東京, "â€™" for ’), confirmed by
   re-encoding the run and decoding it as UTF-8; and, in a feed expected to be
   CJK, runs of Latin-1 letters/symbols in a text with no CJK character at all
   (CJK bytes read one byte at a time). `suspicious` adds long runs (3+) of
   Latin-1 high characters in any feed: rare in real European text, typical of
   CJK read as Latin-1; it only triggers a second look, never a drop.
3. Candidates, in order: a byte-order mark alone decides (UTF-8/16/32). Otherwise
   the declared encodings (HTTP charset, then the XML declaration), UTF-8, the
   CJK encodings — cp932 (Shift_JIS), euc_jp, cp949 (EUC-KR), gb18030
   (GB2312/GBK), cp950 and big5hkscs (Big5) — restricted to the feed's language
   when it is known (ja, ko, zh-cn, zh-tw/zh-hk), so that Japanese is never
   "detected" as Chinese; then chardet's own unrestricted guess (so a KOI8-R or
   TIS-620 feed is not forced into a CJK or Western reading), and windows-1252
   last, so that chardet can answer "Western text". Legacy names are widened to their supersets
   (Shift_JIS → cp932, EUC-KR → cp949, GB2312/GBK → gb18030, Big5 → cp950).
4. Each candidate must decode the whole body strictly. If UTF-8 does and the
   body is not ASCII, UTF-8 wins (multi-byte CJK text essentially never forms
   valid UTF-8 by accident). Next, a declared multi-byte encoding that decodes
   strictly wins (typically the XML declaration was right and an HTTP default
   charset wrong), unless it is a CJK encoding of another language than the
   feed's. A declared single-byte encoding proves nothing (any bytes decode).
   Otherwise chardet picks among the strict
   candidates, looking at the body with its XML declaration removed (chardet
   would otherwise just believe the declaration). An answer below
   `MIN_CONFIDENCE` is no answer, and a single-byte pick whose text has runs of
   Latin-1 characters is not believed either (it is CJK read byte by byte): rule 5.
4b. A body declared as UTF-8 (or declaring nothing) that is UTF-8 but for at
   most `MAX_REPLACED` invalid bytes is UTF-8, each bad byte a U+FFFD (one bad
   byte costs its entry one character, not the entry nor the feed): before
   chardet when valid multi-byte characters outnumber the bad bytes four to one
   (CJK text never forms valid UTF-8 by accident), else only when chardet
   believed no strict candidate. gather keeps such entries and logs them.
5. If no candidate decodes strictly or none was believed (a feed cut
   mid-character, a stray byte), the remaining candidate that needs the fewest
   U+FFFD replacements is used (chardet breaking ties), if they are few (at most
   `MAX_REPLACED`, and at most 1 % of the non-ASCII characters); the entries
   containing them are then `garbled` and left out by gather. More damage than
   that, or nothing left: no decoding is trustworthy (None).
6. The chosen text is re-encoded as UTF-8 with its XML declaration rewritten to
   say so (`utf8_document`), and parsed again with a `charset=utf-8` content type.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import chardet
from chardet.registry import lookup_encoding

MAX_REPLACED = 20  # undecodable bytes tolerated in a whole body (rule 5)
# Last candidate, so that chardet can answer "this is Western text" instead of
# forcing a CJK reading on it (what feedparser falls back to as well).
WESTERN_FALLBACK = "cp1252"
# chardet's confidence below which its answer is noise: random high bytes score
# ~0.01, a single short CJK headline ~0.07.
MIN_CONFIDENCE = 0.03

# Python codec names (as `codecs.lookup(...).name` spells them).
JAPANESE = ("cp932", "euc_jp")
KOREAN = ("cp949",)
SIMPLIFIED_CHINESE = ("gb18030",)
TRADITIONAL_CHINESE = ("cp950", "big5hkscs")
CJK_CANDIDATES: tuple[str, ...] = JAPANESE + KOREAN + SIMPLIFIED_CHINESE + TRADITIONAL_CHINESE

# Declared names → the superset that real servers actually mean.
_SUPERSETS = {
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "cp950",
}
_COUNTRY_ENCODINGS = {
    "JP": JAPANESE,
    "KR": KOREAN,
    "CN": SIMPLIFIED_CHINESE,
    "TW": TRADITIONAL_CHINESE,
    "HK": TRADITIONAL_CHINESE,
}
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)

# What windows-1252 makes of the bytes 0x80-0xBF (UTF-8 continuation bytes),
# plus the C1 controls Latin-1 makes of 0x80-0x9F.
_CP1252_HIGH = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xC0)
)
_CONT = "[" + re.escape(_CP1252_HIGH) + "]"
_UTF8_AS_CP1252 = re.compile(
    "[\u00c2-\u00df]" + _CONT + "|[\u00e0-\u00ef]" + _CONT + "{2}|[\u00f0-\u00f4]" + _CONT + "{3}"
)
# Characters windows-1252/Latin-1 produce from bytes ≥ 0x80, letters included.
_LATIN_HIGH = "[" + re.escape(_CP1252_HIGH) + "\u00c0-\u00ff]"
_LATIN_RUN_2 = re.compile(_LATIN_HIGH + "{2,}")
_LATIN_RUN_3 = re.compile(_LATIN_HIGH + "{3,}")
# Every sign below includes a U+0080-U+00FF or U+FFFD character; text without
# one (CJK, English with curly quotes) is clean after a single scan.
_DIRTY = re.compile("[\u0080-\u00ff\ufffd]")
# Han (with extension A and compatibility), kana, Hangul, CJK punctuation/fullwidth.
_CJK = re.compile(
    "[\u3000-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)

_XML_DECL = re.compile(rb"^\s*<\?xml\b[^>]*\?>")
_XML_DECL_ENCODING = re.compile(
    rb"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']"""
)
_TEXT_DECL = re.compile(r"^\s*<\?xml\b[^>]*\?>")
_TEXT_DECL_ENCODING = re.compile(r"""(\bencoding\s*=\s*)(["'])[^"']*\2""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A body decoded by `redecode`: the text, the codec used, and how it was chosen."""

    text: str
    encoding: str  # Python codec name
    how: (
        str  # "byte-order mark" | "declared" | "valid UTF-8" | "detected" | "detected, N bytes ..."
    )
    replaced: int = 0  # undecodable bytes replaced by U+FFFD (rule 5)


def codec_name(name: str) -> str | None:
    """Python's canonical codec name for `name`, widened to its superset; None if unknown."""
    try:
        canonical = codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None
    return _SUPERSETS.get(canonical, canonical)


@lru_cache(maxsize=64)
def is_single_byte(encoding: str) -> bool:
    """True for ASCII and codecs that map each byte to one character (Latin-1, windows-125x...)."""
    name = codec_name(encoding)
    if name == "ascii":
        return True
    if name is None or name.startswith("utf"):
        return False
    return len(bytes(range(256)).decode(name, errors="replace")) == 256


def cjk_encodings(hints: Iterable[str]) -> tuple[str, ...]:
    """The CJK candidates worth trying for a feed, from language tags or country codes.

    `hints` are the configured language and country and the feed's own language,
    in any mix ("ja", "zh-TW", "KR"). The first hint that names a CJK language or
    country decides; none at all gives every CJK candidate.
    """
    for hint in hints:
        tag = hint.strip().lower().replace("_", "-")
        if not tag:
            continue
        if tag.startswith("ja") or tag == "jp":
            return JAPANESE
        if tag.startswith("ko") or tag == "kr":
            return KOREAN
        if tag in ("zh-tw", "zh-hk", "zh-mo", "zh-hant") or tag.startswith(
            ("zh-hant", "zh-tw", "zh-hk")
        ):
            return TRADITIONAL_CHINESE
        if tag.startswith("zh") or tag == "cn":
            return SIMPLIFIED_CHINESE
        if tag.upper() in _COUNTRY_ENCODINGS:
            return _COUNTRY_ENCODINGS[tag.upper()]
    return CJK_CANDIDATES


def expects_cjk(hints: Iterable[str]) -> bool:
    """True when any hint (language tag or country code) points at Japanese, Korean or Chinese."""
    for hint in hints:
        tag = hint.strip().lower().replace("_", "-")
        if tag.startswith(("ja", "ko", "zh")) or tag.upper() in _COUNTRY_ENCODINGS:
            return True
    return False


def garbled(text: str, *, cjk_expected: bool) -> str | None:
    """Why `text` shows mojibake (rule 2), or None when it looks like real text."""
    if not _DIRTY.search(text):
        return None
    if "\ufffd" in text:
        return "U+FFFD replacement characters"
    for match in _UTF8_AS_CP1252.finditer(text):
        run = match.group()
        # "ß“" (German quotes) is also lead+continuation; two-character runs only
        # count for the classic "Ã©"/"Â " leads, longer runs always.
        if len(run) == 2 and run[0] not in "ÂÃ":
            continue
        try:
            raw = run.encode("cp1252")
        except UnicodeEncodeError:
            raw = run.encode("latin-1", errors="ignore")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return f"UTF-8 read as windows-1252 ({run!r})"
    if cjk_expected and not _CJK.search(text) and _latin_run(_LATIN_RUN_2, text):
        return "Latin-1 characters where CJK text was expected"
    return None


def _latin_run(pattern: re.Pattern[str], text: str) -> str | None:
    """The first run that has a Latin-1 character in it ("——" alone is typography)."""
    for match in pattern.finditer(text):
        if _DIRTY.search(match.group()):
            return match.group()
    return None


def suspicious(text: str, *, cjk_expected: bool) -> str | None:
    """`garbled`, or runs of 3+ Latin-1 high characters: worth decoding the body again."""
    if not _DIRTY.search(text):
        return None  # the common case, CJK or English text: one regex pass
    reason = garbled(text, cjk_expected=cjk_expected)
    if reason is None and (run := _latin_run(_LATIN_RUN_3, text)):
        reason = f"runs of Latin-1 characters ({run[:12]!r})"
    return reason


def declared_encodings(body: bytes, content_type: str) -> list[str]:
    """Encodings the document claims, as codec names: the HTTP charset, then the XML declaration."""
    found: list[str] = []
    for raw in (_http_charset(content_type), _xml_encoding(body)):
        name = codec_name(raw) if raw else None
        if name and name not in found:
            found.append(name)
    return found


def _http_charset(content_type: str) -> str | None:
    match = _CHARSET_PARAM.search(content_type)
    return match.group(1) if match else None


def _xml_encoding(body: bytes) -> str | None:
    match = _XML_DECL_ENCODING.match(body[:1024])
    return match.group(1).decode("ascii") if match else None


def redecode(
    body: bytes, declared: Sequence[str], cjk: Sequence[str] = CJK_CANDIDATES
) -> Decoded | None:
    """Decode `body` by rules 3-5; None when no decoding is trustworthy."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            try:
                return Decoded(body[len(bom) :].decode(encoding), encoding, "byte-order mark")
            except UnicodeDecodeError:
                break  # a lying BOM: fall through to the other candidates
    sample = _XML_DECL.sub(b"", body, count=1)
    guess = _guess(sample)
    candidates: list[str] = []
    for name in (*declared, "utf-8", *cjk, *guess, WESTERN_FALLBACK):
        canonical = codec_name(name)
        if canonical and canonical not in candidates:
            candidates.append(canonical)

    strict: dict[str, str] = {}
    for encoding in candidates:
        try:
            strict[encoding] = body.decode(encoding)
        except UnicodeDecodeError:
            continue
    if "utf-8" in strict and not body.isascii():
        return Decoded(strict["utf-8"], "utf-8", "valid UTF-8")
    for encoding in declared:
        # A declared multi-byte encoding that decodes everything is believed (a
        # single-byte one decodes anything, so it proves nothing), unless the
        # feed's language says it cannot be right (GB2312 declared on a ja feed).
        believable = encoding in cjk or encoding not in CJK_CANDIDATES
        if encoding in strict and not is_single_byte(encoding) and believable:
            return Decoded(strict[encoding], encoding, "declared")
    stray = None if "utf-8" in strict else _utf8_with_stray_bytes(body, declared)
    if stray is not None and stray[2]:
        return Decoded(stray[0], "utf-8", f"UTF-8, {stray[1]} invalid bytes replaced", stray[1])
    if strict:
        chosen = _detect(sample, list(strict))
        # A single-byte reading full of Latin-1 runs is CJK read byte by byte
        # (the real encoding failed strictly, e.g. on a truncated character).
        if chosen is not None and not (
            is_single_byte(chosen) and _latin_run(_LATIN_RUN_3, strict[chosen])
        ):
            how = "declared" if chosen in declared else "detected"
            return Decoded(strict[chosen], chosen, how)
    if stray is not None:
        return Decoded(stray[0], "utf-8", f"UTF-8, {stray[1]} invalid bytes replaced", stray[1])
    # Candidates that decoded strictly were judged above (by chardet) already.
    return _lenient(body, [c for c in candidates if c not in strict])


def _utf8_with_stray_bytes(body: bytes, declared: Sequence[str]) -> tuple[str, int, bool] | None:
    """Rule 4b: a UTF-8 body (declared so, or not declared at all) with a few invalid
    bytes: (its text with a U+FFFD for each, how many, sure). `sure` when enough
    valid multi-byte characters surround them that no other charset can be meant
    (it wins before chardet); otherwise UTF-8 is only the last resort before rule 5."""
    if declared and "utf-8" not in declared:
        return None
    text = body.decode("utf-8", errors="replace")
    clean = body.decode("utf-8", errors="ignore")
    bad = text.count("\ufffd") - clean.count("\ufffd")
    if not 0 < bad <= MAX_REPLACED:
        return None
    multibyte = sum(1 for ch in clean if ord(ch) > 0x7F and ch != "\ufffd")
    return text, bad, multibyte >= 4 * bad


def _guess(sample: bytes) -> tuple[str, ...]:
    """chardet's unrestricted answer as a codec name: Cyrillic, Thai, Hebrew... feeds too."""
    result = chardet.detect(
        sample, compat_names=False, prefer_superset=True, no_match_encoding="cp037"
    )
    answer = result.get("encoding")
    if not answer or answer == "cp037" or result.get("confidence", 0) < MIN_CONFIDENCE:
        return ()
    name = codec_name(answer)
    return (name,) if name else ()


def _detect(sample: bytes, encodings: list[str]) -> str | None:
    """chardet's pick among `encodings` (codec names), mapped back to one of them."""
    by_chardet: dict[str, str] = {}
    for encoding in encodings:
        known = _chardet_name(encoding)
        if known is not None:
            by_chardet.setdefault(known, encoding)
    if not by_chardet:
        return encodings[0] if len(encodings) == 1 else None
    # "cp037" (EBCDIC) is never a candidate: chardet answers it when nothing fits.
    result = chardet.detect(
        sample,
        include_encodings=list(by_chardet),
        compat_names=False,
        prefer_superset=True,
        no_match_encoding="cp037",
    )
    answer = result.get("encoding")
    if not answer or result.get("confidence", 0) < MIN_CONFIDENCE:
        return None
    known = _chardet_name(answer)
    return by_chardet.get(known) if known else None


def _chardet_name(encoding: str) -> str | None:
    # chardet has its own registry: "euc-jp" is known there, "euc_jp" is not.
    return lookup_encoding(encoding) or lookup_encoding(encoding.replace("_", "-"))


def _lenient(body: bytes, candidates: Sequence[str]) -> Decoded | None:
    """Rule 5: the candidate needing the fewest replacements, if they are few."""
    scored: list[tuple[int, str, str]] = []
    for encoding in candidates:
        text = body.decode(encoding, errors="replace")
        genuine = body.decode(encoding, errors="ignore").count("\ufffd")
        replaced = text.count("\ufffd") - genuine
        non_ascii = sum(1 for ch in text if ord(ch) > 0x7F)
        if replaced > MAX_REPLACED or replaced * 100 > non_ascii:
            continue
        if is_single_byte(encoding) and _latin_run(_LATIN_RUN_3, text):
            continue
        scored.append((replaced, encoding, text))
    if not scored:
        return None
    fewest = min(replaced for replaced, _, _ in scored)
    tied = [(encoding, text) for replaced, encoding, text in scored if replaced == fewest]
    encoding, text = tied[0]
    if len(tied) > 1:
        # chardet refuses bytes that do not decode; ask it about the rest.
        cleaned = text.replace("\ufffd", "").encode(encoding, errors="ignore")
        fits = [e for e, _ in tied if _decodes(cleaned, e)]
        pick = _detect(_XML_DECL.sub(b"", cleaned, count=1), fits) if fits else None
        if pick is not None:
            encoding, text = next((e, t) for e, t in tied if e == pick)
    how = f"detected, {fewest} undecodable bytes replaced"
    return Decoded(text, encoding, how, fewest)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def utf8_document(text: str) -> bytes:
    """`text` as UTF-8 bytes, its XML declaration (if any) saying encoding="utf-8"."""
    text = text.removeprefix("\ufeff")
    match = _TEXT_DECL.match(text)
    if match:
        decl = match.group()
        fixed, count = _TEXT_DECL_ENCODING.subn(r'\1"utf-8"', decl, count=1)
        if not count:
            fixed = decl[: -len("?>")].rstrip() + ' encoding="utf-8"?>'
        text = fixed + text[match.end() :]
    return text.encode("utf-8")
