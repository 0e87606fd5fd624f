"""The knowledge base: who is who, in every script the news writes them.

Owns: reading `config/entities/*.tsv` (one row per company, product, AI model,
agency, central bank, university, person, place or law, with its home country
and its names in en, ja, zh-Hans, zh-Hant and ko; the format is
config/entities/README.md) and a user's own `entities.tsv`, whose rows are
added and replace digest's own of the same id. The parsed base is cached per
set of files: reading 6,000 rows costs once per process.
Doesn't own: finding names in text (`digest.editorial.matching`) or what a name
means for a story's section (`digest.editorial.classify`).

Rows come from general lists (index constituents, government charts, rankings),
never from evaluation items: every row says which list in `source`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

COLUMNS = ("id", "kind", "country", "en", "ja", "zh_hans", "zh_hant", "ko", "aliases", "source")
NAME_COLUMNS = COLUMNS[3:9]
INTERNATIONAL = "XX"  # the country of bodies of no one country (the UN, the OECD)


class EntityFileError(ValueError):
    """A row of an entities file is malformed; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Entity:
    id: str  # canonical: "kr/samsung-electronics"
    kind: str  # company, product, model, agency, central_bank, university, person, place, law
    country: str  # ISO 3166-1 alpha-2, or INTERNATIONAL
    names: tuple[str, ...]  # every name in every script; "=Name" matches its case only
    source: str  # the general list the row comes from


def read_entities(path: Path) -> list[Entity]:
    """The rows of one TSV file, in order. Raises `EntityFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise EntityFileError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not lines:
        return []
    rows = csv.reader((line for _, line in lines), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows)
    if tuple(header) != COLUMNS:
        raise EntityFileError(f"{path}: the first row must be the columns {', '.join(COLUMNS)}")
    entities = []
    for (number, _), cells in zip(lines[1:], rows, strict=True):
        if len(cells) != len(COLUMNS):
            raise EntityFileError(
                f"{path}:{number}: {len(cells)} cells, expected {len(COLUMNS)} (tab-separated)"
            )
        row = dict(zip(COLUMNS, cells, strict=True))
        names = tuple(
            dict.fromkeys(
                name.strip()
                for column in NAME_COLUMNS
                for name in row[column].split("|")
                if name.strip()
            )
        )
        entities.append(
            Entity(
                id=row["id"].strip(),
                kind=row["kind"].strip(),
                country=row["country"].strip().upper(),
                names=names,
                source=row["source"].strip(),
            )
        )
    return entities


@cache
def _load(files: tuple[tuple[Path, int, int], ...]) -> tuple[Entity, ...]:
    # Keyed by size and time too: a daemon sees the user's edits on its next run.
    by_id: dict[str, Entity] = {}
    for path, _, _ in files:
        for entity in read_entities(path):
            by_id[entity.id] = entity  # a later file (the user's) replaces by id
    return tuple(by_id.values())


def load_entities(folder: Path, extra: Iterable[Path] = ()) -> tuple[Entity, ...]:
    """Every `*.tsv` of `folder` (digest's own, by file name), then `extra` files."""
    paths = (*sorted(folder.glob("*.tsv")), *extra)
    return _load(tuple((p, p.stat().st_size, p.stat().st_mtime_ns) for p in paths))
