"""OPML 2.0, the feed readers' exchange format: `digest feeds import` and `export`.

Owns: reading an OPML file into feed entries (`read_opml`) and writing the
configured feeds as OPML 2.0 (`write_opml`). Pure: bytes in, entries out, and
back; the caller reads and writes the files, and edits the config
(`digest.cli.feedfile`).

Reading is safe against hostile XML: defusedxml refuses any DTD, so neither a
billion-laughs file (entities expanding into gigabytes) nor an external entity
(`<!ENTITY x SYSTEM "file:///etc/passwd">`) is ever expanded or fetched; such a
file is refused as a whole, with one line. OPML never needs a DTD.

What an outline becomes: every `<outline>` with an `xmlUrl` is a feed (its `type`
is "rss" in OPML 2.0; "atom", or none, is accepted too); its `title`, else its
`text`, is the name; `language` is the language hint; `htmlUrl` is `site`. An
outline with neither `xmlUrl` nor `type` is a folder, and folders nest; any
other (a `type="link"`, a feed without its address, a `javascript:` or
`mailto:` URL) is skipped, with why. A feed's country comes
from, first match wins: digest's own `digest:country` attribute (what
`export` writes), a `category` tag, or the nearest enclosing folder, when that
tag or folder is the code or the name (in English, Japanese, Chinese, Korean or Arabic,
as CLDR spells it, or a common short form: "Korea", "Hong Kong", "UAE") of one
of the digest's own sections (`[digest] countries`). Only those: a folder
called "AI" is a topic, not Anguilla.

What `export` writes: one flat list of `type="rss"` outlines with `text` and
`title` (the configured name, else the feed's own title, else its host),
`xmlUrl`, `htmlUrl` when the config names the feed's site, `language`, and the
country as `category` (what feed readers show), plus digest's own keys in the
`digest:` namespace (`country`, `local`, `filter`, and `name=""` for a feed
without a configured name, whose title is only shown), which readers ignore,
so that export and then import gives the same feeds.

Never touches: the config file, the network, the database.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import cache
from urllib.parse import urlsplit

import defusedxml
import defusedxml.ElementTree
from babel import Locale

from digest.config import FeedSettings
from digest.configvalues import COUNTRY_NAME_LOCALES, COUNTRY_SHORT_NAMES
from digest.errors import DigestError

NS = "urn:asia-ai-digest:opml:1"  # digest's own outline attributes (readers ignore them)
MAX_BYTES = 10 * 1024 * 1024  # an OPML of 10 MiB is some 50,000 feeds
CLDR_LOCALES = COUNTRY_NAME_LOCALES
# Short forms a person names a folder with, where CLDR's name is the long one.
SHORT_NAMES = COUNTRY_SHORT_NAMES


class OpmlError(DigestError):
    """The file is not an OPML document digest can read; nothing was imported."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed outline, as read (the config loader still judges its values)."""

    url: str
    name: str = ""
    country: str = ""
    language: str = ""
    local: bool = False
    filter: str = ""
    site: str = ""


@dataclass(frozen=True, slots=True)
class Skipped:
    """An outline that is not imported, and why (one line each)."""

    what: str  # its URL, else its title
    why: str


