"""The feeds of the config file, edited in place: `digest feeds add|remove|import`.

Owns: reading the TOML config as a tomlkit document (comments, blank lines,
key order and inline comments are kept byte for byte), adding a `[[feeds]]`
table after the last one and removing one, checking the edited text the way
`digest.config` loads it (`parse_settings` with the file's own name, so an
error names the file and the key, e.g. `feeds[6].country`) and only then
writing it atomically, with the file's mode kept.

Where comments go: tomlkit keeps a comment with the table above it, so the
comment block introducing the next section (`# Extra names …` before
`[aliases]`) belongs to the last `[[feeds]]` table. `add` moves that block
below the new table; `remove` hands the removed table's comments to the table
above it (or to the document, for the first one): no comment is ever deleted.
A feed written as an inline array (`feeds = [{url = …}]`) is edited as one.

Never touches: the database, the network, OPML (`digest.cli.opml`), or what a
valid config is (`digest.config` says, and is asked).
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.container import Container
from tomlkit.items import AoT, Array, Comment, InlineTable, Item, Table, Whitespace

from digest.config import FeedSettings, Settings, parse_settings
from digest.errors import ConfigError, DigestError
from digest.state.files import write_atomic

# The [[feeds]] keys digest writes, in the order a person reads them.
KEYS = ("url", "name", "country", "language", "local", "filter", "site")


@dataclass(frozen=True, slots=True)
class NewFeed:
    """One feed to add, as the user gave it; `digest.config` judges the values."""

    url: str
    name: str = ""
    country: str = ""
    language: str = ""
    local: bool = False
    filter: str = ""
    site: str = ""

    def table(self) -> dict[str, str | bool]:
        """The keys to write: the URL, then each one that is set."""
        values: dict[str, str | bool] = {
            "url": self.url,
            "name": self.name,
            "country": self.country.upper(),
            "language": self.language.lower(),
            "local": self.local,
            "filter": self.filter.lower(),
            "site": self.site,
        }
        return {k: v for k, v in values.items() if k == "url" or v}

    @classmethod
    def of(cls, feed: FeedSettings) -> NewFeed:
        return cls(
            url=feed.url,
            name=feed.name,
            country=feed.country,
            language=feed.language,
            local=feed.local,
            filter=feed.filter,
            site=feed.site,
        )


class DuplicateFeed(DigestError):
    """The URL is configured already."""


class FeedFile:
    """The config file as a tomlkit document; `save` checks, then writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ConfigError(
                "config file not found",
                file=str(path),
                hint="write one with `digest init DIR`, or pass --config",
            ) from e
        except OSError as e:
            raise ConfigError(f"cannot read config file: {e.strerror}", file=str(path)) from e
        except UnicodeDecodeError as e:
            raise ConfigError("config file is not UTF-8", file=str(path)) from e
        try:
            self.doc = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as e:
            raise ConfigError(f"not valid TOML: {e}", file=str(path)) from e
        self.original = text

    # -- reading -------------------------------------------------------------

    def _feeds(self) -> AoT | Array | None:
        if "feeds" not in self.doc:
            return None
        feeds = self.doc.item("feeds")
        if isinstance(feeds, AoT | Array):
            return feeds
        raise ConfigError(
            "expected [[feeds]] tables",
            file=str(self.path),
            key="feeds",
            hint="write each feed as a [[feeds]] table with its url",
        )

    def urls(self) -> list[str]:
        feeds = self._feeds()
        if feeds is None:
            return []
        return [str(t.get("url", "")) for t in _tables(feeds)]

    def index_of(self, url: str) -> int | None:
        urls = self.urls()
        return urls.index(url) if url in urls else None

    # -- editing -------------------------------------------------------------

    def add(self, feed: NewFeed) -> None:
        """Append `feed` after the last [[feeds]] table. Raises `DuplicateFeed`."""
        at = self.index_of(feed.url)
        if at is not None:
            raise DuplicateFeed(
                f"{feed.url} is configured already (feeds[{at}] in {self.path})",
                hint="`digest feeds remove URL` first to change it, or edit the file",
            )
        values = feed.table()
        feeds = self._feeds()
        if isinstance(feeds, Array):
            inline = tomlkit.inline_table()
            inline.update(values)
            feeds.append(inline)
            return
        table = tomlkit.table()
        for key, value in values.items():
            table.add(key, value)
        if feeds is None:
            self._first_feeds(table)
            return
        last = feeds[-1].value
        head, block = _split_trailing(last)
        _pop(last, block)
        if not head or not isinstance(head[-1], Whitespace):
            last.append(None, Whitespace("\n"))  # a blank line between two feeds
        feeds.append(table)
        # An AoT tomlkit made (not parsed) indents each new table with a blank line
        # of its own; the blank line is the Whitespace above, in every case.
        feeds[-1].trivia.indent = feeds[-1].trivia.indent.replace("\n", "")
        new = feeds[-1].value
        if block:  # the comments that introduce what follows the feeds: below the new one
            new.append(None, Whitespace("\n"))
            for item in block:
                new.append(None, item)
        elif head and isinstance(head[-1], Whitespace):
            new.append(None, Whitespace(head[-1].as_string()))

    def _first_feeds(self, table: Table) -> None:
        """The first [[feeds]] table of a file without any: after [digest] (and the
        comments under it, but for the block that introduces the next table), else
        at the end."""
        aot = tomlkit.aot()
        aot.append(table)
        digest = self.doc.get("digest")
        nested = isinstance(digest, Table) and any(
            isinstance(item, Table | AoT) for _, item in digest.value.body
        )
        if not isinstance(digest, Table) or nested:
            self.doc.append("feeds", aot)
            return
        head, block = _split_trailing(digest.value)
        moved = [head[-1], *block] if block and head else block
        _pop(digest.value, moved)
        if digest.value.body and digest.value.body[-1][0] is not None:
            digest.value.append(None, Whitespace("\n"))  # a blank line after its last key
        for item in moved or [Whitespace("\n")]:
            table.value.append(None, item)
        self.doc._insert_after("digest", "feeds", aot)  # private: tomlkit has no public way

    def remove(self, url: str) -> bool:
        """Remove the feed with this exact URL; False when there is none. Comments
        inside its block (no blank line between) go with it; the block of comments
        below it, which introduces what follows, stays: with the table above, or
        above the feeds when it was the first."""
        at = self.index_of(url)
        feeds = self._feeds()
        if at is None or feeds is None:
            return False
        if isinstance(feeds, Array):
            del feeds[at]
            return True
        head, block = _split_trailing(feeds[at].value)
        if at > 0:
            above = feeds[at - 1].value
            if block and not (above.body and isinstance(above.body[-1][1], Whitespace)):
                above.append(None, Whitespace("\n"))
            for item in block:
                above.append(None, item)
            del feeds[at]
            return True
        if block:  # with the blank line above it, as it was
            moved = [head[-1], *block] if head else block
            _insert_trivia(self.doc, _body_index(self.doc, "feeds"), moved)
        if len(feeds) == 1:
            del self.doc["feeds"]
        else:
            del feeds[0]
        return True

    # -- writing -------------------------------------------------------------

    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    def check(self) -> Settings:
        """The edited file as `digest.config` would load it; raises `ConfigError`
        naming this file and the key."""
        text = self.text()
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:  # tomlkit wrote what tomllib refuses
            raise ConfigError(f"the edited file is not valid TOML: {e}", file=str(self.path)) from e
        return parse_settings(data, source=self.path)

    def save(self) -> Settings:
        """Check the edited document, then replace the file atomically (its
        permissions kept; a symlinked config is written where the link points).
        Nothing is written when the check fails."""
        settings = self.check()
        target = self.path.resolve()
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
        write_atomic(target, self.text(), mode=mode)
        return settings


