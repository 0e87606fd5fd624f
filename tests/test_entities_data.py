"""The knowledge base in config/entities/: every row well formed and sourced.

Rows come from general lists, never from evaluation items: each must say which
list (`source`). The format is config/entities/README.md.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale

FOLDER = Path(__file__).resolve().parents[1] / "config" / "entities"
COLUMNS = ["id", "kind", "country", "en", "ja", "zh_hans", "zh_hant", "ko", "aliases", "source"]
KINDS = {
    "company", "product", "model", "agency", "central_bank", "university", "person", "place",
    "law",
}  # fmt: skip
ID = re.compile(r"^[a-z]{2}/[a-z0-9]+(?:[-.][a-z0-9]+)*$")
TERRITORIES = set(Locale.parse("en").territories) | {"XX"}
NAME_COLUMNS = COLUMNS[3:9]


def rows() -> list[tuple[str, int, dict[str, str]]]:
    found = []
    for path in sorted(FOLDER.glob("*.tsv")):
        lines = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        assert header == COLUMNS, f"{path.name}: columns {header}"
        for number, cells in enumerate(reader, start=2):
            assert len(cells) == len(COLUMNS), f"{path.name}:{number}: {len(cells)} cells"
            found.append((path.name, number, dict(zip(COLUMNS, cells, strict=True))))
    return found


ROWS = rows()


def test_there_is_a_knowledge_base() -> None:
    assert len(ROWS) >= 5000, f"{len(ROWS)} entities; the issue asks for at least 5,000"


def test_every_row_is_well_formed_and_sourced() -> None:
    problems = []
    for file, line, row in ROWS:
        where = f"{file}:{line} {row['id']}"
        if not ID.match(row["id"]):
            problems.append(f"{where}: id must be <cc>/<slug>, lowercase ASCII")
        if row["kind"] not in KINDS:
            problems.append(f"{where}: kind {row['kind']!r}")
        if row["country"] not in TERRITORIES:
            problems.append(f"{where}: country {row['country']!r}")
        if not row["source"].strip():
            problems.append(f"{where}: no source list")
        names = [n.strip() for c in NAME_COLUMNS for n in row[c].split("|") if n.strip()]
        if not names:
            problems.append(f"{where}: no name")
        for column in NAME_COLUMNS:
            for name in row[column].split("|"):
                if name != name.strip() and not name.strip():
                    problems.append(f"{where}: empty name in {column}")
    assert problems[:20] == []


def test_ids_are_unique() -> None:
    twice = [i for i, n in Counter(r["id"] for _, _, r in ROWS).items() if n > 1]
    assert twice == []


@pytest.mark.parametrize("code", ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE", "US"])
def test_each_country_has_entities_of_several_kinds(code: str) -> None:
    kinds = Counter(r["kind"] for _, _, r in ROWS if r["country"] == code)
    assert sum(kinds.values()) >= 100 and len(kinds) >= 5, kinds