def read_opml(
    data: bytes, countries: Sequence[str], *, name: str = "OPML"
) -> tuple[list[OpmlFeed], list[Skipped]]:
    """The feeds of an OPML document, in document order, and the outlines skipped.

    `countries`: the digest's sections, the only countries a folder or category
    may name. Raises `OpmlError` (naming `name`, the file) for a file that is not
    OPML, not well-formed, too large, or declares a DTD or entities."""
    if len(data) > MAX_BYTES:
        raise OpmlError(f"{name}: {len(data):,} bytes; an OPML file is at most {MAX_BYTES:,}")
    try:
        root = defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as e:
        raise OpmlError(
            f"{name}: refused: the file declares a DTD or entities ({type(e).__name__}); "
            "OPML needs neither",
            hint="export the list again from your feed reader",
        ) from e
    except ET.ParseError as e:
        raise OpmlError(f"{name}: not well-formed XML: {e}") from e
    if root.tag != "opml":
        raise OpmlError(f"{name}: not OPML: the root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise OpmlError(f"{name}: not OPML: no <body>")
    names = _country_names(tuple(countries))
    feeds: list[OpmlFeed] = []
    skipped: list[Skipped] = []
    _walk(body, "", names, feeds, skipped)
    return feeds, skipped


def _walk(
    parent: ET.Element,
    folder_country: str,
    names: Mapping[str, str],
    feeds: list[OpmlFeed],
    skipped: list[Skipped],
) -> None:
    for outline in parent:
        if outline.tag != "outline":
            continue
        title = _one_line(outline.get("title") or outline.get("text") or "")
        url = (outline.get("xmlUrl") or "").strip()
        kind = (outline.get("type") or "").strip().lower()
        if not url and kind:  # a typed outline is an entry, never a folder
            why = "no xmlUrl" if kind in ("rss", "atom") else f'type="{kind}" is not a feed (rss)'
            skipped.append(Skipped(title or kind, why))
            continue
        if not url:
            # A folder: its name may be a section's country, for what it holds.
            here = names.get(title.casefold(), "") or folder_country
            _walk(outline, here, names, feeds, skipped)
            continue
        if kind not in ("rss", "atom", ""):
            skipped.append(Skipped(url, f'type="{kind}" is not a feed (rss)'))
            continue
        if urlsplit(url).scheme not in ("http", "https"):
            skipped.append(Skipped(url, "not an http(s) URL"))
            continue
        own = outline.get(f"{{{NS}}}name")
        feeds.append(
            OpmlFeed(
                url=url,
                name=_one_line(own) if own is not None else title,
                country=_country(outline, names) or folder_country,
                language=(outline.get("language") or "").strip(),
                local=(outline.get(f"{{{NS}}}local") or "").strip().lower() == "true",
                filter=(outline.get(f"{{{NS}}}filter") or "").strip(),
                site=(outline.get("htmlUrl") or "").strip(),
            )
        )
        _walk(outline, folder_country, names, feeds, skipped)  # nested outlines, rare


def _country(outline: ET.Element, names: Mapping[str, str]) -> str:
    own = outline.get(f"{{{NS}}}country")
    if own is not None:
        return own.strip().upper()
    # RSS 2.0 categories: comma-separated, each maybe a /-path; the last part is the tag.
    for category in (outline.get("category") or "").split(","):
        tag = category.strip().rstrip("/").rsplit("/", 1)[-1].strip()
        if tag.casefold() in names:
            return names[tag.casefold()]
    return ""


@cache
def _country_names(countries: tuple[str, ...]) -> dict[str, str]:
    """casefolded code or name → code, for the digest's sections only."""
    names: dict[str, str] = {}
    for code in countries:
        names[code.casefold()] = code
        for short in SHORT_NAMES.get(code, ()):
            names[short.casefold()] = code
        for loc in CLDR_LOCALES:
            name = Locale.parse(loc).territories.get(code)
            if name:
                names[name.casefold()] = code
    return names


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write_opml(
    feeds: Iterable[FeedSettings], titles: Mapping[str, str], *, title: str, now: datetime
) -> bytes:
    """The feeds as an OPML 2.0 document (UTF-8). `titles`: url → what a reader
    is shown for a feed without a configured name (its own title, else its host)."""
    ET.register_namespace("digest", NS)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    ET.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    for feed in feeds:
        shown = feed.name or titles.get(feed.url) or urlsplit(feed.url).hostname or feed.url
        attrs = {"type": "rss", "text": shown, "title": shown, "xmlUrl": feed.url}
        if feed.site:
            attrs["htmlUrl"] = feed.site
        if feed.language:
            attrs["language"] = feed.language
        if feed.country:
            attrs["category"] = feed.country
        if feed.name != shown:  # no name configured: the title shown is not one to import
            attrs[f"{{{NS}}}name"] = feed.name
        if feed.country:
            attrs[f"{{{NS}}}country"] = feed.country
        if feed.local:
            attrs[f"{{{NS}}}local"] = "true"
        if feed.filter:
            attrs[f"{{{NS}}}filter"] = feed.filter
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