def check_feed(feed: NewFeed, source: Path) -> FeedSettings:
    """`feed` alone as the config loader would read it; raises `ConfigError` whose
    key is the feed's (`feeds[0].country`)."""
    return parse_settings({"feeds": [feed.table()]}, source=source).feeds[0]


def _tables(feeds: AoT | Array) -> Iterable[Any]:
    if isinstance(feeds, AoT):
        return list(feeds)
    return [t for t in feeds if isinstance(t, InlineTable | dict)]


def _split_trailing(table: Container) -> tuple[list[Item], list[Item]]:
    """A table's trailing comments and blank lines, split at the last blank line:
    (what belongs to the table, up to and with that blank line; the block of
    comments after it, which introduces whatever follows). Without a blank line,
    every trailing comment counts as introducing what follows."""
    trailing: list[Item] = []
    for key, item in reversed(table.body):
        if key is not None or not isinstance(item, Whitespace | Comment):
            break
        trailing.insert(0, item)
    blank = max((i for i, item in enumerate(trailing) if isinstance(item, Whitespace)), default=-1)
    return trailing[: blank + 1], trailing[blank + 1 :]


def _pop(table: Container, items: Sequence[Item]) -> None:
    """Take `items`, the last entries of the body, off it (trivia: no key to unmap)."""
    for item in reversed(items):
        key, last = table.body.pop()
        assert key is None and last is item


def _body_index(container: Container, name: str) -> int:
    for i, (key, _) in enumerate(container.body):
        if key is not None and key.key == name:
            return i
    raise KeyError(name)


def _insert_trivia(container: Container, at: int, items: Sequence[Item]) -> None:
    """Put comments and blank lines into the document body before position `at`.

    tomlkit inserts only keyed items (`Container._insert_at`); its key → index
    map is shifted here the same way, so the document stays consistent."""
    shift = len(items)
    index = container._map  # private: tomlkit has no public way to do this
    for key, where in list(index.items()):
        if isinstance(where, tuple):
            index[key] = tuple(w + shift if w >= at else w for w in where)
        elif where >= at:
            index[key] = where + shift
    container.body[at:at] = [(None, item) for item in items]
