"""The archive's Atom feed: `feed.xml`, the newest issues, each with its whole HTML.

Owns: feed.xml, made from the issues' records (`digest.web.archive_records`):
its `FEED_ISSUES` newest issues, each entry carrying the issue as HTML (feed
readers show it as the issue; `feed_entry.html.j2`). An entry of the feed.xml
written before is kept as it is, text for text, when it was made from the same
inputs (a key in an XML comment in the entry says which: the issue's JSON, the
base URL, the templates); only the others are rendered: the new issue, whose
view the caller has, and older ones from their JSON, through `entry_html`.

Doesn't own: where the records come from, or writing the file
(`digest.web.archive`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from digest import __version__
from digest.config import Settings
from digest.render.issue import IssueView, get_environment, render_template
from digest.web.archive_pages import (
    FEED_FILE,
    INDEX_FILE,
    page_key,
    template_source,
    translator,
)
from digest.web.archive_records import IssueRecord

__all__ = ["FEED_ISSUES", "feed_entry_html", "feed_xml"]

FEED_ENTRY_TEMPLATE = "feed_entry.html.j2"
# Entries in feed.xml. Each carries a whole issue (~60 KB for 60 stories) and
# readers poll the feed: a year of issues would make it megabytes.
FEED_ISSUES = 20

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _tag_authority(settings: Settings) -> str:
    # RFC 4151 tag URIs need a domain or address we own: the sender's domain.
    address = parseaddr(settings.sender)[1]
    domain = address.rpartition("@")[2].strip().lower()
    return re.sub(r"[^a-z0-9.-]", "", domain) or "localhost"


def _entry_id(record: IssueRecord, settings: Settings) -> str:
    base = settings.archive.base_url
    if base:
        return base + record.href
    return f"tag:{_tag_authority(settings)},{record.week[:4]}:digest/{record.week}"


_OPEN, _CLOSE = b"  <entry>\n", b"  </entry>\n"  # as _entry_xml writes them
_ENTRY_ID = re.compile(rb"<id>([^<]*)</id>")


def _kept_entries(path: Path) -> dict[bytes, bytes]:
    """Escaped id → the whole <entry> element, as UTF-8 text, of the feed.xml
    written last time. Taken as text and put back as text: a feed of 20 issues
    is a megabyte, and parsing and escaping it again would cost more than the
    rest of the listings."""
    try:
        text = path.read_bytes()
    except OSError:
        return {}
    kept: dict[bytes, bytes] = {}
    start = text.find(_OPEN)
    while start >= 0:
        end = text.find(_CLOSE, start)
        if end < 0:
            break
        block = text[start : end + len(_CLOSE)]
        found = _ENTRY_ID.search(block, 0, 400)
        if found:
            kept.setdefault(found.group(1), block)
        start = text.find(_OPEN, end)
    return kept


def _entry_key(record: IssueRecord, settings: Settings, templates: str) -> str:
    # What an entry is made from: the issue's JSON (its record's stamp), the base
    # URL of its links, the sender's domain (ids), the templates and this digest.
    return page_key((__version__, record.source, record.generated_at, settings.archive.base_url,
                      settings.sender, settings.schedule.empty_week, templates))  # fmt: skip


def feed_xml(
    records: Sequence[IssueRecord],
    settings: Settings,
    path: Path,
    entry_html: Callable[[IssueRecord], str],
) -> bytes:
    """Atom 1.0 built with ElementTree, so every text and attribute is escaped.

    `path`: the feed.xml written before. An entry of it made from the same inputs
    (a key in an XML comment in the entry says which) is kept as it is, text
    for text; `entry_html` makes the content of any other."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    base = settings.archive.base_url
    authority = _tag_authority(settings)
    oldest_year = records[-1].week[:4] if records else "2026"
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {f"{{{XML_NS}}}lang": settings.digest.language})
    # Without base_url, ids are tag URIs: stable as long as the sender's domain is.
    sub(feed, "id", base + FEED_FILE if base else f"tag:{authority},{oldest_year}:digest")
    sub(feed, "title", settings.digest.title)
    # An empty archive has no time of its own; keep the file byte-stable anyway.
    updated = max((r.generated_at for r in records), default=datetime(1970, 1, 1, tzinfo=UTC))
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="alternate", type="text/html", href=base + INDEX_FILE)
    if base:
        sub(feed, "link", rel="self", type="application/atom+xml", href=base + FEED_FILE)
    author = sub(feed, "author")
    sub(author, "name", settings.digest.title)
    sub(feed, "generator", "digest")
    # The entries go where this one is, as text (kept ones are text already).
    ET.SubElement(feed, _SLOT)
    ET.indent(feed)
    head, _, tail = ET.tostring(feed, encoding="unicode").partition(f"  <{_SLOT} />\n")

    kept = _kept_entries(path) if records else {}
    templates = repr(
        [template_source(settings, n) for n in (FEED_ENTRY_TEMPLATE, "_macros.html.j2")]
    )
    entries = []
    for record in records[:FEED_ISSUES]:
        entry_id = _entry_id(record, settings)
        key = f"digest-entry {_entry_key(record, settings, templates)}"
        block = kept.get(xml_escape(entry_id).encode(), b"")
        if f"<!--{key}-->".encode() not in block:
            block = _entry_xml(record, entry_id, key, base, entry_html(record).strip())
        entries.append(block)
    # Plain (namespace-less) tags inside the Atom default namespace of <feed>.
    start = f'<?xml version="1.0" encoding="utf-8"?>\n{head}'.encode()
    return start + b"".join(entries) + tail.encode() + b"\n"


_SLOT = "digest-entries"


def _entry_xml(record: IssueRecord, entry_id: str, key: str, base: str, content: str) -> bytes:
    """One <entry>, as UTF-8 text indented for its place in the feed."""
    entry = ET.Element("entry")

    def sub(tag: str, text: str | None = None, **attrs: str) -> None:
        ET.SubElement(entry, tag, attrs).text = text

    sub("id", entry_id)
    sub("title", record.subject)
    sub("updated", _iso(record.generated_at))
    sub("published", _iso(record.end))
    sub("link", rel="alternate", type="text/html", href=base + record.href)
    sub("summary", record.preheader)
    sub("content", content, type="html")
    entry.append(ET.Comment(key))
    ET.indent(entry, space="  ", level=1)
    xml: bytes = ET.tostring(entry, encoding="utf-8")
    return b"  " + xml + b"\n"


def feed_entry_html(view: IssueView, url: str, settings: Settings) -> str:
    """The HTML content of one issue's entry: `view` is its full `IssueView`, `url`
    its page's address (absolute with base_url). Feed readers resolve relative
    links against the feed's address, the archive folder."""
    env = get_environment(settings.templates_dir)
    return render_template(
        env,
        FEED_ENTRY_TEMPLATE,
        v=view,
        t=translator(view.lang),
        page=url,
        base=settings.archive.base_url,
    )
