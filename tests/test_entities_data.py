"""The knowledge base in config/entities/: every row well formed and sourced.

Rows come from general lists, never from evaluation items: each must say which
list (`source`). The format is config/entities/README.md.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale

from digest import bundled
from digest.editorial.entities import (
    COLUMNS,
    INTERNATIONAL,
    Entity,
    EntityFileError,
    load_entities,
    read_entities,
)

FOLDER = bundled.ENTITIES_DIR
KINDS = {
    "company", "product", "model", "agency", "central_bank", "university", "person", "place",
    "law",
}  # fmt: skip
ID = re.compile(r"^[a-z]{2}/[a-z0-9]+(?:[-.][a-z0-9]+)*$")
TERRITORIES = set(Locale.parse("en").territories) | {INTERNATIONAL}


def rows() -> list[tuple[str, Entity]]:
    return [(path.name, e) for path in sorted(FOLDER.glob("*.tsv")) for e in read_entities(path)]


ROWS = rows()


def test_there_is_a_knowledge_base() -> None:
    assert len(ROWS) >= 5000, f"{len(ROWS)} entities; the issue asks for at least 5,000"


def test_every_row_is_well_formed_and_sourced() -> None:
    problems = []
    for file, entity in ROWS:
        where = f"{file}: {entity.id}"
        if not ID.match(entity.id):
            problems.append(f"{where}: id must be <cc>/<slug>, lowercase ASCII")
        if entity.kind not in KINDS:
            problems.append(f"{where}: kind {entity.kind!r}")
        if entity.country not in TERRITORIES:
            problems.append(f"{where}: country {entity.country!r}")
        if not entity.source:
            problems.append(f"{where}: no source list")
        if not entity.names:
            problems.append(f"{where}: no name")
    assert problems[:20] == []


def test_ids_are_unique() -> None:
    twice = [i for i, n in Counter(e.id for _, e in ROWS).items() if n > 1]
    assert twice == []


def test_no_name_points_at_two_countries() -> None:
    """One name, one home: a name shared by entities of two countries would pull
    stories either way."""
    homes: dict[str, set[str]] = {}
    for _, entity in ROWS:
        for name in entity.names:
            homes.setdefault(name.lstrip("=").casefold(), set()).add(entity.country)
    assert sorted(n for n, countries in homes.items() if len(countries) > 1) == []


@pytest.mark.parametrize("code", ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE", "US"])
def test_each_country_has_entities_of_several_kinds(code: str) -> None:
    kinds = Counter(e.kind for _, e in ROWS if e.country == code)
    assert sum(kinds.values()) >= 100 and len(kinds) >= 5, kinds


def test_a_users_file_adds_rows_and_replaces_by_id(tmp_path: Path) -> None:
    mine = tmp_path / "entities.tsv"
    header = "\t".join(COLUMNS)
    mine.write_text(
        f"{header}\n"
        "kr/samsung-electronics\tcompany\tKR\tSamsung Electronics | SEC\t\t\t\t삼성\t\tmine\n"
        "jp/my-lab\tuniversity\tJP\tMy Lab\t\t\t\t\t\tmine\n",
        encoding="utf-8",
    )
    merged = {e.id: e for e in load_entities(FOLDER, [mine])}
    assert merged["jp/my-lab"].names == ("My Lab",)
    assert merged["kr/samsung-electronics"].source == "mine"
    assert len(merged) == len(ROWS) + 1


def test_a_malformed_row_names_its_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("\t".join(COLUMNS) + "\nkr/x\tcompany\tKR\n", encoding="utf-8")
    with pytest.raises(EntityFileError, match=r"bad\.tsv:2: 3 cells, expected 10"):
        read_entities(bad)
