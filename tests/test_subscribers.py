"""Subscriber address validation and CSV import/export."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import AddressError
from digest.models import Subscriber
from digest.state.subscribers import clean_name, normalize_address, read_csv, write_csv


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a@b, c@d", "comma"),
        ("x@y\r\nBcc: z@w", "line break"),
        ("x@example.com\nBcc: z@example.com", "line break"),
        ("no-at-sign.example.com", "no '@'"),
        ("a@b; c@d", "semicolon"),
        ("Name <a@example.com>", "'<'"),
        ("a b@example.com", "white space"),
        ("a@b", "period"),
        ("", "empty"),
    ],
)
def test_bad_addresses_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        normalize_address(raw)


def test_good_addresses_are_normalised() -> None:
    assert normalize_address("  Reader@Example.COM ") == "Reader@example.com"
    assert normalize_address("山田@example.jp") == "山田@example.jp"


def test_names_cannot_carry_headers() -> None:
    with pytest.raises(AddressError):
        clean_name("Eve\r\nBcc: x@example.com")
    assert clean_name("  Ann   Lee ") == "Ann Lee"


def test_csv_import_reports_every_refused_line() -> None:
    rows = read_csv("email,name\na@example.com,Ann\n\nbad-address,Bob\nc@example.com\n")
    assert [(r.line, r.email, r.name) for r in rows if not r.error] == [
        (2, "a@example.com", "Ann"),
        (5, "c@example.com", ""),
    ]
    assert [(r.line, "no '@'" in r.error) for r in rows if r.error] == [(4, True)]
    headerless = read_csv("d@example.com,Dee\n")
    assert (headerless[0].email, headerless[0].name) == ("d@example.com", "Dee")


def test_csv_export_round_trips() -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    text = write_csv([Subscriber(1, "a@example.com", "Ann, Jr.", "active", when)])
    rows = read_csv(text)
    assert (rows[0].email, rows[0].name) == ("a@example.com", "Ann, Jr.")
